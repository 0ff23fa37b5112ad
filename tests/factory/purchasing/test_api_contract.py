"""Contract tests of the purchasing API: CRUD of drafts, confirm, cancel, receive, list filters and CSV,
401/403 without rights, 404 for another enterprise's orders (never their data), errors naming the field."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.factory.inventory.conftest import Plant
from tests.factory.purchasing.conftest import API, order_body


def _objects(client: TestClient, shop: Plant) -> dict[str, int]:
    """Create a confirmed order with a receipt and a draft through the API; return their ids."""
    h = shop.headers
    po = client.post(API, json=order_body(shop), headers=h)
    assert po.status_code == 201, po.text
    order = po.json()
    assert client.post(f"{API}/{order['id']}/confirm", headers=h).status_code == 200
    receipt = client.post(
        f"{API}/{order['id']}/receipts",
        json={"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": "1", "location_id": shop.ids["a"]}]},
        headers=h,
    )
    assert receipt.status_code == 201, receipt.text
    draft = client.post(API, json=order_body(shop), headers=h).json()
    return {
        "order": order["id"],
        "line": order["lines"][1]["id"],
        "draft": draft["id"],
        "draft_line": draft["lines"][0]["id"],
    }


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the purchasing API with real ids in the paths."""
    o, d = ids["order"], ids["draft"]
    return [
        ("GET", ""),
        ("GET", ".csv"),
        ("POST", ""),
        ("GET", f"/{o}"),
        ("PATCH", f"/{d}"),
        ("DELETE", f"/{d}"),
        ("POST", f"/{d}/lines"),
        ("PATCH", f"/{d}/lines/{ids['draft_line']}"),
        ("DELETE", f"/{d}/lines/{ids['draft_line']}"),
        ("POST", f"/{o}/lines/{ids['line']}/close"),
        ("POST", f"/{d}/confirm"),
        ("POST", f"/{d}/cancel"),
        ("GET", f"/{o}/receipts"),
        ("POST", f"/{o}/receipts"),
    ]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
    return client.request(method, f"{API}{path}", json=body, headers=headers)


def test_draft_crud_confirm_receive_and_cancel(client: TestClient, shop: Plant) -> None:
    h = shop.headers
    created = client.post(API, json=order_body(shop, "PO-100"), headers=h)
    assert created.status_code == 201, created.text
    po = created.json()
    assert po["status"] == "draft"
    assert [(ln["position"], ln["quantity"], ln["base_quantity"]) for ln in po["lines"]] == [
        (10, "10.000000", "120.000000"),
        (20, "20.000000", "20.000000"),
        (30, "2.000000", "2.000000"),
    ]
    pid = po["id"]
    assert client.get(f"{API}/{pid}", headers=h).json()["number"] == "PO-100"
    patched = client.patch(f"{API}/{pid}", json={"note": "urgent", "expected_date": "2026-11-25"}, headers=h)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["note"], patched.json()["expected_date"]) == ("urgent", "2026-11-25")
    line = client.post(f"{API}/{pid}/lines", json={"item_id": shop.ids["paint"], "quantity": "3"}, headers=h)
    assert line.status_code == 201, line.text
    assert line.json()["position"] == 40
    changed = client.patch(f"{API}/{pid}/lines/{line.json()['id']}", json={"quantity": "4"}, headers=h)
    assert changed.json()["quantity"] == "4.000000"
    assert client.delete(f"{API}/{pid}/lines/{line.json()['id']}", headers=h).status_code == 204
    dup = client.post(API, json=order_body(shop, "PO-100"), headers=h)
    assert dup.status_code == 409
    assert dup.json()["field"] == "number"
    confirmed = client.post(f"{API}/{pid}/confirm", headers=h)
    assert confirmed.json()["status"] == "confirmed"
    assert client.patch(f"{API}/{pid}", json={"note": "x"}, headers=h).status_code == 409
    assert client.delete(f"{API}/{pid}", headers=h).status_code == 409
    lines = confirmed.json()["lines"]
    receipt = client.post(
        f"{API}/{pid}/receipts",
        json={
            "lines": [
                {"order_line_id": lines[0]["id"], "quantity": "2", "location_id": shop.ids["a"]},
                {"order_line_id": lines[1]["id"], "quantity": "5", "location_id": shop.ids["a"], "lot_number": "H1"},
            ]
        },
        headers=h,
    )
    assert receipt.status_code == 201, receipt.text
    assert [rl["base_quantity"] for rl in receipt.json()["lines"]] == ["24.000000", "5.000000"]
    assert client.get(f"{API}/{pid}", headers=h).json()["status"] == "partially_received"
    listed = client.get(f"{API}/{pid}/receipts", headers=h).json()
    assert [r["id"] for r in listed] == [receipt.json()["id"]]
    refused = client.post(f"{API}/{pid}/cancel", headers=h)
    assert refused.status_code == 409
    closed = client.post(f"{API}/{pid}/lines/{lines[2]['id']}/close", headers=h)
    assert closed.json()["closed"] is True
    stock = client.get("/api/v1/factory/inventory/stock", params={"item_id": shop.ids["bolt"]}, headers=h).json()[
        "items"
    ]
    assert [r["on_hand"] for r in stock] == ["24.000000"]

    other = client.post(API, json=order_body(shop, "PO-101"), headers=h).json()
    assert client.post(f"{API}/{other['id']}/cancel", headers=h).json()["status"] == "cancelled"
    draft = client.post(API, json=order_body(shop, "PO-102"), headers=h).json()
    assert client.delete(f"{API}/{draft['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/{draft['id']}", headers=h).status_code == 404


def test_list_filters_and_csv_share_the_filter_set(client: TestClient, shop: Plant) -> None:
    h = shop.headers
    _objects(client, shop)
    client.post(API, json=order_body(shop, "ZZ-1"), headers=h)
    drafts = client.get(API, params={"status": "draft"}, headers=h).json()
    assert drafts["total"] == 2
    assert {po["status"] for po in drafts["items"]} == {"draft"}
    by_number = client.get(API, params={"number": "ZZ-"}, headers=h).json()["items"]
    assert [po["number"] for po in by_number] == ["ZZ-1"]
    exported = client.get(f"{API}.csv", params={"status": "draft"}, headers=h)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:3] == ["id", "number", "supplier_id"]
    assert len(rows) - 1 == drafts["total"]
    assert client.get(API, params={"supplier_id": "x"}, headers=h).status_code == 422


def test_bad_input_names_the_field_and_the_line(client: TestClient, shop: Plant) -> None:
    h = shop.headers
    body = order_body(shop)
    cases = [
        ({**body, "supplier_id": shop.ids["client"]}, "supplier_id"),
        ({**body, "lines": [*body["lines"][:1], {**body["lines"][1], "quantity": "0"}]}, "lines.1.quantity"),
        ({**body, "lines": [{**body["lines"][0], "tolerance_pct": "101"}]}, "lines.0.tolerance_pct"),
        ({**body, "lines": [{**body["lines"][1], "uom_id": shop.ids["box"]}]}, "lines.0.uom_id"),
        ({**body, "expected_date": "2026-10-01"}, "expected_date"),
        ({**body, "colour": "red"}, "colour"),
    ]
    for payload, field in cases:
        response = client.post(API, json=payload, headers=h)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, response.text
    ids = _objects(client, shop)
    order = client.get(f"{API}/{ids['order']}", headers=h).json()
    over = client.post(
        f"{API}/{ids['order']}/receipts",
        json={"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": "10", "location_id": shop.ids["a"]}]},
        headers=h,
    )
    assert over.status_code == 422
    assert over.json()["field"] == "lines.0.quantity"
    assert "Line 10" in over.json()["detail"] and "at most 10.5" in over.json()["detail"]


def test_no_credentials_is_401(client: TestClient, shop: Plant) -> None:
    for method, path in endpoints(_objects(client, shop)):
        assert _call(client, method, path, {}).status_code == 401, (method, path)


def test_without_permission_is_403(client: TestClient, shop: Plant, actor_factory: Callable[..., Any]) -> None:
    ids = _objects(client, shop)
    viewer = actor_factory("viewer", tenant=shop.actor.tenant)  # purchasing.view only
    outsider = actor_factory("maintenance", tenant=shop.actor.tenant)  # no purchasing rights at all
    planner = actor_factory("planner", tenant=shop.actor.tenant)  # edits orders, moves no stock
    for method, path in endpoints(ids):
        if method == "GET":
            assert _call(client, method, path, viewer.headers).status_code == 200, path
            assert _call(client, method, path, outsider.headers).status_code == 403, path
        else:
            response = _call(client, method, path, viewer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"
    receive = _call(client, "POST", f"/{ids['order']}/receipts", planner.headers)
    assert receive.status_code == 403
    assert "inventory.move" in receive.json()["detail"]


def test_other_enterprise_is_invisible(client: TestClient, shop_factory: Callable[..., Plant]) -> None:
    mine, theirs = shop_factory(), shop_factory()
    their_ids = _objects(client, theirs)
    _objects(client, mine)
    for method, path in endpoints(their_ids):
        if path.startswith("/"):
            response = _call(client, method, path, mine.headers)
            assert response.status_code in {404, 422}, (method, path, response.text)
            assert "Steel Supplies" not in response.text
            if method == "GET":
                assert response.status_code == 404
    listed = client.get(API, params={"limit": 500}, headers=mine.headers).json()["items"]
    assert their_ids["order"] not in {po["id"] for po in listed}
    # Naming their supplier in a write is an error on that field, never a write into their enterprise.
    body = {**order_body(mine), "supplier_id": theirs.ids["vendor"]}
    response = client.post(API, json=body, headers=mine.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "supplier_id"
