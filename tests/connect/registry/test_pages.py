"""Console pages of the device registry: list, provisioning with the secret shown once, field map,
rotate and revoke with CSRF and confirmation, refused records."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.telemetry.plant import API, Plant
from tests.web.conftest import Browser, browser, browser_factory  # noqa: F401 - fixtures

SECRET = re.compile(r'<code class="secret" id="device-secret">([^<]+)</code>')
TOKEN = re.compile(r'<code class="secret" id="device-token">([^<]+)</code>')


def _logged_in(browser: Browser, plant: Plant) -> Browser:  # noqa: F811 - the fixture's name
    assert browser.login(plant.actor.user.username).status_code == 303
    return browser


def test_list_shows_state_and_counters(client: TestClient, browser: Browser, plant: Plant) -> None:  # noqa: F811
    client.post(f"{API}/telemetry", json={"values": {"speed": 1, "nosuch": 2}}, headers=plant.token)
    page = _logged_in(browser, plant).get("/devices")
    assert page.status_code == 200
    row = page.text[page.text.index(f'id="device-{plant.device["id"]}"') :]
    row = row[: row.index("</tr>")]
    assert "gateway" in row
    assert "Online" in row
    assert re.search(r'<td class="num">1</td>\s*<td class="num">1</td>', row)
    assert "M-01" in row
    filtered = browser.get("/devices", params={"link_state": "offline"})
    assert "gateway" not in filtered.text


def test_provision_shows_the_secret_once(client: TestClient, browser: Browser, plant: Plant) -> None:  # noqa: F811
    _logged_in(browser, plant)
    form = browser.get("/devices/new")
    assert form.status_code == 200
    assert "M-01" in form.text
    response = browser.post(
        "/devices/new",
        data={
            "name": "edge-2",
            "equipment_id": str(plant.equipment),
            "protocol": "http",
            "config": "{}",
            "csrf_token": browser.csrf(),
        },
    )
    assert response.status_code == 201, response.text
    secret = SECRET.search(response.text)
    token = TOKEN.search(response.text)
    assert secret and token
    assert token.group(1).endswith(":" + secret.group(1))
    # The token works for ingest, and the device page never shows the secret again.
    sent = client.post(f"{API}/telemetry", json={"values": {"temp": 20}}, headers={"X-Device-Token": token.group(1)})
    assert sent.status_code == 200
    device_id = int(re.search(r'action="/devices/(\d+)/fields"', response.text).group(1))  # type: ignore[union-attr]
    again = browser.get(f"/devices/{device_id}")
    assert secret.group(1) not in again.text
    assert "device-secret" not in again.text


def test_provision_form_shows_errors_inline(browser: Browser, plant: Plant) -> None:  # noqa: F811
    _logged_in(browser, plant)
    response = browser.post(
        "/devices/new",
        data={
            "name": "gateway",
            "equipment_id": str(plant.equipment),
            "protocol": "http",
            "csrf_token": browser.csrf(),
        },
    )
    assert response.status_code == 422
    assert 'id="e-name"' in response.text
    bad_json = browser.post(
        "/devices/new",
        data={
            "name": "x",
            "equipment_id": str(plant.equipment),
            "protocol": "http",
            "config": "[1",
            "csrf_token": browser.csrf(),
        },
    )
    assert bad_json.status_code == 422
    assert 'id="e-config"' in bad_json.text


def test_field_mapping_editor_saves(client: TestClient, browser: Browser, plant: Plant) -> None:  # noqa: F811
    _logged_in(browser, plant)
    url = f"/devices/{plant.device['id']}"
    response = browser.post(
        f"{url}/fields",
        data={
            "field": ["S1", "", "T1"],
            "tag_id": [str(plant.tags["speed"]), "", str(plant.tags["temp"])],
            "csrf_token": browser.csrf(),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    mapped = client.get(f"{API}{url}/fields", headers=plant.headers).json()["fields"]
    assert mapped == [{"field": "S1", "tag_id": plant.tags["speed"]}, {"field": "T1", "tag_id": plant.tags["temp"]}]
    assert 'value="S1"' in browser.get(url).text
    twice = browser.post(
        f"{url}/fields",
        data={"field": ["S1", "S1"], "tag_id": [str(plant.tags["speed"])] * 2, "csrf_token": browser.csrf()},
    )
    assert twice.status_code == 422


def test_rotate_and_revoke_need_csrf_and_confirmation(client: TestClient, browser: Browser, plant: Plant) -> None:  # noqa: F811
    _logged_in(browser, plant)
    url = f"/devices/{plant.device['id']}"
    forged = browser.post(f"{url}/rotate", data={"confirm": "yes"})
    assert forged.status_code == 403
    asked = browser.post(f"{url}/rotate", data={"csrf_token": browser.csrf()})
    assert "Please confirm" in asked.text
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=plant.token).status_code == 200
    rotated = browser.post(f"{url}/rotate", data={"confirm": "yes", "csrf_token": browser.csrf()})
    new_token = TOKEN.search(rotated.text)
    assert new_token
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=plant.token).status_code == 401
    fresh = {"X-Device-Token": new_token.group(1)}
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=fresh).status_code == 200
    revoked = browser.post(f"{url}/revoke", data={"confirm": "yes", "csrf_token": browser.csrf()})
    assert revoked.status_code == 200
    assert "Revoked" in revoked.text
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=fresh).status_code == 401


def test_detail_lists_refused_records(client: TestClient, browser: Browser, plant: Plant) -> None:  # noqa: F811
    client.post(f"{API}/telemetry", json={"values": {"nosuch": 1}}, headers=plant.token)
    page = _logged_in(browser, plant).get(f"/devices/{plant.device['id']}")
    assert "values.nosuch" in page.text
    assert "no tag of the equipment has this name" in page.text


def test_operator_sees_devices_but_cannot_provision(browser: Browser, plant: Plant, actor_factory) -> None:  # noqa: F811
    operator = actor_factory("operator", tenant=plant.actor.tenant)
    assert browser.login(operator.user.username).status_code == 303
    assert "gateway" in browser.get("/devices").text
    assert browser.get("/devices/new").status_code == 403
    detail = browser.get(f"/devices/{plant.device['id']}")
    assert "/rotate" not in detail.text


def test_another_enterprises_device_is_not_found(browser: Browser, plant: Plant, plant_factory) -> None:  # noqa: F811
    other = plant_factory()
    assert browser.login(other.actor.user.username).status_code == 303
    assert browser.get(f"/devices/{plant.device['id']}").status_code == 404
