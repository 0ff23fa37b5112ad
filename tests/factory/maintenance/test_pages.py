"""Maintenance console pages: the order list (open first) with filters and the due-order button, the
new-order form with inline errors, an order's page with edit, start, complete and cancel, plans with
their next due, the readings form refusing a counter that goes down, failure codes, and the reliability
page with its chart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hexmill.factory.maintenance import service
from tests.factory.maintenance.conftest import Shop
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

FIELD_ERROR = re.compile(r'<p class="field-error" id="e-([\w.]+)">([^<]+)</p>')
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _local(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def test_menu_and_pages_need_the_permissions(
    browser_factory: Callable[[], Browser], shop: Shop, actor_factory: Callable[..., Any]
) -> None:
    admin = _logged_in(browser_factory(), shop.actor)
    assert 'href="/maintenance"' in admin.get("/").text
    viewer = _logged_in(browser_factory(), actor_factory("viewer", tenant=shop.actor.tenant))
    assert viewer.get("/maintenance").status_code == 200
    assert "/maintenance/orders/new" not in viewer.get("/maintenance").text
    assert viewer.get("/maintenance/orders/new").status_code == 403
    assert viewer.get("/maintenance/plans/new").status_code == 403


def test_order_list_shows_open_orders_first_and_filters(browser: Browser, shop: Shop) -> None:
    with shop.session() as (s, ctx):
        done = service.create_maintenance_order(
            s, ctx, equipment_id=shop.ids["press"], kind="preventive", number="MO-A"
        )
        service.complete_maintenance_order(s, ctx, done.id)
        service.create_maintenance_order(
            s, ctx, equipment_id=shop.ids["lathe"], kind="corrective", number="MO-B", failure_at=NOW - HOUR
        )
    _logged_in(browser, shop.actor)
    page = browser.get("/maintenance")
    assert page.status_code == 200
    assert page.text.index("MO-B") < page.text.index("MO-A")
    assert "/api/v1/factory/maintenance-orders.csv" in page.text
    corrective = browser.get("/maintenance", params={"kind": "corrective"}).text
    assert "MO-B" in corrective and "MO-A" not in corrective
    assert "No maintenance orders match." in browser.get("/maintenance", params={"number": "NOPE"}).text


def test_new_order_form_names_the_field_then_opens_the_order(browser: Browser, shop: Shop) -> None:
    _logged_in(browser, shop.actor)
    token = browser.csrf("/maintenance/orders/new")
    form = {
        "csrf_token": token,
        "equipment_id": str(shop.ids["press"]),
        "kind": "corrective",
        "priority": "high",
        "failure_at": _local(NOW - 3 * HOUR),
        "equipment_down": "on",
        "failure_code_id": str(shop.ids["bearing"]),
        "repair_start_at": _local(NOW - 2 * HOUR),
        "repair_end_at": _local(NOW - 4 * HOUR),
        "description": "Hydraulic press stopped",
    }
    bad = browser.post("/maintenance/orders/new", data=form)
    assert bad.status_code == 422
    errors = dict(FIELD_ERROR.findall(bad.text))
    assert list(errors) == ["repair_end_at"], errors
    assert "cannot end before it starts" in errors["repair_end_at"]
    invalid = browser.post("/maintenance/orders/new", data={**form, "labour_hours": "lots"})
    assert "labour_hours" in dict(FIELD_ERROR.findall(invalid.text))
    created = browser.post("/maintenance/orders/new", data={**form, "repair_end_at": ""}, follow_redirects=False)
    assert created.status_code == 303, created.text
    with shop.session() as (s, ctx):
        rows, _ = service.list_maintenance_orders(s, ctx)
        order = rows[0]
        assert (order.kind, order.priority, order.equipment_down, order.failure_at) == (
            "corrective",
            "high",
            True,
            NOW - 3 * HOUR,
        )


def test_order_page_edit_start_complete_and_cancel(browser: Browser, shop: Shop) -> None:
    with shop.session() as (s, ctx):
        order = service.create_maintenance_order(
            s, ctx, equipment_id=shop.ids["press"], kind="corrective", failure_at=NOW - 5 * HOUR
        )
        spare = service.create_maintenance_order(s, ctx, equipment_id=shop.ids["lathe"], kind="preventive")
    _logged_in(browser, shop.actor)
    page = browser.get(f"/maintenance/orders/{order.id}")
    assert page.status_code == 200
    assert "Press 1" in page.text and "Bearing worn" in page.text
    token = browser.csrf(f"/maintenance/orders/{order.id}")
    edit = {
        "csrf_token": token,
        "failure_at": _local(NOW - 5 * HOUR),
        "has_equipment_down": "1",
        "repair_start_at": _local(NOW - 6 * HOUR),
        "description": "Leak at cylinder",
    }
    refused = browser.post(f"/maintenance/orders/{order.id}/edit", data=edit)
    assert refused.status_code == 422
    assert "repair_start_at" in dict(FIELD_ERROR.findall(refused.text))
    saved = browser.post(f"/maintenance/orders/{order.id}/edit", data={**edit, "repair_start_at": ""})
    assert "Maintenance order saved." in saved.text
    started = browser.post(f"/maintenance/orders/{order.id}/start", data={"csrf_token": token})
    assert "Work started." in started.text
    early = browser.post(
        f"/maintenance/orders/{order.id}/complete",
        data={"csrf_token": token, "repair_end_at": _local(NOW - 6 * HOUR)},
    )
    assert early.status_code == 422
    assert "repair_end_at" in dict(FIELD_ERROR.findall(early.text))
    done = browser.post(
        f"/maintenance/orders/{order.id}/complete",
        data={
            "csrf_token": token,
            # The repair started when "Start work" was pressed; it ends a minute on.
            "repair_end_at": _local(datetime.now(UTC) + timedelta(minutes=1)),
            "labour_hours": "3",
            "action_taken": "Seal replaced",
            "failure_code_id": str(shop.ids["bearing"]),
        },
    )
    assert "Maintenance order done." in done.text
    assert "Close as done" not in done.text
    question = browser.post(f"/maintenance/orders/{spare.id}/cancel", data={"csrf_token": token})
    assert "Cancel maintenance order" in question.text
    cancelled = browser.post(f"/maintenance/orders/{spare.id}/cancel", data={"csrf_token": token, "confirm": "yes"})
    assert "Maintenance order cancelled." in cancelled.text
    with shop.session() as (s, ctx):
        closed = service.get_maintenance_order(s, ctx, order.id)
        assert (closed.status, closed.labour_hours, closed.action_taken) == ("done", Decimal("3.00"), "Seal replaced")
        # The tick box was cleared on the edit form: the machine was not down after all.
        assert closed.equipment_down is False
        assert service.get_maintenance_order(s, ctx, spare.id).status == "cancelled"


def test_plans_show_next_due_and_the_button_opens_due_orders(browser: Browser, shop: Shop) -> None:
    _logged_in(browser, shop.actor)
    token = browser.csrf("/maintenance/plans/new")
    form = {
        "csrf_token": token,
        "equipment_id": str(shop.ids["press"]),
        "name": "Lubricate",
        "trigger_type": "calendar",
        "start_date": (NOW - 10 * DAY).date().isoformat(),
        "active": "on",
        "counter": "ignored_for_calendar",
    }
    bad = browser.post("/maintenance/plans/new", data=form)
    assert bad.status_code == 422
    assert "interval_days" in dict(FIELD_ERROR.findall(bad.text))
    created = browser.post("/maintenance/plans/new", data={**form, "interval_days": "7"})
    assert "Plan Lubricate created." in created.text
    assert (NOW - 3 * DAY).date().isoformat() in created.text
    usage = browser.post(
        "/maintenance/plans/new",
        data={
            "csrf_token": token,
            "equipment_id": str(shop.ids["lathe"]),
            "name": "Oil",
            "trigger_type": "usage",
            "counter": "runtime_hours",
            "interval_units": "500",
            "active": "on",
        },
    )
    assert "at runtime_hours = 500" in usage.text
    listing = browser.get("/maintenance/plans")
    assert "Lubricate" in listing.text and "at runtime_hours = 500" in listing.text
    assert "/api/v1/factory/maintenance-plans.csv" in listing.text
    generated = browser.post("/maintenance/plans/generate-due", data={"csrf_token": token})
    assert "Preventive orders opened: MO-" in generated.text
    again = browser.post("/maintenance/plans/generate-due", data={"csrf_token": token})
    assert "No plan is due" in again.text
    with shop.session() as (s, ctx):
        plans, _ = service.list_plans(s, ctx, filters={"name": "Lubricate"})
        plan_id = plans[0].id
        orders, total = service.list_maintenance_orders(s, ctx, filters={"plan_id": plan_id})
        assert total == 1
    page = browser.get(f"/maintenance/plans/{plan_id}")
    assert f"/maintenance/orders/{orders[0].id}" in page.text
    edited = browser.post(
        f"/maintenance/plans/{plan_id}/edit",
        data={"csrf_token": token, "name": "Lubricate", "interval_days": "0", "active": "on"},
    )
    assert edited.status_code == 422
    assert "interval_days" in dict(FIELD_ERROR.findall(edited.text))
    saved = browser.post(
        f"/maintenance/plans/{plan_id}/edit", data={"csrf_token": token, "name": "Lubricate", "interval_days": "14"}
    )
    assert "Plan saved." in saved.text
    assert "Inactive" in saved.text


def test_readings_form_refuses_a_counter_going_down_unless_reset(browser: Browser, shop: Shop) -> None:
    _logged_in(browser, shop.actor)
    token = browser.csrf("/maintenance/readings")
    form = {"csrf_token": token, "equipment_id": str(shop.ids["press"]), "counter": "cycles", "value": "100"}
    assert "Reading recorded." in browser.post("/maintenance/readings", data=form).text
    lower = browser.post("/maintenance/readings", data={**form, "value": "40"})
    assert lower.status_code == 422
    errors = dict(FIELD_ERROR.findall(lower.text))
    assert list(errors) == ["value"], errors
    reset = browser.post("/maintenance/readings", data={**form, "value": "40", "is_reset": "on"})
    assert "Reading recorded." in reset.text
    assert "Reset" in reset.text
    listing = browser.get("/maintenance/readings", params={"counter": "cycles"})
    assert listing.text.count('id="reading-') == 2
    assert "/api/v1/factory/usage-readings.csv" in listing.text


def test_failure_codes_add_toggle_and_delete(browser: Browser, shop: Shop) -> None:
    _logged_in(browser, shop.actor)
    token = browser.csrf("/maintenance/failure-codes")
    added = browser.post(
        "/maintenance/failure-codes", data={"csrf_token": token, "code": "ELEC", "name": "Electrical", "active": "on"}
    )
    assert "Failure code added." in added.text
    dup = browser.post("/maintenance/failure-codes", data={"csrf_token": token, "code": "ELEC", "name": "Again"})
    assert dup.status_code == 422
    assert "code" in dict(FIELD_ERROR.findall(dup.text))
    with shop.session() as (s, ctx):
        code_id = service.list_failure_codes(s, ctx, filters={"code": "ELEC"})[0][0].id
    toggled = browser.post(f"/maintenance/failure-codes/{code_id}/toggle", data={"csrf_token": token})
    assert "Failure code saved." in toggled.text
    deleted = browser.post(f"/maintenance/failure-codes/{code_id}/delete", data={"csrf_token": token})
    assert "Failure code deleted." in deleted.text
    assert f'id="code-{code_id}"' not in deleted.text


def test_reliability_page_draws_mtbf_and_mttr_per_machine(browser: Browser, shop: Shop) -> None:
    start = (NOW - 2 * DAY).replace(hour=0, minute=0)
    with shop.session() as (s, ctx):
        order = service.create_maintenance_order(
            s, ctx, equipment_id=shop.ids["press"], kind="corrective", failure_at=start + HOUR
        )
        service.complete_maintenance_order(s, ctx, order.id, repair_end_at=start + 3 * HOUR)
    _logged_in(browser, shop.actor)
    page = browser.get(
        "/maintenance/reliability",
        params={"start": start.date().isoformat(), "end": (start + DAY).date().isoformat()},
    )
    assert page.status_code == 200
    assert "/static/vendor/echarts.min.js" in page.text
    data = json.loads(
        re.search(r'<script type="application/json" id="reliability-data">(.*?)</script>', page.text).group(1)
    )  # type: ignore[union-attr]
    assert data["names"] == ["Lathe 2", "Press 1"]
    # 48 h, one failure of 2 h: MTTR 2 h, MTBF 46 h.
    assert (data["mttr"], data["mtbf"]) == ([None, 2.0], [None, 46.0])
    assert "95.83 %" in page.text
    assert "/api/v1/factory/equipment-reliability.csv?start=" in page.text
    bad = browser.get("/maintenance/reliability", params={"start": "not-a-day"})
    assert bad.status_code == 422
    reversed_period = browser.get("/maintenance/reliability", params={"start": "2026-11-10", "end": "2026-11-01"})
    assert reversed_period.status_code == 422
    assert "end" in dict(FIELD_ERROR.findall(reversed_period.text))
