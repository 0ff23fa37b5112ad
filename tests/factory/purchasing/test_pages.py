"""Purchasing console pages: the order list with filters, the new-order form with inline errors on the
line they concern, an order's page with its actions, the receive form and its receipts."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hexmill.factory.inventory import service as inventory
from hexmill.factory.purchasing import service
from tests.factory.inventory.conftest import Plant
from tests.factory.purchasing.conftest import create_order
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

FIELD_ERROR = re.compile(r'<p class="field-error" id="e-([\w.]+)">([^<]+)</p>')


def test_menu_links_purchasing_only_with_the_permission(
    browser_factory: Callable[[], Browser], shop: Plant, actor_factory: Callable[..., Any]
) -> None:
    admin = _logged_in(browser_factory(), shop.actor)
    assert 'href="/purchasing"' in admin.get("/").text
    outsider = _logged_in(browser_factory(), actor_factory("maintenance", tenant=shop.actor.tenant))
    assert 'href="/purchasing"' not in outsider.get("/").text
    assert outsider.get("/purchasing").status_code == 403


def test_list_page_filters_and_links(browser: Browser, shop: Plant) -> None:
    confirmed, _ = create_order(shop, number="PO-LIST-1")
    draft, _ = create_order(shop, number="PO-LIST-2", confirm=False)
    _logged_in(browser, shop.actor)
    page = browser.get("/purchasing")
    assert page.status_code == 200
    assert f'href="/purchasing/{confirmed}"' in page.text and f'href="/purchasing/{draft}"' in page.text
    assert "/api/v1/factory/purchase-orders.csv" in page.text
    drafts = browser.get("/purchasing", params={"status": "draft"}).text
    assert "PO-LIST-2" in drafts and "PO-LIST-1" not in drafts
    assert "No purchase orders match." in browser.get("/purchasing", params={"number": "NOPE"}).text


def test_new_order_form_errors_name_the_line_then_creates(browser: Browser, shop: Plant) -> None:
    ids = shop.ids
    _logged_in(browser, shop.actor)
    token = browser.csrf("/purchasing/new")
    form = {
        "csrf_token": token,
        "number": "PO-FORM-1",
        "supplier_id": str(ids["vendor"]),
        "lines.0.item_id": str(ids["bolt"]),
        "lines.0.quantity": "2",
        "lines.0.uom_id": str(ids["box"]),
        # Row 2 is left empty; row 3's steel cannot be ordered in boxes.
        "lines.2.item_id": str(ids["steel"]),
        "lines.2.quantity": "1",
        "lines.2.uom_id": str(ids["box"]),
    }
    bad = browser.post("/purchasing/new", data=form)
    assert bad.status_code == 422
    errors = dict(FIELD_ERROR.findall(bad.text))
    assert list(errors) == ["lines.2.uom_id"], errors
    assert "No conversion" in errors["lines.2.uom_id"]
    invalid = browser.post("/purchasing/new", data={**form, "lines.0.quantity": "-1"})
    assert "lines.0.quantity" in dict(FIELD_ERROR.findall(invalid.text))
    created = browser.post("/purchasing/new", data={**form, "lines.2.uom_id": ""}, follow_redirects=False)
    assert created.status_code == 303, created.text
    with shop.session() as (s, ctx):
        rows, _ = service.list_purchase_orders(s, ctx, filters={"number": "PO-FORM-1"})
        order = service.get_purchase_order(s, ctx, rows[0].id)
        assert [(ln.item_id, ln.base_quantity) for ln in order.lines] == [
            (ids["bolt"], Decimal(24)),
            (ids["steel"], Decimal(1)),
        ]


def test_order_page_add_line_confirm_receive_and_cancel_refused(browser: Browser, shop: Plant) -> None:
    ids = shop.ids
    order_id, lines = create_order(shop, confirm=False)
    _logged_in(browser, shop.actor)
    page = browser.get(f"/purchasing/{order_id}")
    assert page.status_code == 200
    token = browser.csrf(f"/purchasing/{order_id}")
    added = browser.post(
        f"/purchasing/{order_id}/lines", data={"csrf_token": token, "item_id": str(ids["paint"]), "quantity": "x"}
    )
    assert added.status_code == 422
    assert "quantity" in dict(FIELD_ERROR.findall(added.text))
    browser.post(
        f"/purchasing/{order_id}/lines", data={"csrf_token": token, "item_id": str(ids["paint"]), "quantity": "3"}
    )
    confirmed = browser.post(f"/purchasing/{order_id}/confirm", data={"csrf_token": token})
    assert "Purchase order confirmed." in confirmed.text
    assert f"/purchasing/{order_id}/receive" in confirmed.text
    receive = {
        "csrf_token": token,
        "lines.0.order_line_id": str(lines[0]),
        "lines.0.quantity": "11",
        "lines.0.location_id": str(ids["a"]),
        "lines.1.order_line_id": str(lines[1]),
        "lines.1.location_id": str(ids["a"]),  # no quantity: this line is not received now
    }
    over = browser.post(f"/purchasing/{order_id}/receive", data=receive)
    assert over.status_code == 422
    assert "at most 10.5" in dict(FIELD_ERROR.findall(over.text))["lines.0.quantity"]
    done = browser.post(f"/purchasing/{order_id}/receive", data={**receive, "lines.0.quantity": "3"})
    assert done.status_code == 200
    assert "Receipt posted." in done.text
    assert 'class="receipt-' in done.text
    with shop.session() as (s, ctx):
        assert service.get_purchase_order(s, ctx, order_id).status == "partially_received"
        rows, _ = inventory.stock_on_hand(s, ctx, filters={"item_id": ids["bolt"]})
        assert rows[0].on_hand == Decimal(36)
    refused = browser.post(f"/purchasing/{order_id}/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert "has receipts and cannot be cancelled" in refused.text
    closed = browser.post(f"/purchasing/{order_id}/lines/{lines[0]}/close", data={"csrf_token": token})
    assert "Line closed short." in closed.text
