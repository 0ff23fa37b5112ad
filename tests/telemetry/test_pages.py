"""Console pages of telemetry: an equipment's live page and the retention form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.telemetry.plant import API, Plant
from tests.web.conftest import Browser, browser, browser_factory  # noqa: F401 - fixtures
from tests.web.test_pages import FIELD_ERROR


def _logged_in(browser: Browser, plant: Plant) -> Browser:  # noqa: F811 - the fixture's name
    assert browser.login(plant.actor.user.username).status_code == 303
    return browser


def test_equipment_page_shows_latest_values_devices_and_a_local_chart(
    client: TestClient,
    browser: Browser,  # noqa: F811
    plant: Plant,
) -> None:
    body = {"values": {"speed": 1500.25, "program": "O77"}, "quality": {"speed": "uncertain"}}
    client.post(f"{API}/telemetry", json=body, headers=plant.token)
    page = _logged_in(browser, plant).get(f"/telemetry/equipment/{plant.equipment}")
    assert page.status_code == 200
    row = page.text[page.text.index(f'data-tag="{plant.tags["speed"]}"') :]
    row = row[: row.index("</tr>")]
    assert "1500.25" in row
    assert 'class="badge warn">Uncertain' in row
    assert "O77" in page.text
    assert "gateway" in page.text and "Online" in page.text
    assert '<script src="/static/vendor/echarts.min.js"></script>' in page.text
    assert "/api/v1/telemetry/stream?equipment_id=" in page.text
    assert not re.search(r"https?://", page.text.split("<body", 1)[1].replace("http://testserver", ""))
    assert browser.get("/static/vendor/echarts.min.js").status_code == 200


def test_equipment_form_links_to_the_live_page(browser: Browser, plant: Plant) -> None:  # noqa: F811
    form = _logged_in(browser, plant).get(f"/assets/equipment/{plant.equipment}")
    assert f'href="/telemetry/equipment/{plant.equipment}"' in form.text


def test_another_enterprises_equipment_is_not_found(browser: Browser, plant: Plant, plant_factory) -> None:  # noqa: F811
    other = plant_factory()
    assert _logged_in(browser, other).get(f"/telemetry/equipment/{plant.equipment}").status_code == 404


def test_retention_form_saves_and_checks(client: TestClient, browser: Browser, plant: Plant) -> None:  # noqa: F811
    _logged_in(browser, plant)
    assert 'value="90"' in browser.get("/telemetry/retention").text
    saved = browser.post(
        "/telemetry/retention",
        data={"raw_days": "30", "minute_days": "60", "hour_days": "400", "csrf_token": browser.csrf()},
    )
    assert saved.status_code == 200
    assert "Retention saved." in saved.text
    assert client.get(f"{API}/telemetry/retention", headers=plant.headers).json() == {
        "raw_days": 30,
        "minute_days": 60,
        "hour_days": 400,
    }
    bad = browser.post(
        "/telemetry/retention",
        data={"raw_days": "30", "minute_days": "10", "hour_days": "400", "csrf_token": browser.csrf()},
    )
    assert bad.status_code == 422
    assert "minute_days" in dict(FIELD_ERROR.findall(bad.text))


def test_operator_cannot_change_retention(browser: Browser, plant: Plant, actor_factory) -> None:  # noqa: F811
    operator = actor_factory("operator", tenant=plant.actor.tenant)
    assert browser.login(operator.user.username).status_code == 303
    assert browser.get("/telemetry/retention").status_code == 200
    refused = browser.post(
        "/telemetry/retention",
        data={"raw_days": "3", "minute_days": "3", "hour_days": "3", "csrf_token": browser.csrf()},
    )
    assert refused.status_code == 403
