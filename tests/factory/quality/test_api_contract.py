"""Contract tests of the quality API: CRUD of plans and defect codes, inspections opening nonconformances,
dispositions and their moves, close, capability and Pareto, lists and CSV twins, 401/403 without rights,
404 for another enterprise's objects (never their data), errors naming the field."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.factory.inventory.conftest import Plant
from tests.factory.quality.conftest import API


def _plan_body(lab: Plant, code: str = "QP-API", stage: str = "receipt") -> dict[str, Any]:
    return {
        "code": code,
        "name": "Incoming bolts",
        "stage": stage,
        "item_id": lab.ids["bolt"],
        "characteristics": [
            {"name": "Length", "kind": "variable", "unit": "mm", "lsl": "49", "usl": "51", "sample_size": 2},
            {"name": "Thread", "kind": "attribute", "sample_pct": "5"},
        ],
    }


def _results(plan: dict[str, Any], length: tuple[str, str] = ("50", "50.5"), thread: bool = True) -> list[Any]:
    length_id, thread_id = (c["id"] for c in plan["characteristics"])
    return [
        {"characteristic_id": length_id, "sample": 1, "value": length[0]},
        {"characteristic_id": length_id, "sample": 2, "value": length[1]},
        {"characteristic_id": thread_id, "sample": 1, "passed": thread},
    ]


def _inspection_body(lab: Plant, plan: dict[str, Any], **results: Any) -> dict[str, Any]:
    return {
        "plan_id": plan["id"],
        "source_type": "receipt",
        "source_id": "RL-1",
        "item_id": lab.ids["bolt"],
        "location_id": lab.ids["a"],
        "quantity": "40",
        "supplier_id": lab.ids["vendor"],
        "results": _results(plan, **results),
    }


def _objects(client: TestClient, lab: Plant) -> dict[str, int]:
    """Create a plan, a spare plan, a defect code, a failing inspection and an NC through the API; return ids."""
    h = lab.headers
    lab.receive("bolt", "100")
    plan = client.post(f"{API}/plans", json=_plan_body(lab), headers=h)
    assert plan.status_code == 201, plan.text
    spare = client.post(f"{API}/plans", json=_plan_body(lab, "QP-SPARE"), headers=h).json()
    code = client.post(f"{API}/defect-codes", json={"code": "D-API", "name": "API defect"}, headers=h).json()
    inspection = client.post(f"{API}/inspections", json=_inspection_body(lab, plan.json(), thread=False), headers=h)
    assert inspection.status_code == 201, inspection.text
    nc = client.post(
        f"{API}/nonconformances",
        json={"item_id": lab.ids["bolt"], "location_id": lab.ids["a"], "quantity": "3", "defect_code_id": code["id"]},
        headers=h,
    )
    assert nc.status_code == 201, nc.text
    return {
        "plan": plan.json()["id"],
        "spare": spare["id"],
        "characteristic": plan.json()["characteristics"][0]["id"],
        "code": code["id"],
        "inspection": inspection.json()["id"],
        "auto_nc": inspection.json()["nonconformance_ids"][0],
        "nc": nc.json()["id"],
    }


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the quality API with real ids in the paths."""
    return [
        ("GET", "/plans"),
        ("GET", "/plans.csv"),
        ("POST", "/plans"),
        ("GET", f"/plans/{ids['plan']}"),
        ("PATCH", f"/plans/{ids['spare']}"),
        ("DELETE", f"/plans/{ids['spare']}"),
        ("GET", "/defect-codes"),
        ("GET", "/defect-codes.csv"),
        ("POST", "/defect-codes"),
        ("GET", f"/defect-codes/{ids['code']}"),
        ("PATCH", f"/defect-codes/{ids['code']}"),
        ("DELETE", f"/defect-codes/{ids['code']}"),
        ("GET", "/inspections"),
        ("GET", "/inspections.csv"),
        ("POST", "/inspections"),
        ("GET", f"/inspections/{ids['inspection']}"),
        ("GET", "/nonconformances"),
        ("GET", "/nonconformances.csv"),
        ("POST", "/nonconformances"),
        ("GET", f"/nonconformances/{ids['nc']}"),
        ("POST", f"/nonconformances/{ids['nc']}/disposition"),
        ("POST", f"/nonconformances/{ids['nc']}/close"),
        ("GET", f"/capability/{ids['characteristic']}"),
        ("GET", "/pareto"),
    ]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
    return client.request(method, f"{API}{path}", json=body, headers=headers)


def test_plan_and_defect_code_crud(client: TestClient, lab: Plant) -> None:
    h = lab.headers
    created = client.post(f"{API}/plans", json=_plan_body(lab, "QP-CRUD"), headers=h)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert [(c["position"], c["name"], c["lsl"], c["sample_pct"]) for c in plan["characteristics"]] == [
        (10, "Length", "49.000000", None),
        (20, "Thread", None, "5.00"),
    ]
    assert plan["in_use"] is False
    pid = plan["id"]
    assert client.get(f"{API}/plans/{pid}", headers=h).json()["code"] == "QP-CRUD"
    patched = client.patch(
        f"{API}/plans/{pid}",
        json={"name": "Renamed", "characteristics": _plan_body(lab)["characteristics"][:1]},
        headers=h,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], len(patched.json()["characteristics"])) == ("Renamed", 1)
    assert client.post(f"{API}/plans", json=_plan_body(lab, "QP-CRUD"), headers=h).status_code == 409
    listed = client.get(f"{API}/plans", params={"code": "QP-CR"}, headers=h).json()
    assert [p["code"] for p in listed["items"]] == ["QP-CRUD"]
    assert client.delete(f"{API}/plans/{pid}", headers=h).status_code == 204
    assert client.get(f"{API}/plans/{pid}", headers=h).status_code == 404

    code = client.post(f"{API}/defect-codes", json={"code": "D-1", "name": "Burr", "category": "edge"}, headers=h)
    assert code.status_code == 201, code.text
    cid = code.json()["id"]
    changed = client.patch(f"{API}/defect-codes/{cid}", json={"active": False}, headers=h)
    assert changed.json()["active"] is False
    dup = client.post(f"{API}/defect-codes", json={"code": "D-1", "name": "Again"}, headers=h)
    assert (dup.status_code, dup.json()["field"]) == (409, "code")
    assert client.delete(f"{API}/defect-codes/{cid}", headers=h).status_code == 204
    assert client.get(f"{API}/defect-codes/{cid}", headers=h).status_code == 404


def test_inspection_opens_nc_which_is_dispositioned_and_closed(client: TestClient, lab: Plant) -> None:
    h = lab.headers
    lab.receive("bolt", "100")
    plan = client.post(f"{API}/plans", json=_plan_body(lab), headers=h).json()
    ok = client.post(f"{API}/inspections", json=_inspection_body(lab, plan), headers=h)
    assert ok.status_code == 201, ok.text
    assert (ok.json()["result"], ok.json()["nonconformance_ids"]) == ("pass", [])
    bad = client.post(
        f"{API}/inspections",
        json={**_inspection_body(lab, plan, length=("50", "51.2")), "affected_quantity": "10"},
        headers=h,
    )
    assert bad.status_code == 201, bad.text
    assert bad.json()["result"] == "fail"
    assert [r["in_tolerance"] for r in bad.json()["results"]] == [True, False, True]
    nc_id = bad.json()["nonconformance_ids"][0]
    nc = client.get(f"{API}/nonconformances/{nc_id}", headers=h).json()
    assert (nc["status"], nc["quantity"], nc["characteristics"], nc["inspection_id"]) == (
        "open",
        "10.000000",
        "Length",
        bad.json()["id"],
    )
    assert client.get(f"{API}/plans/{plan['id']}", headers=h).json()["in_use"] is True
    refused = client.patch(f"{API}/plans/{plan['id']}", json={"characteristics": []}, headers=h)
    assert (refused.status_code, refused.json()["field"]) == (409, "characteristics")
    over = client.post(
        f"{API}/nonconformances/{nc_id}/disposition",
        json={"lines": [{"kind": "scrap", "quantity": "4"}, {"kind": "return", "quantity": "7"}]},
        headers=h,
    )
    assert (over.status_code, over.json()["field"]) == (422, "lines.1.quantity")
    done = client.post(
        f"{API}/nonconformances/{nc_id}/disposition",
        json={
            "lines": [
                {"kind": "scrap", "quantity": "4"},
                {"kind": "return", "quantity": "3"},
                {"kind": "rework", "quantity": "2", "to_location_id": lab.ids["b"]},
                {"kind": "use_as_is", "quantity": "1", "approver": "Li Wei"},
            ]
        },
        headers=h,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "dispositioned"
    assert [d["kind"] for d in done.json()["dispositions"]] == ["scrap", "return", "rework", "use_as_is"]
    stock = client.get("/api/v1/factory/inventory/stock", params={"item_id": lab.ids["bolt"]}, headers=h).json()[
        "items"
    ]
    assert sorted((r["location_id"], r["on_hand"]) for r in stock) == sorted(
        [(lab.ids["a"], "91.000000"), (lab.ids["b"], "2.000000")]
    )
    moves = client.get(
        "/api/v1/factory/inventory/moves",
        params={"reference_type": "nonconformance", "reference_id": str(nc_id)},
        headers=h,
    ).json()
    assert moves["total"] == 3
    closed = client.post(f"{API}/nonconformances/{nc_id}/close", headers=h)
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    again = client.post(f"{API}/nonconformances/{nc_id}/close", headers=h)
    assert again.status_code == 409


def test_charts(client: TestClient, lab: Plant) -> None:
    h = lab.headers
    ids = _objects(client, lab)
    cap = client.get(f"{API}/capability/{ids['characteristic']}", headers=h)
    assert cap.status_code == 200, cap.text
    body = cap.json()
    assert (body["n"], body["lsl"], body["usl"], body["mean"]) == (2, "49.000000", "51.000000", "50.250000")
    assert body["cp"] is not None and body["cpk"] is not None
    assert sum(b["count"] for b in body["bins"]) == 2
    later = client.get(f"{API}/capability/{ids['characteristic']}", params={"since": "2999-01-01T00:00:00Z"}, headers=h)
    assert (later.json()["n"], later.json()["cp"]) == (0, None)
    pareto = client.get(f"{API}/pareto", headers=h).json()
    assert pareto["total_count"] == 2
    assert [b["cumulative_pct"] for b in pareto["bars"]][-1] == "100.00"
    assert {b["code"] for b in pareto["bars"]} == {"D-API", ""}
    assert client.get(f"{API}/pareto", params={"by": "weight"}, headers=h).status_code == 422


def test_lists_filters_and_csv(client: TestClient, lab: Plant) -> None:
    h = lab.headers
    ids = _objects(client, lab)
    open_ncs = client.get(f"{API}/nonconformances", params={"status": "open"}, headers=h).json()
    assert open_ncs["total"] == 2
    assert [n["id"] for n in open_ncs["items"]] == [ids["nc"], ids["auto_nc"]]
    failed = client.get(f"{API}/inspections", params={"result": "fail"}, headers=h).json()
    assert [i["id"] for i in failed["items"]] == [ids["inspection"]]
    for path, first, count in (
        ("/nonconformances.csv", ["id", "status", "stage"], 2),
        ("/inspections.csv", ["id", "plan_id", "source_type"], 1),
        ("/plans.csv", ["id", "code", "name"], 3),  # the fixture's plan and two
        ("/defect-codes.csv", ["id", "code", "name"], 3),  # the fixture's two and one
    ):
        exported = client.get(f"{API}{path}", headers=h)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][:3] == first and len(rows) - 1 == count, path
    assert client.get(f"{API}/nonconformances", params={"item_id": "x"}, headers=h).status_code == 422


def test_bad_input_names_the_field(client: TestClient, lab: Plant) -> None:
    h = lab.headers
    plan = _plan_body(lab, "QP-BAD")
    cases = [
        ({**plan, "characteristics": [{**plan["characteristics"][0], "usl": "48"}]}, "characteristics.0.usl"),
        (
            {**plan, "characteristics": [{**plan["characteristics"][0], "lsl": None, "usl": None}]},
            "characteristics.0.lsl",
        ),
        (
            {**plan, "characteristics": [{**plan["characteristics"][1], "sample_pct": "101"}]},
            "characteristics.0.sample_pct",
        ),
        ({**plan, "stage": "packing"}, "stage"),
        ({**plan, "colour": "red"}, "colour"),
    ]
    for payload, field in cases:
        response = client.post(f"{API}/plans", json=payload, headers=h)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field, response.text
    created = client.post(f"{API}/plans", json=plan, headers=h).json()
    body = _inspection_body(lab, created)
    missing = client.post(f"{API}/inspections", json={**body, "results": body["results"][:2]}, headers=h)
    assert (missing.status_code, missing.json()["field"]) == (422, "results")
    wrong = [{**body["results"][0], "value": None, "passed": True}, *body["results"][1:]]
    assert client.post(f"{API}/inspections", json={**body, "results": wrong}, headers=h).json()["field"] == (
        "results.0.value"
    )


def test_no_credentials_is_401(client: TestClient, lab: Plant) -> None:
    for method, path in endpoints(_objects(client, lab)):
        assert _call(client, method, path, {}).status_code == 401, (method, path)


def test_without_permission_is_403(client: TestClient, lab: Plant, actor_factory: Callable[..., Any]) -> None:
    ids = _objects(client, lab)
    viewer = actor_factory("viewer", tenant=lab.actor.tenant)  # quality.view only
    outsider = actor_factory("maintenance", tenant=lab.actor.tenant)  # no quality rights at all
    inspector = actor_factory("quality", tenant=lab.actor.tenant)  # edits quality, moves no stock
    for method, path in endpoints(ids):
        if method == "GET":
            assert _call(client, method, path, viewer.headers).status_code == 200, path
            assert _call(client, method, path, outsider.headers).status_code == 403, path
        else:
            response = _call(client, method, path, viewer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"
    scrap = client.post(
        f"{API}/nonconformances/{ids['nc']}/disposition",
        json={"lines": [{"kind": "scrap", "quantity": "1"}]},
        headers=inspector.headers,
    )
    assert scrap.status_code == 403
    assert "inventory.move" in scrap.json()["detail"]
    as_is = client.post(
        f"{API}/nonconformances/{ids['nc']}/disposition",
        json={"lines": [{"kind": "use_as_is", "quantity": "1"}]},
        headers=inspector.headers,
    )
    assert as_is.status_code == 200, as_is.text


def test_other_enterprise_is_invisible(client: TestClient, lab_factory: Callable[..., Plant]) -> None:
    mine, theirs = lab_factory(), lab_factory()
    their_ids = _objects(client, theirs)
    _objects(client, mine)
    for method, path in endpoints(their_ids):
        if any(ch.isdigit() for ch in path):
            response = _call(client, method, path, mine.headers)
            assert response.status_code in {404, 422}, (method, path, response.text)
            assert "API defect" not in response.text and "Incoming bolts" not in response.text
            if method == "GET":
                assert response.status_code == 404
    listed = client.get(f"{API}/nonconformances", params={"limit": 500}, headers=mine.headers).json()["items"]
    assert their_ids["nc"] not in {n["id"] for n in listed}
    # Naming their item in a write is an error on that field, never a write into their enterprise.
    body = {"item_id": theirs.ids["bolt"], "location_id": mine.ids["a"], "quantity": "1"}
    response = client.post(f"{API}/nonconformances", json=body, headers=mine.headers)
    assert (response.status_code, response.json()["field"]) == (422, "item_id")
