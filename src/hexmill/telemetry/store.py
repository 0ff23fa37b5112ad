"""The telemetry store: raw points, stored rollups and latest values, on SQLite or PostgreSQL.

The store is the hot path, so it does not use the ORM: rows go in as tuples and come out as
plain dataclasses. Every method takes the tenant explicitly (STYLE rule 4); callers resolve
series ids through the tenant-scoped asset service first. A series is an equipment tag, so a
series id is the tag's id (ADR 0006).

Writes are idempotent on (series, timestamp): a point sent twice is stored once, the later copy
winning. Each write marks the 1-minute buckets it touched as dirty, in the same transaction;
``refresh_rollups`` recomputes dirty minutes from raw points and dirty hours from minutes, so
rollups stay exact for late and corrected data, and a crash between the two steps only delays
the refresh. Retention drops whole chunks (``chunks.py``), never single rows.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final, NamedTuple

from hexmill.telemetry.chunks import HOUR_US, MINUTE_US, Chunk, Level, bucket_start, chunk_of

#: One point as the store takes it: (series, ts_us, number, text, quality code).
PointRow = tuple[int, int, float | None, str | None, int]

REFRESH_BATCH: Final = 50_000


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """One stored raw point (or latest value) of a series."""

    series: int
    ts_us: int
    value: float | None
    text: str | None
    quality: int


class RollupRow(NamedTuple):
    """One stored rollup bucket of a series: aggregates of its numeric points.

    A named tuple rather than a frozen dataclass: a 30-day query of 100 series reads tens of
    thousands of these, and a tuple is built from a database row several times faster.
    """

    series: int
    bucket_us: int
    count: int  # type: ignore[assignment]  # the field shadows tuple.count, which nothing here calls
    min: float | None
    max: float | None
    sum: float | None
    first_ts: int | None
    first: float | None
    last_ts: int | None
    last: float | None


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """A chunk that exists in the store, with its row count when asked for."""

    name: str
    tenant_id: int
    level: Level
    start_us: int
    end_us: int


_NAMED = re.compile(r":([a-z_]+)")


class TelemetryStore(ABC):
    """What both backends offer; SQL shared between them lives here."""

    #: Columns of the conflict target of raw chunks and rollups (PostgreSQL adds the tenant).
    raw_key: str = "series, ts"
    rollup_key: str = "series, bucket"

    # -- backend hooks ------------------------------------------------------------------------

    @abstractmethod
    def _tx(self, tenant: int | str = "*") -> AbstractContextManager[Any]:
        """Open a write transaction for ``tenant`` (``*``: maintenance over all) and return a cursor."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """Return a cursor for reads."""

    @abstractmethod
    def _ensure_chunks(self, cur: Any, chunks: Iterable[Chunk]) -> None:
        """Create the chunk tables (or partitions) that do not exist yet."""

    @abstractmethod
    def _insert_raw(self, cur: Any, chunk: Chunk, rows: Sequence[PointRow]) -> None:
        """Upsert ``rows`` (all inside ``chunk``) into the raw level."""

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

    # -- writes -------------------------------------------------------------------------------

    def write(self, tenant_id: int, rows: Sequence[PointRow]) -> int:
        """Store ``rows`` durably and idempotently; return how many rows were written.

        When this returns, the points are committed: callers acknowledge only afterwards.
        """
        if not rows:
            return 0
        series_col = list(map(itemgetter(0), rows))
        ts_col = list(map(itemgetter(1), rows))
        by_chunk = _split_by_chunk(tenant_id, rows, ts_col)
        dirty = set(zip(series_col, [ts - ts % MINUTE_US for ts in ts_col], strict=True))
        # A stable sort by time keeps copies of one instant in batch order, so the last row per
        # series in ``ordered`` is its newest point and, among copies of that instant, the last.
        ordered = sorted(rows, key=itemgetter(1))
        latest = dict(zip(map(itemgetter(0), ordered), ordered, strict=True))
        with self._tx(tenant_id) as cur:
            self._ensure_chunks(cur, by_chunk)
            for chunk, chunk_rows in by_chunk.items():
                self._insert_raw(cur, chunk, chunk_rows)
            self._executemany(
                cur,
                "INSERT INTO tlm_dirty (tenant_id, level, series, bucket) VALUES (:t, '1m', :s, :b) "
                "ON CONFLICT DO NOTHING",
                [{"t": tenant_id, "s": s, "b": b} for s, b in sorted(dirty)],
            )
            self._executemany(
                cur,
                "INSERT INTO tlm_latest (tenant_id, series, ts, value, text, quality) "
                "VALUES (:t, :s, :ts, :v, :x, :q) ON CONFLICT (series) DO UPDATE SET "
                "ts = excluded.ts, value = excluded.value, text = excluded.text, quality = excluded.quality "
                "WHERE excluded.ts >= tlm_latest.ts",
                [{"t": tenant_id, "s": r[0], "ts": r[1], "v": r[2], "x": r[3], "q": r[4]} for r in latest.values()],
            )
        return len(rows)

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

    # -- rollups ------------------------------------------------------------------------------

    def refresh_rollups(self, limit: int = REFRESH_BATCH) -> int:
        """Recompute dirty buckets (minutes from raw, then hours from minutes); return buckets done."""
        done = 0
        for level, source, target in ((Level.MINUTE, Level.RAW, Level.MINUTE), (Level.HOUR, Level.MINUTE, Level.HOUR)):
            while True:
                with self._tx() as cur:
                    cur.execute(
                        self._sql(
                            "SELECT tenant_id, series, bucket FROM tlm_dirty WHERE level = :l "
                            "ORDER BY tenant_id, series, bucket LIMIT :n"
                        ),
                        {"l": level.value, "n": limit},
                    )
                    batch = [(int(t), int(s), int(b)) for t, s, b in cur.fetchall()]
                    if not batch:
                        break
                    self._recompute(cur, batch, source, target)
                    self._executemany(
                        cur,
                        "DELETE FROM tlm_dirty WHERE tenant_id = :t AND level = :l AND series = :s AND bucket = :b",
                        [{"t": t, "l": level.value, "s": s, "b": b} for t, s, b in batch],
                    )
                    if level is Level.MINUTE:
                        hours = {(t, s, bucket_start(b, HOUR_US)) for t, s, b in batch}
                        self._executemany(
                            cur,
                            "INSERT INTO tlm_dirty (tenant_id, level, series, bucket) VALUES (:t, '1h', :s, :b) "
                            "ON CONFLICT DO NOTHING",
                            [{"t": t, "s": s, "b": b} for t, s, b in hours],
                        )
                done += len(batch)
                if len(batch) < limit:
                    break
        return done

    def _recompute(self, cur: Any, batch: Sequence[tuple[int, int, int]], source: Level, target: Level) -> None:
        groups: dict[tuple[Chunk, Chunk], list[tuple[int, int]]] = defaultdict(list)
        for tenant_id, series, bucket in batch:
            groups[(chunk_of(tenant_id, source, bucket), chunk_of(tenant_id, target, bucket))].append((series, bucket))
        self._ensure_chunks(cur, {target_chunk for _, target_chunk in groups})
        width = target.bucket_us
        for (source_chunk, target_chunk), keys in groups.items():
            src = self._table(source_chunk)
            dst = self._table(target_chunk)
            tenant = source_chunk.tenant_id
            self._load_touched(cur, keys)
            if source is Level.RAW:
                aggregate = (
                    f"SELECT :t, k.series, k.bucket, count(r.value), min(r.value), max(r.value), sum(r.value), "
                    "min(CASE WHEN r.value IS NOT NULL THEN r.ts END), "
                    "max(CASE WHEN r.value IS NOT NULL THEN r.ts END) "
                    f"FROM tlm_touched k JOIN {src} r ON r.tenant_id = :t AND r.series = k.series "
                    f"AND r.ts >= k.bucket AND r.ts < k.bucket + :w GROUP BY k.series, k.bucket"
                )
                where = f"FROM {src} r WHERE r.tenant_id = :t AND r.series = d.series"
                first = f"(SELECT r.value {where} AND r.ts = d.first_ts)"
                last = f"(SELECT r.value {where} AND r.ts = d.last_ts)"
            else:
                aggregate = (
                    f"SELECT :t, k.series, k.bucket, sum(r.count), min(r.min), max(r.max), sum(r.sum), "
                    f"min(r.first_ts), max(r.last_ts) "
                    f"FROM tlm_touched k JOIN {src} r ON r.tenant_id = :t AND r.series = k.series "
                    f"AND r.bucket >= k.bucket AND r.bucket < k.bucket + :w GROUP BY k.series, k.bucket"
                )
                first = (
                    f"(SELECT r.first FROM {src} r WHERE r.tenant_id = :t AND r.series = d.series "
                    f"AND r.bucket >= d.bucket AND r.bucket < d.bucket + :w AND r.first_ts = d.first_ts)"
                )
                last = (
                    f"(SELECT r.last FROM {src} r WHERE r.tenant_id = :t AND r.series = d.series "
                    f"AND r.bucket >= d.bucket AND r.bucket < d.bucket + :w AND r.last_ts = d.last_ts)"
                )
            params = {"t": tenant, "w": width}
            cur.execute(
                self._sql(
                    f"INSERT INTO {dst} (tenant_id, series, bucket, count, min, max, sum, first_ts, last_ts) "
                    f"{aggregate} ON CONFLICT ({self.rollup_key}) DO UPDATE SET count = excluded.count, "
                    "min = excluded.min, max = excluded.max, sum = excluded.sum, "
                    "first_ts = excluded.first_ts, last_ts = excluded.last_ts"
                ),
                params,
            )
            cur.execute(
                self._sql(
                    f"UPDATE {dst} AS d SET first = {first}, last = {last} WHERE d.tenant_id = :t "
                    "AND (d.series, d.bucket) IN (SELECT series, bucket FROM tlm_touched)"
                ),
                params,
            )

    @abstractmethod
    def _load_touched(self, cur: Any, keys: Sequence[tuple[int, int]]) -> None:
        """Fill the session-local table ``tlm_touched(series, bucket)`` with ``keys``."""

    # -- reads --------------------------------------------------------------------------------

    def _sources(self, cur: Any, tenant_id: int, level: Level, start_us: int, end_us: int) -> list[str]:
        wanted = [
            Chunk(c.tenant_id, c.level, c.start_us, c.end_us)
            for c in self._existing_chunks(cur, tenant_id, level)
            if c.start_us < end_us and c.end_us > start_us
        ]
        return list(dict.fromkeys(self._table(c) for c in wanted))

    def raw(
        self, tenant_id: int, series: Sequence[int], start_us: int, end_us: int, *, limit: int = 100_000
    ) -> list[StoredPoint]:
        """Return raw points of ``series`` in ``[start_us, end_us)``, by series then time."""
        if not series:
            return []
        found: list[StoredPoint] = []
        with self._read() as cur:
            for table in self._sources(cur, tenant_id, Level.RAW, start_us, end_us):
                cur.execute(
                    self._sql(
                        f"SELECT series, ts, value, text, quality FROM {table} WHERE tenant_id = :t "
                        f"AND series IN ({_ints(series)}) AND ts >= :a AND ts < :b ORDER BY series, ts LIMIT :n"
                    ),
                    {"t": tenant_id, "a": start_us, "b": end_us, "n": limit - len(found)},
                )
                found.extend(StoredPoint(*row) for row in cur.fetchall())
                if len(found) >= limit:
                    break
        found.sort(key=lambda p: (p.series, p.ts_us))
        return found

    def iter_raw(
        self, tenant_id: int, series: Sequence[int], start_us: int, end_us: int, *, page: int = 50_000
    ) -> Iterator[list[StoredPoint]]:
        """Yield raw points in pages of at most ``page`` rows (for exports of any size)."""
        with self._read() as cur:
            tables = self._sources(cur, tenant_id, Level.RAW, start_us, end_us)
        for sid in sorted(set(series)):
            for table in tables:
                after = start_us - 1
                while True:
                    with self._read() as cur:
                        cur.execute(
                            self._sql(
                                f"SELECT series, ts, value, text, quality FROM {table} WHERE tenant_id = :t "
                                "AND series = :s AND ts > :a AND ts < :b ORDER BY ts LIMIT :n"
                            ),
                            {"t": tenant_id, "s": sid, "a": after, "b": end_us, "n": page},
                        )
                        rows = [StoredPoint(*row) for row in cur.fetchall()]
                    if rows:
                        yield rows
                    if len(rows) < page:
                        break
                    after = rows[-1].ts_us

    def rollups(
        self, tenant_id: int, level: Level, series: Sequence[int], start_us: int, end_us: int
    ) -> list[RollupRow]:
        """Return stored rollup rows of ``level`` whose bucket starts in ``[start_us, end_us)``."""
        if not series:
            return []
        found: list[RollupRow] = []
        with self._read() as cur:
            tables = self._sources(cur, tenant_id, level, start_us, end_us)
            for table in tables:
                cur.execute(
                    self._sql(
                        f"SELECT series, bucket, count, min, max, sum, first_ts, first, last_ts, last FROM {table} "
                        f"WHERE tenant_id = :t AND series IN ({_ints(series)}) AND bucket >= :a AND bucket < :b "
                        "ORDER BY series, bucket"
                    ),
                    {"t": tenant_id, "a": start_us, "b": end_us},
                )
                found.extend(map(RollupRow._make, cur.fetchall()))
        if len(tables) > 1:
            found.sort(key=itemgetter(0, 1))  # (series, bucket_us); each table's rows come sorted
        return found

    def latest(self, tenant_id: int, series: Sequence[int]) -> list[StoredPoint]:
        """Return the newest point of each of ``series`` that has one."""
        if not series:
            return []
        with self._read() as cur:
            cur.execute(
                self._sql(
                    "SELECT series, ts, value, text, quality FROM tlm_latest WHERE tenant_id = :t "
                    f"AND series IN ({_ints(series)}) ORDER BY series"
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
            if cutoff is not None and level is not Level.HOUR:
                # Pending refreshes of dropped buckets would recreate empty rollups of data that is
                # gone. Only those: the chunk straddling the horizon stays, with its pending buckets.
                cur.execute(
                    self._sql("DELETE FROM tlm_dirty WHERE tenant_id = :t AND level = :l AND bucket < :b"),
                    {"t": tenant_id, "l": "1m" if level is Level.RAW else "1h", "b": cutoff},
                )
        return dropped


def _split_by_chunk(tenant_id: int, rows: Sequence[PointRow], ts_col: list[int]) -> dict[Chunk, Sequence[PointRow]]:
    """Group ``rows`` by raw chunk, without copying them when they all fall in one (the usual batch)."""
    first = chunk_of(tenant_id, Level.RAW, min(ts_col))
    if max(ts_col) < first.end_us:
        return {first: rows}
    groups: dict[int, list[PointRow]] = {}
    chunks: dict[int, Chunk] = {}
    start, end, into = first.start_us, first.end_us, groups.setdefault(first.start_us, [])
    chunks[start] = first
    for row in rows:
        ts = row[1]
        if not start <= ts < end:
            chunk = chunk_of(tenant_id, Level.RAW, ts)
            start, end = chunk.start_us, chunk.end_us
            chunks.setdefault(start, chunk)
            into = groups.setdefault(start, [])
        into.append(row)
    return {chunks[key]: group for key, group in sorted(groups.items()) if group}


def _ints(values: Iterable[int]) -> str:
    """Render trusted integer ids as a SQL list (ids are ints by type, never user text)."""
    return ", ".join(str(int(v)) for v in values)
