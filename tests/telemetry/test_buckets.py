"""Bucketed aggregates: picking the stored level and folding rows, checked against brute force."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.telemetry.blocks import ROLLUP, fold
from hexmill.telemetry.buckets import Bucket, as_buckets, pick_level, points_as_frame
from hexmill.telemetry.chunks import DAY_US, HOUR_US, MINUTE_US, Level
from hexmill.telemetry.store import StoredPoint

BASE = 1_798_761_600_000_000  # 2027-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("width", "level"),
    [
        (1_000_000, Level.RAW),
        (30_000_000, Level.RAW),
        (90_000_000, Level.RAW),
        (MINUTE_US, Level.MINUTE),
        (15 * MINUTE_US, Level.MINUTE),
        (90 * MINUTE_US, Level.MINUTE),
        (HOUR_US, Level.HOUR),
        (DAY_US, Level.HOUR),
        (7 * DAY_US, Level.HOUR),
    ],
)
def test_pick_level_takes_the_coarsest_dividing_level(width: int, level: Level) -> None:
    assert pick_level(width) is level


def _point(series: int, ts: int, value: float | None) -> StoredPoint:
    return StoredPoint(series, ts, value, None if value is not None else "text", 0)


points = st.lists(
    st.builds(
        _point,
        st.integers(1, 3),
        st.integers(BASE - 3 * HOUR_US, BASE + 3 * HOUR_US),
        st.one_of(st.none(), st.integers(-1000, 1000).map(float)),
    ),
    max_size=200,
    unique_by=lambda p: (p.series, p.ts_us),
)


def brute(pts: list[StoredPoint], width: int) -> list[Bucket]:
    """Aggregate numeric points per series and bucket the obvious way."""
    groups: dict[tuple[int, int], list[StoredPoint]] = defaultdict(list)
    for p in pts:
        if p.value is not None:
            groups[(p.series, p.ts_us - p.ts_us % width)].append(p)
    out = []
    for (series, start), members in sorted(groups.items()):
        values = [p.value for p in sorted(members, key=lambda p: p.ts_us) if p.value is not None]
        first = min(members, key=lambda p: p.ts_us)
        last = max(members, key=lambda p: p.ts_us)
        out.append(
            Bucket(
                series, start, len(values), min(values), max(values), sum(values), first.ts_us, first.value,
                last.ts_us, last.value,
            )
        )  # fmt: skip
    return out


NAN = float("nan")


def frame(*rows: tuple[object, ...]) -> np.ndarray:
    return np.array(list(rows), dtype=ROLLUP)


@given(points, st.sampled_from([1_000_000, 10_000_000, MINUTE_US, 7 * MINUTE_US, HOUR_US, 5 * HOUR_US]))
def test_folding_points_matches_brute_force(pts: list[StoredPoint], width: int) -> None:
    # Values are whole numbers, so sums are exact whatever order they are added in.
    assert as_buckets(fold(points_as_frame(pts), width)) == brute(pts, width)


@given(points, st.sampled_from([1, 2, 5, 60, 90, 180, 1440]))
def test_folding_minute_buckets_equals_folding_points(pts: list[StoredPoint], minutes: int) -> None:
    # What the store keeps per minute is a fold of the points into 1-minute buckets.
    minute_rows = fold(points_as_frame(pts), MINUTE_US)
    width = minutes * MINUTE_US
    assert fold(minute_rows, width).tolist() == fold(points_as_frame(pts), width).tolist()


def test_rows_without_numbers_make_no_bucket() -> None:
    empty = (1, BASE, 0, NAN, NAN, NAN, 0, NAN, 0, NAN)
    full = (1, BASE + MINUTE_US, 2, 1.0, 3.0, 4.0, BASE + MINUTE_US, 1.0, BASE + MINUTE_US + 5, 3.0)
    buckets = as_buckets(fold(frame(empty, full), MINUTE_US))
    assert [b.start_us for b in buckets] == [BASE + MINUTE_US]
    assert fold(frame(empty), HOUR_US).size == 0


def test_avg_is_sum_over_count() -> None:
    (bucket,) = as_buckets(fold(frame((1, BASE, 4, 1.0, 5.0, 10.0, BASE, 1.0, BASE + 3, 5.0)), MINUTE_US))
    assert bucket.avg == 2.5


def test_folding_keeps_the_first_and_last_value_of_the_wider_bucket() -> None:
    rows = frame(
        (1, BASE + MINUTE_US, 2, 1.0, 9.0, 10.0, BASE + MINUTE_US + 7, 9.0, BASE + MINUTE_US + 9, 1.0),
        (1, BASE, 1, 4.0, 4.0, 4.0, BASE + 3, 4.0, BASE + 3, 4.0),
        (1, BASE + 2 * MINUTE_US, 1, -2.0, -2.0, -2.0, BASE + 2 * MINUTE_US, -2.0, BASE + 2 * MINUTE_US, -2.0),
    )
    (bucket,) = as_buckets(fold(rows, HOUR_US))
    assert bucket == Bucket(1, BASE, 4, -2.0, 9.0, 12.0, BASE + 3, 4.0, BASE + 2 * MINUTE_US, -2.0)


def test_fold_orders_by_series_then_time() -> None:
    rows = frame(
        *(
            (s, BASE + k * MINUTE_US, 1, 1.0, 1.0, 1.0, BASE + k * MINUTE_US, 1.0, BASE + k * MINUTE_US, 1.0)
            for s, k in [(2, 1), (1, 3), (2, 0), (1, 0)]
        )
    )
    assert [(b.series, b.start_us) for b in as_buckets(fold(rows, MINUTE_US))] == [
        (1, BASE),
        (1, BASE + 3 * MINUTE_US),
        (2, BASE),
        (2, BASE + MINUTE_US),
    ]
