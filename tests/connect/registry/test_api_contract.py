"""Contract tests of the device registry API: CRUD, secrets shown once, field maps, dead letters,
401 without credentials, 403 without permission, 404 for another enterprise's devices, 422 on bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.telemetry.plant import API, PROBLEM, Plant


def endpoints(device_id: int) -> list[tuple[str, str]]:
    """Return every endpoint of the registry API with a real device id."""
    one = f"/devices/{device_id}"
    return [
        ("GET", "/devices"),
        ("POST", "/devices"),
        ("GET", one),
        ("PATCH", one),
        ("DELETE", one),
        ("POST", f"{one}/rotate-secret"),
        ("POST", f"{one}/revoke"),
        ("GET", f"{one}/fields"),
        ("PUT", f"{one}/fields"),
        ("GET", "/dead-letters"),
    ]


WRITES = {"POST", "PATCH", "DELETE", "PUT"}


def test_create_shows_the_secret_and_token_once(client: TestClient, plant: Plant) -> None:
    device = plant.device
    assert device["token"] == f"{device['client_id']}:{device['secret']}"
    assert len(device["secret"]) >= 32
    assert device["protocol"] == "http"
    assert device["equipment_id"] == plant.equipment
    assert device["link_state"] == "unknown"
    assert device["has_secret"] is True
    again = client.get(f"{API}/devices/{device['id']}", headers=plant.headers)
    assert again.status_code == 200
    assert "secret" not in again.json()
    assert "token" not in again.json()
    assert device["secret"] not in again.text
    assert "secret_hash" not in again.json()


def test_crud_works(client: TestClient, plant: Plant) -> None:
    h = plant.headers
    created = client.post(
        f"{API}/devices",
        json={"name": "plc", "equipment_id": plant.equipment, "protocol": "mqtt", "description": "S7"},
        headers=h,
    )
    assert created.status_code == 201, created.text
    url = f"{API}/devices/{created.json()['id']}"
    listed = client.get(f"{API}/devices", params={"protocol": "mqtt"}, headers=h).json()
    assert [d["name"] for d in listed["items"]] == ["plc"]
    assert listed["total"] == 1
    patched = client.patch(url, json={"description": "S7-1200", "enabled": False}, headers=h)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["description"], patched.json()["enabled"]) == ("S7-1200", False)
    assert client.get(url, headers=h).json()["protocol"] == "mqtt"
    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).status_code == 404


def test_list_is_paginated_and_filtered(client: TestClient, plant: Plant) -> None:
    h = plant.headers
    for name in ("a-one", "b-two"):
        client.post(
            f"{API}/devices", json={"name": name, "equipment_id": plant.equipment, "protocol": "mqtt"}, headers=h
        )
    full = client.get(f"{API}/devices", headers=h).json()
    assert full["total"] == 3
    first = client.get(f"{API}/devices", params={"limit": 1, "offset": 1}, headers=h).json()
    assert [d["name"] for d in first["items"]] == ["b-two"]
    assert first["total"] == 3
    assert client.get(f"{API}/devices", params={"name": "TWO"}, headers=h).json()["total"] == 1
    assert client.get(f"{API}/devices", params={"link_state": "online"}, headers=h).json()["total"] == 0
    bad = client.get(f"{API}/devices", params={"equipment_id": "x"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["field"] == "equipment_id"


def test_rotate_gives_a_new_secret_and_revoke_removes_it(client: TestClient, plant: Plant) -> None:
    h = plant.headers
    url = f"{API}/devices/{plant.device['id']}"
    rotated = client.post(f"{url}/rotate-secret", headers=h)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != plant.device["secret"]
    assert rotated.json()["token"].startswith(plant.device["client_id"] + ":")
    revoked = client.post(f"{url}/revoke", headers=h)
    assert revoked.status_code == 200
    assert revoked.json()["has_secret"] is False
    assert revoked.json()["revoked_at"] is not None
    assert "secret" not in revoked.json()


def test_field_map_round_trips_and_checks_tags(client: TestClient, plant: Plant, plant_factory) -> None:
    h = plant.headers
    url = f"{API}/devices/{plant.device['id']}/fields"
    assert client.get(url, headers=h).json() == {"device_id": plant.device["id"], "fields": []}
    body = {"fields": [{"field": "S1", "tag_id": plant.tags["speed"]}, {"field": "T1", "tag_id": plant.tags["temp"]}]}
    saved = client.put(url, json=body, headers=h)
    assert saved.status_code == 200, saved.text
    assert client.get(url, headers=h).json()["fields"] == body["fields"]
    foreign = plant_factory().tags["speed"]
    wrong = client.put(url, json={"fields": [{"field": "S1", "tag_id": foreign}]}, headers=h)
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "fields.S1"
    twice = client.put(
        url,
        json={
            "fields": [{"field": "S1", "tag_id": plant.tags["speed"]}, {"field": "S1", "tag_id": plant.tags["temp"]}]
        },
        headers=h,
    )
    assert twice.status_code == 422
    assert twice.json()["field"] == "fields.1.field"
    assert client.get(url, headers=h).json()["fields"] == body["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "equipment_id": 1, "protocol": "carrier-pigeon"}, "protocol"),
        ({"name": "", "equipment_id": 1, "protocol": "http"}, "name"),
        ({"name": "x" * 201, "equipment_id": 1, "protocol": "http"}, "name"),
        ({"name": "x", "protocol": "http"}, "equipment_id"),
        ({"name": "x", "equipment_id": 1, "protocol": "http", "colour": "red"}, "colour"),
        ({"name": "x", "equipment_id": 1, "protocol": "http", "config": []}, "config"),
        ({"name": "x", "equipment_id": 1, "protocol": "modbus", "config": {"port": 502}}, "config.host"),
    ],
)
def test_invalid_input_names_the_field(client: TestClient, plant: Plant, body: dict[str, Any], field: str) -> None:
    body = {**body, "equipment_id": plant.equipment} if "equipment_id" in body else body
    response = client.post(f"{API}/devices", json=body, headers=plant.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == field


def test_equipment_of_another_enterprise_is_refused(client: TestClient, plant: Plant, plant_factory) -> None:
    other = plant_factory()
    response = client.post(
        f"{API}/devices", json={"name": "x", "equipment_id": other.equipment, "protocol": "http"}, headers=plant.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "equipment_id"


def test_duplicate_name_is_a_conflict(client: TestClient, plant: Plant) -> None:
    response = client.post(
        f"{API}/devices",
        json={"name": "gateway", "equipment_id": plant.equipment, "protocol": "mqtt"},
        headers=plant.headers,
    )
    assert response.status_code == 409
    assert response.json()["field"] == "name"


def test_every_endpoint_needs_credentials(client: TestClient, plant: Plant) -> None:
    for method, path in endpoints(plant.device["id"]):
        response = client.request(method, f"{API}{path}", json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"].startswith(PROBLEM)


def test_a_device_token_is_no_user_credential(client: TestClient, plant: Plant) -> None:
    response = client.get(f"{API}/devices", headers={"Authorization": f"Bearer {plant.device['token']}"})
    assert response.status_code == 401
    assert client.get(f"{API}/devices", headers=plant.token).status_code == 401


def test_operator_views_but_cannot_manage(client: TestClient, plant: Plant, actor_factory) -> None:
    operator = actor_factory("operator", tenant=plant.actor.tenant)
    for method, path in endpoints(plant.device["id"]):
        response = client.request(method, f"{API}{path}", json={}, headers=operator.headers)
        if method in WRITES:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"
        else:
            assert response.status_code == 200, (method, path, response.text)
    assert client.get(f"{API}/devices/{plant.device['id']}", headers=plant.headers).json()["has_secret"] is True


def test_maintenance_may_manage_devices(client: TestClient, plant: Plant, actor_factory) -> None:
    maintenance = actor_factory("maintenance", tenant=plant.actor.tenant)
    response = client.post(f"{API}/devices/{plant.device['id']}/rotate-secret", headers=maintenance.headers)
    assert response.status_code == 200


def test_another_enterprises_devices_are_not_found(client: TestClient, plant: Plant, plant_factory) -> None:
    intruder = plant_factory()
    for method, path in endpoints(plant.device["id"]):
        if path in ("/devices", "/dead-letters"):
            continue
        body = {"fields": []} if path.endswith("/fields") else {}
        response = client.request(method, f"{API}{path}", json=body, headers=intruder.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert plant.device["client_id"] not in response.text
    mine = client.get(f"{API}/devices", headers=plant.headers).json()["items"]
    theirs = client.get(f"{API}/devices", headers=intruder.headers).json()["items"]
    assert [d["id"] for d in mine] == [plant.device["id"]]
    assert [d["id"] for d in theirs] == [intruder.device["id"]]
    assert client.get(f"{API}/devices/{plant.device['id']}", headers=plant.headers).json()["has_secret"] is True
