"""Shift calendar arithmetic with no I/O: the working intervals of weekly shifts between two instants.

Shifts are wall-clock times in the calendar's IANA time zone. A shift runs from the first instant
the local clock reads its start to the first instant it reads its end; an end at or before the
start means the shift crosses midnight. When a clock time does not exist (the hour skipped in
spring) the shift starts or ends when the clock jumps past it; when it exists twice (autumn) the
first occurrence counts. No working time falls on a holiday: a shift crossing into or out of a
holiday is cut at local midnight.

Intervals come back in the calendar's zone; measure them with ``Interval.duration`` (which works in
UTC), since subtracting two datetimes that share a tzinfo ignores a DST change between them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WeeklyShift:
    """A shift on one weekday (0 = Monday), from ``start`` to ``end`` local time."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        """Refuse weekdays outside Monday..Sunday."""
        if not 0 <= self.weekday <= 6:
            msg = f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}"
            raise ValueError(msg)

    @property
    def crosses_midnight(self) -> bool:
        """Return whether the shift ends on the next day."""
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class Interval:
    """A working interval, its ends aware in the calendar's zone."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        """Return the real (UTC) length of the interval."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


def instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """Return, in UTC, the first instant the clock in ``zone`` reads ``clock`` on ``day`` (or jumps past it)."""
    wall = datetime.combine(day, clock)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # The clock time is skipped: find the transition, the first second whose local time is past it.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=int((hi - lo).total_seconds()) // 2)
        if mid.astimezone(zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def working_intervals(
    shifts: Iterable[WeeklyShift],
    holidays: Collection[date],
    zone: str | ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """Return the working intervals between two aware instants, sorted, merged where they touch.

    Args:
        shifts: The weekly shifts of the calendar.
        holidays: Local dates without work.
        zone: The calendar's IANA time zone.
        start: The beginning of the window (aware).
        end: The end of the window (aware).

    Returns:
        Non-overlapping intervals inside ``[start, end)``, in the calendar's zone.

    Raises:
        ValueError: ``start`` or ``end`` is naive.
    """
    if start.tzinfo is None or end.tzinfo is None:
        msg = "start and end must be timezone-aware"
        raise ValueError(msg)
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if hi <= lo:
        return []
    shifts = list(shifts)
    pieces: list[tuple[datetime, datetime]] = []
    # A shift starting the day before the window's first local date may reach into the window.
    day = lo.astimezone(tz).date() - _DAY
    last = hi.astimezone(tz).date()
    while day <= last:
        for shift in shifts:
            if shift.weekday != day.weekday():
                continue
            s = instant(day, shift.start, tz)
            e = instant(day + _DAY if shift.crosses_midnight else day, shift.end, tz)
            pieces.extend(_without_holidays(max(s, lo), min(e, hi), holidays, tz))
        day += _DAY
    return [Interval(a.astimezone(tz), b.astimezone(tz)) for a, b in _merge(pieces)]


def _without_holidays(
    s: datetime, e: datetime, holidays: Collection[date], tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """Cut ``[s, e)`` at local midnights and drop the parts on holidays."""
    out: list[tuple[datetime, datetime]] = []
    cursor = s
    while cursor < e:
        local_day = cursor.astimezone(tz).date()
        midnight = instant(local_day + _DAY, time(0), tz)
        piece_end = min(e, midnight)
        if local_day not in holidays:
            out.append((cursor, piece_end))
        cursor = piece_end
    return out


def _merge(pieces: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(pieces):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def working_hours(intervals: Iterable[Interval]) -> float:
    """Return the total length of ``intervals`` in hours."""
    return sum((i.duration for i in intervals), timedelta()).total_seconds() / 3600
