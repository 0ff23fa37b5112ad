"""Spreadsheet import benchmark: check and import 10,000 items and 10,000 opening-stock rows.

One run, per backend (SQLite file, and a throwaway PostgreSQL cluster on 127.0.0.1 as
bench/telemetry_store.py starts one), creates one enterprise with the default units, a warehouse
and 20 locations, then times through ``hexmill.factory.imports.service.import_file`` (what the
API, the console and the CLI call):

- reading and checking the cells alone (``reading.read`` + ``columns.parse``, no database), for the
  CSV and the .xlsx form of the items file;
- a dry run of the 10,000-item CSV (every row through the item service, then rolled back);
- the import of the same file (committed);
- a dry run and the import of 10,000 opening-stock rows (one item each, spread over 20 locations):
  each row a stock move from the adjustment location through the inventory service.

Each call is its own transaction. Usage: ``.venv/bin/python bench/factory_import.py --json
import.json`` (``--no-postgres`` to skip the PostgreSQL half, ``--rows`` to change the 10,000).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.factory.imports import columns, reading, service, writing
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata

console = Console()
results: dict[str, Any] = {}
PERMS = frozenset({"inventory.view", "inventory.move", "factory.view", "factory.edit"})
LOCATIONS = 20


def calibrate() -> float:
    """Time a fixed pure-Python loop: on an idle core of this machine class it takes ~0.15 s."""
    t = time.perf_counter()
    sum(range(10**7))
    return round(time.perf_counter() - t, 3)


def setup(engine: Engine, seed: int) -> Context:
    """Create the enterprise, its default units, a warehouse and its locations; return the acting context."""
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        set_scope(s, ALL_TENANTS)
        tenant = identity.create_tenant(s, Context.system(), name=f"bench-import-{seed}-{time.time_ns()}")
    ctx = Context(user_id=None, username="bench", tenant_id=tenant.id, permissions=PERMS)
    with transaction(factory) as s:
        set_scope(s, tenant.id)
        masterdata.list_uoms(s, ctx, limit=1)  # seeds the default units (pcs, kg, ...)
        wh = inventory.create_warehouse(s, ctx, code="WH", name="Main store")
        for n in range(LOCATIONS):
            inventory.create_location(s, ctx, warehouse_id=wh.id, code=f"WH/{n:02d}", name=f"Bin {n}")
        inventory.virtual_locations(s, ctx)
    return ctx


def files(rows: int, seed: int) -> dict[str, bytes]:
    """Return the items file (CSV and .xlsx) and the opening-stock file (CSV)."""
    rng = random.Random(seed)
    items = [[f"B-{i:06d}", f"Part {i}", "raw", "pcs", "none", "no"] for i in range(rows)]
    stock = [[f"B-{i:06d}", f"WH/{i % LOCATIONS:02d}", "", str(rng.randint(1, 500))] for i in range(rows)]
    return {
        "items_csv": writing.csv_bytes(["code", "name", "kind", "uom", "tracking", "allow_negative"], items),
        "items_xlsx": writing.xlsx_bytes(["code", "name", "kind", "uom", "tracking", "allow_negative"], items),
        "stock_csv": writing.csv_bytes(["item", "location", "lot", "quantity"], stock),
    }


def timed_import(engine: Engine, ctx: Context, kind: str, data: bytes, *, dry_run: bool, label: str) -> dict[str, Any]:
    """Run one import in its own transaction (commit included) with a progress bar; return its time and counts."""
    factory = make_sessionmaker(engine)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(label, total=None)
        t = time.perf_counter()
        with transaction(factory) as s:
            set_scope(s, ctx.tenant_id or 0)
            result = service.import_file(
                s,
                ctx,
                kind=kind,
                data=data,
                filename=f"{kind}.csv",
                dry_run=dry_run,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        seconds = time.perf_counter() - t
    return {
        "seconds": round(seconds, 2),
        "rows_per_s": round(result.rows / seconds),
        "ms_per_row": round(seconds * 1000 / result.rows, 3),
        "created": result.created,
    }


def timed_parse(data: bytes, spec: columns.KindSpec) -> dict[str, Any]:
    """Time reading and checking the cells of a file alone (no database)."""
    t = time.perf_counter()
    parsed = columns.parse(spec, reading.read(data))
    seconds = time.perf_counter() - t
    if parsed.errors:
        msg = f"the generated file has errors: {parsed.errors[:3]}"
        raise RuntimeError(msg)
    return {"seconds": round(seconds, 3), "rows": len(parsed.rows), "bytes": len(data)}


def run(name: str, url: str, args: argparse.Namespace) -> None:
    console.rule(name)
    engine = make_engine(url)
    upgrade(engine)
    ctx = setup(engine, args.seed)
    data = files(args.rows, args.seed)
    out: dict[str, Any] = {}
    if name == "sqlite":
        results["parse"] = {
            "items_csv": timed_parse(data["items_csv"], columns.ITEMS),
            "items_xlsx": timed_parse(data["items_xlsx"], columns.ITEMS),
            "stock_csv": timed_parse(data["stock_csv"], columns.OPENING_STOCK),
        }
    out["items_dry_run"] = timed_import(engine, ctx, "items", data["items_csv"], dry_run=True, label="items, dry run")
    out["items_import"] = timed_import(engine, ctx, "items", data["items_csv"], dry_run=False, label="items, import")
    out["stock_dry_run"] = timed_import(
        engine, ctx, "opening_stock", data["stock_csv"], dry_run=True, label="opening stock, dry run"
    )
    out["stock_import"] = timed_import(
        engine, ctx, "opening_stock", data["stock_csv"], dry_run=False, label="opening stock, import"
    )
    results[name] = out
    engine.dispose()
    table = Table(title=f"{name}: {args.rows:,} rows per file")
    for col in ("step", "seconds", "rows/s", "ms/row", "created"):
        table.add_column(col)
    for key, r in out.items():
        table.add_row(key, str(r["seconds"]), str(r["rows_per_s"]), str(r["ms_per_row"]), json.dumps(r["created"]))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results["machine"] = {
        "nproc": os.cpu_count(),
        "loadavg_before": Path("/proc/loadavg").read_text().strip(),
        "python": platform.python_version(),
        "calibration_sum_range_1e7_s": calibrate(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/bench.db", args)
        if not args.no_postgres:
            import telemetry_store as ts  # noqa: PLC0415 - the same throwaway cluster; bench/ is on sys.path

            ts.results.setdefault("versions", {})
            pg_work = Path(tmp) / "pg-work"
            pg_work.mkdir()
            # The cluster runs as the postgres user when we are root: it must reach its folder.
            Path(tmp).chmod(0o755)
            pg_work.chmod(0o755)
            with ts.postgres(pg_work) as url:
                results["postgresql_version"] = ts.results["versions"].get("postgresql")
                run("postgresql", url, args)
    results["machine"]["loadavg_after"] = Path("/proc/loadavg").read_text().strip()
    results["machine"]["calibration_after_s"] = calibrate()
    console.print_json(data=results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
