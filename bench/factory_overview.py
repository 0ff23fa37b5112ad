"""Factory overview benchmark: the KPI page and API over a year of demo history.

One run seeds, per backend (a SQLite file; and PostgreSQL when asked: a throwaway cluster on
127.0.0.1 started as bench/telemetry_store.py does with ``--postgres``, or a server named by
``HEXMILL_BENCH_PG_URL`` / ``--pg-url`` in which a fresh database is made), one enterprise with
``--days`` days of history through ``hexmill.factory.demo.seed_factory`` (the same code as
``hexmill demo``: purchase orders and receipts, sales orders, work orders with shop-floor reports
and backflush, final inspections and nonconformances, deliveries, returns, maintenance), then times
with a logged-in console client and an API token, after ``--warmup`` unmeasured requests:

- ``GET /factory/overview?since=..&until=..`` (the rendered page over the whole history);
- ``GET /api/v1/factory/kpis?since=..&until=..`` (the same figures as JSON);
- ``kpi.service.overview`` alone (the queries and the arithmetic, without HTTP and templates).

It reports p50/p95 of ``--runs`` requests next to the target (300 ms), the history's row counts,
the seeding time, and, when the page misses the target, the cProfile functions where the service's
time goes (the test client serves the page in another thread, out of cProfile's sight; the page's
time less the service's is routing, the session and rendering).

Usage: ``.venv/bin/python bench/factory_overview.py --json overview.json`` (``--postgres`` for the
throwaway cluster, ``--orders-per-day`` for a busier factory than the demo's).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from hexmill.app import create_app
from hexmill.core import identity
from hexmill.core.clock import utcnow
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.factory.demo import DEMO_ORDERS_PER_DAY, seed_factory
from hexmill.factory.kpi import service as kpi

console = Console()
results: dict[str, Any] = {}
TARGET_MS = 300.0
PASSWORD = "bench horse battery staple"  # noqa: S105 - a throwaway database's login
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PG_ENV = "HEXMILL_BENCH_PG_URL"
# Tables of the history, counted for the enterprise.
TABLES = (
    "factory_purchase_orders",
    "factory_po_receipts",
    "factory_sales_orders",
    "factory_so_lines",
    "factory_deliveries",
    "factory_delivery_lines",
    "factory_sales_returns",
    "factory_work_orders",
    "factory_wo_reports",
    "factory_wo_issues",
    "factory_wo_receipts",
    "factory_lots",
    "factory_stock_moves",
    "factory_qc_inspections",
    "factory_qc_results",
    "factory_qc_ncs",
    "factory_maintenance_orders",
)


def p(values: list[float], q: float) -> float:
    """Return the ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(samples: list[float]) -> dict[str, float]:
    """Return p50, p95 and max of millisecond samples, and whether p95 meets the target."""
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(p(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
        "runs": len(samples),
        "meets_target": p(samples, 0.95) <= TARGET_MS,
    }


def seed(url: str, args: argparse.Namespace) -> tuple[int, str, str, Any, dict[str, Any]]:
    """Seed the enterprise; return its id, an admin's username, an API token, the summary and the timing."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    name = f"bench-{uuid.uuid4().hex[:6]}"
    with transaction(factory) as s:
        set_scope(s, ALL_TENANTS)
        tenant = identity.create_tenant(s, Context.system(), name=name)
        user = identity.create_platform_user(s, Context.system(), username=f"{name}.admin", password=PASSWORD)
        set_scope(s, tenant.id)
        identity.add_member(s, Context.system(tenant.id), user=user, role_name="tenant_admin")
        ctx = identity.build_context(s, user, tenant.id)
        _token, secret = identity.create_token(s, ctx, name="bench", scopes=None)
        tenant_id, username = tenant.id, user.username
    started, cpu = time.perf_counter(), time.process_time()
    with transaction(factory) as s:
        set_scope(s, tenant_id)
        summary = seed_factory(
            s, Context.system(tenant_id), days=args.days, orders_per_day=args.orders_per_day, seed=args.seed
        )
    timing = {
        "days": args.days,
        "orders_per_day": args.orders_per_day,
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
    }
    engine.dispose()
    return tenant_id, username, secret, summary, timing


def row_counts(url: str, tenant_id: int) -> dict[str, int]:
    """Count the enterprise's rows of every history table (inside its scope: RLS hides the rest)."""
    engine = make_engine(url)
    counts: dict[str, int] = {}
    with transaction(make_sessionmaker(engine)) as s:
        set_scope(s, tenant_id)
        for table in TABLES:
            sql = text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t")  # noqa: S608 - fixed table names
            counts[table] = int(s.execute(sql, {"t": tenant_id}).scalar_one())
    engine.dispose()
    return counts


def timed(label: str, call: Callable[[], Any], *, runs: int, warmup: int) -> dict[str, float]:
    """Call ``call`` ``warmup`` times unmeasured, then ``runs`` times measured; return the figures."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t) * 1000)
    console.print(f"  {label}: p50 {statistics.median(samples):.1f} ms, p95 {p(samples, 0.95):.1f} ms")
    return figures(samples)


def profile(call: Callable[[], Any], *, top: int = 25) -> list[str]:
    """Return the ``top`` functions by cumulative time of five calls, as pstats prints them."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(5):
        call()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return [line for line in out.getvalue().splitlines() if line.strip()]


def run(name: str, url: str, args: argparse.Namespace, data_dir: Path) -> None:
    """Seed one backend and time the overview page, the API and the service on it."""
    console.rule(name)
    # Seeded in a child process: the measuring process then holds what a server holds, not the
    # seeding's year of objects (whose garbage collection would be charged to the requests).
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        tenant_id, username, token, summary, timing = pool.apply(seed, (url, args))
    results.setdefault("seeding", {})[name] = timing
    console.print(f"  seeded {args.days} days in {timing['wall_s']} s ({timing['cpu_s']} s CPU)")
    out: dict[str, Any] = {
        "history": {"first_day": str(summary.first_day), "last_day": str(summary.last_day), **summary.counts},
        "rows": row_counts(url, tenant_id),
    }
    since, until = summary.first_day, summary.last_day
    window = {"since": str(since), "until": str(until)}
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="bench-only-secret",  # noqa: S106 - a throwaway app
        log_json=False,
        log_level="WARNING",
    )
    with TestClient(create_app(settings)) as browser:
        login = browser.get("/login")
        token_match = CSRF.search(login.text)
        if token_match is None:
            raise RuntimeError("the login page has no CSRF token")
        response = browser.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token_match.group(1), "next": "/"},
            follow_redirects=False,
        )
        if response.status_code != 303:
            raise RuntimeError(f"login failed: {response.status_code}")

        def page() -> None:
            r = browser.get("/factory/overview", params=window)
            if r.status_code != 200 or "kpi-items" not in r.text:
                raise RuntimeError(f"overview page failed: {r.status_code}")

        def api() -> None:
            r = browser.get("/api/v1/factory/kpis", params=window, headers={"Authorization": f"Bearer {token}"})
            if r.status_code != 200:
                raise RuntimeError(f"kpis API failed: {r.status_code}")

        out["page"] = timed("GET /factory/overview", page, runs=args.runs, warmup=args.warmup)
        out["api"] = timed("GET /api/v1/factory/kpis", api, runs=args.runs, warmup=args.warmup)
        total = browser.get("/api/v1/factory/kpis", params=window, headers={"Authorization": f"Bearer {token}"})
        out["kpis"] = total.json()["total"]
    factory = make_sessionmaker(make_engine(url))

    def service() -> None:
        with transaction(factory) as s:
            set_scope(s, tenant_id)
            kpi.overview(s, Context.system(tenant_id), since=since, until=until)

    out["service"] = timed("kpi.service.overview", service, runs=args.runs, warmup=args.warmup)
    if not out["page"]["meets_target"] or args.profile:
        out["profile_service"] = profile(service)
    results[name] = out
    table = Table(title=f"{name}: {summary.first_day} to {summary.last_day}, target p95 <= {TARGET_MS:.0f} ms")
    for col in ("request", "p50 ms", "p95 ms", "max ms", "target met"):
        table.add_column(col)
    for key in ("page", "api", "service"):
        r = out[key]
        table.add_row(key, str(r["p50_ms"]), str(r["p95_ms"]), str(r["max_ms"]), "yes" if r["meets_target"] else "NO")
    console.print(table)
    console.print(out["rows"])


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """Create a fresh database owned by an unprivileged role on a given server; drop it afterwards."""
    name = f"hexmill_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = 'hexmill_app'")):
            conn.execute(text("CREATE ROLE hexmill_app LOGIN PASSWORD 'hexmill_app' NOSUPERUSER NOBYPASSRLS"))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER hexmill_app'))
    host = admin_url.rsplit("/", 1)[0].split("@", 1)[-1]
    try:
        yield f"postgresql+psycopg://hexmill_app:hexmill_app@{host}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def calibrate() -> float:
    """Time a fixed pure-Python loop: on an idle core of this machine class it takes ~0.15 s."""
    t = time.perf_counter()
    sum(range(10**7))
    return round(time.perf_counter() - t, 3)


def main() -> None:
    """Parse the options, run the SQLite half and (when asked) the PostgreSQL half, print the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365, help="days of history (default: a year)")
    parser.add_argument(
        "--orders-per-day",
        type=float,
        default=DEMO_ORDERS_PER_DAY,
        help="mean sales orders a day (default: the demo's)",
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--runs", type=int, default=20, help="measured requests per endpoint (at least 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile even when the target is met")
    parser.add_argument("--postgres", action="store_true", help="also run on a throwaway PostgreSQL cluster")
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV), help=f"a PostgreSQL server to use (${PG_ENV})")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.runs < 20:
        parser.error("--runs must be at least 20")
    results["machine"] = {
        "nproc": os.cpu_count(),
        "loadavg_before": Path("/proc/loadavg").read_text().strip(),
        "python": platform.python_version(),
        "calibration_sum_range_1e7_s": calibrate(),
        "today": str(utcnow().date()),
    }
    results["target_ms"] = TARGET_MS
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        if not args.no_sqlite:
            run("sqlite", f"sqlite:///{tmp}/bench.db", args, data)
        if args.pg_url:
            with pg_database(args.pg_url) as url:
                run("postgresql", url, args, data)
        elif args.postgres:
            import telemetry_store as ts  # noqa: PLC0415 - the same throwaway cluster; bench/ is on sys.path

            ts.results.setdefault("versions", {})
            pg_work = Path(tmp) / "pg-work"
            pg_work.mkdir()
            # The cluster runs as the postgres user when we are root: it must reach its folder.
            Path(tmp).chmod(0o755)
            pg_work.chmod(0o755)
            with ts.postgres(pg_work) as url:
                results["postgresql_version"] = ts.results["versions"].get("postgresql")
                run("postgresql", url, args, data)
    results["machine"]["loadavg_after"] = Path("/proc/loadavg").read_text().strip()
    results["machine"]["calibration_after_s"] = calibrate()
    console.print_json(data={k: v for k, v in results.items() if k not in ("sqlite", "postgresql")})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
