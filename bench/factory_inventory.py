"""Inventory ledger benchmark: genealogy traces and stock on hand over a large move history.

One run builds, per backend (SQLite file, and a throwaway PostgreSQL cluster on 127.0.0.1 as
bench/telemetry_store.py starts one), one enterprise with:

a. 10,000 untracked items, each with a receipt, transfers and issues across 20 internal locations
   (the stock history);
b. a 10-level genealogy: 10 lot-tracked items, ``--lots`` lots per level, each lot above level 0
   produced by a production record consuming two lots of the level below; level-0 lots received
   from the supplier, top-level lots shipped to the customer location;

then pads the ledger to ``--moves`` moves (100,000 by default). The history is written with bulk
INSERTs (as the ledger would hold it after years of posting); the reads go through the service
functions the API calls:

- ``trace_down`` from random top-level lots and ``trace_up`` from random level-0 lots (p50, p95);
- ``stock_on_hand`` for the 10,000 items: the first page with its total, and every row at once;
- ``stock_by_item``: every one of the 10,000 items with its stock summed over locations and lots.

Usage: ``.venv/bin/python bench/factory_inventory.py --json inventory.json`` (``--no-postgres``
to skip the PostgreSQL half).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, insert, text

from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.factory.inventory import service
from hexmill.factory.inventory.models import Lot, ProductionRecord, StockMove
from hexmill.factory.masterdata.models import Item, Uom

console = Console()
results: dict[str, Any] = {}
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PERMS = frozenset({"inventory.view", "inventory.move", "factory.view", "factory.edit"})
LEVELS = 10
ITEMS = 10_000
INTERNAL = 20


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def build(engine: Engine, *, moves: int, lots_per_level: int, seed: int) -> tuple[Context, dict[str, list[int]]]:  # noqa: PLR0912, PLR0915 - one linear data script
    """Write the history; return the context and the lots of level 0 and of the top level."""
    rng = random.Random(seed)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        set_scope(s, ALL_TENANTS)
        tenant = identity.create_tenant(s, Context.system(), name=f"bench-{seed}")
    ctx = Context(user_id=None, username="bench", tenant_id=tenant.id, permissions=PERMS)
    tid = tenant.id
    rows: list[dict[str, Any]] = []
    clock = iter(T0 + timedelta(seconds=i) for i in range(10**7))

    def move(item: int, qty: Decimal, src: int, dst: int, lot: int | None = None, **extra: Any) -> None:
        rows.append(
            {
                "tenant_id": tid,
                "item_id": item,
                "quantity": qty,
                "from_location_id": src,
                "to_location_id": dst,
                "lot_id": lot,
                "reference_type": extra.pop("reference_type", ""),
                "reference_id": extra.pop("reference_id", ""),
                "reason": "",
                "production_id": extra.pop("production_id", None),
                "production_role": extra.pop("production_role", None),
                "reversal_of": None,
                "user_id": None,
                "username": "bench",
                "created_at": next(clock),
            }
        )

    with transaction(factory) as s, progress() as bar:
        set_scope(s, tid)
        task = bar.add_task("master data", total=ITEMS + LEVELS)
        uom = Uom(tenant_id=tid, code="pc", name="Piece", category="count")
        s.add(uom)
        s.flush()
        item_rows = [
            {"tenant_id": tid, "code": f"ITEM-{n:05d}", "name": f"Item {n}", "kind": "raw", "uom_id": uom.id,
             "tracking": "none", "allow_negative": False, "configurable": False, "active": True, "description": "",
             "created_at": T0}
            for n in range(ITEMS)
        ] + [
            {"tenant_id": tid, "code": f"LEVEL-{n}", "name": f"Level {n}", "kind": "semi_finished", "uom_id": uom.id,
             "tracking": "lot", "allow_negative": False, "configurable": False, "active": True, "description": "",
             "created_at": T0}
            for n in range(LEVELS)
        ]  # fmt: skip
        s.execute(insert(Item), item_rows)
        bar.advance(task, ITEMS + LEVELS)
        ids = dict(s.execute(text("SELECT code, id FROM factory_items WHERE tenant_id = :t"), {"t": tid}).all())
        plain = [ids[f"ITEM-{n:05d}"] for n in range(ITEMS)]
        level_items = [ids[f"LEVEL-{n}"] for n in range(LEVELS)]
        virtual = {k: v.id for k, v in service.virtual_locations(s, ctx).items()}
        wh = service.create_warehouse(s, ctx, code="WH", name="Main store")
        bins = [
            service.create_location(s, ctx, warehouse_id=wh.id, code=f"WH/{n:02d}", name=f"Bin {n}").id
            for n in range(INTERNAL)
        ]

        # b. genealogy
        task = bar.add_task("genealogy", total=LEVELS)
        levels: list[list[int]] = []
        for level in range(LEVELS):
            lot_rows = [
                {"tenant_id": tid, "item_id": level_items[level], "number": f"L{level}-{n:05d}", "kind": "lot",
                 "note": "", "created_at": T0}
                for n in range(lots_per_level)
            ]  # fmt: skip
            s.execute(insert(Lot), lot_rows)
            lot_ids = list(
                s.scalars(text("SELECT id FROM factory_lots WHERE item_id = :i ORDER BY id"), {"i": level_items[level]})
            )
            levels.append(lot_ids)
            if level == 0:
                for lot in lot_ids:
                    move(level_items[0], Decimal(10), virtual["supplier"], bins[0], lot)
            else:
                records = [
                    {"tenant_id": tid, "reference_type": "work_order", "reference_id": str(n), "note": "",
                     "user_id": None, "username": "bench", "created_at": T0}
                    for n in range(lots_per_level)
                ]  # fmt: skip
                s.execute(insert(ProductionRecord), records)
                record_ids = list(
                    s.scalars(
                        text(
                            "SELECT id FROM factory_production_records WHERE tenant_id = :t ORDER BY id DESC LIMIT :n"
                        ),
                        {"t": tid, "n": lots_per_level},
                    )
                )[::-1]
                below = levels[level - 1]
                for rec, out in zip(record_ids, lot_ids, strict=True):
                    for comp in rng.sample(below, 2):
                        move(level_items[level - 1], Decimal(1), bins[0], virtual["production"], comp,
                             production_id=rec, production_role="consumed")  # fmt: skip
                    move(level_items[level], Decimal(10), virtual["production"], bins[0], out,
                         production_id=rec, production_role="produced")  # fmt: skip
            bar.advance(task)
        for lot in levels[-1]:
            move(level_items[-1], Decimal(1), bins[0], virtual["customer"], lot, reference_type="sales_order")

        # a. stock history of the untracked items, padded to the number of moves asked for
        task = bar.add_task("stock history", total=moves)
        bar.advance(task, len(rows))
        n = 0
        while len(rows) < moves:
            item = plain[n % ITEMS]
            home, other = bins[n % INTERNAL], bins[(n * 7 + 3) % INTERNAL]
            if n < ITEMS:
                move(item, Decimal(100), virtual["supplier"], home)
            elif n % 3 == 0:
                move(item, Decimal("2.5"), home, other)
            elif n % 3 == 1:
                move(item, Decimal("1.25"), home, virtual["customer"], reference_type="sales_order")
            else:
                move(item, Decimal(3), virtual["supplier"], home)
            n += 1
            if len(rows) % 10_000 == 0:
                bar.update(task, completed=len(rows))
        bar.update(task, completed=len(rows))
        task = bar.add_task("insert moves", total=len(rows))
        for start in range(0, len(rows), 5_000):
            s.execute(insert(StockMove), rows[start : start + 5_000])
            bar.advance(task, len(rows[start : start + 5_000]))
    # The running sums (ADR 0012) are derived: recomputed here from the bulk-loaded moves, as after an import.
    with transaction(factory) as s:
        set_scope(s, tid)
        t = time.perf_counter()
        results.setdefault("rebuild", {})[engine.dialect.name] = {
            "rows": service.rebuild_balances(s, ctx),
            "seconds": round(time.perf_counter() - t, 2),
        }
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return ctx, {"bottom": levels[0], "top": levels[-1]}


def timed(factory: Any, ctx: Context, fn: Callable[..., Any], args: list[Any], label: str) -> dict[str, float]:
    samples: list[float] = []
    sizes: list[int] = []
    with progress() as bar:
        task = bar.add_task(label, total=len(args))
        for arg in args:
            with transaction(factory) as s:
                set_scope(s, ctx.tenant_id or 0)
                t = time.perf_counter()
                out = fn(s, ctx, arg)
                samples.append((time.perf_counter() - t) * 1000)
                sizes.append(len(out.depths) if hasattr(out, "depths") else out[1])
            bar.advance(task)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(p(samples, 0.95), 2),
        "max_ms": round(max(samples), 2),
        "runs": len(samples),
        "rows_or_lots_median": statistics.median(sizes),
    }


def run(name: str, url: str, args: argparse.Namespace) -> None:
    console.rule(f"{name}")
    engine = make_engine(url)
    upgrade(engine)
    ctx, lots = build(engine, moves=args.moves, lots_per_level=args.lots, seed=args.seed)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        # Counted inside the enterprise's scope: on PostgreSQL row-level security hides the rest.
        set_scope(s, ctx.tenant_id or 0)
        total = s.execute(text("SELECT count(*) FROM factory_stock_moves WHERE tenant_id = :t"), {"t": ctx.tenant_id})
        total = total.scalar_one()
    rng = random.Random(args.seed + 1)
    top = rng.sample(lots["top"], args.samples)
    bottom = rng.sample(lots["bottom"], args.samples)
    out: dict[str, Any] = {"moves": total}
    # Warm the caches once, as a running server has them.
    with transaction(factory) as s:
        set_scope(s, ctx.tenant_id or 0)
        service.trace_down(s, ctx, top[0])
        service.stock_on_hand(s, ctx, limit=10)
    out["trace_down"] = timed(factory, ctx, service.trace_down, top, "trace down")
    out["trace_up"] = timed(factory, ctx, service.trace_up, bottom, "trace up (recall)")
    out["stock_page"] = timed(
        factory, ctx, lambda s, c, _a: service.stock_on_hand(s, c, limit=50), list(range(args.samples)), "stock page"
    )
    out["stock_all"] = timed(
        factory,
        ctx,
        lambda s, c, _a: service.stock_on_hand(s, c, limit=100_000),
        list(range(max(3, args.samples // 5))),
        "stock, every row",
    )
    out["stock_items"] = timed(
        factory,
        ctx,
        lambda s, c, _a: service.stock_by_item(s, c, limit=100_000),
        list(range(max(3, args.samples // 5))),
        "stock per item, every item",
    )
    results[name] = out
    engine.dispose()
    table = Table(title=f"{name}: {total:,} moves")
    for col in ("query", "p50 ms", "p95 ms", "max ms", "lots / rows"):
        table.add_column(col)
    for key in ("trace_down", "trace_up", "stock_page", "stock_all", "stock_items"):
        r = out[key]
        table.add_row(key, str(r["p50_ms"]), str(r["p95_ms"]), str(r["max_ms"]), str(r["rows_or_lots_median"]))
    console.print(table)


def calibrate() -> float:
    """Time a fixed pure-Python loop: on an idle core of this machine class it takes ~0.15 s."""
    t = time.perf_counter()
    sum(range(10**7))
    return round(time.perf_counter() - t, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=100_000)
    parser.add_argument("--lots", type=int, default=600, help="lots per genealogy level")
    parser.add_argument("--samples", type=int, default=50)
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
