"""The factory demo history: a ledger that balances, KPIs with values, genealogy, and determinism."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.factory.demo import FactorySummary, seed_factory
from hexmill.factory.inventory import service as inventory
from hexmill.factory.kpi import service as kpi
from hexmill.factory.maintenance import service as maintenance
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.purchasing import service as purchasing
from hexmill.factory.quality import service as quality
from hexmill.factory.sales import service as sales
from tests.conftest import unique

UNTIL = date(2025, 6, 1)
FIGURES = (
    "lead_time_days",
    "delivery_cycle_days",
    "on_time_rate",
    "defect_rate",
    "scrap_rate",
    "labour_hours_per_unit",
    "inventory_turns",
)


@dataclass
class Seeded:
    """An enterprise with a seeded history."""

    tenant_id: int
    summary: FactorySummary
    factory: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[tuple[Session, Context]]:
        """Open a transaction in the enterprise with the system context."""
        with transaction(self.factory) as s:
            set_scope(s, self.tenant_id)
            yield s, Context.system(self.tenant_id)


def _seed(factory: sessionmaker[Session], *, days: int, seed: int) -> Seeded:
    with transaction(factory) as s:
        set_scope(s, ALL_TENANTS)
        tenant_id = identity.create_tenant(s, Context.system(), name=unique("demo-factory")).id
    with transaction(factory) as s:
        set_scope(s, tenant_id)
        summary = seed_factory(s, Context.system(tenant_id), days=days, orders_per_day=1.5, seed=seed, until=UNTIL)
    return Seeded(tenant_id, summary, factory)


@pytest.fixture(scope="module")
def month(session_factory: sessionmaker[Session]) -> Seeded:
    """Return an enterprise with 30 days of history."""
    return _seed(session_factory, days=30, seed=11)


def test_the_history_covers_the_days_asked_for_and_every_kind_of_record(month: Seeded) -> None:
    assert month.summary.first_day == date(2025, 5, 2)
    assert month.summary.last_day == date(2025, 5, 31)
    for kind in (
        "purchase_orders",
        "purchase_receipts",
        "quotations",
        "sales_orders",
        "work_orders",
        "operation_reports",
        "production_receipts",
        "inspections",
        "deliveries",
        "maintenance_orders",
    ):
        assert month.summary.counts.get(kind, 0) > 0, kind
    with month.session() as (s, ctx):
        orders, total = sales.list_sales_orders(s, ctx, limit=500)
        assert total == month.summary.counts["sales_orders"]
        # Every record is dated inside the history, not today.
        assert all(month.summary.first_day <= o.created_at.date() <= month.summary.last_day for o in orders)
        assert {o.status for o in orders} & {"delivered", "partially_delivered", "confirmed"}
        quotations, quoted = sales.list_quotations(s, ctx, limit=500)
        assert quoted == month.summary.counts["quotations"]
        # Won quotations became the orders' source; lost ones were rejected or expired.
        won = [q for q in quotations if q.status == "accepted"]
        assert won
        assert all(sales.quotation_order(s, ctx, q.id) is not None for q in won)
        assert {q.status for q in quotations} <= {"accepted", "rejected", "expired", "sent"}
        _, purchases = purchasing.list_purchase_orders(s, ctx)
        assert purchases == month.summary.counts["purchase_orders"]
        upkeep, _ = maintenance.list_maintenance_orders(s, ctx, limit=500)
        assert {o.kind for o in upkeep} == {"preventive", "corrective"} or {o.kind for o in upkeep} == {"preventive"}
        assert all(o.status == "done" for o in upkeep if o.created_at.date() < month.summary.last_day)


def test_the_stock_ledger_balances(month: Seeded) -> None:
    with month.session() as (s, ctx):
        assert inventory.verify_balances(s, ctx) == []
        stock, _ = inventory.stock_on_hand(s, ctx, limit=500)
        assert stock
        assert all(row.on_hand >= 0 for row in stock)


def test_every_kpi_of_the_window_has_a_value(month: Seeded) -> None:
    with month.session() as (s, ctx):
        overview = kpi.overview(s, ctx, since=month.summary.first_day, until=month.summary.last_day)
    for name in FIGURES:
        assert getattr(overview.total, name) is not None, name
    assert 0 < overview.total.scrap_rate < 0.1  # type: ignore[operator]
    assert 0 <= overview.total.defect_rate < 0.1  # type: ignore[operator]
    assert 1 < overview.total.lead_time_days < 40  # type: ignore[operator]
    assert overview.items
    assert overview.customers


def test_a_shipped_lot_traces_down_to_its_machined_parts_and_bar_stock(month: Seeded) -> None:
    with month.session() as (s, ctx):
        deliveries, _ = sales.list_deliveries(s, ctx, filters={"status": "shipped"}, limit=500)
        valve = masterdata.get_item_by_code(s, ctx, "FG-VALVE").id
        shipped = [
            line.lot_id
            for d in deliveries
            for line in d.lines
            if line.lot_id is not None and inventory.get_lot(s, ctx, line.lot_id).item_id == valve
        ]
        assert shipped
        trace = inventory.trace_down(s, ctx, shipped[0])
        codes = {
            masterdata.get_item(s, ctx, inventory.get_lot(s, ctx, lot_id).item_id).code
            for lot_id in trace.lots
            if lot_id != shipped[0]
        }
    assert {"SF-HOUSING", "RM-AL6061"} <= codes
    assert max(trace.depths.values()) >= 2


def test_failed_final_inspections_open_dispositioned_nonconformances(month: Seeded) -> None:
    with month.session() as (s, ctx):
        inspections, total = quality.list_inspections(s, ctx, limit=500)
        ncs, _ = quality.list_nonconformances(s, ctx, limit=500)
    assert total == month.summary.counts["inspections"]
    assert {i.source_type for i in inspections} == {"receipt", "final"}
    assert len(ncs) == month.summary.counts.get("nonconformances", 0)
    assert all(nc.status == "closed" for nc in ncs)


def test_the_same_seed_gives_the_same_history(session_factory: sessionmaker[Session]) -> None:
    first = _seed(session_factory, days=8, seed=5)
    second = _seed(session_factory, days=8, seed=5)
    other = _seed(session_factory, days=8, seed=6)
    assert first.summary.counts == second.summary.counts
    assert first.summary.counts != other.summary.counts

    def ledger(seeded: Seeded) -> tuple[int, int, list[str]]:
        with seeded.session() as (s, ctx):
            _, moves = inventory.list_moves(s, ctx)
            lots, total = inventory.list_lots(s, ctx, limit=500)
            return moves, total, sorted(lot.number for lot in lots)

    assert ledger(first) == ledger(second)


def test_seeding_needs_at_least_one_day(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        set_scope(s, ALL_TENANTS)
        tenant_id = identity.create_tenant(s, Context.system(), name=unique("demo-empty")).id
    with transaction(session_factory) as s, pytest.raises(ValueError, match="at least 1"):
        set_scope(s, tenant_id)
        seed_factory(s, Context.system(tenant_id), days=0)
