"""Bucketed aggregates: which stored level answers a query best, and folding rows into buckets.

Pure functions over the store's rows: a query for buckets of width W reads the coarsest stored
level whose width divides W (1 h, else 1 min, else raw points) and folds its rows into W-wide
buckets. Folding is exact for min, max, count, sum and so avg, and for first and last, because
each stored row carries the timestamps of its first and last values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hexmill.telemetry.chunks import HOUR_US, MINUTE_US, Level
from hexmill.telemetry.store import RollupRow, StoredPoint


@dataclass(slots=True)
class Bucket:
    """The aggregates of one series over one bucket of the query."""

    series: int
    start_us: int
    count: int = 0
    min: float | None = None
    max: float | None = None
    sum: float = 0.0
    first_ts: int | None = None
    first: float | None = None
    last_ts: int | None = None
    last: float | None = None

    @property
    def avg(self) -> float | None:
        """Return the mean of the bucket's numeric values, or None when it has none."""
        return self.sum / self.count if self.count else None

    def add(self, row: RollupRow) -> None:
        """Fold one stored rollup row into this bucket."""
        if not row.count:
            return
        self.count += row.count
        self.sum += row.sum or 0.0
        self.min = row.min if self.min is None or (row.min is not None and row.min < self.min) else self.min
        self.max = row.max if self.max is None or (row.max is not None and row.max > self.max) else self.max
        if row.first_ts is not None and (self.first_ts is None or row.first_ts < self.first_ts):
            self.first_ts, self.first = row.first_ts, row.first
        if row.last_ts is not None and (self.last_ts is None or row.last_ts >= self.last_ts):
            self.last_ts, self.last = row.last_ts, row.last


def pick_level(width_us: int) -> Level:
    """Return the coarsest stored level whose bucket width divides ``width_us``."""
    if width_us % HOUR_US == 0:
        return Level.HOUR
    if width_us % MINUTE_US == 0:
        return Level.MINUTE
    return Level.RAW


def points_as_rows(points: Iterable[StoredPoint]) -> list[RollupRow]:
    """Present raw numeric points as one-point rollup rows, so one folding serves every level."""
    return [
        RollupRow(p.series, p.ts_us, 1, p.value, p.value, p.value, p.ts_us, p.value, p.ts_us, p.value)
        for p in points
        if p.value is not None
    ]


def fold(rows: Iterable[RollupRow], width_us: int) -> list[Bucket]:
    """Fold rows (sorted or not) into buckets of ``width_us``, ordered by series then time.

    Rows without numeric values (a minute of text points only) make no bucket, so a width read
    from rollups gives the same buckets as the same width read from raw points.
    """
    buckets: dict[tuple[int, int], Bucket] = {}
    for row in rows:
        if not row.count:
            continue
        start = row.bucket_us - row.bucket_us % width_us
        bucket = buckets.get((row.series, start))
        if bucket is None:
            # The first row of a bucket is the bucket (what ``add`` would make of it, only faster:
            # when the query's width is the stored level's, every row is a bucket of its own).
            buckets[(row.series, start)] = Bucket(
                row.series, start, row.count, row.min, row.max, row.sum or 0.0, row.first_ts, row.first,
                row.last_ts, row.last,
            )  # fmt: skip
        else:
            bucket.add(row)
    return [buckets[key] for key in sorted(buckets)]
