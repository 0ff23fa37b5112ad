"""Inventory console pages for the set-up and holds: warehouses and their locations, reservations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hexmill.factory.inventory import service
from tests.factory.inventory.conftest import Plant
from tests.web.conftest import Browser
from tests.web.test_pages import FIELD_ERROR, _logged_in


def test_warehouses_are_listed_added_and_given_locations(browser: Browser, plant: Plant) -> None:
    _logged_in(browser, plant.actor)
    listing = browser.get("/inventory/warehouses")
    assert listing.status_code == 200
    row = listing.text.split(f'id="warehouse-{plant.ids["warehouse"]}"', 1)[1].split("</tr>", 1)[0]
    assert "WH1" in row and '<td class="num">2</td>' in row
    token = browser.csrf("/inventory/warehouses")
    duplicate = browser.post("/inventory/warehouses", data={"csrf_token": token, "code": "WH1", "name": "Again"})
    assert duplicate.status_code == 422
    assert "code" in dict(FIELD_ERROR.findall(duplicate.text))
    made = browser.post("/inventory/warehouses", data={"csrf_token": token, "code": "WH2", "name": "Finished goods"})
    assert made.status_code == 200  # followed to the new warehouse's page
    assert "WH2" in made.text and "No locations yet." in made.text
    path = str(made.url.path)
    added = browser.post(f"{path}/locations", data={"csrf_token": token, "code": "WH2/01", "name": "Bay 1"})
    assert added.status_code == 200
    assert "WH2/01" in added.text and "Location WH2/01 added." in added.text
    blank = browser.post(f"{path}/locations", data={"csrf_token": token, "code": "", "name": "x"})
    assert blank.status_code == 422
    assert "code" in dict(FIELD_ERROR.findall(blank.text))


def test_readers_see_warehouses_but_cannot_add(
    browser: Browser, plant: Plant, actor_factory: Callable[..., Any]
) -> None:
    reader = actor_factory("viewer", tenant=plant.actor.tenant)
    _logged_in(browser, reader)
    page = browser.get("/inventory/warehouses")
    assert page.status_code == 200 and "WH1" in page.text
    assert 'id="warehouse-form"' not in page.text
    token = browser.csrf("/inventory/warehouses")
    refused = browser.post("/inventory/warehouses", data={"csrf_token": token, "code": "WH9", "name": "No"})
    assert refused.status_code == 403


def test_reservations_are_made_refused_beyond_available_and_released(browser: Browser, plant: Plant) -> None:
    plant.receive("bolt", "10")
    _logged_in(browser, plant.actor)
    token = browser.csrf("/inventory/reservations")
    form = {
        "csrf_token": token,
        "item_id": str(plant.ids["bolt"]),
        "location_id": str(plant.ids["a"]),
        "lot_id": "",
        "quantity": "6",
        "reference_type": "sales_order",
        "reference_id": "SO-7",
    }
    made = browser.post("/inventory/reservations", data=form)
    assert made.status_code == 200 and "SO-7" in made.text
    too_much = browser.post("/inventory/reservations", data={**form, "quantity": "5", "reference_id": "SO-8"})
    assert too_much.status_code == 422  # 4 left available
    assert "quantity" in dict(FIELD_ERROR.findall(too_much.text))
    rows = browser.get("/inventory/reservations").text.split("<tbody>", 1)[1]
    assert rows.count('id="reservation-') == 1
    held = int(rows.split('id="reservation-', 1)[1].split('"', 1)[0])
    released = browser.post(f"/inventory/reservations/{held}/release", data={"csrf_token": token})
    assert released.status_code == 200 and f"Reservation {held} released." in released.text
    assert 'id="reservation-' not in browser.get("/inventory/reservations").text.split("<tbody>", 1)[1]
    assert f'id="reservation-{held}"' in browser.get("/inventory/reservations", params={"status": "released"}).text


def test_a_move_can_bring_in_a_new_lot(browser: Browser, plant: Plant) -> None:
    _logged_in(browser, plant.actor)
    token = browser.csrf("/inventory/moves")
    form = {
        "csrf_token": token,
        "item_id": str(plant.ids["steel"]),
        "quantity": "4",
        "from_location_id": str(plant.ids["supplier"]),
        "to_location_id": str(plant.ids["a"]),
        "lot_id": "",
        "lot_number": "STEEL-NEW",
    }
    posted = browser.post("/inventory/moves", data=form)
    assert posted.status_code == 200 and "posted" in posted.text
    with plant.session() as (s, ctx):
        (lot,), _ = service.list_lots(s, ctx, filters={"number": "STEEL-NEW"})
        assert service.balance(s, ctx.require_tenant(), plant.ids["steel"], plant.ids["a"], lot.id) == 4
    again = browser.post("/inventory/moves", data=form)  # the number is taken now
    assert again.status_code == 422
    assert "lot_number" in dict(FIELD_ERROR.findall(again.text))
    short = browser.post(
        "/inventory/moves",
        data={**form, "lot_number": "STEEL-NEWER", "from_location_id": str(plant.ids["b"])},
    )
    assert short.status_code == 422  # nothing on shelf B: the move fails, and the new lot with it
    with plant.session() as (s, ctx):
        assert service.list_lots(s, ctx, filters={"number": "STEEL-NEWER"})[1] == 0
