"""Bucketed aggregates: which stored level answers a query best, and folding rollups into buckets.

A query for buckets of width W reads the coarsest stored level whose width divides W (1 h, else
1 min, else raw points) and folds its rollup frame into W-wide buckets (``blocks.fold``, exact
for min, max, count, sum and so avg, and for first and last). Buckets come out as a frame; the
API turns them into ``Bucket`` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from hexmill.telemetry.blocks import ROLLUP
from hexmill.telemetry.chunks import HOUR_US, MINUTE_US, Level
from hexmill.telemetry.store import RollupFrame, StoredPoint


@dataclass(slots=True)
class Bucket:
    """The aggregates of one series over one bucket of the query."""

    series: int
    start_us: int
    count: int
    min: float
    max: float
    sum: float
    first_ts: int
    first: float
    last_ts: int
    last: float

    @property
    def avg(self) -> float:
        """Return the mean of the bucket's numeric values."""
        return self.sum / self.count


def pick_level(width_us: int) -> Level:
    """Return the coarsest stored level whose bucket width divides ``width_us``."""
    if width_us % HOUR_US == 0:
        return Level.HOUR
    if width_us % MINUTE_US == 0:
        return Level.MINUTE
    return Level.RAW


def points_as_frame(points: Iterable[StoredPoint]) -> RollupFrame:
    """Present raw numeric points as one-point buckets, so one folding serves every level."""
    rows = [
        (p.series, p.ts_us, 1, p.value, p.value, p.value, p.ts_us, p.value, p.ts_us, p.value)
        for p in points
        if p.value is not None
    ]
    return np.array(rows, dtype=ROLLUP) if rows else np.empty(0, dtype=ROLLUP)


def as_buckets(frame: RollupFrame) -> list[Bucket]:
    """Turn a frame of folded buckets into values (for the API and the console)."""
    return [Bucket(*row) for row in frame.tolist()]
