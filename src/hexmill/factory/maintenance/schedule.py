"""Pure rules of preventive plans: when a plan falls due, by date or by counter, and whether it is due now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

ZERO: Final = Decimal(0)
Trigger = Literal["calendar", "usage"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One counter reading: its time, value, and whether the counter started again from zero there."""

    at: datetime
    value: Decimal
    reset: bool = False


@dataclass(frozen=True, slots=True)
class PlanState:
    """What the due rule needs of a plan.

    ``base_date`` is the day counting starts from (the last completion, else the start date);
    ``base_reading`` the counter value it starts from (at the last completion, else at creation).
    """

    trigger: Trigger
    base_date: date
    interval_days: int | None = None
    interval_units: Decimal | None = None
    base_reading: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class DueState:
    """When a plan falls due and whether it is due now.

    For a calendar plan ``due_date`` is set; for a usage plan ``used`` is how much the counter has
    run since the base, ``due_value`` the counter value at which the plan falls due (as the counter
    reads now, resets included) and ``current`` the latest reading.
    """

    due: bool
    due_date: date | None = None
    used: Decimal | None = None
    due_value: Decimal | None = None
    current: Decimal | None = None


def calendar_due_date(base_date: date, interval_days: int) -> date:
    """Return the day a calendar plan falls due: ``interval_days`` after its base day."""
    if interval_days <= 0:
        msg = "interval_days must be positive"
        raise ValueError(msg)
    return base_date + timedelta(days=interval_days)


def usage_since(base_reading: Decimal, readings: Iterable[Reading]) -> Decimal:
    """Return how far a counter has run since ``base_reading``, given the readings after it in time order.

    Between two ordinary readings the usage is their difference; a reset reading starts again
    from zero, so it adds its own value. A reading below the one before it that is not marked as a
    reset (refused on entry, but possible in old data) adds nothing rather than taking usage away.
    """
    used = ZERO
    previous = base_reading
    for reading in readings:
        step = reading.value if reading.reset else reading.value - previous
        used += max(step, ZERO)
        previous = reading.value
    return used


def due_state(plan: PlanState, *, today: date, readings: Iterable[Reading] = ()) -> DueState:
    """Return when ``plan`` falls due and whether it is due on ``today`` given the counter's readings.

    ``readings`` are those taken after the plan's base, in time order (ignored by calendar plans).
    """
    if plan.trigger == "calendar":
        if plan.interval_days is None:
            msg = "a calendar plan needs interval_days"
            raise ValueError(msg)
        due_date = calendar_due_date(plan.base_date, plan.interval_days)
        return DueState(due=today >= due_date, due_date=due_date)
    if plan.interval_units is None or plan.interval_units <= 0:
        msg = "a usage plan needs a positive interval_units"
        raise ValueError(msg)
    rows = list(readings)
    used = usage_since(plan.base_reading, rows)
    current = rows[-1].value if rows else plan.base_reading
    return DueState(
        due=used >= plan.interval_units,
        used=used,
        due_value=current + (plan.interval_units - used),
        current=current,
    )
