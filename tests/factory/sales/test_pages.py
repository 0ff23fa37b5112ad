"""Sales console pages: the order list with filters, the new-order form with inline errors on the line
they concern (options included), an order's page with its actions, delivery form, pick and ship buttons
and return form, and the quotation list, form and page with its convert button."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hexmill.factory.inventory import service as inventory
from hexmill.factory.sales import service
from tests.factory.inventory.conftest import Plant
from tests.factory.sales.conftest import create_order
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

FIELD_ERROR = re.compile(r'<p class="field-error" id="e-([\w.]+)">([^<]+)</p>')


def test_menu_links_sales_only_with_the_permission(
    browser_factory: Callable[[], Browser], shop: Plant, actor_factory: Callable[..., Any]
) -> None:
    admin = _logged_in(browser_factory(), shop.actor)
    assert 'href="/sales"' in admin.get("/").text
    outsider = _logged_in(browser_factory(), actor_factory("maintenance", tenant=shop.actor.tenant))
    assert 'href="/sales"' not in outsider.get("/").text
    assert outsider.get("/sales").status_code == 403
    assert outsider.get("/sales/quotations").status_code == 403


def test_list_page_filters_and_links(browser: Browser, shop: Plant) -> None:
    confirmed, _ = create_order(shop, number="SO-LIST-1")
    draft, _ = create_order(shop, number="SO-LIST-2", confirm=False)
    _logged_in(browser, shop.actor)
    page = browser.get("/sales")
    assert page.status_code == 200
    assert f'href="/sales/{confirmed}"' in page.text and f'href="/sales/{draft}"' in page.text
    assert "/api/v1/factory/sales-orders.csv" in page.text
    assert 'href="/sales/quotations"' in page.text
    drafts = browser.get("/sales", params={"status": "draft"}).text
    assert "SO-LIST-2" in drafts and "SO-LIST-1" not in drafts
    assert "No sales orders match." in browser.get("/sales", params={"number": "NOPE"}).text


def test_new_order_form_errors_name_the_line_then_creates(browser: Browser, shop: Plant) -> None:
    ids = shop.ids
    _logged_in(browser, shop.actor)
    token = browser.csrf("/sales/new")
    form: dict[str, Any] = {
        "csrf_token": token,
        "number": "SO-FORM-1",
        "customer_id": str(ids["client"]),
        "lines.0.item_id": str(ids["bolt"]),
        "lines.0.quantity": "2",
        "lines.0.uom_id": str(ids["box"]),
        # Row 2 is left empty; row 3's chair lacks its size.
        "lines.2.item_id": str(ids["chair"]),
        "lines.2.quantity": "1",
        "lines.2.options": [str(ids["colour-red"])],
    }
    bad = browser.post("/sales/new", data=form)
    assert bad.status_code == 422
    errors = dict(FIELD_ERROR.findall(bad.text))
    assert list(errors) == ["lines.2.options"], errors
    assert "needs a choice for option size" in errors["lines.2.options"]
    created = browser.post(
        "/sales/new",
        data={**form, "lines.2.options": [str(ids["colour-red"]), str(ids["size-l"])]},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    with shop.session() as (s, ctx):
        rows, _ = service.list_sales_orders(s, ctx, filters={"number": "SO-FORM-1"})
        order = service.get_sales_order(s, ctx, rows[0].id)
        assert [(ln.item_id, ln.base_quantity, ln.options) for ln in order.lines] == [
            (ids["bolt"], Decimal(24), []),
            (ids["chair"], Decimal(1), [ids["colour-red"], ids["size-l"]]),
        ]


def test_order_page_confirm_deliver_pick_ship_and_return(browser: Browser, shop: Plant) -> None:
    ids = shop.ids
    order_id, lines = create_order(shop, confirm=False)
    _logged_in(browser, shop.actor)
    page = browser.get(f"/sales/{order_id}")
    assert page.status_code == 200
    token = browser.csrf(f"/sales/{order_id}")
    added = browser.post(
        f"/sales/{order_id}/lines", data={"csrf_token": token, "item_id": str(ids["paint"]), "quantity": "x"}
    )
    assert added.status_code == 422
    assert "quantity" in dict(FIELD_ERROR.findall(added.text))
    browser.post(f"/sales/{order_id}/lines", data={"csrf_token": token, "item_id": str(ids["paint"]), "quantity": "3"})
    confirmed = browser.post(f"/sales/{order_id}/confirm", data={"csrf_token": token})
    assert "Sales order confirmed." in confirmed.text
    assert f"/sales/{order_id}/deliveries" in confirmed.text
    deliver = {
        "csrf_token": token,
        "lines.0.order_line_id": str(lines[0]),
        "lines.0.quantity": "25",
        "lines.0.location_id": str(ids["a"]),
        "lines.1.order_line_id": str(lines[1]),
        "lines.1.quantity": "5",
        "lines.1.location_id": str(ids["a"]),
        "lines.1.lot_id": str(ids["steel-1"]),
        "lines.2.order_line_id": str(lines[2]),
        "lines.2.location_id": str(ids["a"]),  # no quantity: this line is not delivered now
    }
    over = browser.post(f"/sales/{order_id}/deliveries", data=deliver)
    assert over.status_code == 422
    assert "more than the 24 still open" in dict(FIELD_ERROR.findall(over.text))["lines.0.quantity"]
    planned = browser.post(f"/sales/{order_id}/deliveries", data={**deliver, "lines.0.quantity": "10"})
    assert "Delivery planned." in planned.text
    with shop.session() as (s, ctx):
        (delivery,), _ = service.list_deliveries(s, ctx, filters={"order_id": order_id})
    assert f"/sales/deliveries/{delivery.id}/pick" in planned.text
    picked = browser.post(f"/sales/deliveries/{delivery.id}/pick", data={"csrf_token": token})
    assert "Delivery picked" in picked.text
    shipped = browser.post(f"/sales/deliveries/{delivery.id}/ship", data={"csrf_token": token})
    assert "Delivery shipped." in shipped.text
    assert f'class="delivery-{delivery.id}"' in shipped.text
    with shop.session() as (s, ctx):
        assert service.get_sales_order(s, ctx, order_id).status == "partially_delivered"
        assert inventory.balance(s, shop.actor.tenant.id, ids["bolt"], ids["customer"], None) == Decimal(10)
    refused = browser.post(f"/sales/{order_id}/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert "has shipments and cannot be cancelled" in refused.text
    give_back = {
        "csrf_token": token,
        "reason": "Damaged",
        "lines.0.order_line_id": str(lines[0]),
        "lines.0.quantity": "11",
        "lines.0.location_id": str(ids["b"]),
    }
    too_many = browser.post(f"/sales/{order_id}/returns", data=give_back)
    assert too_many.status_code == 422
    assert "more than the 10 shipped" in dict(FIELD_ERROR.findall(too_many.text))["lines.0.quantity"]
    returned = browser.post(f"/sales/{order_id}/returns", data={**give_back, "lines.0.quantity": "3"})
    assert "Return posted." in returned.text
    assert 'class="return-' in returned.text
    with shop.session() as (s, ctx):
        assert service.get_order_line(s, ctx, lines[0]).returned_quantity == Decimal(3)


def test_quotation_pages_create_send_accept_and_convert(browser: Browser, shop: Plant) -> None:
    ids = shop.ids
    _logged_in(browser, shop.actor)
    listing = browser.get("/sales/quotations")
    assert listing.status_code == 200
    assert "/api/v1/factory/quotations.csv" in listing.text
    token = browser.csrf("/sales/quotations/new")
    form: dict[str, Any] = {
        "csrf_token": token,
        "number": "Q-PAGE-1",
        "customer_id": str(ids["client"]),
        "lines.0.item_id": str(ids["chair"]),
        "lines.0.quantity": "2",
        "lines.0.options": [str(ids["colour-blue"]), str(ids["size-s"]), str(ids["size-l"])],
    }
    bad = browser.post("/sales/quotations/new", data=form)
    assert bad.status_code == 422
    assert "chosen more than once" in dict(FIELD_ERROR.findall(bad.text))["lines.0.options"]
    created = browser.post(
        "/sales/quotations/new",
        data={**form, "lines.0.options": [str(ids["colour-blue"]), str(ids["size-s"])]},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    qid = int(created.headers["location"].rsplit("/", 1)[1])
    page = browser.get(f"/sales/quotations/{qid}")
    assert "Q-PAGE-1" in page.text and "colour=blue" in page.text
    browser.post(
        f"/sales/quotations/{qid}/lines", data={"csrf_token": token, "item_id": str(ids["bolt"]), "quantity": "5"}
    )
    assert "Quotation sent." in browser.post(f"/sales/quotations/{qid}/send", data={"csrf_token": token}).text
    accepted = browser.post(f"/sales/quotations/{qid}/accept", data={"csrf_token": token})
    assert "Quotation accepted." in accepted.text
    assert f"/sales/quotations/{qid}/convert" in accepted.text
    converted = browser.post(f"/sales/quotations/{qid}/convert", data={"csrf_token": token, "number": "SO-Q-PAGE"})
    assert "Sales order SO-Q-PAGE created." in converted.text
    with shop.session() as (s, ctx):
        order = service.quotation_order(s, ctx, qid)
        assert order is not None and [ln.item_id for ln in order.lines] == [ids["chair"], ids["bolt"]]
    again = browser.post(f"/sales/quotations/{qid}/convert", data={"csrf_token": token})
    assert "already been converted" in again.text
    assert 'id="converted"' in browser.get(f"/sales/quotations/{qid}").text
    assert "Q-PAGE-1" in browser.get("/sales/quotations", params={"status": "accepted"}).text


def test_one_delivery_ships_several_serials_of_one_line(browser: Browser, shop: Plant) -> None:
    ids = shop.ids
    with shop.session() as (s, ctx):
        ids["motor-2"] = inventory.create_lot(s, ctx, item_id=ids["motor"], number="MOTOR-2").id
    shop.receive("motor", "1", lot="motor-2")
    with shop.session() as (s, ctx):
        order = service.create_sales_order(
            s, ctx, number="SO-SERIALS", customer_id=ids["client"],
            lines=[{"item_id": ids["motor"], "quantity": Decimal(2)}],
        )  # fmt: skip
        service.confirm_sales_order(s, ctx, order.id)
        order_id, line_id = order.id, order.lines[0].id
    _logged_in(browser, shop.actor)
    page = browser.get(f"/sales/{order_id}")
    # A serial line with two open units offers a row per serial.
    assert 'id="deliver-0"' in page.text and 'id="deliver-1"' in page.text and 'id="deliver-2"' not in page.text
    token = browser.csrf(f"/sales/{order_id}")
    rows = {
        f"lines.{n}.{field}": value
        for n, lot in enumerate(("motor-1", "motor-2"))
        for field, value in (
            ("order_line_id", str(line_id)),
            ("quantity", "1"),
            ("location_id", str(ids["a"])),
            ("lot_id", str(ids[lot])),
        )
    }
    planned = browser.post(f"/sales/{order_id}/deliveries", data={"csrf_token": token, **rows})
    assert "Delivery planned." in planned.text
    with shop.session() as (s, ctx):
        (delivery,), _ = service.list_deliveries(s, ctx, filters={"order_id": order_id})
        assert sorted(dl.lot_id for dl in delivery.lines) == sorted([ids["motor-1"], ids["motor-2"]])
    shipped = browser.post(f"/sales/deliveries/{delivery.id}/ship", data={"csrf_token": token})
    assert shipped.status_code == 200
    with shop.session() as (s, ctx):
        assert service.get_sales_order(s, ctx, order_id).status == "delivered"
