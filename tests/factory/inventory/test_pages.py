"""Inventory console pages: stock on hand, posting and reversing moves with inline errors, lots and
their trace tree, cycle counts; the menu links them for those who may see stock."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hexmill.factory.inventory import service
from tests.factory.inventory.conftest import Plant
from tests.web.conftest import Browser
from tests.web.test_pages import FIELD_ERROR, _logged_in


def test_menu_links_inventory_only_with_the_permission(
    browser_factory: Callable[[], Browser], plant: Plant, actor_factory: Callable[..., Any]
) -> None:
    admin = _logged_in(browser_factory(), plant.actor)
    assert 'href="/inventory"' in admin.get("/").text
    outsider = _logged_in(browser_factory(), actor_factory("maintenance", tenant=plant.actor.tenant))
    assert 'href="/inventory"' not in outsider.get("/").text
    assert outsider.get("/inventory").status_code == 403


def test_stock_page_lists_on_hand_reserved_available(browser: Browser, plant: Plant) -> None:
    plant.receive("steel", "12.5", lot="steel-1")
    _logged_in(browser, plant.actor)
    page = browser.get("/inventory")
    assert page.status_code == 200
    # Look at the table only: item codes in the filter's options may contain "STEEL-1" too.
    rows = page.text.split("<tbody>", 1)[1]
    assert "STEEL-1" in rows
    assert ">12.5<" in rows
    filtered = browser.get("/inventory", params={"item_id": plant.ids["bolt"]}).text.split("<tbody>", 1)[1]
    assert "STEEL-1" not in filtered
    assert "No stock matches." in filtered


def test_post_a_move_inline_errors_and_reverse(browser: Browser, plant: Plant) -> None:
    ids = plant.ids
    _logged_in(browser, plant.actor)
    token = browser.csrf("/inventory/moves")
    form = {
        "item_id": str(ids["bolt"]),
        "quantity": "4",
        "from_location_id": str(ids["a"]),
        "to_location_id": str(ids["customer"]),
        "csrf_token": token,
    }
    short = browser.post("/inventory/moves", data=form)
    assert short.status_code == 422
    assert dict(FIELD_ERROR.findall(short.text))["quantity"] == "Not enough stock: 0.000000 on hand, 4 requested."
    bad = browser.post("/inventory/moves", data={**form, "quantity": "-1"})
    assert bad.status_code == 422
    assert "quantity" in dict(FIELD_ERROR.findall(bad.text))
    receipt = {**form, "from_location_id": str(ids["supplier"]), "to_location_id": str(ids["a"])}
    posted = browser.post("/inventory/moves", data=receipt, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    page = browser.get("/inventory/moves").text
    move_id = int(re.findall(r'id="move-(\d+)"', page)[0])
    assert f"/inventory/moves/{move_id}/reverse" in page
    confirm = browser.post(f"/inventory/moves/{move_id}/reverse", data={"csrf_token": token})
    assert "Reverse stock move" in confirm.text
    done = browser.post(f"/inventory/moves/{move_id}/reverse", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 200
    assert f"Stock move {move_id} reversed." in done.text
    assert f"/inventory/moves/{move_id}/reverse" not in done.text
    with plant.session() as (s, ctx):
        assert service.stock_on_hand(s, ctx)[1] == 0


def test_lot_trace_page_shows_both_trees_and_shipments(browser: Browser, plant: Plant) -> None:
    ids = plant.ids
    plant.receive("steel", "3", lot="steel-1")
    with plant.session() as (s, ctx):
        service.post_production(
            s,
            ctx,
            consumed=[service.ProductionLine(ids["steel"], Decimal(2), ids["a"], ids["steel-1"])],
            produced=[service.ProductionLine(ids["frame"], Decimal(1), ids["a"], ids["frame-1"])],
        )
        service.post_move(
            s,
            ctx,
            item_id=ids["frame"],
            quantity=Decimal(1),
            from_location_id=ids["a"],
            to_location_id=ids["customer"],
            lot_id=ids["frame-1"],
            reference_type="sales_order",
            reference_id="SO-9",
        )
    _logged_in(browser, plant.actor)
    lots = browser.get("/inventory/lots").text
    assert f'href="/inventory/lots/{ids["steel-1"]}"' in lots
    up = browser.get(f"/inventory/lots/{ids['steel-1']}").text
    assert f'data-lot="{ids["frame-1"]}"' in up.split("trace-up", 1)[1]
    assert "sales_order:SO-9" in up
    down = browser.get(f"/inventory/lots/{ids['frame-1']}").text
    assert f'data-lot="{ids["steel-1"]}"' in down.split("trace-down", 1)[1].split("trace-up", 1)[0]


def test_cycle_count_form_posts_the_difference(browser: Browser, plant: Plant) -> None:
    ids = plant.ids
    plant.receive("bolt", "10")
    _logged_in(browser, plant.actor)
    token = browser.csrf("/inventory/counts")
    form = {"item_id": str(ids["bolt"]), "location_id": str(ids["a"]), "counted_quantity": "8", "csrf_token": token}
    bad = browser.post("/inventory/counts", data={**form, "counted_quantity": "lots"})
    assert bad.status_code == 422
    assert "counted_quantity" in dict(FIELD_ERROR.findall(bad.text))
    done = browser.post("/inventory/counts", data=form)
    assert done.status_code == 200
    assert "recorded." in done.text
    with plant.session() as (s, ctx):
        rows, _ = service.stock_on_hand(s, ctx, filters={"item_id": ids["bolt"]})
        assert rows[0].on_hand == Decimal(8)
