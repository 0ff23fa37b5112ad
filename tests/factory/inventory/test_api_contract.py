"""Contract tests of the inventory API: CRUD, 401/403 without rights, 404 for another enterprise's
objects (never their data), validation naming the field, CSV export of every list."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factory.inventory.conftest import API, Plant

LISTS = [
    "warehouses",
    "locations",
    "lots",
    "moves",
    "stock",
    "stock/items",
    "reservations",
    "cycle-counts",
    "production",
]


def _receipt(plant: Plant) -> dict[str, Any]:
    return {
        "item_id": plant.ids["steel"],
        "quantity": "5.5",
        "from_location_id": plant.ids["supplier"],
        "to_location_id": plant.ids["a"],
        "lot_id": plant.ids["steel-1"],
        "reference_type": "purchase_order",
        "reference_id": "PO-1",
    }


def _objects(client: TestClient, plant: Plant) -> dict[str, int]:
    """Create one of everything through the API; return their ids."""
    h = plant.headers
    move = client.post(f"{API}/moves", json=_receipt(plant), headers=h)
    assert move.status_code == 201, move.text
    res = client.post(
        f"{API}/reservations",
        json={
            "item_id": plant.ids["steel"],
            "location_id": plant.ids["a"],
            "lot_id": plant.ids["steel-1"],
            "quantity": "1",
            "reference_type": "sales_order",
            "reference_id": "SO-1",
        },
        headers=h,
    )
    assert res.status_code == 201, res.text
    count = client.post(
        f"{API}/cycle-counts",
        json={"item_id": plant.ids["bolt"], "location_id": plant.ids["b"], "counted_quantity": "3"},
        headers=h,
    )
    assert count.status_code == 201, count.text
    prod = client.post(
        f"{API}/production",
        json={
            "consumed": [
                {
                    "item_id": plant.ids["steel"],
                    "quantity": "2",
                    "location_id": plant.ids["a"],
                    "lot_id": plant.ids["steel-1"],
                }
            ],
            "produced": [
                {
                    "item_id": plant.ids["frame"],
                    "quantity": "1",
                    "location_id": plant.ids["b"],
                    "lot_id": plant.ids["frame-1"],
                }
            ],
            "reference_type": "work_order",
            "reference_id": "12",
        },
        headers=h,
    )
    assert prod.status_code == 201, prod.text
    return {
        "move": move.json()["id"],
        "reservation": res.json()["id"],
        "count": count.json()["id"],
        "production": prod.json()["id"],
        "lot": plant.ids["steel-1"],
        "item": plant.ids["steel"],
        "warehouse": plant.ids["warehouse"],
        "location": plant.ids["a"],
    }


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the inventory API with real ids in the paths."""
    out = [("GET", f"/{name}") for name in LISTS]
    out += [
        ("POST", "/warehouses"),
        ("GET", f"/warehouses/{ids['warehouse']}"),
        ("PATCH", f"/warehouses/{ids['warehouse']}"),
        ("DELETE", f"/warehouses/{ids['warehouse']}"),
        ("POST", "/locations"),
        ("GET", f"/locations/{ids['location']}"),
        ("PATCH", f"/locations/{ids['location']}"),
        ("DELETE", f"/locations/{ids['location']}"),
        ("POST", "/lots"),
        ("GET", f"/lots/{ids['lot']}"),
        ("PATCH", f"/lots/{ids['lot']}"),
        ("DELETE", f"/lots/{ids['lot']}"),
        ("GET", f"/lots/{ids['lot']}/trace/down"),
        ("GET", f"/lots/{ids['lot']}/trace/up"),
        ("POST", "/moves"),
        ("GET", f"/moves/{ids['move']}"),
        ("POST", f"/moves/{ids['move']}/reverse"),
        ("POST", "/reservations"),
        ("GET", f"/reservations/{ids['reservation']}"),
        ("POST", f"/reservations/{ids['reservation']}/release"),
        ("POST", f"/reservations/{ids['reservation']}/consume"),
        ("POST", "/cycle-counts"),
        ("GET", f"/cycle-counts/{ids['count']}"),
        ("POST", "/production"),
        ("GET", f"/production/{ids['production']}"),
    ]
    return out


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {} if method in {"POST", "PATCH"} else None
    return client.request(method, f"{API}{path}", json=body, headers=headers)


def test_warehouse_location_lot_crud(client: TestClient, plant: Plant) -> None:
    h = plant.headers
    wh = client.post(f"{API}/warehouses", json={"code": "WH2", "name": "Annex"}, headers=h)
    assert wh.status_code == 201, wh.text
    wid = wh.json()["id"]
    assert client.get(f"{API}/warehouses/{wid}", headers=h).json()["name"] == "Annex"
    assert client.patch(f"{API}/warehouses/{wid}", json={"name": "Annex 2"}, headers=h).json()["name"] == "Annex 2"
    dup = client.post(f"{API}/warehouses", json={"code": "WH2", "name": "Again"}, headers=h)
    assert dup.status_code == 409
    assert dup.json()["field"] == "code"
    loc = client.post(f"{API}/locations", json={"warehouse_id": wid, "code": "WH2/1", "name": "Bin 1"}, headers=h)
    assert loc.status_code == 201, loc.text
    lid = loc.json()["id"]
    assert loc.json()["kind"] == "internal"
    listed = client.get(f"{API}/locations", params={"warehouse_id": wid}, headers=h).json()
    assert [x["id"] for x in listed["items"]] == [lid]
    virtual = client.get(f"{API}/locations", params={"kind": "customer"}, headers=h).json()["items"]
    assert [x["code"] for x in virtual] == ["virtual/customer"]
    assert client.patch(f"{API}/locations/{virtual[0]['id']}", json={"name": "x"}, headers=h).status_code == 409
    assert client.delete(f"{API}/warehouses/{wid}", headers=h).status_code == 409
    assert client.patch(f"{API}/locations/{lid}", json={"name": "Bin one"}, headers=h).json()["name"] == "Bin one"
    assert client.delete(f"{API}/locations/{lid}", headers=h).status_code == 204
    assert client.delete(f"{API}/warehouses/{wid}", headers=h).status_code == 204
    assert client.get(f"{API}/warehouses/{wid}", headers=h).status_code == 404

    lot = client.post(f"{API}/lots", json={"item_id": plant.ids["motor"], "number": "SN-001"}, headers=h)
    assert lot.status_code == 201, lot.text
    assert lot.json()["kind"] == "serial"
    lot_id = lot.json()["id"]
    assert client.patch(f"{API}/lots/{lot_id}", json={"note": "spare"}, headers=h).json()["note"] == "spare"
    assert client.delete(f"{API}/lots/{lot_id}", headers=h).status_code == 204
    assert client.get(f"{API}/lots/{lot_id}", headers=h).status_code == 404


def test_moves_stock_reservations_counts_production_and_traces(client: TestClient, plant: Plant) -> None:
    h = plant.headers
    ids = _objects(client, plant)
    move = client.get(f"{API}/moves/{ids['move']}", headers=h).json()
    assert move["quantity"] == "5.500000"
    assert move["reference_type"] == "purchase_order"
    stock = client.get(f"{API}/stock", params={"item_id": plant.ids["steel"]}, headers=h).json()["items"]
    assert [(r["on_hand"], r["reserved"], r["available"]) for r in stock] == [("3.500000", "1.000000", "2.500000")]
    down = client.get(f"{API}/lots/{plant.ids['frame-1']}/trace/down", headers=h).json()
    assert [lot["id"] for lot in down["lots"]] == [plant.ids["steel-1"]]
    assert down["edges"] == [[plant.ids["frame-1"], plant.ids["steel-1"]]]
    up = client.get(f"{API}/lots/{plant.ids['steel-1']}/trace/up", headers=h).json()
    assert [lot["number"] for lot in up["lots"]] == ["FRAME-1"]
    prod = client.get(f"{API}/production/{ids['production']}", headers=h).json()
    assert [m["production_role"] for m in prod["moves"]] == ["consumed", "produced"]
    consumed = client.post(
        f"{API}/reservations/{ids['reservation']}/consume", json={"to_location_id": plant.ids["customer"]}, headers=h
    )
    assert consumed.status_code == 200, consumed.text
    assert consumed.json()["status"] == "consumed"
    again = client.post(f"{API}/reservations/{ids['reservation']}/release", headers=h)
    assert again.status_code == 409
    reversed_ = client.post(f"{API}/moves/{ids['move']}/reverse", json={"reason": "typo"}, headers=h)
    assert reversed_.status_code == 422  # 5.5 received, 2 consumed, 1 shipped: only 2.5 left to send back
    assert reversed_.json()["field"] == "quantity"
    count = client.get(f"{API}/cycle-counts/{ids['count']}", headers=h).json()
    assert (count["counted_quantity"], count["expected_quantity"]) == ("3.000000", "0.000000")


def test_bad_input_names_the_field(client: TestClient, plant: Plant) -> None:
    h = plant.headers
    cases = [
        ({**_receipt(plant), "quantity": "0"}, "quantity", 422),
        ({**_receipt(plant), "quantity": "1.0000001"}, "quantity", 422),
        ({**_receipt(plant), "lot_id": None}, "lot_id", 422),
        ({**_receipt(plant), "to_location_id": plant.ids["supplier"]}, "to_location_id", 422),
        ({**_receipt(plant), "from_location_id": 2**31 - 1}, "from_location_id", 422),
        ({**_receipt(plant), "reference_type": "Bad Type"}, "reference_type", 422),
        ({**_receipt(plant), "colour": "red"}, "colour", 422),
    ]
    for body, field, code in cases:
        response = client.post(f"{API}/moves", json=body, headers=h)
        assert response.status_code == code, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, response.text
    issue = {**_receipt(plant), "from_location_id": plant.ids["a"], "to_location_id": plant.ids["customer"]}
    short = client.post(f"{API}/moves", json=issue, headers=h)
    assert short.status_code == 422
    assert short.json()["field"] == "quantity"
    assert "Not enough stock" in short.json()["detail"]


@pytest.mark.parametrize("name", LISTS)
def test_every_list_exports_csv(client: TestClient, plant: Plant, name: str) -> None:
    _objects(client, plant)
    response = client.get(f"{API}/{name}", params={"format": "csv", "limit": 1}, headers=plant.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    page = client.get(f"{API}/{name}", headers=plant.headers).json()
    assert len(rows) - 1 == page["total"] >= 1
    assert "id" in rows[0] or "item_id" in rows[0]


def test_no_credentials_is_401(client: TestClient, plant: Plant) -> None:
    for method, path in endpoints(_objects(client, plant)):
        assert _call(client, method, path, {}).status_code == 401, (method, path)


def test_without_permission_is_403(client: TestClient, plant: Plant, actor_factory: Callable[..., Any]) -> None:
    ids = _objects(client, plant)
    viewer = actor_factory("viewer", tenant=plant.actor.tenant)  # inventory.view only
    outsider = actor_factory("maintenance", tenant=plant.actor.tenant)  # no inventory rights at all
    for method, path in endpoints(ids):
        if method == "GET":
            assert _call(client, method, path, viewer.headers).status_code == 200, path
            assert _call(client, method, path, outsider.headers).status_code == 403, path
        else:
            response = _call(client, method, path, viewer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"


def test_other_enterprise_is_invisible(client: TestClient, plant_factory: Callable[..., Plant]) -> None:
    mine, theirs = plant_factory(), plant_factory()
    their_ids = _objects(client, theirs)
    _objects(client, mine)
    for method, path in endpoints(their_ids):
        if method == "GET" and path.count("/") >= 2 and path != "/stock/items":  # an object, not a list
            response = _call(client, method, path, mine.headers)
            assert response.status_code == 404, (path, response.text)
            assert "steel" not in response.text.lower()
    for name in LISTS:
        listed = client.get(f"{API}/{name}", params={"limit": 500}, headers=mine.headers).json()["items"]
        seen = {row.get("id") for row in listed} | {row.get("lot_id") for row in listed}
        assert their_ids["move"] not in {row.get("id") for row in listed} or name != "moves"
        assert their_ids["lot"] not in seen - {None} or name not in {"lots", "stock"}
        assert their_ids["item"] not in {row.get("item_id") for row in listed} or name != "stock/items"
    # Naming their objects in a write is an error on that field, never a write into their enterprise.
    body = {**_receipt(mine), "lot_id": their_ids["lot"]}
    response = client.post(f"{API}/moves", json=body, headers=mine.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "lot_id"
    rev = client.post(f"{API}/moves/{their_ids['move']}/reverse", json={}, headers=mine.headers)
    assert rev.status_code == 404
