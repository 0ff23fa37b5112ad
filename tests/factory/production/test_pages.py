"""Production console pages: the work order list with filters, the new-order form with inline errors, a work
order's page with release, reports, issue and receipt forms, the tablet shop floor and the scrap reasons."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hexmill.factory.production import service
from tests.factory.inventory.conftest import Plant
from tests.factory.production.conftest import make_order, operation_ids
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

FIELD_ERROR = re.compile(r'<p class="field-error" id="e-([\w.]+)">([^<]+)</p>')


def test_menu_links_production_only_with_the_permission(
    browser_factory: Callable[[], Browser], works: Plant, actor_factory: Callable[..., Any]
) -> None:
    admin = _logged_in(browser_factory(), works.actor)
    assert 'href="/production"' in admin.get("/").text
    outsider = _logged_in(browser_factory(), actor_factory("maintenance", tenant=works.actor.tenant))
    assert 'href="/production"' not in outsider.get("/").text
    assert outsider.get("/production").status_code == 403
    assert outsider.get("/production/shop-floor").status_code == 403


def test_list_page_filters_and_links(browser: Browser, works: Plant) -> None:
    released = make_order(works, number="WO-LIST-1")
    draft = make_order(works, number="WO-LIST-2", release=False)
    _logged_in(browser, works.actor)
    page = browser.get("/production")
    assert page.status_code == 200
    assert f'href="/production/{released}"' in page.text and f'href="/production/{draft}"' in page.text
    assert "/api/v1/factory/work-orders.csv" in page.text
    drafts = browser.get("/production", params={"status": "draft"}).text
    assert "WO-LIST-2" in drafts and "WO-LIST-1" not in drafts
    assert "No work orders match." in browser.get("/production", params={"number": "NOPE"}).text


def test_new_order_form_errors_inline_then_creates(browser: Browser, works: Plant) -> None:
    _logged_in(browser, works.actor)
    token = browser.csrf("/production/new")
    form = {"csrf_token": token, "number": "WO-FORM-1", "item_id": str(works.ids["widget"]), "quantity": "-1"}
    bad = browser.post("/production/new", data=form)
    assert bad.status_code == 422
    assert list(dict(FIELD_ERROR.findall(bad.text))) == ["quantity"]
    bought = browser.post("/production/new", data={**form, "quantity": "5", "item_id": str(works.ids["bolt"])})
    assert bought.status_code == 422
    assert "not made in the factory" in dict(FIELD_ERROR.findall(bought.text))["item_id"]
    created = browser.post("/production/new", data={**form, "quantity": "5"}, follow_redirects=False)
    assert created.status_code == 303, created.text
    with works.session() as (s, ctx):
        rows, _ = service.list_work_orders(s, ctx, filters={"number": "WO-FORM-1"})
        assert [(w.status, w.quantity) for w in rows] == [("draft", Decimal(5))]


def test_order_page_release_report_issue_receive_and_close(browser: Browser, works: Plant) -> None:
    ids = works.ids
    works.receive("bolt", "100", "a")
    works.receive("steel", "10", "a", "steel-1")
    wo_id = make_order(works, quantity="4", release=False)
    _logged_in(browser, works.actor)
    page = browser.get(f"/production/{wo_id}")
    assert page.status_code == 200 and "The routing is copied on release." in page.text
    token = browser.csrf(f"/production/{wo_id}")
    assert 'value="4"' in page.text  # the edit form shows the quantity without trailing zeros
    edit = {"csrf_token": token, "number": "WO-PAGE-EDIT", "item_id": str(ids["widget"]), "quantity": "0"}
    refused = browser.post(f"/production/{wo_id}/edit", data=edit)
    assert refused.status_code == 422 and "quantity" in dict(FIELD_ERROR.findall(refused.text))
    saved = browser.post(f"/production/{wo_id}/edit", data={**edit, "quantity": "4", "note": "rush"})
    assert "Work order saved." in saved.text and "WO-PAGE-EDIT" in saved.text
    released = browser.post(f"/production/{wo_id}/release", data={"csrf_token": token})
    assert "Work order released." in released.text
    assert 'id="operation-' in released.text and 'id="component-' in released.text
    cut, _ = operation_ids(works, wo_id)
    started = browser.post(f"/production/{wo_id}/operations/{cut}/start", data={"csrf_token": token})
    assert "Report recorded." in started.text
    refused = browser.post(f"/production/{wo_id}/operations/{cut}/resume", data={"csrf_token": token})
    assert "is running: pause it, finish it or report quantities" in refused.text
    paused = browser.post(
        f"/production/{wo_id}/operations/{cut}/pause", data={"csrf_token": token, "good_quantity": "4"}
    )
    assert "Report recorded." in paused.text and 'class="report-pause"' in paused.text
    with works.session() as (s, ctx):
        components = [c.id for c in service.get_work_order(s, ctx, wo_id).components]
    short = browser.post(
        f"/production/{wo_id}/issues",
        data={"csrf_token": token, "component_id": str(components[1]), "quantity": "50", "location_id": str(ids["a"])},
    )
    assert short.status_code == 422
    assert "quantity" in dict(FIELD_ERROR.findall(short.text))
    issued = browser.post(
        f"/production/{wo_id}/issues",
        data={"csrf_token": token, "component_id": str(components[1]), "quantity": "1", "location_id": str(ids["a"])},
    )
    assert "Material issued." in issued.text and 'class="issue-manual"' in issued.text
    receipt = {
        "csrf_token": token,
        "quantity": "4",
        "location_id": str(ids["b"]),
        "backflush": "on",
        "backflush_location_id": str(ids["a"]),
    }
    missing = browser.post(f"/production/{wo_id}/receipts", data=receipt)
    assert missing.status_code == 422
    assert "lot_number" in dict(FIELD_ERROR.findall(missing.text))
    received = browser.post(f"/production/{wo_id}/receipts", data={**receipt, "lot_number": "W-PAGE-1"})
    assert "Goods received." in received.text and "W-PAGE-1" in received.text
    assert 'class="issue-backflush"' in received.text
    with works.session() as (s, ctx):
        wo = service.get_work_order(s, ctx, wo_id)
        assert (wo.status, [c.issued_quantity for c in wo.components]) == ("completed", [Decimal(8), Decimal("2.5")])
    asked = browser.post(f"/production/{wo_id}/close", data={"csrf_token": token})
    assert f"/production/{wo_id}/close" in asked.text
    closed = browser.post(f"/production/{wo_id}/close", data={"csrf_token": token, "confirm": "yes"})
    assert "Work order closed." in closed.text


def test_serial_receipt_form_takes_one_serial_per_line(browser: Browser, works: Plant) -> None:
    ids = works.ids
    wo_id = make_order(works, item="pump", quantity="2")
    _logged_in(browser, works.actor)
    token = browser.csrf(f"/production/{wo_id}")
    form = {"csrf_token": token, "quantity": "2", "location_id": str(ids["b"]), "serial_numbers": "P-1\n"}
    one = browser.post(f"/production/{wo_id}/receipts", data=form)
    assert one.status_code == 422
    assert "one per unit" in dict(FIELD_ERROR.findall(one.text))["serial_numbers"]
    done = browser.post(f"/production/{wo_id}/receipts", data={**form, "serial_numbers": "P-1\nP-2\n"})
    assert "Goods received." in done.text and "P-1" in done.text and "P-2" in done.text


def test_shop_floor_cards_and_big_buttons(browser: Browser, works: Plant) -> None:
    wo_id = make_order(works, number="WO-SHOP-1")
    _, weld = operation_ids(works, wo_id)
    with works.session() as (s, ctx):
        reason = service.create_scrap_reason(s, ctx, code="BURR", name="Burr").id
    _logged_in(browser, works.actor)
    empty = browser.get("/production/shop-floor")
    assert empty.status_code == 200 and "Choose a work centre" in empty.text
    centre = works.ids["weld_wc"]
    page = browser.get("/production/shop-floor", params={"work_centre_id": centre})
    assert f'id="card-{weld}"' in page.text and "WO-SHOP-1" in page.text
    assert "min-height: 64px" in page.text  # touch targets well above 44 px
    assert f'formaction="/production/shop-floor/operations/{weld}/start"' in page.text
    token = browser.csrf("/production/shop-floor")
    base = {"csrf_token": token, "work_centre_id": str(centre)}
    started = browser.post(f"/production/shop-floor/operations/{weld}/start", data=base)
    assert "Report recorded." in started.text
    assert f'formaction="/production/shop-floor/operations/{weld}/pause"' in started.text
    too_many = browser.post(f"/production/shop-floor/operations/{weld}/report", data={**base, "good_quantity": "1"})
    assert "more than the 0 good of operation 10" in too_many.text
    bad = browser.post(f"/production/shop-floor/operations/{weld}/report", data={**base, "scrap_quantity": "x"})
    assert "The report is not valid" in bad.text
    scrapped = browser.post(
        f"/production/shop-floor/operations/{weld}/finish",
        data={**base, "scrap_quantity": "2", "scrap_reason_id": str(reason)},
    )
    assert "Report recorded." in scrapped.text and f'id="card-{weld}"' not in scrapped.text
    with works.session() as (s, ctx):
        op = service.get_operation(s, ctx, weld)
        assert (op.status, op.scrap_quantity) == ("finished", Decimal(2))


def test_scrap_reasons_page(browser: Browser, works: Plant) -> None:
    _logged_in(browser, works.actor)
    token = browser.csrf("/production/scrap-reasons")
    empty = browser.post("/production/scrap-reasons", data={"csrf_token": token, "code": "", "name": "Burr"})
    assert empty.status_code == 422 and "code" in dict(FIELD_ERROR.findall(empty.text))
    added = browser.post("/production/scrap-reasons", data={"csrf_token": token, "code": "BURR", "name": "Burr"})
    assert "Scrap reason added." in added.text and "BURR" in added.text
    with works.session() as (s, ctx):
        rid = service.list_scrap_reasons(s, ctx)[0][0].id
    toggled = browser.post(f"/production/scrap-reasons/{rid}/toggle", data={"csrf_token": token})
    assert "Make active" in toggled.text
    deleted = browser.post(f"/production/scrap-reasons/{rid}/delete", data={"csrf_token": token})
    assert "Scrap reason deleted." in deleted.text and "No scrap reasons yet." in deleted.text


def test_operator_reports_on_the_shop_floor_and_a_viewer_only_reads(
    browser_factory: Callable[[], Browser], works: Plant, actor_factory: Callable[..., Any]
) -> None:
    wo_id = make_order(works, number="WO-ROLES-1")
    cut, _ = operation_ids(works, wo_id)
    centre = works.ids["cut_wc"]
    operator = _logged_in(browser_factory(), actor_factory("operator", tenant=works.actor.tenant))
    page = operator.get("/production/shop-floor", params={"work_centre_id": centre})
    assert f'formaction="/production/shop-floor/operations/{cut}/start"' in page.text
    token = operator.csrf("/production/shop-floor")
    started = operator.post(
        f"/production/shop-floor/operations/{cut}/start", data={"csrf_token": token, "work_centre_id": str(centre)}
    )
    assert "Report recorded." in started.text
    order = operator.get(f"/production/{wo_id}").text
    assert 'id="issue"' in order and 'id="receive"' in order  # operators issue and receive
    assert f"/production/{wo_id}/close" not in order  # but do not close orders
    viewer = _logged_in(browser_factory(), actor_factory("viewer", tenant=works.actor.tenant))
    seen = viewer.get("/production/shop-floor", params={"work_centre_id": centre}).text
    assert f'id="card-{cut}"' in seen and "formaction=" not in seen
    read = viewer.get(f"/production/{wo_id}").text
    assert "WO-ROLES-1" in read and 'id="issue"' not in read and "/operations/" not in read
    with works.session() as (s, ctx):
        assert service.get_operation(s, ctx, cut).status == "running"


def test_receipt_form_backflushes_the_lot_chosen_per_component(browser: Browser, works: Plant) -> None:
    ids = works.ids
    works.receive("bolt", "100", "a")
    works.receive("steel", "10", "a", "steel-1")  # the oldest lot: FIFO would take it
    works.receive("steel", "10", "a", "steel-2")
    wo_id = make_order(works, quantity="2")
    with works.session() as (s, ctx):
        steel = next(c.id for c in service.get_work_order(s, ctx, wo_id).components if c.item_id == ids["steel"])
    _logged_in(browser, works.actor)
    page = browser.get(f"/production/{wo_id}")
    assert f'name="component_lots.{steel}"' in page.text
    token = browser.csrf(f"/production/{wo_id}")
    received = browser.post(
        f"/production/{wo_id}/receipts",
        data={
            "csrf_token": token,
            "quantity": "2",
            "location_id": str(ids["b"]),
            "lot_number": "W-LOT-PICK",
            "backflush": "on",
            "backflush_location_id": str(ids["a"]),
            f"component_lots.{steel}": str(ids["steel-2"]),
        },
    )
    assert "Goods received." in received.text
    with works.session() as (s, ctx):
        picked = {i.lot_id for i in service.list_issues(s, ctx, wo_id) if i.lot_id}
    assert picked == {ids["steel-2"]}
