"""Contract tests of the maintenance API: orders through their life cycle, plans and due-order generation,
usage readings, failure codes, reliability; lists with their CSV twins; 401/403 without rights, 404 for
another enterprise's objects (never their data), errors naming the field."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factory.maintenance.conftest import API, Shop

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
ORDERS = f"{API}/maintenance-orders"
PLANS = f"{API}/maintenance-plans"
READINGS = f"{API}/usage-readings"
CODES = f"{API}/maintenance-failure-codes"
RELIABILITY = f"{API}/equipment-reliability"


def _at(value: datetime) -> str:
    return value.isoformat()


def _objects(client: TestClient, shop: Shop) -> dict[str, int]:
    """Create an order (open and a done one), a plan, a reading and a failure code through the API."""
    h = shop.headers
    order = client.post(
        ORDERS,
        json={"equipment_id": shop.ids["press"], "kind": "corrective", "failure_at": _at(NOW - 3 * HOUR)},
        headers=h,
    )
    assert order.status_code == 201, order.text
    spare = client.post(ORDERS, json={"equipment_id": shop.ids["lathe"], "kind": "preventive"}, headers=h).json()
    plan = client.post(
        PLANS,
        json={"equipment_id": shop.ids["press"], "name": "Grease", "trigger_type": "calendar", "interval_days": 7},
        headers=h,
    )
    assert plan.status_code == 201, plan.text
    reading = client.post(
        READINGS, json={"equipment_id": shop.ids["press"], "counter": "cycles", "value": "10"}, headers=h
    )
    assert reading.status_code == 201, reading.text
    code = client.post(CODES, json={"code": "HYD", "name": "Hydraulic leak"}, headers=h)
    assert code.status_code == 201, code.text
    return {
        "order": order.json()["id"],
        "spare": spare["id"],
        "plan": plan.json()["id"],
        "reading": reading.json()["id"],
        "code": code.json()["id"],
        "equipment": shop.ids["press"],
    }


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the maintenance API with real ids in the paths."""
    o, p, c = ids["order"], ids["plan"], ids["code"]
    return [
        ("GET", "/maintenance-orders"),
        ("GET", "/maintenance-orders.csv"),
        ("POST", "/maintenance-orders"),
        ("GET", f"/maintenance-orders/{o}"),
        ("PATCH", f"/maintenance-orders/{o}"),
        ("DELETE", f"/maintenance-orders/{ids['spare']}"),
        ("POST", f"/maintenance-orders/{o}/start"),
        ("POST", f"/maintenance-orders/{o}/complete"),
        ("POST", f"/maintenance-orders/{o}/cancel"),
        ("GET", "/maintenance-plans"),
        ("GET", "/maintenance-plans.csv"),
        ("POST", "/maintenance-plans"),
        ("POST", "/maintenance-plans/generate-due"),
        ("GET", f"/maintenance-plans/{p}"),
        ("PATCH", f"/maintenance-plans/{p}"),
        ("DELETE", f"/maintenance-plans/{p}"),
        ("GET", "/usage-readings"),
        ("GET", "/usage-readings.csv"),
        ("POST", "/usage-readings"),
        ("GET", "/maintenance-failure-codes"),
        ("GET", "/maintenance-failure-codes.csv"),
        ("POST", "/maintenance-failure-codes"),
        ("GET", f"/maintenance-failure-codes/{c}"),
        ("PATCH", f"/maintenance-failure-codes/{c}"),
        ("DELETE", f"/maintenance-failure-codes/{c}"),
        ("GET", "/equipment-reliability"),
        ("GET", "/equipment-reliability.csv"),
        ("GET", f"/equipment-reliability/{ids['equipment']}"),
    ]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
    return client.request(method, f"{API}{path}", json=body, headers=headers)


def test_order_life_cycle(client: TestClient, shop: Shop) -> None:
    h = shop.headers
    ids = _objects(client, shop)
    oid = ids["order"]
    got = client.get(f"{ORDERS}/{oid}", headers=h).json()
    assert (got["status"], got["kind"], got["equipment_down"], got["number"]) == (
        "open",
        "corrective",
        True,
        f"MO-{oid:06d}",
    )
    patched = client.patch(
        f"{ORDERS}/{oid}", json={"description": "Press stops", "failure_code_id": ids["code"]}, headers=h
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["failure_code_id"] == ids["code"]
    started = client.post(f"{ORDERS}/{oid}/start", json={"repair_start_at": _at(NOW - 2 * HOUR)}, headers=h)
    assert started.json()["status"] == "in_progress", started.text
    assert client.post(f"{ORDERS}/{oid}/start", json={}, headers=h).status_code == 409
    done = client.post(
        f"{ORDERS}/{oid}/complete",
        json={"repair_end_at": _at(NOW - HOUR), "action_taken": "Seal replaced", "labour_hours": "1.5"},
        headers=h,
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["labour_hours"]) == ("done", "1.50")
    assert client.patch(f"{ORDERS}/{oid}", json={"description": "x"}, headers=h).status_code == 409
    assert client.post(f"{ORDERS}/{oid}/cancel", headers=h).status_code == 409
    assert client.delete(f"{ORDERS}/{oid}", headers=h).status_code == 409
    assert client.delete(f"{CODES}/{ids['code']}", headers=h).status_code == 409
    cancelled = client.post(f"{ORDERS}/{ids['spare']}/cancel", headers=h)
    assert cancelled.json()["status"] == "cancelled"
    fresh = client.post(ORDERS, json={"equipment_id": shop.ids["lathe"], "kind": "preventive"}, headers=h).json()
    assert client.delete(f"{ORDERS}/{fresh['id']}", headers=h).status_code == 204
    assert client.get(f"{ORDERS}/{fresh['id']}", headers=h).status_code == 404
    reliability = client.get(
        f"{RELIABILITY}/{shop.ids['press']}", params={"start": _at(NOW - DAY), "end": _at(NOW)}, headers=h
    ).json()
    assert (reliability["failures"], reliability["mttr_hours"], reliability["mtbf_hours"]) == (1, "2.0000", "22.0000")


def test_plans_fall_due_and_generation_opens_one_order(client: TestClient, shop: Shop) -> None:
    h = shop.headers
    start = (NOW - 20 * DAY).date().isoformat()
    created = client.post(
        PLANS,
        json={
            "equipment_id": shop.ids["press"],
            "name": "Lubricate",
            "trigger_type": "calendar",
            "interval_days": 14,
            "start_date": start,
            "tasks": "Grease slides",
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["next_due"]["due"] is True
    assert plan["next_due"]["due_date"] == (NOW - 6 * DAY).date().isoformat()
    usage = client.post(
        PLANS,
        json={
            "equipment_id": shop.ids["lathe"],
            "name": "Oil",
            "trigger_type": "usage",
            "counter": "runtime_hours",
            "interval_units": "250",
        },
        headers=h,
    ).json()
    assert (usage["start_reading"], usage["next_due"]["due_value"]) == ("0.000000", "250.000000")
    first = client.post(f"{PLANS}/generate-due", headers=h)
    assert first.status_code == 200, first.text
    assert [o["plan_id"] for o in first.json()["created"]] == [plan["id"]]
    assert client.post(f"{PLANS}/generate-due", headers=h).json()["created"] == []
    again = client.get(f"{PLANS}/{plan['id']}", headers=h).json()
    assert again["next_due"]["open_order_id"] == first.json()["created"][0]["id"]
    client.post(
        READINGS, json={"equipment_id": shop.ids["lathe"], "counter": "runtime_hours", "value": "260"}, headers=h
    )
    second = client.post(f"{PLANS}/generate-due", headers=h).json()["created"]
    assert [o["plan_id"] for o in second] == [usage["id"]]
    patched = client.patch(f"{PLANS}/{plan['id']}", json={"active": False, "interval_days": 30}, headers=h)
    assert (patched.json()["active"], patched.json()["interval_days"]) == (False, 30)
    inactive = client.get(PLANS, params={"active": "false"}, headers=h).json()
    assert [p["id"] for p in inactive["items"]] == [plan["id"]]
    assert client.delete(f"{PLANS}/{plan['id']}", headers=h).status_code == 204
    kept = client.get(f"{ORDERS}/{first.json()['created'][0]['id']}", headers=h).json()
    assert kept["plan_id"] is None


def test_lists_filter_and_csv_twins_share_the_filters(client: TestClient, shop: Shop) -> None:
    h = shop.headers
    ids = _objects(client, shop)
    client.post(f"{ORDERS}/{ids['spare']}/cancel", headers=h)
    listed = client.get(ORDERS, headers=h).json()
    # Open orders come first.
    assert [o["status"] for o in listed["items"]] == ["open", "cancelled"]
    corrective = client.get(ORDERS, params={"kind": "corrective"}, headers=h).json()
    assert [o["id"] for o in corrective["items"]] == [ids["order"]]
    for path, params, first_columns in (
        (f"{ORDERS}.csv", {"kind": "corrective"}, ["id", "number", "equipment_id"]),
        (f"{PLANS}.csv", {"trigger_type": "calendar"}, ["id", "equipment_id", "name"]),
        (f"{READINGS}.csv", {"counter": "cycles"}, ["id", "equipment_id", "counter"]),
        (f"{CODES}.csv", {"code": "HY"}, ["id", "code", "name"]),
        (f"{RELIABILITY}.csv", {}, ["equipment_id", "equipment_name", "start"]),
    ):
        exported = client.get(path, params=params, headers=h)
        assert exported.status_code == 200, (path, exported.text)
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][:3] == first_columns
        assert len(rows) - 1 == (2 if path.startswith(RELIABILITY) else 1), (path, rows)
    readings = client.get(READINGS, params={"equipment_id": shop.ids["press"], "counter": "cycles"}, headers=h)
    assert [r["value"] for r in readings.json()["items"]] == ["10.000000"]
    table = client.get(RELIABILITY, headers=h).json()
    assert {r["equipment_name"] for r in table} == {"Press 1", "Lathe 2"}
    assert client.get(ORDERS, params={"equipment_id": "x"}, headers=h).status_code == 422


def test_bad_input_names_the_field(client: TestClient, shop: Shop) -> None:
    h = shop.headers
    press = shop.ids["press"]
    order = {"equipment_id": press, "kind": "corrective", "failure_at": _at(NOW - HOUR)}
    cases = [
        (ORDERS, {"equipment_id": press, "kind": "corrective"}, "failure_at"),
        (ORDERS, {**order, "repair_start_at": _at(NOW - 2 * HOUR)}, "repair_start_at"),
        (ORDERS, {**order, "repair_start_at": _at(NOW), "repair_end_at": _at(NOW - HOUR)}, "repair_end_at"),
        (ORDERS, {**order, "failure_at": "2026-11-01T10:00:00"}, "failure_at"),
        (ORDERS, {**order, "kind": "emergency"}, "kind"),
        (ORDERS, {**order, "labour_hours": "-1"}, "labour_hours"),
        (ORDERS, {**order, "equipment_id": 2**31 - 1}, "equipment_id"),
        (PLANS, {"equipment_id": press, "name": "A", "trigger_type": "calendar"}, "interval_days"),
        (PLANS, {"equipment_id": press, "name": "A", "trigger_type": "usage", "interval_units": "5"}, "counter"),
        (PLANS, {"equipment_id": press, "name": "A", "trigger_type": "usage", "counter": "Run Hours"}, "counter"),
        (READINGS, {"equipment_id": press, "counter": "cycles", "value": "-1"}, "value"),
        (READINGS, {"equipment_id": press, "counter": "cycles", "value": "1", "colour": "red"}, "colour"),
    ]
    for path, payload, field in cases:
        response = client.post(path, json=payload, headers=h)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, response.text
    client.post(READINGS, json={"equipment_id": press, "counter": "cycles", "value": "100"}, headers=h)
    down = client.post(READINGS, json={"equipment_id": press, "counter": "cycles", "value": "50"}, headers=h)
    assert down.status_code == 422
    assert down.json()["field"] == "value"
    assert "counter reset" in down.json()["detail"]
    reset = client.post(
        READINGS, json={"equipment_id": press, "counter": "cycles", "value": "50", "is_reset": True}, headers=h
    )
    assert reset.status_code == 201, reset.text
    period = client.get(RELIABILITY, params={"start": _at(NOW), "end": _at(NOW - DAY)}, headers=h)
    assert period.status_code == 422
    assert period.json()["field"] == "end"
    dup = client.post(CODES, json={"code": "HYD", "name": "a"}, headers=h)
    dup = client.post(CODES, json={"code": "HYD", "name": "b"}, headers=h)
    assert dup.status_code == 409
    assert dup.json()["field"] == "code"


def test_no_credentials_is_401(client: TestClient, shop: Shop) -> None:
    for method, path in endpoints(_objects(client, shop)):
        assert _call(client, method, path, {}).status_code == 401, (method, path)


def test_without_permission_is_403(client: TestClient, shop: Shop, actor_factory: Callable[..., Any]) -> None:
    ids = _objects(client, shop)
    viewer = actor_factory("viewer", tenant=shop.actor.tenant)  # maintenance.view only
    outsider = actor_factory("viewer", tenant=shop.actor.tenant, scopes=["assets.view"])  # no maintenance rights
    for method, path in endpoints(ids):
        if method == "GET":
            assert _call(client, method, path, viewer.headers).status_code == 200, path
            assert _call(client, method, path, outsider.headers).status_code == 403, path
        else:
            response = _call(client, method, path, viewer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"


def test_other_enterprise_is_invisible(client: TestClient, shop_factory: Callable[..., Shop]) -> None:
    mine, theirs = shop_factory(), shop_factory()
    their_ids = _objects(client, theirs)
    _objects(client, mine)
    for method, path in endpoints(their_ids):
        if any(char.isdigit() for char in path):
            response = _call(client, method, path, mine.headers)
            assert response.status_code in {404, 422}, (method, path, response.text)
            assert "Hydraulic leak" not in response.text
            if method == "GET":
                assert response.status_code == 404, (method, path)
    listed = client.get(ORDERS, params={"limit": 500}, headers=mine.headers).json()["items"]
    assert their_ids["order"] not in {o["id"] for o in listed}
    table = client.get(RELIABILITY, headers=mine.headers).json()
    assert their_ids["equipment"] not in {r["equipment_id"] for r in table}
    # Naming their machine in a write is an error on that field, never a write into their enterprise.
    for path, body in (
        (ORDERS, {"equipment_id": theirs.ids["press"], "kind": "preventive"}),
        (READINGS, {"equipment_id": theirs.ids["press"], "counter": "cycles", "value": "1"}),
        (PLANS, {"equipment_id": theirs.ids["press"], "name": "x", "trigger_type": "calendar", "interval_days": 1}),
    ):
        response = client.post(path, json=body, headers=mine.headers)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "equipment_id"
    foreign_code = client.post(
        ORDERS,
        json={
            "equipment_id": mine.ids["press"],
            "kind": "corrective",
            "failure_at": _at(NOW),
            "failure_code_id": their_ids["code"],
        },
        headers=mine.headers,
    )
    assert foreign_code.status_code == 422
    assert foreign_code.json()["field"] == "failure_code_id"
