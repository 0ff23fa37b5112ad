"""Chunk arithmetic: which time chunk a point or a rollup bucket falls in, and what it is called.

Raw points are kept in one chunk per tenant and UTC day, 1-minute rollups in one per tenant and
month, 1-hour rollups in one per tenant and year. Retention drops whole chunks, so a tenant's
horizon is honoured to the chunk: a chunk goes once all of it is older than the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from hexmill.telemetry.points import from_micros, to_micros

MINUTE_US: Final = 60_000_000
HOUR_US: Final = 3_600_000_000
DAY_US: Final = 86_400_000_000


class Level(StrEnum):
    """A storage level: raw points or one of the stored rollups."""

    RAW = "raw"
    MINUTE = "1m"
    HOUR = "1h"

    @property
    def prefix(self) -> str:
        """Return the table-name prefix of this level's chunks."""
        return {Level.RAW: "raw", Level.MINUTE: "m1", Level.HOUR: "h1"}[self]

    @property
    def bucket_us(self) -> int:
        """Return the bucket width of a rollup level (1 for raw)."""
        return {Level.RAW: 1, Level.MINUTE: MINUTE_US, Level.HOUR: HOUR_US}[self]


@dataclass(frozen=True, slots=True, order=True)
class Chunk:
    """One chunk: a tenant's slice of one level over ``[start_us, end_us)``."""

    tenant_id: int
    level: Level
    start_us: int
    end_us: int

    @property
    def name(self) -> str:
        """Return the chunk's table name, e.g. ``raw_7_20261122``."""
        start = from_micros(self.start_us)
        stamp = {Level.RAW: "%Y%m%d", Level.MINUTE: "%Y%m", Level.HOUR: "%Y"}[self.level]
        return f"{self.level.prefix}_{self.tenant_id}_{start.strftime(stamp)}"


def chunk_of(tenant_id: int, level: Level, ts_us: int) -> Chunk:
    """Return the chunk holding timestamp ``ts_us`` at ``level``."""
    if level is Level.RAW:
        start = ts_us - ts_us % DAY_US
        return Chunk(tenant_id, level, start, start + DAY_US)
    moment = from_micros(ts_us)
    if level is Level.MINUTE:
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        after = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    else:
        first = datetime(moment.year, 1, 1, tzinfo=UTC)
        after = datetime(moment.year + 1, 1, 1, tzinfo=UTC)
    return Chunk(tenant_id, level, to_micros(first), to_micros(after))


def chunks_between(tenant_id: int, level: Level, start_us: int, end_us: int) -> list[Chunk]:
    """Return every chunk of ``level`` overlapping ``[start_us, end_us)``, in time order."""
    found: list[Chunk] = []
    ts = start_us
    while ts < end_us:
        chunk = chunk_of(tenant_id, level, ts)
        found.append(chunk)
        ts = chunk.end_us
    return found


def bucket_start(ts_us: int, width_us: int) -> int:
    """Return the start of the bucket of width ``width_us`` holding ``ts_us`` (floor, also before 1970)."""
    return ts_us - ts_us % width_us
