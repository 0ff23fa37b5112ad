"""Contract tests of the production API: work order CRUD and state changes, operation events, issues and
receipts, scrap reasons, the machine-counter hook, CSV twins, 401/403 without rights, 404 for another
enterprise's objects (never their data), errors naming the field."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.factory.inventory.conftest import Plant
from tests.factory.production.conftest import API

WO = f"{API}/work-orders"
OPS = f"{API}/wo-operations"
REASONS = f"{API}/scrap-reasons"


def _body(works: Plant, number: str = "WO-API-1", item: str = "widget", quantity: str = "10") -> dict[str, Any]:
    return {"number": number, "item_id": works.ids[item], "quantity": quantity, "due_date": "2026-12-01"}


def _objects(client: TestClient, works: Plant) -> dict[str, int]:
    """Create a released order with a started operation, an issue and a receipt, a draft and a reason."""
    h = works.headers
    works.receive("bolt", "100", "a")
    works.receive("steel", "10", "a", "steel-1")
    created = client.post(WO, json=_body(works, "WO-OBJ-1"), headers=h)
    assert created.status_code == 201, created.text
    wo = client.post(f"{WO}/{created.json()['id']}/release", headers=h).json()
    op = wo["operations"][0]["id"]
    assert client.post(f"{OPS}/{op}/start", headers=h).status_code == 201
    issue = client.post(
        f"{WO}/{wo['id']}/issues",
        json={"lines": [{"component_id": wo["components"][0]["id"], "quantity": "2", "location_id": works.ids["a"]}]},
        headers=h,
    )
    assert issue.status_code == 201, issue.text
    receipt = client.post(
        f"{WO}/{wo['id']}/receipts",
        json={
            "quantity": "1",
            "location_id": works.ids["b"],
            "lot_number": "W-API-1",
            "backflush_location_id": works.ids["a"],
        },
        headers=h,
    )
    assert receipt.status_code == 201, receipt.text
    draft = client.post(WO, json=_body(works, "WO-OBJ-2"), headers=h).json()
    reason = client.post(REASONS, json={"code": "BURR", "name": "Burr"}, headers=h).json()
    return {"wo": wo["id"], "op": op, "draft": draft["id"], "reason": reason["id"]}


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the production API with real ids in the paths."""
    w, d, o, r = ids["wo"], ids["draft"], ids["op"], ids["reason"]
    return [
        ("GET", "/work-orders"),
        ("GET", "/work-orders.csv"),
        ("POST", "/work-orders"),
        ("GET", f"/work-orders/{w}"),
        ("PATCH", f"/work-orders/{d}"),
        ("DELETE", f"/work-orders/{d}"),
        ("POST", f"/work-orders/{d}/release"),
        ("POST", f"/work-orders/{w}/close"),
        ("POST", f"/work-orders/{d}/cancel"),
        ("GET", f"/work-orders/{w}/operations"),
        ("GET", f"/work-orders/{w}/reports"),
        ("GET", f"/work-orders/{w}/issues"),
        ("POST", f"/work-orders/{w}/issues"),
        ("GET", f"/work-orders/{w}/receipts"),
        ("POST", f"/work-orders/{w}/receipts"),
        ("GET", f"/wo-operations/{o}"),
        ("GET", f"/wo-operations/{o}/reports"),
        ("POST", f"/wo-operations/{o}/start"),
        ("POST", f"/wo-operations/{o}/pause"),
        ("POST", f"/wo-operations/{o}/resume"),
        ("POST", f"/wo-operations/{o}/finish"),
        ("POST", f"/wo-operations/{o}/report"),
        ("POST", "/machine-counts"),
        ("GET", "/operation-reports?since=2020-01-01T00:00:00Z"),
        ("GET", "/operation-reports.csv?since=2020-01-01T00:00:00Z"),
        ("GET", "/scrap-reasons"),
        ("GET", "/scrap-reasons.csv"),
        ("POST", "/scrap-reasons"),
        ("GET", f"/scrap-reasons/{r}"),
        ("PATCH", f"/scrap-reasons/{r}"),
        ("DELETE", f"/scrap-reasons/{r}"),
    ]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
    return client.request(method, f"{API}{path}", json=body, headers=headers)


def test_work_order_crud_release_report_receive_close(client: TestClient, works: Plant) -> None:
    h = works.headers
    works.receive("bolt", "100", "a")
    works.receive("steel", "10", "a", "steel-1")
    created = client.post(WO, json=_body(works, "WO-100", quantity="2"), headers=h)
    assert created.status_code == 201, created.text
    wo = created.json()
    assert (wo["status"], wo["components"], wo["operations"]) == ("draft", [], [])
    wid = wo["id"]
    patched = client.patch(f"{WO}/{wid}", json={"note": "rush", "quantity": "3"}, headers=h)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["note"], patched.json()["quantity"]) == ("rush", "3.000000")
    released = client.post(f"{WO}/{wid}/release", headers=h)
    assert released.status_code == 200, released.text
    body = released.json()
    assert body["status"] == "released"
    assert [(c["quantity_per_unit"], c["required_quantity"]) for c in body["components"]] == [
        ("2.0000000000", "6.000000"),
        ("0.6250000000", "1.875000"),
    ]
    assert client.patch(f"{WO}/{wid}", json={"note": "late"}, headers=h).status_code == 409
    cut, weld = (op["id"] for op in body["operations"])
    assert client.post(f"{OPS}/{cut}/start", json={"at": "2026-11-20T08:00:00Z"}, headers=h).status_code == 201
    refused = client.post(f"{OPS}/{cut}/resume", headers=h)
    assert refused.status_code == 409
    assert refused.json()["field"] == "kind" and "running" in refused.json()["detail"]
    paused = client.post(f"{OPS}/{cut}/pause", json={"at": "2026-11-20T08:30:00Z", "good_quantity": "3"}, headers=h)
    assert paused.status_code == 201, paused.text
    assert paused.json()["kind"] == "pause"
    op = client.get(f"{OPS}/{cut}", headers=h).json()
    assert (op["status"], op["good_quantity"], op["labour_minutes"]) == ("paused", "3.000000", "30.000")
    assert client.post(f"{OPS}/{weld}/start", json={"at": "2026-11-20T08:31:00Z"}, headers=h).status_code == 201
    too_many = client.post(f"{OPS}/{weld}/report", json={"good_quantity": "4"}, headers=h)
    assert too_many.status_code == 422 and too_many.json()["field"] == "good_quantity"
    assert [r["kind"] for r in client.get(f"{WO}/{wid}/reports", headers=h).json()] == ["start", "pause", "start"]
    assert [o["status"] for o in client.get(f"{WO}/{wid}/operations", headers=h).json()] == ["paused", "running"]
    receipt = client.post(
        f"{WO}/{wid}/receipts",
        json={
            "quantity": "3",
            "location_id": works.ids["b"],
            "lot_number": "W-100",
            "backflush_location_id": works.ids["a"],
            "component_lots": [{"component_id": body["components"][1]["id"], "lot_id": works.ids["steel-1"]}],
        },
        headers=h,
    )
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["outputs"][0]["quantity"] == "3.000000"
    issues = client.get(f"{WO}/{wid}/issues", headers=h).json()
    assert [(i["kind"], i["quantity"]) for i in issues] == [("backflush", "6.000000"), ("backflush", "1.875000")]
    assert client.get(f"{WO}/{wid}", headers=h).json()["status"] == "completed"
    assert len(client.get(f"{WO}/{wid}/receipts", headers=h).json()) == 1
    closed = client.post(f"{WO}/{wid}/close", headers=h)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    draft = client.post(WO, json=_body(works, "WO-101"), headers=h).json()
    assert client.post(f"{WO}/{draft['id']}/cancel", headers=h).json()["status"] == "cancelled"
    other = client.post(WO, json=_body(works, "WO-102"), headers=h).json()
    assert client.delete(f"{WO}/{other['id']}", headers=h).status_code == 204
    assert client.get(f"{WO}/{other['id']}", headers=h).status_code == 404


def test_release_without_routing_names_the_item(client: TestClient, works: Plant) -> None:
    h = works.headers
    wo = client.post(WO, json=_body(works, "WO-BARE", item="bare"), headers=h).json()
    refused = client.post(f"{WO}/{wo['id']}/release", headers=h)
    assert refused.status_code == 409
    assert refused.json()["field"] == "item_id" and "BARE-" in refused.json()["detail"]


def test_list_filters_and_csv_share_the_filter_set(client: TestClient, works: Plant) -> None:
    h = works.headers
    client.post(WO, json=_body(works, "WO-LIST-1"), headers=h)
    second = client.post(WO, json=_body(works, "WO-LIST-2"), headers=h).json()
    client.post(f"{WO}/{second['id']}/release", headers=h)
    listed = client.get(WO, params={"status": "released"}, headers=h).json()
    assert [w["number"] for w in listed["items"]] == ["WO-LIST-2"] and listed["total"] == 1
    exported = client.get(f"{WO}.csv", params={"status": "draft"}, headers=h)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["number"] for r in rows] == ["WO-LIST-1"]
    assert client.get(WO, params={"status": "nope"}, headers=h).status_code in {200, 422}
    client.post(REASONS, json={"code": "BURR", "name": "Burr"}, headers=h)
    client.post(REASONS, json={"code": "DENT", "name": "Dent", "active": False}, headers=h)
    active = client.get(REASONS, params={"active": "true"}, headers=h).json()
    assert [r["code"] for r in active["items"]] == ["BURR"]
    reasons_csv = list(csv.DictReader(io.StringIO(client.get(f"{REASONS}.csv", headers=h).text)))
    assert [r["code"] for r in reasons_csv] == ["BURR", "DENT"]


def test_scrap_reason_crud(client: TestClient, works: Plant) -> None:
    h = works.headers
    created = client.post(REASONS, json={"code": "BURR", "name": "Burr"}, headers=h)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    assert client.post(REASONS, json={"code": "BURR", "name": "Again"}, headers=h).status_code == 409
    assert client.patch(f"{REASONS}/{rid}", json={"name": "Burr on edge"}, headers=h).json()["name"] == "Burr on edge"
    assert client.get(f"{REASONS}/{rid}", headers=h).json()["code"] == "BURR"
    assert client.delete(f"{REASONS}/{rid}", headers=h).status_code == 204
    assert client.get(f"{REASONS}/{rid}", headers=h).status_code == 404


def test_machine_counts_and_operation_reports(client: TestClient, works: Plant) -> None:
    h = works.headers
    nothing = client.post(f"{API}/machine-counts", json={"equipment_id": works.ids["machine"], "good": "1"}, headers=h)
    assert nothing.status_code == 200 and nothing.json() == {"report": None}
    wo = client.post(WO, json=_body(works, "WO-MC"), headers=h).json()
    wo = client.post(f"{WO}/{wo['id']}/release", headers=h).json()
    cut, weld = (op["id"] for op in wo["operations"])
    client.post(f"{OPS}/{cut}/start", json={"at": "2026-11-20T08:00:00Z"}, headers=h)
    client.post(f"{OPS}/{cut}/finish", json={"at": "2026-11-20T09:00:00Z", "good_quantity": "5"}, headers=h)
    client.post(f"{OPS}/{weld}/start", json={"at": "2026-11-20T09:10:00Z"}, headers=h)
    counted = client.post(
        f"{API}/machine-counts",
        json={"equipment_id": works.ids["machine"], "good": "2", "scrap": "1", "at": "2026-11-20T09:20:00Z"},
        headers=h,
    )
    assert counted.status_code == 200, counted.text
    assert (counted.json()["report"]["operation_id"], counted.json()["report"]["source"]) == (weld, "machine")
    rows = client.get(
        f"{API}/operation-reports",
        params={"since": "2026-11-20T00:00:00Z", "until": "2026-11-21T00:00:00Z"},
        headers=h,
    ).json()
    assert [(r["sequence"], r["kind"], r["good"], r["labour_minutes"]) for r in rows] == [
        (10, "start", "0.000000", "0.000"),
        (10, "finish", "5.000000", "60.000"),
        (20, "start", "0.000000", "0.000"),
        (20, "report", "2.000000", "0.000"),
    ]
    exported = client.get(
        f"{API}/operation-reports.csv",
        params={"since": "2026-11-20T00:00:00Z", "until": "2026-11-21T00:00:00Z"},
        headers=h,
    )
    assert len(list(csv.DictReader(io.StringIO(exported.text)))) == 4
    bad = client.get(
        f"{API}/operation-reports",
        params={"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"},
        headers=h,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "until"


def test_bad_input_names_the_field(client: TestClient, works: Plant) -> None:
    h = works.headers
    body = _body(works, "WO-BAD")
    cases = [
        ({**body, "quantity": "0"}, "quantity"),
        ({**body, "quantity": "1.1234567"}, "quantity"),
        ({**body, "item_id": works.ids["bolt"]}, "item_id"),
        ({**body, "start_date": "2026-12-05"}, "due_date"),
        ({**body, "sales_order_line_id": 2**31 - 2}, "sales_order_line_id"),
        ({**body, "colour": "red"}, "colour"),
    ]
    for payload, field in cases:
        response = client.post(WO, json=payload, headers=h)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, response.text
    ids = _objects(client, works)
    wo = client.get(f"{WO}/{ids['wo']}", headers=h).json()
    short = client.post(
        f"{WO}/{ids['wo']}/issues",
        json={
            "lines": [
                {"component_id": wo["components"][0]["id"], "quantity": "1", "location_id": works.ids["a"]},
                {"component_id": wo["components"][1]["id"], "quantity": "500", "location_id": works.ids["a"]},
            ]
        },
        headers=h,
    )
    assert short.status_code == 422 and short.json()["field"] == "lines.1.quantity", short.text
    # Totals the database cannot hold and times UTC cannot hold are refused by field, never a server error.
    huge = client.post(
        f"{WO}/{ids['wo']}/issues",
        json={
            "lines": [
                {"component_id": wo["components"][0]["id"], "quantity": "999999999999", "location_id": works.ids["a"]}
            ]
        },
        headers=h,
    )
    assert huge.status_code == 422 and huge.json()["field"] == "lines.0.quantity", huge.text
    big = {"good_quantity": "999999999999.999999"}
    assert client.post(f"{OPS}/{ids['op']}/report", json=big, headers=h).status_code == 201
    again = client.post(f"{OPS}/{ids['op']}/report", json=big, headers=h)
    assert again.status_code == 422 and again.json()["field"] == "good_quantity", again.text
    ancient = client.post(f"{OPS}/{ids['op']}/pause", json={"at": "0001-01-01T00:00:00+01:00"}, headers=h)
    assert ancient.status_code == 422 and ancient.json()["field"] == "at", ancient.text
    window = client.get(f"{API}/operation-reports", params={"since": "0001-01-01T00:00:00+01:00"}, headers=h)
    assert window.status_code == 422 and window.json()["field"] == "since", window.text


def test_no_credentials_is_401(client: TestClient, works: Plant) -> None:
    for method, path in endpoints(_objects(client, works)):
        assert _call(client, method, path, {}).status_code == 401, (method, path)


def test_without_permission_is_403(client: TestClient, works: Plant, actor_factory: Callable[..., Any]) -> None:
    ids = _objects(client, works)
    viewer = actor_factory("viewer", tenant=works.actor.tenant)  # production.view only
    outsider = actor_factory("maintenance", tenant=works.actor.tenant)  # no production rights at all
    planner = actor_factory("planner", tenant=works.actor.tenant)  # edits orders, reports nothing
    operator = actor_factory("operator", tenant=works.actor.tenant)  # reports and moves stock, edits nothing
    for method, path in endpoints(ids):
        if method == "GET":
            assert _call(client, method, path, viewer.headers).status_code == 200, path
            assert _call(client, method, path, outsider.headers).status_code == 403, path
        else:
            response = _call(client, method, path, viewer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"
    for method, path in endpoints(ids):
        if path.startswith(("/wo-operations/", "/machine-counts")) or path.endswith(("/issues", "/receipts")):
            if method == "POST":
                assert _call(client, method, path, planner.headers).status_code == 403, path
                assert _call(client, method, path, operator.headers).status_code != 403, path
        elif method != "GET":
            assert _call(client, method, path, operator.headers).status_code == 403, (method, path)


def test_other_enterprise_is_invisible(client: TestClient, works_factory: Callable[..., Plant]) -> None:
    mine, theirs = works_factory(), works_factory()
    their_ids = _objects(client, theirs)
    _objects(client, mine)
    for method, path in endpoints(their_ids):
        if any(re.search(rf"/{v}(/|$)", path) for v in their_ids.values()):
            response = _call(client, method, path, mine.headers)
            assert response.status_code in {404, 422}, (method, path, response.text)
            assert "WO-OBJ" not in response.text and "Burr" not in response.text
            if method == "GET":
                assert response.status_code == 404, path
    listed = client.get(WO, params={"limit": 500}, headers=mine.headers).json()["items"]
    assert their_ids["wo"] not in {w["id"] for w in listed}
    # Naming their item or their machine never reaches their enterprise.
    body = {**_body(mine, "WO-THEIRS"), "item_id": theirs.ids["widget"]}
    response = client.post(WO, json=body, headers=mine.headers)
    assert response.status_code == 422 and response.json()["field"] == "item_id"
    counted = client.post(
        f"{API}/machine-counts", json={"equipment_id": theirs.ids["machine"], "good": "1"}, headers=mine.headers
    )
    assert counted.status_code == 200 and counted.json() == {"report": None}
