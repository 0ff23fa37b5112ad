"""Service tests of maintenance: order life cycle and its time rules, failure codes, counters only going
up, plans falling due by date and by counter, due-order generation never opening two orders for a plan,
reliability figures, and what deleting a machine does to its maintenance records."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hexmill.assets import service as assets
from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.errors import Conflict, InvalidInput, NotFound
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.factory.maintenance import service
from tests.factory.maintenance.conftest import Shop

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def _field(exc: pytest.ExceptionInfo[InvalidInput]) -> str | None:
    return exc.value.errors[0].field if exc.value.errors else exc.value.field


def test_corrective_order_runs_open_in_progress_done(shop: Shop) -> None:
    with shop.session() as (s, ctx):
        order = service.create_maintenance_order(
            s, ctx, equipment_id=shop.ids["press"], kind="corrective", failure_at=NOW - 5 * HOUR, priority="high"
        )
        assert (order.status, order.equipment_down, order.number) == ("open", True, f"MO-{order.id:06d}")
        service.start_maintenance_order(s, ctx, order.id, repair_start_at=NOW - 4 * HOUR)
        assert order.status == "in_progress"
        done = service.complete_maintenance_order(
            s,
            ctx,
            order.id,
            repair_end_at=NOW - 2 * HOUR,
            action_taken="Replaced bearing",
            labour_hours=Decimal("2.5"),
            failure_code_id=shop.ids["bearing"],
        )
        assert (done.status, done.labour_hours, done.failure_code_id) == ("done", Decimal("2.50"), shop.ids["bearing"])
        assert done.completed_at is not None
        with pytest.raises(Conflict) as refused:
            service.update_maintenance_order(s, ctx, order.id, description="late")
        assert refused.value.field == "status"
        with pytest.raises(Conflict):
            service.cancel_maintenance_order(s, ctx, order.id)
        with pytest.raises(Conflict):
            service.delete_maintenance_order(s, ctx, order.id)


def test_order_times_are_checked_naming_the_field(shop: Shop) -> None:
    press = shop.ids["press"]
    with shop.session() as (s, ctx):
        with pytest.raises(InvalidInput) as no_failure:
            service.create_maintenance_order(s, ctx, equipment_id=press, kind="corrective")
        assert _field(no_failure) == "failure_at"
        with pytest.raises(InvalidInput) as early:
            service.create_maintenance_order(
                s, ctx, equipment_id=press, kind="corrective", failure_at=NOW - HOUR, repair_start_at=NOW - 2 * HOUR
            )
        assert _field(early) == "repair_start_at"
        with pytest.raises(InvalidInput) as reversed_repair:
            service.create_maintenance_order(
                s,
                ctx,
                equipment_id=press,
                kind="corrective",
                failure_at=NOW - 3 * HOUR,
                repair_start_at=NOW - HOUR,
                repair_end_at=NOW - 2 * HOUR,
            )
        assert _field(reversed_repair) == "repair_end_at"
        assert "cannot end before it starts" in str(reversed_repair.value)
        with pytest.raises(InvalidInput) as preventive_failure:
            service.create_maintenance_order(s, ctx, equipment_id=press, kind="preventive", failure_at=NOW)
        assert _field(preventive_failure) == "failure_at"
        order = service.create_maintenance_order(s, ctx, equipment_id=press, kind="corrective", failure_at=NOW - HOUR)
        with pytest.raises(InvalidInput) as complete_early:
            service.complete_maintenance_order(s, ctx, order.id, repair_end_at=NOW - 2 * HOUR)
        assert _field(complete_early) == "repair_end_at"
        with pytest.raises(InvalidInput) as unknown:
            service.create_maintenance_order(s, ctx, equipment_id=2**31 - 1, kind="preventive")
        assert _field(unknown) == "equipment_id"
        with pytest.raises(InvalidInput) as future:
            service.create_maintenance_order(s, ctx, equipment_id=press, kind="corrective", failure_at=NOW + 2 * DAY)
        assert _field(future) == "failure_at"


def test_order_numbers_are_unique_and_open_orders_may_be_deleted(shop: Shop) -> None:
    with shop.session() as (s, ctx):
        first = service.create_maintenance_order(
            s, ctx, equipment_id=shop.ids["lathe"], kind="preventive", number="X-1"
        )
        with pytest.raises(Conflict) as taken:
            service.create_maintenance_order(s, ctx, equipment_id=shop.ids["lathe"], kind="preventive", number="X-1")
        assert taken.value.field == "number"
        service.delete_maintenance_order(s, ctx, first.id)
        with pytest.raises(NotFound):
            service.get_maintenance_order(s, ctx, first.id)


def test_failure_codes_unique_inactive_refused_and_in_use_kept(shop: Shop) -> None:
    with shop.session() as (s, ctx):
        with pytest.raises(Conflict) as taken:
            service.create_failure_code(s, ctx, code="BRG", name="Again")
        assert taken.value.field == "code"
        spare = service.create_failure_code(s, ctx, code="ELEC", name="Electrical")
        service.update_failure_code(s, ctx, spare.id, active=False)
        with pytest.raises(InvalidInput) as inactive:
            service.create_maintenance_order(
                s, ctx, equipment_id=shop.ids["press"], kind="corrective", failure_at=NOW, failure_code_id=spare.id
            )
        assert _field(inactive) == "failure_code_id"
        service.create_maintenance_order(
            s,
            ctx,
            equipment_id=shop.ids["press"],
            kind="corrective",
            failure_at=NOW,
            failure_code_id=shop.ids["bearing"],
        )
        with pytest.raises(Conflict):
            service.delete_failure_code(s, ctx, shop.ids["bearing"])
        service.delete_failure_code(s, ctx, spare.id)
        assert [c.code for c in service.list_failure_codes(s, ctx)[0]] == ["BRG"]


def test_counters_only_go_up_unless_reset(shop: Shop) -> None:
    press = shop.ids["press"]
    with shop.session() as (s, ctx):
        service.record_reading(
            s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(100), read_at=NOW - DAY
        )
        with pytest.raises(InvalidInput) as down:
            service.record_reading(s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(90), read_at=NOW)
        assert _field(down) == "value"
        assert "only goes up" in str(down.value)
        # Another counter, or another machine, is a counter of its own.
        service.record_reading(s, ctx, equipment_id=press, counter="cycles", value=Decimal(5), read_at=NOW)
        service.record_reading(s, ctx, equipment_id=shop.ids["lathe"], counter="runtime_hours", value=Decimal(1))
        reset = service.record_reading(
            s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(3), read_at=NOW, is_reset=True
        )
        assert reset.is_reset
        with pytest.raises(InvalidInput) as backdated:
            # Between 100 (a day ago) and the reset: fine below; but above nothing later than it? 150 > 3 is
            # fine only because the later reading is a reset; a back-dated reading above a later ordinary one is not.
            service.record_reading(s, ctx, equipment_id=press, counter="cycles", value=Decimal(9), read_at=NOW - HOUR)
        assert _field(backdated) == "value"
        service.record_reading(
            s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(150), read_at=NOW - HOUR
        )
        with pytest.raises(InvalidInput) as future:
            service.record_reading(
                s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(500), read_at=NOW + 2 * DAY
            )
        assert _field(future) == "read_at"
        with pytest.raises(InvalidInput) as source:
            service.record_reading(s, ctx, equipment_id=press, counter="cycles", value=Decimal(9), source="guess")
        assert _field(source) == "source"
        from_telemetry = service.record_reading(
            s, ctx, equipment_id=press, counter="cycles", value=Decimal(9), source="telemetry"
        )
        assert from_telemetry.source == "telemetry"
        rows, total = service.list_readings(s, ctx, filters={"equipment_id": press, "counter": "runtime_hours"})
        assert total == 3
        assert [r.value for r in rows] == [Decimal(3), Decimal(150), Decimal(100)]
        assert service.counters(s, ctx, press) == ["cycles", "runtime_hours"]


def test_calendar_plan_falls_due_and_generation_opens_one_order_per_plan(shop: Shop) -> None:
    start = (NOW - 10 * DAY).date()
    with shop.session() as (s, ctx):
        plan = service.create_plan(
            s,
            ctx,
            equipment_id=shop.ids["press"],
            name="Lubricate",
            trigger_type="calendar",
            interval_days=7,
            start_date=start,
            tasks="Grease the slides",
        )
        later = service.create_plan(
            s, ctx, equipment_id=shop.ids["lathe"], name="Inspect", trigger_type="calendar", interval_days=30
        )
        due = service.plan_due(s, ctx, plan.id, NOW)
        assert (due.due, due.due_date) == (True, start + 7 * DAY)
        assert service.plan_due(s, ctx, later.id, NOW).due is False
        created = service.generate_due_orders(s, ctx, NOW)
        assert [(o.plan_id, o.kind, o.status, o.due_date) for o in created] == [
            (plan.id, "preventive", "open", start + 7 * DAY)
        ]
        assert "Grease the slides" in created[0].description
        order_id = created[0].id
    with shop.session() as (s, ctx):
        # A second run, in a later transaction, finds the open order and opens nothing.
        assert service.generate_due_orders(s, ctx, NOW) == []
        assert service.plan_due(s, ctx, plan.id, NOW).open_order_id == order_id
        with pytest.raises(Conflict) as second:
            service.create_maintenance_order(s, ctx, equipment_id=shop.ids["press"], kind="preventive", plan_id=plan.id)
        assert second.value.field == "plan_id"
        service.start_maintenance_order(s, ctx, order_id, repair_start_at=NOW - 2 * HOUR)
        assert service.generate_due_orders(s, ctx, NOW) == []
        service.complete_maintenance_order(s, ctx, order_id, repair_end_at=NOW - HOUR)
        assert service.get_plan(s, ctx, plan.id).last_done_at == NOW - HOUR
        after = service.plan_due(s, ctx, plan.id, NOW)
        assert (after.due, after.due_date, after.open_order_id) == (False, (NOW - HOUR).date() + 7 * DAY, None)
        assert service.generate_due_orders(s, ctx, NOW) == []
        # A week on it is due again, and gets one new order.
        again = service.generate_due_orders(s, ctx, NOW + 8 * DAY)
        assert [o.plan_id for o in again] == [plan.id]
        assert service.generate_due_orders(s, ctx, NOW + 8 * DAY) == []
        # Inactive plans open nothing.
        service.update_plan(s, ctx, later.id, active=False)
        assert service.generate_due_orders(s, ctx, NOW + 60 * DAY) == []


def test_usage_plan_counts_from_the_latest_reading_through_resets(shop: Shop) -> None:
    press = shop.ids["press"]
    with shop.session() as (s, ctx):
        service.record_reading(
            s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(1000), read_at=NOW - 3 * DAY
        )
    with shop.session() as (s, ctx):
        plan = service.create_plan(
            s,
            ctx,
            equipment_id=press,
            name="Oil change",
            trigger_type="usage",
            counter="runtime_hours",
            interval_units=Decimal(500),
        )
        assert plan.start_reading == Decimal(1000)
        first = service.plan_due(s, ctx, plan.id, NOW)
        assert (first.due, first.used, first.due_value) == (False, Decimal(0), Decimal(1500))
    with shop.session() as (s, ctx):
        service.record_reading(s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(1300))
    with shop.session() as (s, ctx):
        # The meter is replaced: 300 h before, 250 h on the new one -> 550 h since the plan began.
        service.record_reading(s, ctx, equipment_id=press, counter="runtime_hours", value=Decimal(250), is_reset=True)
        state = service.plan_due(s, ctx, plan.id)
        assert (state.due, state.used, state.current, state.due_value) == (
            True,
            Decimal(550),
            Decimal(250),
            Decimal(200),
        )
        created = service.generate_due_orders(s, ctx)
        assert [o.plan_id for o in created] == [plan.id]
        service.complete_maintenance_order(s, ctx, created[0].id)
        assert service.get_plan(s, ctx, plan.id).last_done_reading == Decimal(250)
        assert service.plan_due(s, ctx, plan.id).due is False


def test_plan_fields_follow_the_trigger(shop: Shop) -> None:
    press = shop.ids["press"]
    with shop.session() as (s, ctx):
        with pytest.raises(InvalidInput) as no_days:
            service.create_plan(s, ctx, equipment_id=press, name="A", trigger_type="calendar")
        assert _field(no_days) == "interval_days"
        with pytest.raises(InvalidInput) as no_counter:
            service.create_plan(s, ctx, equipment_id=press, name="B", trigger_type="usage", interval_units=Decimal(5))
        assert _field(no_counter) == "counter"
        with pytest.raises(InvalidInput) as mixed:
            service.create_plan(
                s, ctx, equipment_id=press, name="C", trigger_type="calendar", interval_days=5, counter="cycles"
            )
        assert _field(mixed) == "counter"
        service.create_plan(s, ctx, equipment_id=press, name="D", trigger_type="calendar", interval_days=5)
        with pytest.raises(Conflict) as taken:
            service.create_plan(s, ctx, equipment_id=press, name="D", trigger_type="calendar", interval_days=9)
        assert taken.value.field == "name"


def test_reliability_of_one_machine_and_of_all(shop: Shop) -> None:
    start, end = NOW - 10 * DAY, NOW
    press, lathe = shop.ids["press"], shop.ids["lathe"]
    with shop.session() as (s, ctx):
        for begin, hours in ((start + DAY, 2), (start + 5 * DAY, 4)):
            order = service.create_maintenance_order(
                s, ctx, equipment_id=press, kind="corrective", failure_at=begin, repair_start_at=begin
            )
            service.complete_maintenance_order(s, ctx, order.id, repair_end_at=begin + hours * HOUR)
        # Not counted: no downtime, cancelled, before the period, and a preventive order.
        service.create_maintenance_order(
            s, ctx, equipment_id=press, kind="corrective", failure_at=start + 2 * DAY, equipment_down=False
        )
        cancelled = service.create_maintenance_order(
            s, ctx, equipment_id=press, kind="corrective", failure_at=start + 3 * DAY
        )
        service.cancel_maintenance_order(s, ctx, cancelled.id)
        service.create_maintenance_order(s, ctx, equipment_id=press, kind="corrective", failure_at=start - DAY)
        service.create_maintenance_order(s, ctx, equipment_id=press, kind="preventive")
        row = service.equipment_reliability(s, ctx, press, start=start, end=end)
        assert (row.failures, row.downtime_hours, row.mttr_hours, row.mtbf_hours) == (
            2,
            Decimal("6.0000"),
            Decimal("3.0000"),
            Decimal("117.0000"),
        )
        assert row.availability == Decimal("0.975000")
        table = service.reliability_table(s, ctx, start=start, end=end)
        assert [(r.equipment_id, r.failures, r.mtbf_hours, r.availability) for r in table] == [
            (lathe, 0, None, Decimal(1)),
            (press, 2, Decimal("117.0000"), Decimal("0.975000")),
        ]
        with pytest.raises(InvalidInput) as bad:
            service.equipment_reliability(s, ctx, press, start=end, end=start)
        assert _field(bad) == "end"


def test_machine_with_orders_cannot_be_deleted_but_plans_and_readings_go_with_it(shop: Shop) -> None:
    with shop.session() as (s, ctx):
        service.create_maintenance_order(s, ctx, equipment_id=shop.ids["press"], kind="preventive")
        service.create_plan(
            s, ctx, equipment_id=shop.ids["lathe"], name="Clean", trigger_type="calendar", interval_days=3
        )
        service.record_reading(s, ctx, equipment_id=shop.ids["lathe"], counter="cycles", value=Decimal(7))
    with pytest.raises(Conflict, match="maintenance orders still refer to it"), shop.session() as (s, ctx):
        assets.delete_equipment(s, ctx, shop.ids["press"])
    with shop.session() as (s, ctx):
        assets.delete_equipment(s, ctx, shop.ids["lathe"])
    with shop.session() as (s, ctx):
        assert service.list_plans(s, ctx)[1] == 0
        assert service.list_readings(s, ctx)[1] == 0
        assert service.list_maintenance_orders(s, ctx)[1] == 1


def test_deleting_the_enterprise_takes_its_maintenance_records(shop: Shop) -> None:
    with shop.session() as (s, ctx):
        plan = service.create_plan(
            s,
            ctx,
            equipment_id=shop.ids["press"],
            name="Clean",
            trigger_type="calendar",
            interval_days=1,
            start_date=(NOW - 5 * DAY).date(),
        )
        service.generate_due_orders(s, ctx, NOW)
        service.create_maintenance_order(
            s,
            ctx,
            equipment_id=shop.ids["press"],
            kind="corrective",
            failure_at=NOW,
            failure_code_id=shop.ids["bearing"],
        )
        assert plan.id
    with transaction(shop.factory) as s:
        set_scope(s, ALL_TENANTS)
        identity.delete_tenant(s, Context.system(), shop.actor.tenant.id)


def test_other_enterprise_objects_are_not_found(shop: Shop, shop_factory: object) -> None:
    other = shop_factory()  # type: ignore[operator]
    with other.session() as (s, ctx):
        order = service.create_maintenance_order(s, ctx, equipment_id=other.ids["press"], kind="preventive")
        plan = service.create_plan(
            s, ctx, equipment_id=other.ids["press"], name="X", trigger_type="calendar", interval_days=2
        )
    with shop.session() as (s, ctx):
        with pytest.raises(NotFound):
            service.get_maintenance_order(s, ctx, order.id)
        with pytest.raises(NotFound):
            service.get_plan(s, ctx, plan.id)
        with pytest.raises(NotFound):
            service.get_failure_code(s, ctx, other.ids["bearing"])
        with pytest.raises(InvalidInput) as foreign:
            service.create_maintenance_order(s, ctx, equipment_id=other.ids["press"], kind="preventive")
        assert _field(foreign) == "equipment_id"
        with pytest.raises(NotFound):
            service.equipment_reliability(s, ctx, other.ids["press"], start=NOW - DAY, end=NOW)


def test_two_generations_at_once_open_one_order_per_plan(shop: Shop) -> None:
    with shop.session() as (s, ctx):
        plan = service.create_plan(
            s,
            ctx,
            equipment_id=shop.ids["press"],
            name="Daily check",
            trigger_type="calendar",
            interval_days=1,
            start_date=(NOW - 3 * DAY).date(),
        )
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with shop.session() as (s, ctx):
                barrier.wait(timeout=30)
                results.append(len(service.generate_due_orders(s, ctx, NOW)))
        except BaseException as exc:  # handed to the test thread, to fail it there
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [0, 1]
    with shop.session() as (s, ctx):
        assert service.list_maintenance_orders(s, ctx, filters={"plan_id": plan.id})[1] == 1
