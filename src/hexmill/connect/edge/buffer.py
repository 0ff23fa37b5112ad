"""The edge agent's durable buffer: an SQLite file of readings that wait for the platform's acknowledgement.

Every ``append`` is one committed transaction in WAL mode with ``synchronous=FULL``: once it
returns, the readings survive a kill -9 of the agent and a power cut of the machine. Rows leave
the buffer only through ``ack`` (the platform answered 200 for exactly these rows), ``dead_letter``
(the platform refused them for good; they move to a local table with the reason) or the overflow
policy below.

Overflow policy: **drop oldest**. The buffer holds at most ``max_rows`` readings and
``max_bytes`` of estimated payload. When an append would pass either bound, the oldest rows
(lowest sequence number, whatever their device) are deleted in the same transaction, and the
persistent ``dropped`` counter grows by their number. A running factory needs its newest data
most: current state, alarms and OEE are computed from it, and an operator who restores the link
after a long outage wants to see now, not a frozen picture from days ago. Refusing the newest
instead would stop recording exactly when the outage has lasted longest. The loss is never
silent: the counter, the time of the last drop and the timestamp of the newest dropped reading
are stored, logged and shown by ``hexmill edge status`` (docs/adr/0008-edge-buffer.md).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hexmill.telemetry.points import Quality, Reading, Value

log = logging.getLogger(__name__)

#: Bytes counted per row on top of its text (sequence, timestamps, quality and SQLite overhead).
ROW_OVERHEAD: Final = 64
#: Parameters per ``IN (...)`` list, well under SQLite's limit.
_CHUNK: Final = 500

_SCHEMA: Final = (
    """
    CREATE TABLE IF NOT EXISTS readings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL,
        field TEXT NOT NULL,
        ts_us INTEGER NOT NULL,
        value TEXT NOT NULL,
        quality INTEGER NOT NULL,
        historical INTEGER NOT NULL DEFAULT 0,
        enqueued_us INTEGER NOT NULL,
        size INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        seq INTEGER NOT NULL,
        device TEXT NOT NULL,
        field TEXT NOT NULL,
        ts_us INTEGER NOT NULL,
        value TEXT NOT NULL,
        quality INTEGER NOT NULL,
        historical INTEGER NOT NULL,
        enqueued_us INTEGER NOT NULL,
        reason TEXT NOT NULL,
        failed_us INTEGER NOT NULL
    )
    """,
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS status (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_COUNTERS: Final = (
    "rows",
    "bytes",
    "appended",
    "acked",
    "dropped",
    "dropped_last_us",
    "dropped_newest_ts_us",
    "dead_lettered",
    "dead_letters_dropped",
)
_COLUMNS: Final = "seq, device, field, ts_us, value, quality, historical, enqueued_us"


def now_us() -> int:
    """Return the wall-clock time in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class BufferLimits:
    """How much the buffer may hold before the oldest readings make way (``None``: no byte bound)."""

    max_rows: int = 1_000_000
    max_bytes: int | None = 256 * 1024 * 1024
    max_dead_letters: int = 100_000

    def __post_init__(self) -> None:
        if self.max_rows < 1 or (self.max_bytes is not None and self.max_bytes < 1) or self.max_dead_letters < 1:
            raise ValueError("buffer limits must be positive")


@dataclass(frozen=True, slots=True)
class Buffered:
    """One reading waiting in the buffer: its sequence number, device and when it was buffered."""

    seq: int
    device: str
    reading: Reading
    enqueued_us: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One reading the platform refused for good, kept locally with the reason."""

    seq: int
    device: str
    reading: Reading
    reason: str
    failed_us: int


@dataclass(frozen=True, slots=True)
class BufferCounts:
    """What the buffer holds and what happened to everything that entered it."""

    rows: int
    bytes: int
    appended: int
    acked: int
    dropped: int
    dead_lettered: int
    dead_letters_dropped: int
    dropped_last_us: int | None
    dropped_newest_ts_us: int | None
    oldest_enqueued_us: int | None
    last_seq: int


def _row_size(device: str, field: str, value_json: str) -> int:
    return ROW_OVERHEAD + len(device.encode()) + len(field.encode()) + len(value_json.encode())


def _reading(row: sqlite3.Row) -> Reading:
    value: Value | None = json.loads(row["value"])
    return Reading(row["field"], row["ts_us"], value, Quality(row["quality"]), bool(row["historical"]))


def _chunks(items: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class EdgeBuffer:
    """A bounded, durable queue of readings in one SQLite file, safe to share between threads."""

    def __init__(self, path: Path, limits: BufferLimits | None = None) -> None:
        self.path = path
        self.limits = limits or BufferLimits()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{path}: SQLite refused WAL mode ({mode})")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA journal_size_limit=67108864")
        with self._write() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            db.executemany("INSERT OR IGNORE INTO counters (name, value) VALUES (?, 0)", [(n,) for n in _COUNTERS])

    def close(self) -> None:
        """Close the file (every committed row stays in it)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one immediate write transaction, committed (and synced) on success."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _counters(self, db: sqlite3.Connection) -> dict[str, int]:
        return {row["name"]: row["value"] for row in db.execute("SELECT name, value FROM counters")}

    @staticmethod
    def _add(db: sqlite3.Connection, **deltas: int) -> None:
        db.executemany("UPDATE counters SET value = value + ? WHERE name = ?", [(d, n) for n, d in deltas.items() if d])

    @staticmethod
    def _set(db: sqlite3.Connection, **values: int) -> None:
        db.executemany("UPDATE counters SET value = ? WHERE name = ?", [(v, n) for n, v in values.items()])

    # -- the queue ------------------------------------------------------------------------------

    def append(self, device: str, readings: Sequence[Reading], *, at_us: int | None = None) -> int:
        """Store readings of one device durably, making room by the overflow policy; return how many were dropped."""
        if not readings:
            return 0
        enqueued = now_us() if at_us is None else at_us
        rows = []
        for r in readings:
            value_json = json.dumps(r.value, allow_nan=False)
            rows.append(
                (
                    device,
                    r.field,
                    r.ts_us,
                    value_json,
                    int(r.quality),
                    int(r.historical),
                    enqueued,
                    _row_size(device, r.field, value_json),
                )
            )
        max_rows, max_bytes = self.limits.max_rows, self.limits.max_bytes
        # A batch larger than the whole buffer keeps only its newest part (its tail).
        dropped_ts = [row[2] for row in rows]
        while len(rows) > max_rows or (max_bytes is not None and sum(r[7] for r in rows) > max_bytes):
            rows.pop(0)
        dropped_ts = dropped_ts[: len(dropped_ts) - len(rows)]
        add_bytes = sum(r[7] for r in rows)
        with self._write() as db:
            counters = self._counters(db)
            need_rows = counters["rows"] + len(rows) - max_rows
            need_bytes = counters["bytes"] + add_bytes - max_bytes if max_bytes is not None else 0
            freed_rows, freed_bytes, cutoff = 0, 0, 0
            if need_rows > 0 or need_bytes > 0:
                for row in db.execute("SELECT seq, size, ts_us FROM readings ORDER BY seq"):
                    freed_rows += 1
                    freed_bytes += row["size"]
                    cutoff = row["seq"]
                    dropped_ts.append(row["ts_us"])
                    if freed_rows >= need_rows and freed_bytes >= need_bytes:
                        break
                db.execute("DELETE FROM readings WHERE seq <= ?", (cutoff,))
            db.executemany(
                "INSERT INTO readings (device, field, ts_us, value, quality, historical, enqueued_us, size)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            dropped = len(dropped_ts)
            self._add(
                db,
                rows=len(rows) - freed_rows,
                bytes=add_bytes - freed_bytes,
                appended=len(readings),
                dropped=dropped,
            )
            if dropped:
                newest = max(*dropped_ts, counters["dropped_newest_ts_us"])
                self._set(db, dropped_last_us=enqueued, dropped_newest_ts_us=newest)
        if dropped:
            log.warning(
                "edge buffer full: dropped the %s oldest readings (%s dropped in all)",
                dropped,
                counters["dropped"] + dropped,
            )
        return dropped

    def peek(self, limit: int, *, exclude: Collection[str] = ()) -> list[Buffered]:
        """Return up to ``limit`` waiting readings, oldest first, leaving out the ``exclude`` devices."""
        skip = sorted(exclude)
        where = f"WHERE device NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {_COLUMNS} FROM readings {where} ORDER BY seq LIMIT ?",  # noqa: S608 -- only placeholders
                (*skip, limit),
            )
            return [Buffered(row["seq"], row["device"], _reading(row), row["enqueued_us"]) for row in cursor]

    def ack(self, seqs: Collection[int]) -> int:
        """Delete exactly the readings the platform acknowledged; return how many were still there."""
        ordered = sorted(seqs)
        deleted, freed = 0, 0
        with self._write() as db:
            for chunk in _chunks(ordered):
                sizes = db.execute(
                    f"DELETE FROM readings WHERE seq IN ({', '.join('?' * len(chunk))}) RETURNING size",  # noqa: S608
                    chunk,
                ).fetchall()
                deleted += len(sizes)
                freed += sum(row[0] for row in sizes)
            self._add(db, rows=-deleted, bytes=-freed, acked=deleted)
        return deleted

    def mark_historical(self, seqs: Collection[int]) -> None:
        """Flag readings as replayed, so they are sent historical whenever they finally go."""
        with self._write() as db:
            for chunk in _chunks(sorted(seqs)):
                db.execute(
                    f"UPDATE readings SET historical = 1 WHERE seq IN ({', '.join('?' * len(chunk))})",  # noqa: S608
                    chunk,
                )

    def dead_letter(self, seqs: Collection[int], reason: str, *, at_us: int | None = None) -> int:
        """Move readings the platform refused for good to the dead-letter table; return how many moved."""
        failed = now_us() if at_us is None else at_us
        moved, freed = 0, 0
        with self._write() as db:
            for chunk in _chunks(sorted(seqs)):
                marks = ", ".join("?" * len(chunk))
                db.execute(
                    f"INSERT INTO dead_letters ({_COLUMNS}, reason, failed_us)"  # noqa: S608 -- only placeholders
                    f" SELECT {_COLUMNS}, ?, ? FROM readings WHERE seq IN ({marks})",
                    (reason[:2000], failed, *chunk),
                )
                sizes = db.execute(f"DELETE FROM readings WHERE seq IN ({marks}) RETURNING size", chunk).fetchall()  # noqa: S608
                moved += len(sizes)
                freed += sum(row[0] for row in sizes)
            total = db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
            excess = total - self.limits.max_dead_letters
            if excess > 0:
                db.execute(
                    "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)", (excess,)
                )
            self._add(db, rows=-moved, bytes=-freed, dead_lettered=moved, dead_letters_dropped=max(excess, 0))
        return moved

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Return the newest dead letters first."""
        with self._lock:
            cursor = self._db.execute(
                f"SELECT {_COLUMNS}, reason, failed_us FROM dead_letters ORDER BY id DESC LIMIT ?",  # noqa: S608
                (limit,),
            )
            return [
                DeadLetter(row["seq"], row["device"], _reading(row), row["reason"], row["failed_us"]) for row in cursor
            ]

    # -- what it holds ----------------------------------------------------------------------------

    def last_seq(self) -> int:
        """Return the newest sequence number ever given out (0 for a new buffer)."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
        return int(row[0]) if row else 0

    def counts(self) -> BufferCounts:
        """Return the counters and the age of the oldest waiting reading."""
        with self._lock:
            counters = self._counters(self._db)
            oldest = self._db.execute("SELECT enqueued_us FROM readings ORDER BY seq LIMIT 1").fetchone()
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
        return BufferCounts(
            rows=counters["rows"],
            bytes=counters["bytes"],
            appended=counters["appended"],
            acked=counters["acked"],
            dropped=counters["dropped"],
            dead_lettered=counters["dead_lettered"],
            dead_letters_dropped=counters["dead_letters_dropped"],
            dropped_last_us=counters["dropped_last_us"] or None,
            dropped_newest_ts_us=counters["dropped_newest_ts_us"] or None,
            oldest_enqueued_us=oldest[0] if oldest else None,
            last_seq=int(row[0]) if row else 0,
        )

    def set_status(self, values: dict[str, Any]) -> None:
        """Store the agent's run-time status (JSON values) for ``hexmill edge status`` to read."""
        with self._write() as db:
            db.executemany(
                "INSERT INTO status (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def status(self) -> dict[str, Any]:
        """Return the run-time status the agent stored last."""
        with self._lock:
            return {row["name"]: json.loads(row["value"]) for row in self._db.execute("SELECT name, value FROM status")}
