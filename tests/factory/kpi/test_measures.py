"""The factory KPIs on hand-computed cases, and their invariants over generated records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.factory.kpi import measures as m

D = Decimal
T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)  # a Monday


def line(order: int, *, item: int = 1, customer: int = 7, due: date | None, confirmed: datetime | None = T0,
         first: datetime | None = None, done: datetime | None = None) -> m.ShippedLine:  # fmt: skip
    return m.ShippedLine(order, customer, item, D(10), due, confirmed, first or done, done)


def test_lead_time_counts_days_from_confirmation_to_the_first_shipment() -> None:
    lines = [
        line(1, due=date(2026, 3, 10), first=T0 + timedelta(days=2), done=T0 + timedelta(days=5)),
        line(2, due=date(2026, 3, 10), first=T0 + timedelta(days=4, hours=12)),
        line(3, due=date(2026, 3, 10)),  # nothing shipped yet
    ]
    assert m.lead_times(lines) == [2.0, 4.5]
    assert m.delivery_figures(lines).lead_time_days == pytest.approx(3.25)


def test_delivery_cycle_waits_for_the_orders_last_line() -> None:
    lines = [
        line(1, due=date(2026, 3, 31), done=T0 + timedelta(days=3)),
        line(1, due=date(2026, 3, 31), done=T0 + timedelta(days=9)),
        line(2, due=date(2026, 3, 31), done=T0 + timedelta(days=1)),
        line(2, due=date(2026, 3, 31), first=T0 + timedelta(days=1)),  # order 2 is still open
    ]
    assert [(order, days) for order, _done, days in m.delivery_cycles(lines)] == [(1, 9.0)]
    figures = m.delivery_figures(lines)
    assert figures.delivery_cycle_days == 9.0
    assert figures.orders_completed == 1


def test_on_time_compares_the_completing_shipments_date_with_the_due_date() -> None:
    due = date(2026, 3, 5)
    lines = [
        line(1, due=due, done=datetime(2026, 3, 5, 23, 59, tzinfo=UTC)),  # on the due date: on time
        line(2, due=due, done=datetime(2026, 3, 6, 0, 1, tzinfo=UTC)),  # a day late
        line(3, due=None, done=T0),  # no due date: not judged
        line(4, due=due, first=T0),  # open: not judged
    ]
    figures = m.delivery_figures(lines)
    assert (figures.lines_completed, figures.lines_on_time, figures.on_time_rate) == (2, 1, 0.5)


def test_rates_divide_the_right_quantities() -> None:
    reports = [
        m.OperationReport(1, T0, good=D(90), scrap=D(10), labour_minutes=D(600)),
        m.OperationReport(1, T0, good=D(45), scrap=D(5), labour_minutes=D(300)),
    ]
    receipts = [m.ProductionReceipt(1, T0, D(90))]
    inspections = [m.Inspection(1, T0, D(50), D(2)), m.Inspection(1, T0, D(50), D(3))]
    flows = [m.StockFlow(1, opening=D(100), closing=D(60), outflow=D(400))]
    assert m.scrap_rate(reports) == pytest.approx(0.1)
    assert m.labour_hours_per_unit(reports, receipts) == pytest.approx(15 / 90)
    assert m.defect_rate(inspections) == pytest.approx(0.05)
    assert m.inventory_turns(flows) == pytest.approx(5.0)


def test_nothing_to_measure_gives_none_not_zero() -> None:
    figures = m.figures(m.Records())
    assert figures.lead_time_days is None
    assert figures.on_time_rate is None
    assert figures.defect_rate is None
    assert figures.scrap_rate is None
    assert figures.labour_hours_per_unit is None
    assert figures.inventory_turns is None


def test_periods_start_on_mondays_and_first_days() -> None:
    assert m.period_start(date(2026, 3, 8), "week") == date(2026, 3, 2)
    assert m.period_start(datetime(2026, 3, 8, tzinfo=UTC), "month") == date(2026, 3, 1)
    assert m.periods(date(2026, 11, 15), date(2027, 2, 1), "month") == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
    assert m.periods(date(2026, 3, 4), date(2026, 3, 16), "week") == [
        date(2026, 3, 2),
        date(2026, 3, 9),
        date(2026, 3, 16),
    ]


def test_by_item_and_by_customer_split_the_records() -> None:
    lines = [
        line(1, item=1, customer=7, due=date(2026, 3, 31), done=T0 + timedelta(days=2)),
        line(2, item=2, customer=8, due=date(2026, 3, 1), done=T0 + timedelta(days=4)),
    ]
    reports = [m.OperationReport(2, T0, D(9), D(1), D(0))]
    items = m.by_item(m.Records(lines=lines, reports=reports))
    assert items[1].lead_time_days == 2.0
    assert items[1].scrap_rate is None
    assert items[2].on_time_rate == 0.0
    assert items[2].scrap_rate == pytest.approx(0.1)
    customers = m.by_customer(lines)
    assert customers[7].on_time_rate == 1.0
    assert customers[8].lead_time_days == 4.0


# -- properties ------------------------------------------------------------------------------

moments = st.integers(min_value=0, max_value=200 * 24).map(lambda h: T0 + timedelta(hours=h))
quantities = st.integers(min_value=0, max_value=1000).map(D)


@st.composite
def shipped_lines(draw: st.DrawFn) -> m.ShippedLine:
    confirmed = draw(moments)
    first = draw(st.none() | st.integers(0, 60 * 24).map(lambda h: confirmed + timedelta(hours=h)))
    done = None
    if first is not None and draw(st.booleans()):
        done = first + timedelta(hours=draw(st.integers(0, 30 * 24)))
    due = draw(st.none() | moments.map(lambda t: t.date()))
    return m.ShippedLine(
        draw(st.integers(1, 8)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), D(5), due, confirmed, first, done
    )


@given(st.lists(shipped_lines(), max_size=40))
def test_period_figures_add_up_to_the_window(lines: list[m.ShippedLine]) -> None:
    window = m.delivery_figures(lines)
    per_period = m.by_period(m.Records(lines=lines), T0.date(), date(2027, 1, 31), "month")
    assert sum(f.lines_completed for f in per_period.values()) == window.lines_completed
    assert sum(f.lines_on_time for f in per_period.values()) == window.lines_on_time
    assert sum(f.orders_completed for f in per_period.values()) == window.orders_completed
    if window.on_time_rate is not None:
        assert 0.0 <= window.on_time_rate <= 1.0
    for figures in per_period.values():
        assert figures.lines_on_time <= figures.lines_completed


@given(st.lists(st.tuples(quantities, quantities, quantities), max_size=30))
def test_scrap_and_defect_rates_stay_between_zero_and_one(rows: list[tuple[Decimal, Decimal, Decimal]]) -> None:
    reports = [m.OperationReport(1, T0, good, scrap, minutes) for good, scrap, minutes in rows]
    inspections = [m.Inspection(1, T0, good + scrap, scrap) for good, scrap, _ in rows]
    for rate in (m.scrap_rate(reports), m.defect_rate(inspections)):
        assert rate is None or 0.0 <= rate <= 1.0
    total = sum(good + scrap for good, scrap, _ in rows)
    assert (m.scrap_rate(reports) is None) == (total == 0)


@given(st.lists(shipped_lines(), max_size=30))
def test_item_figures_partition_the_lines(lines: list[m.ShippedLine]) -> None:
    items = m.by_item(m.Records(lines=lines))
    assert sum(f.lines_completed for f in items.values()) == m.delivery_figures(lines).lines_completed
