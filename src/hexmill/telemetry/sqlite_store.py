"""The embedded telemetry store: a SQLite file of its own beside the application database.

Each chunk is a ``WITHOUT ROWID`` table clustered on (series, ts), so a range read of one
series is one B-tree walk and an upsert of in-order points appends. The file runs in WAL mode
with ``synchronous=FULL``: a committed batch survives a power cut, which is what lets the
caller acknowledge it (DESIGN §5). One connection writes, under a lock; each thread reads
through a connection of its own. ADR 0006 records why SQLite and not DuckDB.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hexmill.telemetry.chunks import Chunk, Level
from hexmill.telemetry.store import ChunkInfo, PointRow, TelemetryStore

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
"""

_RAW = (
    "CREATE TABLE IF NOT EXISTS {name} (series INTEGER NOT NULL, ts INTEGER NOT NULL, tenant_id INTEGER NOT NULL, "
    "value REAL, text TEXT, quality INTEGER NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID"
)
_ROLLUP = (
    "CREATE TABLE IF NOT EXISTS {name} (series INTEGER NOT NULL, bucket INTEGER NOT NULL, tenant_id INTEGER NOT NULL, "
    "count INTEGER NOT NULL, min REAL, max REAL, sum REAL, first_ts INTEGER, first REAL, last_ts INTEGER, last REAL, "
    "PRIMARY KEY (series, bucket)) WITHOUT ROWID"
)


class SqliteStore(TelemetryStore):
    """Telemetry in one SQLite file, chunked into tables per tenant and period."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._known: set[str] = {row[0] for row in self._writer.execute("SELECT name FROM tlm_chunks").fetchall()}
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-65536")
        return conn

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

    def _insert_raw(self, cur: Any, chunk: Chunk, rows: Sequence[PointRow]) -> None:
        tenant = chunk.tenant_id
        cur.executemany(
            f"INSERT INTO {chunk.name} (series, ts, value, text, quality, tenant_id) VALUES (?, ?, ?, ?, ?, {tenant}) "
            "ON CONFLICT (series, ts) DO UPDATE SET value = excluded.value, text = excluded.text, "
            "quality = excluded.quality",
            rows,
        )

    def _load_touched(self, cur: Any, keys: Sequence[tuple[int, int]]) -> None:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS tlm_touched (series INTEGER, bucket INTEGER)")
        cur.execute("DELETE FROM tlm_touched")
        cur.executemany("INSERT INTO tlm_touched (series, bucket) VALUES (?, ?)", keys)

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
