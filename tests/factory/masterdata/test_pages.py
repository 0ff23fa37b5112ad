"""Console pages of factory master data: lists with filters, forms, an item's BOM tree and routing, calendars."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import Browser, browser, browser_factory  # noqa: F401 - fixtures
from tests.web.test_pages import FIELD_ERROR

API = "/api/v1/factory"


def _admin(browser: Browser, actor_factory: Callable[..., Any]) -> Any:  # noqa: F811 - the fixture's name
    actor = actor_factory("tenant_admin")
    assert browser.login(actor.user.username).status_code == 303
    return actor


def _units(client: TestClient, actor: Any) -> dict[str, int]:
    rows = client.get(f"{API}/uoms", params={"limit": 500}, headers=actor.headers).json()["items"]
    return {u["code"]: u["id"] for u in rows}


def test_navigation_and_lists(browser: Browser, actor_factory: Callable[..., Any]) -> None:  # noqa: F811
    _admin(browser, actor_factory)
    home = browser.get("/")
    assert 'href="/factory"' in home.text
    for slug in ("items", "parties", "uoms", "work-centres"):
        page = browser.get(f"/factory/{slug}")
        assert page.status_code == 200, slug
        assert f'href="/api/v1/factory/{slug}.csv?' in page.text
    units = browser.get("/factory/uoms", params={"category": "mass"})
    assert ">kg<" in units.text
    assert ">pcs<" not in units.text
    assert ">kg<" not in browser.get("/factory/uoms", params={"category": "colour"}).text


def test_item_form_creates_and_shows_errors_inline(
    client: TestClient,
    browser: Browser,  # noqa: F811
    actor_factory: Callable[..., Any],
) -> None:
    actor = _admin(browser, actor_factory)
    form = browser.get("/factory/items/new")
    assert form.status_code == 200
    pcs = _units(client, actor)["pcs"]
    data = {"code": "GEAR-1", "name": "Gear", "kind": "semi_finished", "uom_id": str(pcs), "tracking": "lot"}
    created = browser.post("/factory/items/new", data={**data, "csrf_token": browser.csrf()})
    assert created.status_code == 200
    assert "GEAR-1" in created.text
    items = client.get(f"{API}/items", params={"code": "GEAR-1"}, headers=actor.headers).json()["items"]
    assert [(i["kind"], i["tracking"], i["active"]) for i in items] == [("semi_finished", "lot", False)]
    again = browser.post("/factory/items/new", data={**data, "csrf_token": browser.csrf()})
    assert again.status_code == 422
    assert "code" in dict(FIELD_ERROR.findall(again.text))
    bad = browser.post("/factory/items/new", data={**data, "code": "", "csrf_token": browser.csrf()})
    assert bad.status_code == 422
    assert "code" in dict(FIELD_ERROR.findall(bad.text))


def test_item_page_builds_a_bom_tree_and_refuses_a_cycle(
    client: TestClient,
    browser: Browser,  # noqa: F811
    actor_factory: Callable[..., Any],
) -> None:
    actor = _admin(browser, actor_factory)
    h = actor.headers
    u = _units(client, actor)
    ids = {}
    for code, uom in (("BIKE", "pcs"), ("WHEEL", "pcs"), ("SPOKE", "pcs")):
        body = {"code": code, "name": code.title(), "kind": "raw", "uom_id": u[uom]}
        ids[code] = client.post(f"{API}/items", json=body, headers=h).json()["id"]
    assert (
        browser.post(
            f"/factory/items/{ids['BIKE']}/boms",
            data={"version": "A", "is_default": "on", "csrf_token": browser.csrf()},
        ).status_code
        == 200
    )
    bike_bom = client.get(f"{API}/boms", params={"item_id": ids["BIKE"]}, headers=h).json()["items"][0]["id"]
    added = browser.post(
        f"/factory/items/{ids['BIKE']}/boms/{bike_bom}/lines",
        data={"component_id": str(ids["WHEEL"]), "quantity": "2", "scrap_factor": "0", "csrf_token": browser.csrf()},
    )
    assert added.status_code == 200
    assert "Line added." in added.text
    wheel_bom = client.post(
        f"{API}/boms", json={"item_id": ids["WHEEL"], "version": "A", "is_default": True}, headers=h
    )
    client.post(
        f"{API}/boms/{wheel_bom.json()['id']}/lines", json={"component_id": ids["SPOKE"], "quantity": "32"}, headers=h
    )

    page = browser.get(f"/factory/items/{ids['BIKE']}")
    tree = page.text[page.text.index('id="bom-tree"') :]
    levels = re.findall(r'data-level="(\d)">\s*<a href="/factory/items/\d+">(\w+)</a>', tree)
    assert levels == [("1", "WHEEL"), ("2", "SPOKE")]
    assert ">64</span>" in tree

    spoke_bom = client.post(f"{API}/boms", json={"item_id": ids["SPOKE"], "version": "A"}, headers=h).json()["id"]
    cycle = browser.post(
        f"/factory/items/{ids['SPOKE']}/boms/{spoke_bom}/lines",
        data={"component_id": str(ids["BIKE"]), "quantity": "1", "csrf_token": browser.csrf()},
    )
    assert cycle.status_code == 200
    assert "SPOKE → BIKE → WHEEL → SPOKE" in cycle.text

    line_id = client.get(f"{API}/boms/{bike_bom}", headers=h).json()["lines"][0]["id"]
    removed = browser.post(
        f"/factory/items/{ids['BIKE']}/boms/{bike_bom}/lines/{line_id}/delete", data={"csrf_token": browser.csrf()}
    )
    assert removed.status_code == 200
    assert client.get(f"{API}/boms/{bike_bom}", headers=h).json()["lines"] == []


def test_routing_and_calendar_forms(
    client: TestClient,
    browser: Browser,  # noqa: F811
    actor_factory: Callable[..., Any],
) -> None:
    actor = _admin(browser, actor_factory)
    h = actor.headers
    pcs = _units(client, actor)["pcs"]
    item = client.post(
        f"{API}/items", json={"code": "PLATE", "name": "Plate", "kind": "finished", "uom_id": pcs}, headers=h
    )
    wc = client.post(f"{API}/work-centres", json={"code": "LASER", "name": "Laser"}, headers=h).json()["id"]
    item_id = item.json()["id"]
    added = browser.post(
        f"/factory/items/{item_id}/operations",
        data={
            "sequence": "10",
            "name": "Cut",
            "work_centre_id": str(wc),
            "run_minutes": "0.5",
            "csrf_token": browser.csrf(),
        },
    )
    assert added.status_code == 200
    assert "Operation added." in added.text
    ops = client.get(f"{API}/operations", params={"item_id": item_id}, headers=h).json()["items"]
    assert [(o["sequence"], o["name"], o["run_minutes"]) for o in ops] == [(10, "Cut", "0.5")]

    saved = browser.post(
        f"/factory/work-centres/{wc}/calendar",
        data={
            "timezone": "Europe/Berlin",
            "weekday_0": "0",
            "start_0": "22:00",
            "end_0": "06:00",
            "name_0": "Night",
            "weekday_1": "2",
            "start_1": "",
            "end_1": "",
            "holidays": "2026-12-25 Christmas\n",
            "csrf_token": browser.csrf(),
        },
    )
    assert saved.status_code == 200
    assert "Calendar saved." in saved.text
    got = client.get(f"{API}/work-centres/{wc}", headers=h).json()
    assert got["timezone"] == "Europe/Berlin"
    assert got["shifts"] == [{"weekday": 0, "start": "22:00:00", "end": "06:00:00", "name": "Night"}]
    assert got["holidays"] == [{"day": "2026-12-25", "name": "Christmas"}]
    bad = browser.post(
        f"/factory/work-centres/{wc}/calendar",
        data={"timezone": "Atlantis/Capital", "holidays": "", "csrf_token": browser.csrf()},
    )
    assert "timezone" in bad.text
    assert client.get(f"{API}/work-centres/{wc}", headers=h).json()["timezone"] == "Europe/Berlin"


def test_another_enterprises_pages_are_not_found(
    client: TestClient,
    browser: Browser,  # noqa: F811
    actor_factory: Callable[..., Any],
) -> None:
    owner = actor_factory("tenant_admin")
    pcs = _units(client, owner)["pcs"]
    item = client.post(
        f"{API}/items", json={"code": "SECRET", "name": "Secret", "kind": "raw", "uom_id": pcs}, headers=owner.headers
    )
    _admin(browser, actor_factory)
    page = browser.get(f"/factory/items/{item.json()['id']}")
    assert page.status_code == 404
    assert "SECRET" not in browser.get("/factory/items").text


def test_viewer_sees_but_cannot_change(browser: Browser, actor_factory: Callable[..., Any]) -> None:  # noqa: F811
    viewer = actor_factory("viewer")
    assert browser.login(viewer.user.username).status_code == 303
    page = browser.get("/factory/items")
    assert page.status_code == 200
    assert 'id="new-items"' not in page.text
    assert browser.get("/factory/items/new").status_code == 403
