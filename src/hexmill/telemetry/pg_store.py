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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from hexmill.core.migrate import rls_statements
from hexmill.telemetry.chunks import Chunk, Level
from hexmill.telemetry.store import ChunkInfo, PointRow, TelemetryStore

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
