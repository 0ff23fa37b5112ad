"""Property tests of the pure maintenance modules: reliability figures and the preventive due rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.factory.maintenance import reliability as rel
from hexmill.factory.maintenance import schedule

START = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = timedelta(days=30)
END = START + PERIOD
MINUTE = timedelta(minutes=1)

offsets = st.integers(min_value=0, max_value=30 * 24 * 60 - 1)
lengths = st.integers(min_value=0, max_value=5 * 24 * 60)


@st.composite
def failures(draw: st.DrawFn, min_size: int = 0) -> list[rel.Failure]:
    """Breakdowns inside the period, some still unrepaired, some running past its end."""
    out = []
    for start, length, still_down in draw(
        st.lists(st.tuples(offsets, lengths, st.booleans()), min_size=min_size, max_size=8)
    ):
        begin = START + start * MINUTE
        out.append(rel.Failure(begin, None if still_down and length % 7 == 0 else begin + length * MINUTE))
    return out


@given(failures())
def test_availability_lies_between_zero_and_one_and_matches_the_uptime(items: list[rel.Failure]) -> None:
    figures = rel.reliability(items, start=START, end=END)
    assert Decimal(0) <= figures.availability <= Decimal(1)
    assert figures.downtime <= PERIOD
    if figures.failures == 0:
        assert (figures.mtbf, figures.mttr, figures.availability) == (None, None, Decimal(1))
    else:
        assert figures.mtbf is not None and figures.mttr is not None
        # timedelta division rounds to the microsecond.
        total = figures.mtbf * figures.failures + figures.mttr * figures.failures
        assert abs(total - PERIOD) <= timedelta(microseconds=2 * figures.failures)
        expected = (figures.mtbf / (figures.mtbf + figures.mttr)) if figures.mtbf + figures.mttr else 1
        assert abs(float(figures.availability) - float(expected)) < 1e-6


@given(failures(min_size=1), st.data())
def test_splitting_a_downtime_never_increases_mtbf(items: list[rel.Failure], data: st.DataObject) -> None:
    before = rel.reliability(items, start=START, end=END)
    victim = data.draw(st.sampled_from(items))
    # Cut inside the period: a second half starting at or after its end is a failure of the next period.
    end = min(victim.end if victim.end is not None else END, END)
    if end - victim.start < 2 * MINUTE:
        return
    cut = victim.start + data.draw(st.integers(min_value=1, max_value=(end - victim.start) // MINUTE - 1)) * MINUTE
    # One stop becomes two back to back: the same time down, one failure more.
    split = [f for f in items if f is not victim] + [rel.Failure(victim.start, cut), rel.Failure(cut, victim.end)]
    after = rel.reliability(split, start=START, end=END)
    assert after.downtime == before.downtime
    assert after.failures == before.failures + 1
    assert before.mtbf is not None and after.mtbf is not None
    assert after.mtbf <= before.mtbf


@given(failures(), offsets, lengths)
def test_adding_a_failure_never_increases_mtbf(items: list[rel.Failure], start: int, length: int) -> None:
    before = rel.reliability(items, start=START, end=END)
    begin = START + start * MINUTE
    after = rel.reliability([*items, rel.Failure(begin, begin + length * MINUTE)], start=START, end=END)
    assert after.failures == before.failures + 1
    assert after.downtime >= before.downtime
    assert after.availability <= before.availability
    assert after.mtbf is not None
    assert before.mtbf is None or after.mtbf <= before.mtbf


def test_figures_of_a_known_case() -> None:
    items = [
        rel.Failure(START + timedelta(days=1), START + timedelta(days=1, hours=2)),
        rel.Failure(START + timedelta(days=2), START + timedelta(days=2, hours=4)),
        rel.Failure(START - timedelta(days=1), START + timedelta(hours=5)),  # began before: not a failure here
        rel.Failure(END - timedelta(hours=1)),  # still down: counted to the period's end
    ]
    figures = rel.reliability(items, start=START, end=END)
    assert (figures.failures, figures.downtime) == (3, timedelta(hours=7))
    assert rel.hours(figures.mttr) == Decimal("2.3333")
    assert rel.hours(figures.mtbf) == Decimal("237.6667")
    assert figures.availability == Decimal("0.990278")
    with pytest.raises(ValueError, match="period"):
        rel.reliability(items, start=END, end=START)


# -- the preventive due rule ---------------------------------------------------------------


@st.composite
def counter_readings(draw: st.DrawFn) -> list[schedule.Reading]:
    """Readings of a counter that only goes up, except at resets."""
    value = Decimal(draw(st.integers(min_value=0, max_value=1000)))
    out = []
    for n, (step, reset) in enumerate(
        draw(st.lists(st.tuples(st.integers(min_value=0, max_value=500), st.booleans()), max_size=10))
    ):
        value = Decimal(step) if reset else value + step
        out.append(schedule.Reading(START + n * MINUTE, value, reset))
    return out


@given(st.integers(min_value=0, max_value=1000), counter_readings(), st.integers(min_value=1, max_value=2000))
def test_usage_is_never_negative_and_the_due_value_is_the_remaining_units_ahead(
    base: int, readings: list[schedule.Reading], interval: int
) -> None:
    base_reading = Decimal(min(base, readings[0].value)) if readings and not readings[0].reset else Decimal(base)
    plan = schedule.PlanState("usage", date(2026, 1, 1), interval_units=Decimal(interval), base_reading=base_reading)
    state = schedule.due_state(plan, today=date(2026, 1, 2), readings=readings)
    assert state.used is not None and state.used >= 0
    assert state.due == (state.used >= interval)
    assert state.current is not None and state.due_value is not None
    assert state.due_value - state.current == interval - state.used


@given(counter_readings(), st.integers(min_value=0, max_value=500))
def test_a_further_reading_never_takes_usage_away(readings: list[schedule.Reading], step: int) -> None:
    base = Decimal(0)
    last = readings[-1].value if readings else base
    more = [*readings, schedule.Reading(START + timedelta(days=1), last + step)]
    assert schedule.usage_since(base, more) == schedule.usage_since(base, readings) + step


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(min_value=1, max_value=3650))
def test_a_calendar_plan_is_due_from_its_due_date_on(base: date, days: int) -> None:
    plan = schedule.PlanState("calendar", base, interval_days=days)
    due_date = schedule.calendar_due_date(base, days)
    assert due_date > base
    assert schedule.due_state(plan, today=due_date).due
    assert not schedule.due_state(plan, today=due_date - timedelta(days=1)).due
    assert schedule.due_state(plan, today=due_date + timedelta(days=1)).due_date == due_date
