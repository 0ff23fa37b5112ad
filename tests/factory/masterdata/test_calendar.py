"""Properties of shift-calendar arithmetic: inside shifts, never on holidays, hours right across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexmill.factory.masterdata.calendar import WeeklyShift, working_hours, working_intervals

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Shanghai"]
QUARTER = timedelta(minutes=15)
# Boundaries avoid 01:00-03:00, where these zones skip or repeat clock times (tested one by one below).
CLOCK = st.builds(
    time,
    st.sampled_from([0, 3, 4, 6, 7, 8, 12, 14, 16, 18, 20, 22, 23]),
    st.sampled_from([0, 15, 30, 45]),
)
SHIFT = st.builds(WeeklyShift, st.integers(min_value=0, max_value=6), CLOCK, CLOCK)
# Windows around both 2026 DST changes of Europe and the US, on quarter hours in UTC.
WINDOW_START = st.sampled_from(
    [datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC)]
)


def in_shift(wall: datetime, shift: WeeklyShift) -> bool:
    """Return whether the local wall-clock time lies in the shift (by the plain reading of the shift)."""
    t = wall.time()
    if not shift.crosses_midnight:
        return wall.weekday() == shift.weekday and shift.start <= t < shift.end
    return (wall.weekday() == shift.weekday and t >= shift.start) or (
        wall.weekday() == (shift.weekday + 1) % 7 and t < shift.end
    )


@settings(max_examples=40, deadline=None)
@given(
    shifts=st.lists(SHIFT, min_size=1, max_size=4),
    zone=st.sampled_from(ZONES),
    base=WINDOW_START,
    offset_q=st.integers(min_value=0, max_value=96),
    length_q=st.integers(min_value=1, max_value=96 * 12),
    holiday_days=st.lists(st.integers(min_value=0, max_value=14), max_size=3),
)
def test_intervals_match_minute_by_minute_reading(  # noqa: PLR0917 - one argument per hypothesis strategy
    shifts: list[WeeklyShift], zone: str, base: datetime, offset_q: int, length_q: int, holiday_days: list[int]
) -> None:
    tz = ZoneInfo(zone)
    start = base + offset_q * QUARTER
    end = start + length_q * QUARTER
    holidays = {base.date() + timedelta(days=d) for d in holiday_days}
    intervals = working_intervals(shifts, holidays, zone, start, end)

    # Brute force: each UTC quarter hour is working time if its local wall time is in a shift and
    # its local date is no holiday (quarter hours align in these zones, whose offsets are whole hours).
    expected = 0
    slot = start
    while slot < end:
        wall = (slot + QUARTER / 2).astimezone(tz).replace(tzinfo=None)
        if wall.date() not in holidays and any(in_shift(wall, s) for s in shifts):
            expected += 1
        slot += QUARTER
    assert working_hours(intervals) == pytest.approx(expected / 4)

    for previous, current in pairwise(intervals):
        assert previous.end < current.start
    for interval in intervals:
        assert start <= interval.start < interval.end <= end
        assert interval.start.tzinfo == tz
        local_start = interval.start.astimezone(tz)
        local_last = (interval.end - timedelta(microseconds=1)).astimezone(tz)
        day = local_start.date()
        while day <= local_last.date():
            assert day not in holidays
            day += timedelta(days=1)
        mid = interval.start.astimezone(UTC) + interval.duration / 2
        assert any(in_shift(mid.astimezone(tz).replace(tzinfo=None), s) for s in shifts)


def _night(zone: str, day: date) -> float:
    night = WeeklyShift(day.weekday(), time(22), time(6))
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(12), tzinfo=tz)
    return working_hours(working_intervals([night], set(), zone, start, start + timedelta(days=1)))


def test_night_shift_hours_across_dst() -> None:
    assert _night("Europe/Berlin", date(2026, 3, 28)) == 7
    assert _night("Europe/Berlin", date(2026, 10, 24)) == 9
    assert _night("Europe/Berlin", date(2026, 6, 1)) == 8
    assert _night("America/New_York", date(2026, 3, 7)) == 7


def test_shift_starting_in_the_skipped_hour_starts_when_the_clock_jumps() -> None:
    shift = WeeklyShift(6, time(2, 30), time(6))  # Sunday 29 March 2026, Berlin skips 02:00-03:00
    tz = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, tzinfo=tz)
    [interval] = working_intervals([shift], set(), tz, start, start + timedelta(days=1))
    assert interval.start.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert interval.duration == timedelta(hours=3)


def test_holiday_cuts_a_night_shift_at_midnight() -> None:
    shift = WeeklyShift(3, time(22), time(6))  # Thursday night into Friday 1 May (a holiday)
    tz = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 4, 30, tzinfo=tz)
    [interval] = working_intervals([shift], {date(2026, 5, 1)}, tz, start, start + timedelta(days=2))
    assert interval.start == datetime(2026, 4, 30, 22, tzinfo=tz)
    assert interval.end == datetime(2026, 5, 1, 0, tzinfo=tz)


def test_naive_window_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        working_intervals([], set(), "UTC", datetime(2026, 1, 1), datetime(2026, 1, 2))  # noqa: DTZ001 - on purpose
