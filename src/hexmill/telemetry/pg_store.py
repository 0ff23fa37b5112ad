"""The PostgreSQL telemetry store: declaratively partitioned tables, COPY ingest, row-level security.

Each level (raw, 1-minute, 1-hour) is a table partitioned by tenant (LIST), each tenant's part
partitioned by time (RANGE) into the chunks of ``chunks.py``; retention detaches nothing and
deletes nothing row by row, it drops a partition. A batch is COPYed into a session-local staging
table and upserted from there, de-duplicated within the batch so the last copy of a point wins.
The parents carry the same tenant policy as every other table (ADR 0001), and each transaction
names its tenant in ``hexmill.tenant_id``.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from hexmill.core.migrate import rls_statements
from hexmill.telemetry.blocks import frame_of_rows
from hexmill.telemetry.chunks import HOUR_US, MINUTE_US, Chunk, Level, bucket_start, chunk_of
from hexmill.telemetry.store import (
    REFRESH_BATCH,
    ChunkInfo,
    PointRow,
    RollupFrame,
    StoredPoint,
    TelemetryStore,
    ints,
)

_PARENT = {Level.RAW: "tlm_raw", Level.MINUTE: "tlm_m1", Level.HOUR: "tlm_h1"}
_TABLES = [
    "CREATE TABLE IF NOT EXISTS tlm_raw (tenant_id integer NOT NULL, series integer NOT NULL, ts bigint NOT NULL, "
    "value double precision, text text, quality smallint NOT NULL, PRIMARY KEY (tenant_id, series, ts)) "
    "PARTITION BY LIST (tenant_id)",
    *(
        f"CREATE TABLE IF NOT EXISTS {name} (tenant_id integer NOT NULL, series integer NOT NULL, "
        "bucket bigint NOT NULL, count bigint NOT NULL, min double precision, max double precision, "
        "sum double precision, first_ts bigint, first double precision, last_ts bigint, last double precision, "
        "PRIMARY KEY (tenant_id, series, bucket)) PARTITION BY LIST (tenant_id)"
        for name in ("tlm_m1", "tlm_h1")
    ),
    "CREATE TABLE IF NOT EXISTS tlm_latest (series integer PRIMARY KEY, tenant_id integer NOT NULL, "
    "ts bigint NOT NULL, value double precision, text text, quality smallint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tlm_dirty (tenant_id integer NOT NULL, level text NOT NULL, series integer NOT NULL, "
    "bucket bigint NOT NULL, PRIMARY KEY (level, tenant_id, series, bucket))",
    "CREATE TABLE IF NOT EXISTS tlm_chunks (name text PRIMARY KEY, tenant_id integer NOT NULL, level text NOT NULL, "
    "start_us bigint NOT NULL, end_us bigint NOT NULL)",
]
_WALLED = ["tlm_raw", "tlm_m1", "tlm_h1", "tlm_latest", "tlm_dirty", "tlm_chunks"]
_STAGE_TYPES = ["int4", "int4", "int8", "float8", "text", "int2"]
_NAMED = re.compile(r"(?<!:):([a-z_]+)\b")


def conninfo(database_url: str) -> str:
    """Turn a SQLAlchemy PostgreSQL URL into a libpq connection string for psycopg."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresStore(TelemetryStore):
    """Telemetry in PostgreSQL, beside the application's tables."""

    raw_key = "tenant_id, series, ts"
    rollup_key = "tenant_id, series, bucket"

    def __init__(self, database_url: str) -> None:
        self._conninfo = conninfo(database_url)
        self._lock = threading.Lock()
        self._writer = psycopg.connect(self._conninfo)
        self._local = threading.local()
        self._readers: list[psycopg.Connection[Any]] = []
        self._known: set[str] = set()
        self._staging_on: psycopg.Connection[Any] | None = None
        self._staged = False
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        with self._lock, self._writer.transaction(), self._writer.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('hexmill.telemetry.schema'))")
            cur.execute("SELECT to_regclass('tlm_chunks') IS NOT NULL")
            row = cur.fetchone()
            fresh = not (row and row[0])
            for statement in _TABLES:
                cur.execute(statement)
            if fresh:
                for table in _WALLED:
                    for statement in rls_statements(table):
                        cur.execute(statement)
            cur.execute("SELECT set_config('hexmill.tenant_id', '*', true)")
            cur.execute("SELECT name FROM tlm_chunks")
            self._known = {name for (name,) in cur.fetchall()}

    @contextmanager
    def _tx(self, tenant: int | str = "*") -> Iterator[psycopg.Cursor[Any]]:
        with self._lock:
            try:
                with self._writer.transaction(), self._writer.cursor() as cur:
                    self._staged = False
                    cur.execute("SELECT set_config('hexmill.tenant_id', %s, true)", (str(tenant),))
                    yield cur
            except psycopg.OperationalError:
                # The server went away (restart, failover): start afresh on the next call.
                self._staging_on = None
                self._writer.close()
                self._writer = psycopg.connect(self._conninfo)
                raise
            except BaseException:
                # The rollback may have undone the staging table's creation.
                self._staging_on = None
                raise

    @contextmanager
    def _read(self) -> Iterator[psycopg.Cursor[Any]]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self._conninfo, autocommit=True)
            self._local.conn = conn
            self._readers.append(conn)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT set_config('hexmill.tenant_id', '*', false)")
                yield cur
        except psycopg.OperationalError:
            conn.close()
            raise

    def _sql(self, statement: str) -> str:
        return _NAMED.sub(r"%(\1)s", statement)

    def _table(self, chunk: Chunk) -> str:
        return _PARENT[chunk.level]

    def _ensure_chunks(self, cur: Any, chunks: Iterable[Chunk]) -> None:
        missing = [c for c in chunks if c.name not in self._known]
        if not missing:
            return
        # Partitions are created in a transaction of their own, so the lock that creating one
        # takes on its parent is not held for the rest of the batch.
        with psycopg.connect(self._conninfo, autocommit=True) as ddl, ddl.cursor() as dcur:
            dcur.execute("SELECT set_config('hexmill.tenant_id', '*', false)")
            for chunk in missing:
                parent = _PARENT[chunk.level]
                tenant_part = f"{parent}_t{chunk.tenant_id}"
                with ddl.transaction():
                    dcur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (parent,))
                    # Policies on a parent do not guard its partitions when they are named directly,
                    # so every partition gets the tenant wall of its own as it is created.
                    self._create_walled(
                        dcur,
                        tenant_part,
                        f"PARTITION OF {parent} FOR VALUES IN ({int(chunk.tenant_id)}) "
                        f"PARTITION BY RANGE ({_time_column(chunk.level)})",
                    )
                    self._create_walled(
                        dcur,
                        chunk.name,
                        f"PARTITION OF {tenant_part} FOR VALUES FROM ({int(chunk.start_us)}) TO ({int(chunk.end_us)})",
                    )
                    dcur.execute(
                        "INSERT INTO tlm_chunks (name, tenant_id, level, start_us, end_us) VALUES (%s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (chunk.name, chunk.tenant_id, chunk.level.value, chunk.start_us, chunk.end_us),
                    )
                self._known.add(chunk.name)

    @staticmethod
    def _create_walled(cur: Any, name: str, definition: str) -> None:
        """Create table ``name`` as ``definition`` unless it exists, with the tenant policy on it."""
        cur.execute("SELECT to_regclass(%s) IS NULL", (name,))
        row = cur.fetchone()
        if not (row and row[0]):
            return
        cur.execute(f"CREATE TABLE {name} {definition}")
        for statement in rls_statements(name):
            cur.execute(statement)

    def _insert_raw(self, cur: Any, chunk: Chunk, rows: Sequence[PointRow]) -> None:
        conn = cur.connection
        if conn is not self._staging_on:
            # Once per connection: the staging table lives as long as the session, empty between
            # transactions (ON COMMIT DELETE ROWS).
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS tlm_stage (ord integer, series integer, ts bigint, "
                "value double precision, text text, quality smallint) ON COMMIT DELETE ROWS"
            )
            self._staging_on = conn
        elif self._staged:
            # A second chunk of the same batch: start from an empty staging table again.
            cur.execute("TRUNCATE tlm_stage")
        self._staged = True
        with cur.copy("COPY tlm_stage (ord, series, ts, value, text, quality) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_STAGE_TYPES)
            write_row = copy.write_row
            for i, (series, ts, value, text, quality) in enumerate(rows):
                write_row((i, series, ts, value, text, quality))
        cur.execute(
            "INSERT INTO tlm_raw (tenant_id, series, ts, value, text, quality) "
            "SELECT DISTINCT ON (series, ts) %s, series, ts, value, text, quality FROM tlm_stage "
            "ORDER BY series, ts, ord DESC "
            "ON CONFLICT (tenant_id, series, ts) DO UPDATE SET value = excluded.value, text = excluded.text, "
            "quality = excluded.quality",
            (chunk.tenant_id,),
        )

    # -- writes: one row per point -----------------------------------------------------------

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
                # In series order, so that two workers writing the same series lock their rows in the
                # same order and cannot deadlock each other (rows in batch order did, on PostgreSQL).
                [
                    {"t": tenant_id, "s": s, "ts": r[1], "v": r[2], "x": r[3], "q": r[4]}
                    for s, r in sorted(latest.items())
                ],
            )
        return len(rows)

    # -- rollups: minutes from raw rows, hours from minute rows ------------------------------

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
                        f"AND series IN ({ints(series)}) AND ts >= :a AND ts < :b ORDER BY series, ts LIMIT :n"
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

    def rollups(self, tenant_id: int, level: Level, series: Sequence[int], start_us: int, end_us: int) -> RollupFrame:
        """Return stored rollup rows of ``level`` whose bucket starts in ``[start_us, end_us)``."""
        if not series:
            return frame_of_rows([])
        found: list[tuple[Any, ...]] = []
        with self._read() as cur:
            tables = self._sources(cur, tenant_id, level, start_us, end_us)
            for table in tables:
                cur.execute(
                    self._sql(
                        f"SELECT series, bucket, count, min, max, sum, first_ts, first, last_ts, last FROM {table} "
                        f"WHERE tenant_id = :t AND series IN ({ints(series)}) AND bucket >= :a AND bucket < :b "
                        "ORDER BY series, bucket"
                    ),
                    {"t": tenant_id, "a": start_us, "b": end_us},
                )
                found.extend(cur.fetchall())
        if len(tables) > 1:
            found.sort(key=itemgetter(0, 1))  # (series, bucket_us); each table's rows come sorted
        return frame_of_rows(found)

    def _load_touched(self, cur: Any, keys: Sequence[tuple[int, int]]) -> None:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS tlm_touched (series integer, bucket bigint) ON COMMIT DELETE ROWS")
        cur.execute("TRUNCATE tlm_touched")
        with cur.copy("COPY tlm_touched (series, bucket) FROM STDIN") as copy:
            for key in keys:
                copy.write_row(key)

    def _existing_chunks(self, cur: Any, tenant_id: int, level: Level) -> list[ChunkInfo]:
        cur.execute(
            "SELECT name, tenant_id, level, start_us, end_us FROM tlm_chunks WHERE tenant_id = %s AND level = %s "
            "ORDER BY start_us",
            (tenant_id, level.value),
        )
        return [ChunkInfo(n, t, Level(lv), a, b) for n, t, lv, a, b in cur.fetchall()]

    def _drop_chunk(self, cur: Any, info: ChunkInfo) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {info.name}")
        cur.execute("DELETE FROM tlm_chunks WHERE name = %s", (info.name,))
        self._known.discard(info.name)

    def integrity_check(self) -> str:
        """Check that every catalogued chunk exists as a partition (``ok`` when they all do)."""
        with self._read() as cur:
            cur.execute("SELECT name FROM tlm_chunks WHERE to_regclass(name) IS NULL")
            missing = [name for (name,) in cur.fetchall()]
        return "ok" if not missing else "missing partitions: " + ", ".join(missing)

    def size_bytes(self) -> int:
        """Return the bytes the telemetry tables occupy, indexes included."""
        with self._read() as cur:
            cur.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "WHERE c.relkind = 'r' AND (c.relname LIKE 'tlm%%' OR c.relname ~ '^(raw|m1|h1)_[0-9]+_')"
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0

    def close(self) -> None:
        """Close every connection of this store."""
        for conn in self._readers:
            conn.close()
        self._readers.clear()
        self._writer.close()


def _time_column(level: Level) -> str:
    return "ts" if level is Level.RAW else "bucket"


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
