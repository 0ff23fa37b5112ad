"""Pure reliability figures of a machine over a period: failures, MTTR, MTBF and availability.

A failure is a corrective order with downtime whose breakdown started inside the period. Its
downtime runs from the breakdown to the end of the repair (still running: to the end of the
period), clipped to the period. Overlapping breakdowns count the time down once, so the downtime
never exceeds the period:

- MTTR = downtime / failures
- MTBF = (period length - downtime) / failures
- availability = MTBF / (MTBF + MTTR) = (period length - downtime) / period length

With no failure MTBF and MTTR are undefined (None) and availability is 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

ZERO_TIME: Final = timedelta(0)
RATIO_STEP: Final = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Failure:
    """A breakdown: when the machine stopped and when its repair ended (None while still down)."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reliability:
    """The figures of one machine over one period."""

    period: timedelta
    failures: int
    downtime: timedelta
    mttr: timedelta | None
    mtbf: timedelta | None
    availability: Decimal


def _merged(intervals: list[tuple[datetime, datetime]]) -> timedelta:
    """Return the length of the union of the intervals."""
    total = ZERO_TIME
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, end)
        elif end > current[1]:
            current = (current[0], end)
    if current is not None:
        total += current[1] - current[0]
    return total


def reliability(failures: Iterable[Failure], *, start: datetime, end: datetime) -> Reliability:
    """Return failures, downtime, MTTR, MTBF and availability of a machine over ``[start, end)``.

    Args:
        failures: the machine's breakdowns with downtime (those starting outside the period are ignored).
        start: the period's first instant.
        end: the instant after the period; must be after ``start``.

    Returns:
        The figures; MTBF and MTTR are None when nothing failed.

    Raises:
        ValueError: the period is empty or reversed.
    """
    if end <= start:
        msg = "the period must end after it starts"
        raise ValueError(msg)
    period = end - start
    intervals: list[tuple[datetime, datetime]] = []
    for failure in failures:
        if not start <= failure.start < end:
            continue
        stop = end if failure.end is None else min(max(failure.end, failure.start), end)
        intervals.append((failure.start, stop))
    count = len(intervals)
    if count == 0:
        return Reliability(period, 0, ZERO_TIME, None, None, Decimal(1))
    downtime = _merged(intervals)
    up = period - downtime
    ratio = Decimal(up // timedelta(microseconds=1)) / Decimal(period // timedelta(microseconds=1))
    return Reliability(
        period=period,
        failures=count,
        downtime=downtime,
        mttr=downtime / count,
        mtbf=up / count,
        availability=ratio.quantize(RATIO_STEP, rounding=ROUND_HALF_EVEN),
    )


def hours(value: timedelta | None) -> Decimal | None:
    """Return a duration in hours with four decimals (None stays None)."""
    if value is None:
        return None
    micros = Decimal(value // timedelta(microseconds=1))
    return (micros / Decimal(3_600_000_000)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
