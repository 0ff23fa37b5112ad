"""The embedded telemetry store: a SQLite file of its own, points kept in columnar blocks.

A raw chunk (a tenant's UTC day) holds *segments*: the points one write brought to one series
and hour, packed and compressed (``blocks.py``), one row each, keyed (series, hour, seq). ``seq``
grows with every write, so reading merges a series' segments and keeps, per timestamp, the copy
written last: writes stay idempotent on (series, timestamp) without reading first, and a batch
of a hundred thousand points is a few hundred rows. Rollups are blocks too: the 1-minute buckets
of a series and hour in one row of the month's chunk, the 1-hour buckets of a series and day in
one row of the year's chunk. ``refresh_rollups`` recomputes an hour marked dirty from its raw
points (merging its segments into one when a write pattern left many) and rewrites that hour's
minute block and its entry in the day's hour block. ADR 0009 records the layout, ADR 0006 why
SQLite.

The file runs in WAL mode with ``synchronous=FULL``: a committed batch survives a power cut,
which is what lets the caller acknowledge it (DESIGN §5). One connection writes, under a lock;
each thread reads through a connection of its own. Files of the first, row-per-point layout are
converted when opened.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from math import isnan
from pathlib import Path
from typing import Any, ClassVar, Final

import numpy as np

from hexmill.telemetry import blocks
from hexmill.telemetry.blocks import BLOCK_US, DAY_BLOCK_US, ROLLUP
from hexmill.telemetry.chunks import HOUR_US, MINUTE_US, Chunk, Level, chunk_of
from hexmill.telemetry.store import (
    ChunkInfo,
    PointRow,
    RollupFrame,
    StoredPoint,
    TelemetryStore,
    ints,
)

#: The on-disk layout this code writes (``PRAGMA user_version``); 0 with chunks is the row layout.
FORMAT: Final = 2
#: A series' hour is merged into one segment at its refresh once writes have left this many.
COMPACT_AT: Final = 8
#: Dirty series hours recomputed per transaction.
REFRESH_HOURS: Final = 500
#: The ``tlm_dirty`` level of an hour block whose rollups need recomputing.
DIRTY: Final = "blk"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tlm_chunks (
    name TEXT PRIMARY KEY, tenant_id INTEGER NOT NULL, level TEXT NOT NULL,
    start_us INTEGER NOT NULL, end_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tlm_chunks_tenant ON tlm_chunks (tenant_id, level, start_us);
CREATE TABLE IF NOT EXISTS tlm_latest (
    series INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    value REAL, text TEXT, quality INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tlm_dirty (
    tenant_id INTEGER NOT NULL, level TEXT NOT NULL, series INTEGER NOT NULL, bucket INTEGER NOT NULL,
    PRIMARY KEY (level, tenant_id, series, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tlm_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO tlm_meta (key, value) VALUES ('seq', 0);
"""

# Rows of a few kilobytes: ordinary rowid tables with the key as a unique index, not WITHOUT ROWID.
_RAW = (
    "CREATE TABLE IF NOT EXISTS {name} (series INTEGER NOT NULL, block INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "tenant_id INTEGER NOT NULL, n INTEGER NOT NULL, first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, "
    "data BLOB NOT NULL, text BLOB, UNIQUE (series, block, seq))"
)
_ROLLUP = (
    "CREATE TABLE IF NOT EXISTS {name} (series INTEGER NOT NULL, block INTEGER NOT NULL, "
    "tenant_id INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE (series, block))"
)

Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str | None] | None]


class SqliteStore(TelemetryStore):
    """Telemetry in one SQLite file, chunked into tables per tenant and period."""

    dirty_after_drop: ClassVar[dict[Level, str]] = {Level.RAW: DIRTY, Level.MINUTE: DIRTY}

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writer = self._connect()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._known: set[str] = set()
        self._open()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-65536")
        return conn

    def _open(self) -> None:
        self._writer.executescript(_SCHEMA)  # idempotent; outside the transaction, which it would commit
        with self._tx() as cur:
            version = int(cur.execute("PRAGMA user_version").fetchone()[0])
            self._known = {r[0] for r in cur.execute("SELECT name FROM tlm_chunks").fetchall()}
            if version < FORMAT:
                self._upgrade_row_layout(cur)
            cur.execute(f"PRAGMA user_version = {FORMAT}")

    @contextmanager
    def _tx(self, tenant: int | str = "*") -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                self._known = {row[0] for row in self._writer.execute("SELECT name FROM tlm_chunks").fetchall()}
                raise
            cur.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            self._readers.append(conn)
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _sql(self, statement: str) -> str:
        return statement

    def _table(self, chunk: Chunk) -> str:
        return chunk.name

    def _ensure_chunks(self, cur: Any, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            if chunk.name in self._known:
                continue
            cur.execute((_RAW if chunk.level is Level.RAW else _ROLLUP).format(name=chunk.name))
            cur.execute(
                "INSERT OR IGNORE INTO tlm_chunks (name, tenant_id, level, start_us, end_us) VALUES (?, ?, ?, ?, ?)",
                (chunk.name, chunk.tenant_id, chunk.level.value, chunk.start_us, chunk.end_us),
            )
            self._known.add(chunk.name)

    def _existing_chunks(self, cur: Any, tenant_id: int, level: Level) -> list[ChunkInfo]:
        cur.execute(
            "SELECT name, tenant_id, level, start_us, end_us FROM tlm_chunks WHERE tenant_id = ? AND level = ? "
            "ORDER BY start_us",
            (tenant_id, level.value),
        )
        return [ChunkInfo(n, t, Level(lv), a, b) for n, t, lv, a, b in cur.fetchall()]

    def _drop_chunk(self, cur: Any, info: ChunkInfo) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {info.name}")
        cur.execute("DELETE FROM tlm_chunks WHERE name = ?", (info.name,))
        self._known.discard(info.name)

    # -- writes -------------------------------------------------------------------------------

    def write(self, tenant_id: int, rows: Sequence[PointRow]) -> int:
        """Store ``rows`` durably and idempotently; return how many rows were written."""
        if not rows:
            return 0
        series, ts, values, texts, quality = zip(*rows, strict=True)
        has_text = texts.count(None) != len(texts)
        return self.write_columns(
            tenant_id,
            np.array(series, dtype=np.int64),
            np.array(ts, dtype=np.int64),
            np.array(values, dtype=np.float64),  # None becomes NaN: no number
            np.array(quality, dtype=np.uint8),
            list(texts) if has_text else None,
        )

    def write_columns(  # noqa: PLR0917  (columns, as NumPy users pass them)
        self,
        tenant_id: int,
        series: np.ndarray,
        ts: np.ndarray,
        values: np.ndarray,
        quality: np.ndarray,
        texts: Sequence[str | None] | None = None,
    ) -> int:
        """Store points given as columns (NaN value: no number); the fast path for large batches."""
        n = int(series.size)
        if not n:
            return 0
        keep = blocks.last_per_key(series, ts)
        cols: Columns = (
            series[keep],
            ts[keep],
            values[keep],
            quality[keep],
            [texts[i] for i in keep.tolist()] if texts is not None else None,
        )
        with self._tx(tenant_id) as cur:
            cur.execute("UPDATE tlm_meta SET value = value + 1 WHERE key = 'seq' RETURNING value")
            seq = int(cur.fetchone()[0])
            dirty = self._insert_segments(cur, tenant_id, seq, cols)
            cur.executemany(
                "INSERT OR IGNORE INTO tlm_dirty (tenant_id, level, series, bucket) "
                f"VALUES ({tenant_id}, '{DIRTY}', ?, ?)",
                dirty,
            )
            s, t, v, q, x = cols
            last = blocks.runs(s)[1:] - 1
            cur.executemany(
                "INSERT INTO tlm_latest (tenant_id, series, ts, value, text, quality) "
                f"VALUES ({tenant_id}, ?, ?, ?, ?, ?) ON CONFLICT (series) DO UPDATE SET "
                "ts = excluded.ts, value = excluded.value, text = excluded.text, quality = excluded.quality "
                "WHERE excluded.ts >= tlm_latest.ts",
                zip(
                    s[last].tolist(),
                    t[last].tolist(),
                    _numbers(v[last]),
                    [x[i] for i in last.tolist()] if x is not None else [None] * last.size,
                    q[last].tolist(),
                    strict=True,
                ),
            )
        return n

    def _insert_segments(self, cur: Any, tenant_id: int, seq: int, cols: Columns) -> list[tuple[int, int]]:
        """Insert one segment per (series, hour) of time-sorted, de-duplicated columns; return the hours."""
        series, ts, values, quality, texts = cols
        block = ts - ts % BLOCK_US
        by_chunk: dict[Chunk, list[tuple[Any, ...]]] = defaultdict(list)
        hours: list[tuple[int, int]] = []
        for a, b in pairwise(blocks.runs(series, block).tolist()):
            sid, hour, part = int(series[a]), int(block[a]), ts[a:b]
            by_chunk[chunk_of(tenant_id, Level.RAW, hour)].append(
                (
                    sid,
                    hour,
                    seq,
                    b - a,
                    int(part[0]),
                    int(part[-1]),
                    blocks.encode_segment(part, values[a:b], quality[a:b]),
                    blocks.encode_texts(texts[a:b]) if texts is not None else None,
                )
            )
            hours.append((sid, hour))
        self._ensure_chunks(cur, by_chunk)
        for chunk, segments in by_chunk.items():
            cur.executemany(
                f"INSERT INTO {chunk.name} (series, block, seq, n, first_ts, last_ts, data, text, tenant_id) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, {tenant_id})",
                segments,
            )
        return hours

    # -- rollups ------------------------------------------------------------------------------

    def refresh_rollups(self, limit: int = REFRESH_HOURS) -> int:
        """Recompute the minute and hour rollups of every dirty series hour; return hours done.

        Each transaction takes at most ``limit`` dirty hours, so the writer lock is never held
        for long and memory stays bounded (an hour of a 1 Hz series is 3,600 points).
        """
        done = 0
        while True:
            with self._tx() as cur:
                cur.execute(
                    "SELECT tenant_id, series, bucket FROM tlm_dirty WHERE level = ? "
                    "ORDER BY tenant_id, bucket, series LIMIT ?",
                    (DIRTY, limit),
                )
                batch = [(int(t), int(s), int(b)) for t, s, b in cur.fetchall()]
                if not batch:
                    break
                self._recompute(cur, batch)
                cur.executemany(
                    f"DELETE FROM tlm_dirty WHERE tenant_id = ? AND level = '{DIRTY}' AND series = ? AND bucket = ?",
                    batch,
                )
            done += len(batch)
            if len(batch) < limit:
                break
        return done

    def _recompute(self, cur: Any, batch: Sequence[tuple[int, int, int]]) -> None:
        """Recompute the rollups of dirty (tenant, series, hour) keys, all of a chunk's keys at once."""
        by_day: dict[Chunk, list[tuple[int, int]]] = defaultdict(list)
        for tenant_id, series, hour in batch:
            by_day[chunk_of(tenant_id, Level.RAW, hour)].append((series, hour))
        hours: dict[tuple[int, int, int], list[np.ndarray]] = defaultdict(list)
        for source, keys in by_day.items():
            tenant_id = source.tenant_id
            s, ts, values, _, _ = self._hours_points(cur, source, keys)
            minutes = blocks.rollup(s, ts, values, MINUTE_US)
            hourly = blocks.rollup(s, ts, values, HOUR_US)
            # Minute blocks: one per (series, hour) with numbers; none (deleted) for the others.
            block = minutes["bucket"] - minutes["bucket"] % BLOCK_US
            written = set()
            target = chunk_of(tenant_id, Level.MINUTE, source.start_us)
            if minutes.size:
                self._ensure_chunks(cur, [target])
                puts = []
                for a, b in pairwise(blocks.runs(minutes["series"], block).tolist()):
                    key = (int(minutes["series"][a]), int(block[a]))
                    written.add(key)
                    puts.append((*key, tenant_id, b - a, minutes[a:b].tobytes()))
                cur.executemany(
                    f"INSERT OR REPLACE INTO {target.name} (series, block, tenant_id, n, data) VALUES (?, ?, ?, ?, ?)",
                    puts,
                )
            gone = [key for key in keys if key not in written]
            if gone and target.name in self._known:
                cur.executemany(f"DELETE FROM {target.name} WHERE series = ? AND block = ?", gone)
            fresh = {(int(r["series"]), int(r["bucket"])): r for r in hourly}
            for series, hour in keys:
                entry = fresh.get((series, hour))
                day = hour - hour % DAY_BLOCK_US
                hours[(tenant_id, series, day)].append(
                    np.array([entry], dtype=ROLLUP) if entry is not None else _no_bucket(series, hour)
                )
        self._put_hours(cur, hours)

    def _put_hours(self, cur: Any, hours: dict[tuple[int, int, int], list[np.ndarray]]) -> None:
        """Replace the recomputed hours' entries in the day blocks of the hour rollups."""
        for (tenant_id, series, day), entries in hours.items():
            target = chunk_of(tenant_id, Level.HOUR, day)
            replaced = np.concatenate(entries)
            kept = np.empty(0, dtype=ROLLUP)
            if target.name in self._known:
                cur.execute(f"SELECT data FROM {target.name} WHERE series = ? AND block = ?", (series, day))
                row = cur.fetchone()
                if row is not None:
                    kept = np.frombuffer(row[0], dtype=ROLLUP)
                    kept = kept[~np.isin(kept["bucket"], replaced["bucket"])]
            merged = np.concatenate([kept, replaced[replaced["count"] > 0]])
            self._put_block(cur, target, series, day, merged[np.argsort(merged["bucket"], kind="stable")])

    def _put_block(self, cur: Any, chunk: Chunk, series: int, block: int, frame: np.ndarray) -> None:
        """Store one rollup block (or remove it when ``frame`` is empty)."""
        if frame.size:
            self._ensure_chunks(cur, [chunk])
            cur.execute(
                f"INSERT OR REPLACE INTO {chunk.name} (series, block, tenant_id, n, data) VALUES (?, ?, ?, ?, ?)",
                (series, block, chunk.tenant_id, int(frame.size), frame.tobytes()),
            )
        elif chunk.name in self._known:
            cur.execute(f"DELETE FROM {chunk.name} WHERE series = ? AND block = ?", (series, block))

    def _hours_points(self, cur: Any, source: Chunk, keys: Sequence[tuple[int, int]]) -> Columns:
        """Return the merged points of (series, hour) ``keys`` of one raw chunk, by series then time.

        Where writes left ``COMPACT_AT`` segments or more in an hour, they are replaced by one.
        """
        if source.name not in self._known:
            return _empty_columns()
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS tlm_touched (series INTEGER, bucket INTEGER)")
        cur.execute("DELETE FROM tlm_touched")
        cur.executemany("INSERT INTO tlm_touched (series, bucket) VALUES (?, ?)", keys)
        cur.execute(
            f"SELECT r.series, r.seq, r.n, r.first_ts, r.data, r.text, r.block FROM tlm_touched k "
            f"JOIN {source.name} r ON r.series = k.series AND r.block = k.bucket ORDER BY r.series, r.block, r.first_ts"
        )
        segments = cur.fetchall()
        points = _merge([seg[:6] for seg in segments])
        counts: dict[tuple[int, int], int] = defaultdict(int)
        top: dict[tuple[int, int], int] = {}
        for seg in segments:
            key = (seg[0], seg[6])
            counts[key] += 1
            top[key] = max(top.get(key, seg[1]), seg[1])
        crowded = {key for key, count in counts.items() if count >= COMPACT_AT}
        if crowded:
            self._compact(cur, source, points, crowded, top)
        return points

    def _compact(
        self, cur: Any, source: Chunk, points: Columns, crowded: set[tuple[int, int]], top: dict[tuple[int, int], int]
    ) -> None:
        """Replace the segments of each crowded (series, hour) by one holding its merged points."""
        s, ts, values, quality, texts = points
        hour = ts - ts % BLOCK_US
        merged = []
        for a, b in pairwise(blocks.runs(s, hour).tolist()):
            key = (int(s[a]), int(hour[a]))
            if key in crowded:
                part = ts[a:b]
                merged.append(
                    (
                        *key,
                        top[key],
                        b - a,
                        int(part[0]),
                        int(part[-1]),
                        blocks.encode_segment(part, values[a:b], quality[a:b]),
                        blocks.encode_texts(texts[a:b]) if texts is not None else None,
                    )
                )
        cur.executemany(f"DELETE FROM {source.name} WHERE series = ? AND block = ?", sorted(crowded))
        cur.executemany(
            f"INSERT INTO {source.name} (series, block, seq, n, first_ts, last_ts, data, text, tenant_id) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, {source.tenant_id})",
            merged,
        )

    # -- reads --------------------------------------------------------------------------------

    def _segments(self, cur: Any, tenant_id: int, series: Sequence[int], start_us: int, end_us: int) -> Columns:
        found: list[tuple[Any, ...]] = []
        for table in self._sources(cur, tenant_id, Level.RAW, start_us, end_us):
            cur.execute(
                f"SELECT series, seq, n, first_ts, data, text FROM {table} WHERE series IN ({ints(series)}) "
                "AND block >= ? AND block < ? AND last_ts >= ? AND first_ts < ? ORDER BY series, block, first_ts",
                (start_us - start_us % BLOCK_US, end_us, start_us, end_us),
            )
            found.extend(cur.fetchall())
        s, ts, values, quality, texts = _merge(found)
        inside = (ts >= start_us) & (ts < end_us)
        if inside.all():
            return s, ts, values, quality, texts
        picked = np.flatnonzero(inside)
        return (
            s[picked],
            ts[picked],
            values[picked],
            quality[picked],
            [texts[i] for i in picked.tolist()] if texts is not None else None,
        )

    def raw(
        self, tenant_id: int, series: Sequence[int], start_us: int, end_us: int, *, limit: int = 100_000
    ) -> list[StoredPoint]:
        """Return raw points of ``series`` in ``[start_us, end_us)``, by series then time."""
        if not series:
            return []
        with self._read() as cur:
            points = self._segments(cur, tenant_id, series, start_us, end_us)
        return _stored(points, limit)

    def iter_raw(
        self, tenant_id: int, series: Sequence[int], start_us: int, end_us: int, *, page: int = 50_000
    ) -> Iterator[list[StoredPoint]]:
        """Yield raw points by series then time, a day of one series at a time, in pages of at most ``page``."""
        with self._read() as cur:
            days = [(c.start_us, c.end_us) for c in self._existing_chunks(cur, tenant_id, Level.RAW)]
        for sid in sorted(set(series)):
            for a, b in days:
                if b <= start_us or a >= end_us:
                    continue
                with self._read() as cur:
                    points = _stored(self._segments(cur, tenant_id, [sid], max(a, start_us), min(b, end_us)))
                for i in range(0, len(points), page):
                    yield points[i : i + page]

    def rollups(self, tenant_id: int, level: Level, series: Sequence[int], start_us: int, end_us: int) -> RollupFrame:
        """Return the stored rollup buckets of ``level`` starting in ``[start_us, end_us)``, by series then time."""
        if not series or level is Level.RAW:
            return np.empty(0, dtype=ROLLUP)
        width = BLOCK_US if level is Level.MINUTE else DAY_BLOCK_US
        parts: list[bytes] = []
        with self._read() as cur:
            tables = self._sources(cur, tenant_id, level, start_us, end_us)
            for table in tables:
                cur.execute(
                    f"SELECT data FROM {table} WHERE series IN ({ints(series)}) AND block >= ? AND block < ? "
                    "ORDER BY series, block",
                    (start_us - start_us % width, end_us),
                )
                parts.extend(data for (data,) in cur.fetchall())
        # One buffer, one array: joining bytes is far cheaper than concatenating structured arrays.
        frame = np.frombuffer(b"".join(parts), dtype=ROLLUP)
        if start_us % width or end_us % width:
            frame = frame[(frame["bucket"] >= start_us) & (frame["bucket"] < end_us)]
        if len(tables) > 1:
            frame = frame[np.lexsort((frame["bucket"], frame["series"]))]
        return frame

    def _upgrade_row_layout(self, cur: sqlite3.Cursor) -> None:
        """Convert a file of the first layout (a row per point or bucket) to blocks, in the open transaction."""
        cur.execute("SELECT name, tenant_id, level, start_us, end_us FROM tlm_chunks")
        old = [ChunkInfo(n, t, Level(lv), a, b) for n, t, lv, a, b in cur.fetchall()]
        for info in old:
            cur.execute(f"ALTER TABLE {info.name} RENAME TO {info.name}_v1")
        cur.execute("DELETE FROM tlm_chunks")
        self._known.clear()
        for info in old:
            legacy = f"{info.name}_v1"
            if info.level is Level.RAW:
                cur.execute(f"SELECT series, ts, value, text, quality FROM {legacy} ORDER BY series, ts")
                rows = cur.fetchall()
                if rows:
                    series, ts, values, texts, quality = zip(*rows, strict=True)
                    cur.execute("UPDATE tlm_meta SET value = value + 1 WHERE key = 'seq' RETURNING value")
                    seq = int(cur.fetchone()[0])
                    self._insert_segments(
                        cur,
                        info.tenant_id,
                        seq,
                        (
                            np.array(series, dtype=np.int64),
                            np.array(ts, dtype=np.int64),
                            np.array(values, dtype=np.float64),
                            np.array(quality, dtype=np.uint8),
                            list(texts) if texts.count(None) != len(texts) else None,
                        ),
                    )
            else:
                cur.execute(
                    f"SELECT series, bucket, count, min, max, sum, first_ts, first, last_ts, last FROM {legacy} "
                    "ORDER BY series, bucket"
                )
                frame = blocks.frame_of_rows(cur.fetchall())
                width = BLOCK_US if info.level is Level.MINUTE else DAY_BLOCK_US
                block = frame["bucket"] - frame["bucket"] % width
                chunk = Chunk(info.tenant_id, info.level, info.start_us, info.end_us)
                for a, b in pairwise(blocks.runs(frame["series"], block).tolist()):
                    self._put_block(cur, chunk, int(frame["series"][a]), int(block[a]), frame[a:b])
            cur.execute(f"DROP TABLE {legacy}")
        # Pending refreshes of the row layout were per minute ('1m') and per hour ('1h'): both become
        # the hour they lie in, which the block layout recomputes from raw points.
        cur.execute(
            f"INSERT OR IGNORE INTO tlm_dirty (tenant_id, level, series, bucket) SELECT tenant_id, '{DIRTY}', series, "
            f"bucket - (bucket % {HOUR_US}) FROM tlm_dirty WHERE level IN ('1m', '1h')"
        )
        cur.execute("DELETE FROM tlm_dirty WHERE level IN ('1m', '1h')")

    # -- upkeep -------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """Run SQLite's integrity check and return its verdict (``ok`` when sound)."""
        with self._read() as cur:
            cur.execute("PRAGMA integrity_check")
            return str(cur.fetchone()[0])

    def size_bytes(self) -> int:
        """Return the bytes the store occupies on disk (database and write-ahead log)."""
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def close(self) -> None:
        """Close every connection of this store."""
        for conn in self._readers:
            conn.close()
        self._readers.clear()
        self._writer.close()


def _no_bucket(series: int, hour: int) -> np.ndarray:
    """An hour-rollup entry saying "this hour has no numbers any more" (count 0, dropped on merge)."""
    entry = np.zeros(1, dtype=ROLLUP)
    entry["series"], entry["bucket"] = series, hour
    return entry


def _empty_columns() -> Columns:
    none = np.empty(0, dtype=np.int64)
    return none, none, np.empty(0, dtype=np.float64), np.empty(0, dtype=np.uint8), None


def _merge(segments: Sequence[tuple[Any, ...]]) -> Columns:
    """Decode segments ``(series, seq, n, first_ts, data, text)`` into points by series then time.

    Where segments overlap, the copy from the highest ``seq`` (the later write) is kept.
    """
    if not segments:
        return _empty_columns()
    s_parts, q_parts, t_parts, v_parts, k_parts = [], [], [], [], []
    texts: list[str | None] | None = None
    if any(seg[5] is not None for seg in segments):
        texts = []
    for series, seq, n, first_ts, data, text in segments:
        ts, values, quality = blocks.decode_segment(data, n, first_ts)
        s_parts.append(np.full(n, series, dtype=np.int64))
        q_parts.append(np.full(n, seq, dtype=np.int64))
        t_parts.append(ts)
        v_parts.append(values)
        k_parts.append(quality)
        if texts is not None:
            texts.extend(blocks.decode_texts(text, n))
    s, seqs, ts = np.concatenate(s_parts), np.concatenate(q_parts), np.concatenate(t_parts)
    values, quality = np.concatenate(v_parts), np.concatenate(k_parts)
    if len(segments) == 1 or _strictly_ordered(s, ts):
        return s, ts, values, quality, texts  # the usual case: segments that follow one another
    keep = blocks.last_per_key(s, ts, tiebreak=seqs)
    return s[keep], ts[keep], values[keep], quality[keep], [texts[i] for i in keep.tolist()] if texts else None


def _strictly_ordered(series: np.ndarray, ts: np.ndarray) -> bool:
    """Tell whether points are already by series then time with no timestamp twice."""
    ds, dt = np.diff(series), np.diff(ts)
    return bool(np.all((ds > 0) | ((ds == 0) & (dt > 0))))


def _numbers(values: np.ndarray) -> list[float | None]:
    return [None if isnan(v) else v for v in values.tolist()]


def _stored(points: Columns, limit: int | None = None) -> list[StoredPoint]:
    s, ts, values, quality, texts = points
    if limit is not None and s.size > limit:
        s, ts, values, quality = s[:limit], ts[:limit], values[:limit], quality[:limit]
        texts = texts[:limit] if texts is not None else None
    return list(
        map(
            StoredPoint,
            s.tolist(),
            ts.tolist(),
            _numbers(values),
            texts if texts is not None else [None] * s.size,
            quality.tolist(),
        )
    )
