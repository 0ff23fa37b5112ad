"""The telemetry store: raw points, stored rollups and latest values, on SQLite or PostgreSQL.

The store is the hot path, so it does not use the ORM: rows go in as tuples, raw points come
out as plain dataclasses and rollups as NumPy frames (``blocks.ROLLUP``). Every method takes
the tenant explicitly (STYLE rule 4); callers resolve series ids through the tenant-scoped asset
service first. A series is an equipment tag, so a series id is the tag's id (ADR 0006).

Both backends promise the same: writes are idempotent on (series, timestamp), a point sent
twice stored once and the later copy winning; each write marks what it touched as dirty in the
same transaction, and ``refresh_rollups`` recomputes the 1-minute and 1-hour rollups of what is
dirty, so rollups stay exact for late and corrected data and a crash between the two steps only
delays the refresh. Retention drops whole chunks (``chunks.py``), never single rows. How points
sit on disk differs: a row per point on PostgreSQL (``pg_store``), columnar blocks of many
points per row in the embedded store (``sqlite_store``, ADR 0009).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt

from hexmill.telemetry.chunks import Chunk, Level

#: One point as the store takes it: (series, ts_us, number, text, quality code).
PointRow = tuple[int, int, float | None, str | None, int]

#: Rollup buckets as a structured NumPy array of dtype ``blocks.ROLLUP``.
RollupFrame = npt.NDArray[np.void]

REFRESH_BATCH: Final = 50_000


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """One stored raw point (or latest value) of a series."""

    series: int
    ts_us: int
    value: float | None
    text: str | None
    quality: int


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """A chunk that exists in the store."""

    name: str
    tenant_id: int
    level: Level
    start_us: int
    end_us: int


class TelemetryStore(ABC):
    """What both backends offer; the SQL they share lives here."""

    #: The ``tlm_dirty`` level whose pending entries a dropped chunk of each level makes moot.
    dirty_after_drop: ClassVar[dict[Level, str]] = {Level.RAW: "1m", Level.MINUTE: "1h"}

    # -- backend hooks ------------------------------------------------------------------------

    @abstractmethod
    def _tx(self, tenant: int | str = "*") -> AbstractContextManager[Any]:
        """Open a write transaction for ``tenant`` (``*``: maintenance over all) and return a cursor."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """Return a cursor for reads."""

    @abstractmethod
    def _table(self, chunk: Chunk) -> str:
        """Return the table to address for ``chunk`` (the chunk itself, or a partitioned parent)."""

    @abstractmethod
    def _sql(self, statement: str) -> str:
        """Turn a statement with ``:name`` parameters into the driver's parameter style."""

    @abstractmethod
    def _existing_chunks(self, cur: Any, tenant_id: int, level: Level) -> list[ChunkInfo]:
        """List the chunks of a tenant and level that exist."""

    @abstractmethod
    def _drop_chunk(self, cur: Any, info: ChunkInfo) -> None:
        """Drop one chunk's table or partition."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- what each layout does its own way ----------------------------------------------------

    @abstractmethod
    def write(self, tenant_id: int, rows: Sequence[PointRow]) -> int:
        """Store ``rows`` durably and idempotently; return how many rows were written.

        When this returns, the points are committed: callers acknowledge only afterwards.
        """

    @abstractmethod
    def refresh_rollups(self, limit: int = REFRESH_BATCH) -> int:
        """Recompute the rollups of what writes marked dirty; return how many entries were done."""

    @abstractmethod
    def raw(
        self, tenant_id: int, series: Sequence[int], start_us: int, end_us: int, *, limit: int = 100_000
    ) -> list[StoredPoint]:
        """Return raw points of ``series`` in ``[start_us, end_us)``, by series then time."""

    @abstractmethod
    def iter_raw(
        self, tenant_id: int, series: Sequence[int], start_us: int, end_us: int, *, page: int = 50_000
    ) -> Iterator[list[StoredPoint]]:
        """Yield raw points by series then time, in pages of at most ``page`` (exports of any size)."""

    @abstractmethod
    def rollups(self, tenant_id: int, level: Level, series: Sequence[int], start_us: int, end_us: int) -> RollupFrame:
        """Return the stored rollup buckets of ``level`` starting in ``[start_us, end_us)``, by series then time."""

    # -- shared ---------------------------------------------------------------------------------

    def _executemany(self, cur: Any, statement: str, params: Sequence[dict[str, Any]]) -> None:
        if params:
            cur.executemany(self._sql(statement), params)

    def mark_quality(self, tenant_id: int, series: Sequence[int], quality: int) -> None:
        """Set the quality of the latest values of ``series`` (e.g. stale after a device died)."""
        if not series:
            return
        with self._tx(tenant_id) as cur:
            self._executemany(
                cur,
                "UPDATE tlm_latest SET quality = :q WHERE tenant_id = :t AND series = :s",
                [{"q": quality, "t": tenant_id, "s": s} for s in series],
            )

    # -- reads --------------------------------------------------------------------------------

    def _sources(self, cur: Any, tenant_id: int, level: Level, start_us: int, end_us: int) -> list[str]:
        wanted = [
            Chunk(c.tenant_id, c.level, c.start_us, c.end_us)
            for c in self._existing_chunks(cur, tenant_id, level)
            if c.start_us < end_us and c.end_us > start_us
        ]
        return list(dict.fromkeys(self._table(c) for c in wanted))

    def latest(self, tenant_id: int, series: Sequence[int]) -> list[StoredPoint]:
        """Return the newest point of each of ``series`` that has one."""
        if not series:
            return []
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "SELECT series, ts, value, text, quality FROM tlm_latest WHERE tenant_id = :t "
                    f"AND series IN ({ints(series)}) ORDER BY series"
                ),
                {"t": tenant_id},
            )
            return [StoredPoint(*row) for row in cur.fetchall()]

    def pending_rollups(self) -> int:
        """Return how many dirty buckets wait for ``refresh_rollups``."""
        with self._read() as cur:
            cur.execute("SELECT count(*) FROM tlm_dirty")
            return int(cur.fetchone()[0])

    # -- chunks and retention -----------------------------------------------------------------

    def chunks(self, tenant_id: int, level: Level | None = None) -> list[ChunkInfo]:
        """List a tenant's existing chunks, oldest first."""
        levels = [level] if level else list(Level)
        with self._read() as cur:
            found = [c for lv in levels for c in self._existing_chunks(cur, tenant_id, lv)]
        return sorted(found, key=lambda c: (c.level, c.start_us))

    def drop_chunks(self, tenant_id: int, level: Level, older_than_us: int) -> list[str]:
        """Drop every chunk of ``level`` lying wholly before ``older_than_us``; return their names."""
        dropped: list[str] = []
        cutoff = None
        with self._tx(tenant_id) as cur:
            for info in self._existing_chunks(cur, tenant_id, level):
                if info.end_us <= older_than_us:
                    self._drop_chunk(cur, info)
                    dropped.append(info.name)
                    cutoff = info.end_us if cutoff is None else max(cutoff, info.end_us)
            moot = self.dirty_after_drop.get(level)
            if cutoff is not None and moot is not None:
                # Pending refreshes of dropped buckets would recreate empty rollups of data that is
                # gone. Only those: the chunk straddling the horizon stays, with its pending buckets.
                cur.execute(
                    self._sql("DELETE FROM tlm_dirty WHERE tenant_id = :t AND level = :l AND bucket < :b"),
                    {"t": tenant_id, "l": moot, "b": cutoff},
                )
        return dropped


def ints(values: Iterable[int]) -> str:
    """Render trusted integer ids as a SQL list (ids are ints by type, never user text)."""
    return ", ".join(str(int(v)) for v in values)
