"""Contract tests of the sales API: CRUD of quotations and orders with their lines, state changes,
deliveries (pick, ship, cancel), returns, list filters and CSV twins, 401/403 without rights, 404 for
another enterprise's objects (never their data), errors naming the field and the line."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.factory.inventory.conftest import Plant
from tests.factory.sales.conftest import DELIVERIES, ORDERS, QUOTATIONS, order_body

BASE = "/api/v1/factory"


def quotation_body(shop: Plant, number: str = "Q-API") -> dict[str, Any]:
    """Return the body of a new quotation: one box of bolts and two blue small chairs."""
    ids = shop.ids
    return {
        "number": number,
        "customer_id": ids["client"],
        "quote_date": "2026-11-01",
        "lines": [
            {"item_id": ids["bolt"], "quantity": "1", "uom_id": ids["box"], "unit_price": "6"},
            {"item_id": ids["chair"], "quantity": "2", "options": [ids["colour-blue"], ids["size-s"]]},
        ],
    }


def _ok(response: Any, code: int = 200) -> Any:
    assert response.status_code == code, response.text
    return response.json()


def _objects(client: TestClient, shop: Plant) -> dict[str, int]:
    """Create through the API: a confirmed order with a shipped delivery, a draft delivery and a return,
    a draft order, a draft quotation and an accepted one; return their ids."""
    h, ids = shop.headers, shop.ids
    order = _ok(client.post(ORDERS, json=order_body(shop), headers=h), 201)
    _ok(client.post(f"{ORDERS}/{order['id']}/confirm", headers=h))
    line = order["lines"][0]["id"]
    shipped = _ok(
        client.post(
            f"{ORDERS}/{order['id']}/deliveries",
            json={"lines": [{"order_line_id": line, "quantity": "2", "location_id": ids["a"]}]},
            headers=h,
        ),
        201,
    )
    _ok(client.post(f"{DELIVERIES}/{shipped['id']}/ship", headers=h))
    pending = _ok(
        client.post(
            f"{ORDERS}/{order['id']}/deliveries",
            json={"lines": [{"order_line_id": line, "quantity": "1", "location_id": ids["a"]}]},
            headers=h,
        ),
        201,
    )
    _ok(
        client.post(
            f"{ORDERS}/{order['id']}/returns",
            json={"lines": [{"order_line_id": line, "quantity": "1", "location_id": ids["b"]}], "reason": "Damaged"},
            headers=h,
        ),
        201,
    )
    draft = _ok(client.post(ORDERS, json=order_body(shop), headers=h), 201)
    quotation = _ok(client.post(QUOTATIONS, json=quotation_body(shop, f"Q-{order['id']}-1"), headers=h), 201)
    accepted = _ok(client.post(QUOTATIONS, json=quotation_body(shop, f"Q-{order['id']}-2"), headers=h), 201)
    _ok(client.post(f"{QUOTATIONS}/{accepted['id']}/send", headers=h))
    _ok(client.post(f"{QUOTATIONS}/{accepted['id']}/accept", headers=h))
    return {
        "order": order["id"],
        "line": line,
        "draft": draft["id"],
        "draft_line": draft["lines"][0]["id"],
        "shipped": shipped["id"],
        "pending": pending["id"],
        "quotation": quotation["id"],
        "quotation_line": quotation["lines"][0]["id"],
        "accepted": accepted["id"],
    }


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the sales API with real ids in the paths (relative to /api/v1/factory)."""
    o, d, q, p = ids["order"], ids["draft"], ids["quotation"], ids["pending"]
    return [
        ("GET", "/quotations"),
        ("GET", "/quotations.csv"),
        ("POST", "/quotations"),
        ("GET", f"/quotations/{q}"),
        ("PATCH", f"/quotations/{q}"),
        ("DELETE", f"/quotations/{q}"),
        ("POST", f"/quotations/{q}/lines"),
        ("PATCH", f"/quotations/{q}/lines/{ids['quotation_line']}"),
        ("DELETE", f"/quotations/{q}/lines/{ids['quotation_line']}"),
        ("POST", f"/quotations/{q}/send"),
        ("POST", f"/quotations/{q}/accept"),
        ("POST", f"/quotations/{q}/reject"),
        ("POST", f"/quotations/{q}/expire"),
        ("POST", f"/quotations/{ids['accepted']}/convert"),
        ("GET", "/sales-orders"),
        ("GET", "/sales-orders.csv"),
        ("POST", "/sales-orders"),
        ("GET", f"/sales-orders/{o}"),
        ("PATCH", f"/sales-orders/{d}"),
        ("DELETE", f"/sales-orders/{d}"),
        ("POST", f"/sales-orders/{d}/lines"),
        ("PATCH", f"/sales-orders/{d}/lines/{ids['draft_line']}"),
        ("DELETE", f"/sales-orders/{d}/lines/{ids['draft_line']}"),
        ("POST", f"/sales-orders/{d}/confirm"),
        ("POST", f"/sales-orders/{d}/cancel"),
        ("GET", f"/sales-orders/{o}/deliveries"),
        ("POST", f"/sales-orders/{o}/deliveries"),
        ("GET", f"/sales-orders/{o}/returns"),
        ("POST", f"/sales-orders/{o}/returns"),
        ("GET", "/deliveries"),
        ("GET", "/deliveries.csv"),
        ("GET", f"/deliveries/{p}"),
        ("POST", f"/deliveries/{p}/pick"),
        ("POST", f"/deliveries/{p}/ship"),
        ("POST", f"/deliveries/{p}/cancel"),
    ]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
    return client.request(method, f"{BASE}{path}", json=body, headers=headers)


def test_quotation_crud_states_and_convert(client: TestClient, shop: Plant) -> None:
    h, ids = shop.headers, shop.ids
    created = _ok(client.post(QUOTATIONS, json=quotation_body(shop, "Q-100"), headers=h), 201)
    qid = created["id"]
    assert created["status"] == "draft"
    assert [(ln["position"], ln["base_quantity"], ln["options"]) for ln in created["lines"]] == [
        (10, "12.000000", []),
        (20, "2.000000", [ids["colour-blue"], ids["size-s"]]),
    ]
    assert _ok(client.get(f"{QUOTATIONS}/{qid}", headers=h))["number"] == "Q-100"
    patched = _ok(client.patch(f"{QUOTATIONS}/{qid}", json={"valid_until": "2099-12-31", "note": "n"}, headers=h))
    assert (patched["valid_until"], patched["note"]) == ("2099-12-31", "n")
    line = _ok(
        client.post(f"{QUOTATIONS}/{qid}/lines", json={"item_id": ids["paint"], "quantity": "3"}, headers=h), 201
    )
    assert line["position"] == 30
    changed = _ok(client.patch(f"{QUOTATIONS}/{qid}/lines/{line['id']}", json={"quantity": "4"}, headers=h))
    assert changed["quantity"] == "4.000000"
    assert client.delete(f"{QUOTATIONS}/{qid}/lines/{line['id']}", headers=h).status_code == 204
    assert client.post(QUOTATIONS, json=quotation_body(shop, "Q-100"), headers=h).status_code == 409
    assert _ok(client.post(f"{QUOTATIONS}/{qid}/send", headers=h))["status"] == "sent"
    assert client.patch(f"{QUOTATIONS}/{qid}", json={"note": "x"}, headers=h).status_code == 409
    assert client.post(f"{QUOTATIONS}/{qid}/convert", json={}, headers=h).status_code == 409
    assert _ok(client.post(f"{QUOTATIONS}/{qid}/accept", headers=h))["status"] == "accepted"
    order = _ok(client.post(f"{QUOTATIONS}/{qid}/convert", json={"number": "SO-Q-100"}, headers=h), 201)
    assert (order["number"], order["quotation_id"], order["status"]) == ("SO-Q-100", qid, "draft")
    assert [ln["options"] for ln in order["lines"]] == [[], [ids["colour-blue"], ids["size-s"]]]
    assert client.post(f"{QUOTATIONS}/{qid}/convert", json={}, headers=h).status_code == 409
    other = _ok(client.post(QUOTATIONS, json=quotation_body(shop, "Q-101"), headers=h), 201)
    _ok(client.post(f"{QUOTATIONS}/{other['id']}/send", headers=h))
    assert _ok(client.post(f"{QUOTATIONS}/{other['id']}/reject", headers=h))["status"] == "rejected"
    gone = _ok(client.post(QUOTATIONS, json=quotation_body(shop, "Q-102"), headers=h), 201)
    _ok(client.post(f"{QUOTATIONS}/{gone['id']}/send", headers=h))
    assert _ok(client.post(f"{QUOTATIONS}/{gone['id']}/expire", headers=h))["status"] == "expired"
    deleted = _ok(client.post(QUOTATIONS, json=quotation_body(shop, "Q-103"), headers=h), 201)
    assert client.delete(f"{QUOTATIONS}/{deleted['id']}", headers=h).status_code == 204
    assert client.get(f"{QUOTATIONS}/{deleted['id']}", headers=h).status_code == 404


def test_order_crud_deliveries_returns_and_cancel(client: TestClient, shop: Plant) -> None:
    h, ids = shop.headers, shop.ids
    order = _ok(client.post(ORDERS, json=order_body(shop, "SO-100"), headers=h), 201)
    oid = order["id"]
    assert [(ln["position"], ln["quantity"], ln["base_quantity"]) for ln in order["lines"]] == [
        (10, "2.000000", "24.000000"),
        (20, "20.000000", "20.000000"),
        (30, "1.000000", "1.000000"),
        (40, "3.000000", "3.000000"),
    ]
    patched = _ok(client.patch(f"{ORDERS}/{oid}", json={"customer_reference": "REF-9"}, headers=h))
    assert patched["customer_reference"] == "REF-9"
    line = _ok(client.post(f"{ORDERS}/{oid}/lines", json={"item_id": ids["paint"], "quantity": "3"}, headers=h), 201)
    changed = _ok(client.patch(f"{ORDERS}/{oid}/lines/{line['id']}", json={"quantity": "4"}, headers=h))
    assert changed["quantity"] == "4.000000"
    assert client.delete(f"{ORDERS}/{oid}/lines/{line['id']}", headers=h).status_code == 204
    assert client.post(ORDERS, json=order_body(shop, "SO-100"), headers=h).json()["field"] == "number"
    confirmed = _ok(client.post(f"{ORDERS}/{oid}/confirm", headers=h))
    assert confirmed["status"] == "confirmed" and confirmed["confirmed_at"]
    assert client.patch(f"{ORDERS}/{oid}", json={"note": "x"}, headers=h).status_code == 409
    assert client.delete(f"{ORDERS}/{oid}", headers=h).status_code == 409
    lines = confirmed["lines"]
    delivery = _ok(
        client.post(
            f"{ORDERS}/{oid}/deliveries",
            json={
                "lines": [
                    {"order_line_id": lines[0]["id"], "quantity": "24", "location_id": ids["a"]},
                    {
                        "order_line_id": lines[1]["id"],
                        "quantity": "5",
                        "location_id": ids["a"],
                        "lot_id": ids["steel-1"],
                    },
                ]
            },
            headers=h,
        ),
        201,
    )
    assert delivery["status"] == "draft"
    picked = _ok(client.post(f"{DELIVERIES}/{delivery['id']}/pick", headers=h))
    assert picked["status"] == "picked" and all(dl["reservation_id"] for dl in picked["lines"])
    shipped = _ok(client.post(f"{DELIVERIES}/{delivery['id']}/ship", headers=h))
    assert shipped["status"] == "shipped" and shipped["shipped_at"] and all(dl["move_id"] for dl in shipped["lines"])
    assert client.post(f"{DELIVERIES}/{delivery['id']}/cancel", headers=h).status_code == 409
    after = _ok(client.get(f"{ORDERS}/{oid}", headers=h))
    assert after["status"] == "partially_delivered"
    assert [ln["delivered_quantity"] for ln in after["lines"]] == ["24.000000", "5.000000", "0.000000", "0.000000"]
    listed = _ok(client.get(f"{ORDERS}/{oid}/deliveries", headers=h))
    assert [d["id"] for d in listed] == [delivery["id"]]
    assert _ok(client.get(f"{DELIVERIES}/{delivery['id']}", headers=h))["order_id"] == oid
    taken = _ok(
        client.post(
            f"{ORDERS}/{oid}/returns",
            json={
                "lines": [{"order_line_id": lines[0]["id"], "quantity": "4", "location_id": ids["b"]}],
                "reason": "Wrong size",
            },
            headers=h,
        ),
        201,
    )
    assert taken["reason"] == "Wrong size" and taken["lines"][0]["move_id"]
    assert [r["id"] for r in _ok(client.get(f"{ORDERS}/{oid}/returns", headers=h))] == [taken["id"]]
    assert _ok(client.get(f"{ORDERS}/{oid}", headers=h))["lines"][0]["returned_quantity"] == "4.000000"
    refused = client.post(f"{ORDERS}/{oid}/cancel", headers=h)
    assert refused.status_code == 409
    pending = _ok(
        client.post(
            f"{ORDERS}/{oid}/deliveries",
            json={
                "lines": [
                    {
                        "order_line_id": lines[2]["id"],
                        "quantity": "1",
                        "location_id": ids["a"],
                        "lot_id": ids["motor-1"],
                    }
                ]
            },
            headers=h,
        ),
        201,
    )
    assert _ok(client.post(f"{DELIVERIES}/{pending['id']}/cancel", headers=h))["status"] == "cancelled"
    other = _ok(client.post(ORDERS, json=order_body(shop, "SO-101"), headers=h), 201)
    assert _ok(client.post(f"{ORDERS}/{other['id']}/cancel", headers=h))["status"] == "cancelled"
    draft = _ok(client.post(ORDERS, json=order_body(shop, "SO-102"), headers=h), 201)
    assert client.delete(f"{ORDERS}/{draft['id']}", headers=h).status_code == 204
    assert client.get(f"{ORDERS}/{draft['id']}", headers=h).status_code == 404


def test_list_filters_and_csv_share_the_filter_sets(client: TestClient, shop: Plant) -> None:
    h = shop.headers
    ids = _objects(client, shop)
    client.post(ORDERS, json=order_body(shop, "ZZ-1"), headers=h)
    drafts = _ok(client.get(ORDERS, params={"status": "draft"}, headers=h))
    assert drafts["total"] == 2
    assert {o["status"] for o in drafts["items"]} == {"draft"}
    assert [o["number"] for o in _ok(client.get(ORDERS, params={"number": "ZZ-"}, headers=h))["items"]] == ["ZZ-1"]
    assert _ok(client.get(ORDERS, params={"customer_reference": "po-47"}, headers=h))["total"] == 3
    for path, params, first in (
        (f"{ORDERS}.csv", {"status": "draft"}, ["id", "number", "customer_id"]),
        (f"{QUOTATIONS}.csv", {"status": "accepted"}, ["id", "number", "customer_id"]),
        (f"{DELIVERIES}.csv", {"order_id": ids["order"]}, ["id", "order_id", "status"]),
    ):
        exported = client.get(path, params=params, headers=h)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][:3] == first
        listed = _ok(client.get(path.removesuffix(".csv"), params=params, headers=h))
        assert len(rows) - 1 == listed["total"] >= 1
    shipped = _ok(client.get(DELIVERIES, params={"status": "shipped"}, headers=h))
    assert [d["id"] for d in shipped["items"]] == [ids["shipped"]]
    assert _ok(client.get(QUOTATIONS, params={"status": "accepted"}, headers=h))["items"][0]["id"] == ids["accepted"]
    assert client.get(ORDERS, params={"customer_id": "x"}, headers=h).status_code == 422


def test_bad_input_names_the_field_and_the_line(client: TestClient, shop: Plant) -> None:
    h, ids = shop.headers, shop.ids
    body = order_body(shop)
    chair = body["lines"][3]
    cases = [
        ({**body, "customer_id": ids["vendor"]}, "customer_id"),
        ({**body, "lines": [*body["lines"][:1], {**body["lines"][1], "quantity": "0"}]}, "lines.1.quantity"),
        ({**body, "lines": [{**body["lines"][1], "uom_id": ids["box"]}]}, "lines.0.uom_id"),
        ({**body, "lines": [body["lines"][0], {**chair, "options": [ids["colour-red"]]}]}, "lines.1.options"),
        ({**body, "lines": [{**body["lines"][0], "due_date": "2026-01-01"}]}, "lines.0.due_date"),
        ({**body, "colour": "red"}, "colour"),
    ]
    for payload, field in cases:
        response = client.post(ORDERS, json=payload, headers=h)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, response.text
    ids_ = _objects(client, shop)
    over = client.post(
        f"{ORDERS}/{ids_['order']}/deliveries",
        json={"lines": [{"order_line_id": ids_["line"], "quantity": "22", "location_id": ids["a"]}]},
        headers=h,
    )
    assert over.status_code == 422
    assert over.json()["field"] == "lines.0.quantity"
    assert "Line 10" in over.json()["detail"] and "the 21 still open" in over.json()["detail"]
    too_many = client.post(
        f"{ORDERS}/{ids_['order']}/returns",
        json={"lines": [{"order_line_id": ids_["line"], "quantity": "2", "location_id": ids["a"]}], "reason": "x"},
        headers=h,
    )
    assert too_many.status_code == 422
    assert too_many.json()["field"] == "lines.0.quantity"


def test_no_credentials_is_401(client: TestClient, shop: Plant) -> None:
    for method, path in endpoints(_objects(client, shop)):
        assert _call(client, method, path, {}).status_code == 401, (method, path)


def test_without_permission_is_403(client: TestClient, shop: Plant, actor_factory: Callable[..., Any]) -> None:
    ids = _objects(client, shop)
    viewer = actor_factory("viewer", tenant=shop.actor.tenant)  # sales.view only
    outsider = actor_factory("maintenance", tenant=shop.actor.tenant)  # no sales rights at all
    planner = actor_factory("planner", tenant=shop.actor.tenant)  # edits sales, moves no stock
    for method, path in endpoints(ids):
        if method == "GET":
            assert _call(client, method, path, viewer.headers).status_code == 200, path
            assert _call(client, method, path, outsider.headers).status_code == 403, path
        else:
            response = _call(client, method, path, viewer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"
    for path in (
        f"/deliveries/{ids['pending']}/pick",
        f"/deliveries/{ids['pending']}/ship",
        f"/sales-orders/{ids['order']}/returns",
    ):
        response = _call(client, "POST", path, planner.headers)
        assert response.status_code == 403, (path, response.text)
        assert "inventory.move" in response.json()["detail"]


def test_other_enterprise_is_invisible(client: TestClient, shop_factory: Callable[..., Plant]) -> None:
    mine, theirs = shop_factory(), shop_factory()
    their_ids = _objects(client, theirs)
    _objects(client, mine)
    for method, path in endpoints(their_ids):
        if path.count("/") >= 2:  # the paths naming one of their objects
            response = _call(client, method, path, mine.headers)
            assert response.status_code in {404, 422}, (method, path, response.text)
            assert "Acme Buyers" not in response.text
            if method == "GET":
                assert response.status_code == 404, path
    listed = _ok(client.get(ORDERS, params={"limit": 500}, headers=mine.headers))["items"]
    assert their_ids["order"] not in {o["id"] for o in listed}
    deliveries = _ok(client.get(DELIVERIES, params={"limit": 500}, headers=mine.headers))["items"]
    assert their_ids["shipped"] not in {d["id"] for d in deliveries}
    # Naming their customer in a write is an error on that field, never a write into their enterprise.
    body = {**order_body(mine), "customer_id": theirs.ids["client"]}
    response = client.post(ORDERS, json=body, headers=mine.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "customer_id"
