"""Telemetry store benchmark: hexmill's stores against their engines' limits, DuckDB and InfluxDB 1.6.

One run measures, side by side on the same generated data (``--series`` series at 1 Hz):

a. SqliteStore batched ingest: write (rows, as ingest hands them over) alone, refresh alone,
   write+refresh per batch; synchronous=FULL (the default) and NORMAL; and write_columns
   (the same batches as NumPy columns, as a bulk Parquet/Arrow upload has them).
b. The limit: plain executemany into a SQLite table of the same schema and key, and into a heap.
c. DuckDB: the same idempotent write (staging + de-duplicated INSERT OR REPLACE on a keyed
   table) and a plain append into a table without key.
d. InfluxDB 1.6 (Debian's influxd, started here on 127.0.0.1): line protocol over HTTP.
e. Bytes per stored point after checkpoint/compaction.
f. Queries through the store-level path of ``telemetry.service.query_buckets``.
g. PostgresStore ingest into a throwaway PostgreSQL cluster on 127.0.0.1.

Usage: ``.venv/bin/python bench/telemetry_store.py --points 5000000 --json results.json``
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import http.client
import json
import os
import platform
import pstats
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hexmill.telemetry.blocks import fold
from hexmill.telemetry.chunks import DAY_US, HOUR_US, MINUTE_US, Level
from hexmill.telemetry.pg_store import PostgresStore
from hexmill.telemetry.sqlite_store import SqliteStore
from hexmill.telemetry.store import PointRow, TelemetryStore

T0 = 1_793_491_200_000_000  # 2026-11-01T00:00:00Z
TENANT = 1
console = Console()
results: dict[str, Any] = {}


# ---------------------------------------------------------------------------------------------
# Data and helpers
# ---------------------------------------------------------------------------------------------


def make_batches(points: int, series: int, batch: int, data: str = "walk") -> list[list[PointRow]]:
    """Return ``points`` rows of ``series`` series at 1 Hz, time-major (as a gateway sends them).

    ``walk``: each series a random walk with sensor noise, rounded to 0.01 as a transmitter sends
    it (seeded, so every run and engine gets the same values). ``sawtooth``: the regular ramp of
    earlier runs, which compresses far better than real signals.
    """
    ticks = points // series
    if data == "sawtooth":
        values = [[float((t * 7 + s) % 1000) / 10 for s in range(1, series + 1)] for t in range(ticks)]
    else:
        rng = np.random.default_rng(20261122)
        walk = 20 + np.cumsum(rng.normal(0, 0.05, (ticks, series)), axis=0) + rng.normal(0, 0.02, (ticks, series))
        values = np.round(walk, 2).tolist()
    rows: list[PointRow] = [
        (s, T0 + t * 1_000_000, values[t][s - 1], None, 0) for t in range(ticks) for s in range(1, series + 1)
    ]
    return [rows[i : i + batch] for i in range(0, len(rows), batch)]


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<44}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def timed_batches(label: str, batches: Sequence[Any], write: Callable[[Any], Any]) -> float:
    """Feed every batch to ``write`` under a progress bar; return the seconds spent in ``write``."""
    spent = 0.0
    with progress() as bar:
        task = bar.add_task(label, total=len(batches))
        for batch in batches:
            start = time.perf_counter()
            write(batch)
            spent += time.perf_counter() - start
            bar.advance(task)
    return spent


def record(key: str, **values: Any) -> None:
    results[key] = values
    shown = ", ".join(f"{k}={v:,.0f}" if isinstance(v, float) and v > 100 else f"{k}={v}" for k, v in values.items())
    console.print(f"[bold]{key}[/]: {shown}")


def du(*paths: Path) -> int:
    return sum(
        f.stat().st_size for p in paths if p.exists() for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


# ---------------------------------------------------------------------------------------------
# a, b, e: SQLite
# ---------------------------------------------------------------------------------------------


def sqlite_checkpointed_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return du(path, path.with_name(path.name + "-wal"))


def bench_sqlite_store(work: Path, batches: list[list[PointRow]], n: int, profile: bool) -> None:
    for sync in ("FULL", "NORMAL"):
        path = work / f"store-{sync}.db"
        store = SqliteStore(path, synchronous=sync)
        profiler = cProfile.Profile() if profile and sync == "FULL" else None
        if profiler:
            profiler.enable()
        spent = timed_batches(f"SqliteStore.write ({sync})", batches, lambda b, s=store: s.write(TENANT, b))
        if profiler:
            profiler.disable()
        start = time.perf_counter()
        buckets = store.refresh_rollups()
        refresh = time.perf_counter() - start
        store.close()
        size = sqlite_checkpointed_size(path)
        record(
            f"sqlite_store_{sync.lower()}",
            write_pts_s=n / spent,
            refresh_s=round(refresh, 2),
            refresh_buckets=buckets,
            write_then_refresh_pts_s=n / (spent + refresh),
            bytes_per_point=round(size / n, 1),
        )
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime")
            top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:8]  # type: ignore[attr-defined]
            total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
            results["sqlite_store_profile"] = [
                {
                    "function": f"{Path(f).name}:{line}({name})",
                    "tottime_s": round(v[2], 3),
                    "share": round(v[2] / total, 3),
                }
                for (f, line, name), v in top
            ]
        path.unlink()
    # The columnar path: the same batches as NumPy columns, converted before the clock starts.
    path = work / "store-columns.db"
    store = SqliteStore(path)
    columns = [
        (
            np.array([r[0] for r in b], dtype=np.int64),
            np.array([r[1] for r in b], dtype=np.int64),
            np.array([r[2] for r in b], dtype=np.float64),
            np.array([r[4] for r in b], dtype=np.uint8),
        )
        for b in batches
    ]
    spent = timed_batches("SqliteStore.write_columns", columns, lambda c: store.write_columns(TENANT, *c))
    store.close()
    record("sqlite_store_columns", write_pts_s=n / spent, bytes_per_point=round(sqlite_checkpointed_size(path) / n, 1))
    del columns
    path.unlink()
    # Write and refresh per batch, as an ingest process that refreshes after every write would.
    path = work / "store-together.db"
    store = SqliteStore(path)

    def both(batch: list[PointRow]) -> None:
        store.write(TENANT, batch)
        store.refresh_rollups()

    spent = timed_batches("SqliteStore.write + refresh per batch", batches, both)
    store.close()
    record("sqlite_store_write_and_refresh", pts_s=n / spent)
    path.unlink()


RAW_DDL = (
    "CREATE TABLE r (series INTEGER NOT NULL, ts INTEGER NOT NULL, tenant_id INTEGER NOT NULL, value REAL, "
    "text TEXT, quality INTEGER NOT NULL{key})"
)


def bench_sqlite_limit(work: Path, batches: list[list[PointRow]], n: int) -> None:
    for label, ddl in (
        ("keyed", RAW_DDL.format(key=", PRIMARY KEY (series, ts)") + " WITHOUT ROWID"),
        ("heap", RAW_DDL.format(key="")),
    ):
        path = work / f"limit-{label}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "temp_store=MEMORY", "cache_size=-65536"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(ddl)
        insert = "INSERT INTO r (series, ts, value, text, quality, tenant_id) VALUES (?, ?, ?, ?, ?, 1)"

        def write(batch: list[PointRow], conn: sqlite3.Connection = conn, insert: str = insert) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, batch)
            conn.execute("COMMIT")

        spent = timed_batches(f"sqlite3 executemany ({label})", batches, write)
        conn.close()
        record(f"sqlite_limit_{label}", pts_s=n / spent, bytes_per_point=round(sqlite_checkpointed_size(path) / n, 1))
        path.unlink()


# ---------------------------------------------------------------------------------------------
# c: DuckDB
# ---------------------------------------------------------------------------------------------


def bench_duckdb(work: Path, batches: list[list[PointRow]], n: int) -> Any:
    names = ["series", "ts", "value", "text", "quality"]
    types = [pa.int32(), pa.int64(), pa.float64(), pa.string(), pa.int16()]

    def arrow(batch: list[PointRow]) -> Any:
        columns = list(zip(*batch, strict=True))
        arrays = [pa.array(c, type=t) for c, t in zip(columns, types, strict=True)]
        arrays.append(pa.array(range(len(batch)), type=pa.int32()))
        return pa.Table.from_arrays(arrays, names=[*names, "ord"])

    path = work / "duck.db"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE raw (series INTEGER NOT NULL, ts BIGINT NOT NULL, tenant_id INTEGER NOT NULL, value DOUBLE, "
        "text VARCHAR, quality SMALLINT NOT NULL, PRIMARY KEY (series, ts))"
    )

    def upsert(batch: list[PointRow]) -> None:
        stage = arrow(batch)  # noqa: F841 - read by name in the statement below (DuckDB replacement scan)
        con.execute("BEGIN")
        con.execute(
            "INSERT OR REPLACE INTO raw SELECT series, ts, 1, value, text, quality FROM stage "
            "QUALIFY row_number() OVER (PARTITION BY series, ts ORDER BY ord DESC) = 1"
        )
        con.execute("COMMIT")

    spent = timed_batches("DuckDB staging + INSERT OR REPLACE", batches, upsert)
    con.execute("CHECKPOINT")
    record("duckdb_upsert", pts_s=n / spent, bytes_per_point=round(du(path, work / "duck.db.wal") / n, 1))

    heap_path = work / "duck-heap.db"
    heap = duckdb.connect(str(heap_path))
    heap.execute(
        "CREATE TABLE raw (series INTEGER, ts BIGINT, tenant_id INTEGER, value DOUBLE, text VARCHAR, quality SMALLINT)"
    )

    def append(batch: list[PointRow]) -> None:
        stage = arrow(batch)  # noqa: F841 - as above
        heap.execute("INSERT INTO raw SELECT series, ts, 1, value, text, quality FROM stage")

    spent = timed_batches("DuckDB append, no key", batches, append)
    heap.execute("CHECKPOINT")
    record("duckdb_append", pts_s=n / spent, bytes_per_point=round(du(heap_path) / n, 1))
    heap.close()
    return con


# ---------------------------------------------------------------------------------------------
# d: InfluxDB 1.6
# ---------------------------------------------------------------------------------------------

INFLUX_CONF = """
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "2s"
  compact-full-write-cold-duration = "5s"
[http]
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
[monitor]
  store-enabled = false
"""


@contextmanager
def influxd(work: Path) -> Iterator[tuple[int, Path]]:
    root = Path(tempfile.mkdtemp(prefix="influx-", dir=work))
    port = free_port()
    conf = root / "influxdb.conf"
    conf.write_text(INFLUX_CONF.format(root=root, rpc=free_port(), http=port))
    log = (root / "log").open("w")
    proc = subprocess.Popen(["influxd", "run", "-config", str(conf)], stdout=log, stderr=subprocess.STDOUT)  # noqa: S603, S607
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/ping")
                break
            except OSError:
                time.sleep(0.1)
        yield port, root
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def influx_post(conn: http.client.HTTPConnection, path: str, body: bytes) -> None:
    conn.request("POST", path, body=body, headers={"Content-Type": "text/plain"})
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"InfluxDB answered {response.status}: {data[:200]!r}")


def bench_influx(work: Path, batches: list[list[PointRow]], n: int, per_request: int, writers: int) -> None:
    if not shutil.which("influxd"):
        results["influx"] = {"skipped": "influxd not installed (apt-get install influxdb)"}
        return
    version = subprocess.run(["influxd", "version"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607
    results["versions"]["influxdb"] = version
    rows = [row for batch in batches for row in batch]
    # The same content as the store keeps: the value and the quality code, microsecond timestamps.
    bodies = [
        "\n".join(f"m,s={s} v={v},q={q}i {ts}" for s, ts, v, _, q in rows[i : i + per_request]).encode()
        for i in range(0, len(rows), per_request)
    ]
    with influxd(work) as (port, root):
        admin = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        influx_post(admin, "/query?q=CREATE+DATABASE+bench", b"")
        queue = list(reversed(bodies))
        lock = threading.Lock()
        with progress() as bar:
            task = bar.add_task(f"InfluxDB line protocol ({writers} writers)", total=len(bodies))

            def worker() -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    influx_post(conn, "/write?db=bench&precision=u", body)
                    bar.advance(task)

            start = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(writers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            spent = time.perf_counter() - start
        # Wait for the cache to be snapshotted to TSM files and compacted, then measure.
        wal, data = root / "wal", root / "data"
        deadline = time.monotonic() + 120
        last = -1
        while time.monotonic() < deadline:
            time.sleep(5)
            size = du(wal, data)
            if size == last and du(wal) < 64 * 1024:
                break
            last = size
        count_query = "/query?db=bench&q=SELECT+count(v)+FROM+m"
        admin.request("GET", count_query)
        stored = json.loads(admin.getresponse().read())["results"][0]["series"][0]["values"][0][1]
        record(
            f"influxdb_{writers}_writers",
            pts_s=n / spent,
            writers=writers,
            points_per_request=per_request,
            bytes_per_point=round(du(wal, data) / n, 1),
            wal_bytes=du(wal),
            stored_points=stored,
        )


# ---------------------------------------------------------------------------------------------
# f: queries
# ---------------------------------------------------------------------------------------------


def query_path(store: TelemetryStore, level: Level, series: list[int], span: tuple[int, int], width: int) -> int:
    """Do what ``telemetry.service.query_buckets`` does once the tags are resolved."""
    if store.pending_rollups():
        store.refresh_rollups()
    return int(fold(store.rollups(TENANT, level, series, *span), width).size)


def bench_queries(work: Path, repeats: int, duck: Any) -> None:
    store = SqliteStore(work / "queries.db")
    day0 = T0 + 40 * DAY_US
    # One series at 1 Hz for 24 hours, through write + refresh.
    one = [(1000, day0 + i * 1_000_000, float(i % 600), None, 0) for i in range(86_400)]
    for i in range(0, len(one), 20_000):
        store.write(TENANT, one[i : i + 20_000])
    store.refresh_rollups()
    # 100 series over 30 days at one point per 10 minutes: the hour rollups are the same rows a
    # 1 Hz feed would leave (one per series and hour); only the raw and minute levels are thinner.
    many = [(2000 + s, T0 + k * 600_000_000, float((k + s) % 50), None, 0) for k in range(30 * 144) for s in range(100)]
    for i in range(0, len(many), 20_000):
        store.write(TENANT, many[i : i + 20_000])
    store.refresh_rollups()
    if duck is not None:
        # DuckDB keeps no rollups: its 24-hour query aggregates the raw points.
        duck.execute("INSERT OR REPLACE INTO raw SELECT * FROM (SELECT unnest($1), unnest($2), 1, unnest($3), NULL, 0)",
                     [[r[0] for r in one], [r[1] for r in one], [r[2] for r in one]])  # fmt: skip
    del one, many
    gc.collect()
    gc.freeze()
    cases = {
        "q_1m_24h_1_series": (Level.MINUTE, [1000], day0, day0 + DAY_US, MINUTE_US, 1440),
        "q_1h_30d_100_series": (Level.HOUR, [2000 + s for s in range(100)], T0, T0 + 30 * DAY_US, HOUR_US, 72_000),
    }
    for key, (level, series, a, b, width, expect) in cases.items():
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            got = query_path(store, level, series, (a, b), width)
            samples.append(time.perf_counter() - start)
        if got != expect:
            raise RuntimeError(f"{key}: {got} buckets, expected {expect}")
        p50, p95 = percentiles(samples)
        record(key, p50_ms=round(p50, 2), p95_ms=round(p95, 2), buckets=got)
    # Where the time of the larger query goes: the SQL read or the fold in Python.
    level, series, a, b, width, _ = cases["q_1h_30d_100_series"]
    start = time.perf_counter()
    rows = store.rollups(TENANT, level, series, a, b)
    read = time.perf_counter() - start
    start = time.perf_counter()
    fold(rows, width)
    results["q_1h_30d_100_series_split_ms"] = {
        "read": round(read * 1000, 1),
        "fold": round((time.perf_counter() - start) * 1000, 1),
    }
    store.close()
    if duck is not None:
        sql = (
            "SELECT ts // 60000000 AS b, count(value), min(value), max(value), sum(value), arg_min(value, ts), "
            "arg_max(value, ts) FROM raw WHERE series = 1000 AND ts >= $1 AND ts < $2 GROUP BY b ORDER BY b"
        )
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            got = len(duck.execute(sql, [day0, day0 + DAY_US]).fetchall())
            samples.append(time.perf_counter() - start)
        p50, p95 = percentiles(samples)
        record("duckdb_q_1m_24h_1_series_from_raw", p50_ms=round(p50, 2), p95_ms=round(p95, 2), buckets=got)


# ---------------------------------------------------------------------------------------------
# g: PostgreSQL
# ---------------------------------------------------------------------------------------------


@contextmanager
def postgres(work: Path) -> Iterator[str]:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
    pg_bin = bins[-1]
    root = work / "pg"
    root.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*prefix, str(pg_bin / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust",  # noqa: S603
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)  # fmt: skip
    port = free_port()
    # Default durability (fsync, synchronous_commit on), unlike the test suite's cluster.
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c shared_buffers=256MB -c max_wal_size=4GB"
    subprocess.run([*prefix, str(pg_bin / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w",  # noqa: S603
                    "-o", opts, "start"], check=True, capture_output=True)  # fmt: skip
    version = subprocess.run([str(pg_bin / "postgres"), "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    results["versions"]["postgresql"] = version.stdout.strip()
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as admin:
            admin.execute("CREATE ROLE hexmill_app LOGIN PASSWORD 'hexmill_app' NOSUPERUSER NOBYPASSRLS")
            admin.execute("CREATE DATABASE bench OWNER hexmill_app")
        yield f"postgresql+psycopg://hexmill_app:hexmill_app@127.0.0.1:{port}/bench"
    finally:
        subprocess.run([*prefix, str(pg_bin / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "-w", "stop"],  # noqa: S603
                       check=False, capture_output=True)  # fmt: skip


def bench_postgres(work: Path, batches: list[list[PointRow]], n: int) -> None:
    with postgres(work) as url:
        store = PostgresStore(url)
        store.write(TENANT, batches[0])  # creates the partitions outside the measurement
        rest = batches[1:]
        spent = timed_batches("PostgresStore.write", rest, lambda b: store.write(TENANT, b))
        start = time.perf_counter()
        store.refresh_rollups()
        refresh = time.perf_counter() - start
        written = sum(len(b) for b in rest)
        record(
            "postgres_store",
            write_pts_s=written / spent,
            refresh_s=round(refresh, 2),
            bytes_per_point=round(store.size_bytes() / n, 1),
        )
        store.close()


# ---------------------------------------------------------------------------------------------


def describe_machine() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603

    return {
        "cpu": run("sh", "-c", "lscpu | grep -E 'Model name|^CPU\\(s\\)|Thread|MHz' | sed 's/  */ /g'"),
        "memory": run("sh", "-c", "free -h | sed -n 2p"),
        "disk": run("sh", "-c", "df -h /tmp | tail -1"),
        "load_before": os.getloadavg(),
        "versions": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "duckdb": duckdb.__version__,
            "kernel": platform.release(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--data", choices=["walk", "sawtooth"], default="walk", help="the values' shape")
    parser.add_argument("--influx-batch", type=int, default=10_000)
    parser.add_argument("--influx-writers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pg-points", type=int, default=1_000_000, help="points for the PostgreSQL run")
    parser.add_argument("--repeats", type=int, default=50, help="runs of each query")
    parser.add_argument("--skip", nargs="*", default=[], choices=["sqlite", "duckdb", "influx", "postgres", "queries"])
    parser.add_argument("--profile", action="store_true", help="profile SqliteStore.write (cProfile)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--workdir", type=Path, help="where the databases go (default: a temporary directory)")
    args = parser.parse_args()

    machine = describe_machine()
    results["machine"] = {k: v for k, v in machine.items() if k != "versions"}
    results["versions"] = machine["versions"]
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    work = Path(tempfile.mkdtemp(prefix="hexmill-bench-", dir=args.workdir))
    work.chmod(0o755)  # the PostgreSQL cluster runs as the postgres user
    console.print(f"[dim]work directory {work}; load {os.getloadavg()}[/]")
    batches = make_batches(args.points, args.series, args.batch, args.data)
    n = sum(len(b) for b in batches)
    results["points"] = n
    # The generated rows are the benchmark's input, not the store's state: keep the collector
    # from walking millions of them again and again while the stores are measured.
    gc.collect()
    gc.freeze()
    duck = None
    try:
        if "sqlite" not in args.skip:
            bench_sqlite_store(work, batches, n, args.profile)
            bench_sqlite_limit(work, batches, n)
        if "duckdb" not in args.skip:
            duck = bench_duckdb(work, batches, n)
        if "influx" not in args.skip:
            for writers in args.influx_writers:
                bench_influx(work, batches, n, args.influx_batch, writers)
        if "queries" not in args.skip:
            bench_queries(work, args.repeats, duck)
        if "postgres" not in args.skip:
            pg_batches = batches[: max(2, args.pg_points // args.batch)]
            bench_postgres(work, pg_batches, sum(len(b) for b in pg_batches))
    finally:
        if duck is not None:
            duck.close()
        shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    gc.unfreeze()
    summarise()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


def summarise() -> None:
    table = Table(title=f"telemetry store, {results['points']:,} points")
    table.add_column("measurement")
    table.add_column("result", justify="right")
    for key, value in results.items():
        if isinstance(value, dict) and key not in {"machine", "versions", "args"}:
            table.add_row(key, ", ".join(f"{k}={v:,.0f}" if isinstance(v, float) and v > 100 else f"{k}={v}"
                                         for k, v in value.items()))  # fmt: skip
    console.print(table)
    store = results.get("sqlite_store_full", {}).get("write_pts_s")
    for name in (
        "sqlite_limit_keyed",
        "sqlite_limit_heap",
        "duckdb_upsert",
        "influxdb_1_writers",
        "influxdb_2_writers",
    ):
        other = results.get(name, {}).get("pts_s")
        if store and other:
            console.print(f"SqliteStore.write / {name}: {store / other:.2f}")


if __name__ == "__main__":
    main()
