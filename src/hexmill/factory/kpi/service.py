"""Factory KPIs for an enterprise: gathers records from sales, production, quality and inventory.

Each source is read through its own service and only if the caller may see it: a user without
``sales.view`` gets the overview without the delivery figures rather than a refusal. The numbers
are computed by ``measures`` (pure); this module only collects and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy.orm import Session

from hexmill.core.context import Context
from hexmill.factory.inventory import service as inventory
from hexmill.factory.kpi import measures
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.production import service as production
from hexmill.factory.quality import service as quality
from hexmill.factory.sales import service as sales

VIEW: Final = "factory.view"
SOURCES: Final = {
    "delivery": sales.VIEW,
    "production": production.VIEW,
    "quality": quality.VIEW,
    "inventory": inventory.VIEW,
}
TOP_ROWS: Final = 20


@dataclass(frozen=True, slots=True)
class Labelled:
    """The KPIs of one item or customer, with its code and name."""

    id: int
    code: str
    name: str
    figures: measures.Figures


@dataclass(slots=True)
class Overview:
    """The factory's KPIs over a window: in total, per period, per item and per customer."""

    since: date
    until: date
    grain: measures.Grain
    sources: dict[str, bool]
    total: measures.Figures
    periods: list[tuple[date, measures.Figures]]
    items: list[Labelled] = field(default_factory=list)
    customers: list[Labelled] = field(default_factory=list)


def _bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """Return the window [since 00:00, the day after until 00:00) in UTC."""
    return datetime.combine(since, time(), UTC), datetime.combine(until + timedelta(days=1), time(), UTC)


def _delivery(session: Session, ctx: Context, since: date, until: date) -> list[measures.ShippedLine]:
    # A line is complete once its shipments reach the ordered quantity; shipping beyond the open
    # quantity is refused, so that happens with its last shipment.
    return [
        measures.ShippedLine(
            order_id=row.order_id,
            customer_id=row.customer_id,
            item_id=row.item_id,
            ordered=row.ordered_quantity,
            due_date=row.due_date,
            confirmed_at=row.confirmed_at,
            first_shipped_at=row.first_shipped_at,
            completed_at=row.last_shipped_at if row.shipped_quantity >= row.ordered_quantity else None,
        )
        for row in sales.shipped_lines(session, ctx, since=since, until=until)
    ]


def _reports(session: Session, ctx: Context, start: datetime, end: datetime) -> list[measures.OperationReport]:
    return [
        measures.OperationReport(
            item_id=row.item_id, at=row.at, good=row.good, scrap=row.scrap, labour_minutes=row.labour_minutes
        )
        for row in production.operation_reports(session, ctx, since=start, until=end)
    ]


def _inspections(session: Session, ctx: Context, start: datetime, end: datetime) -> list[measures.Inspection]:
    return [
        measures.Inspection(row.item_id, row.at, row.inspected, row.nonconforming)
        for row in quality.defect_events(session, ctx, since=start, until=end)
    ]


def records(session: Session, ctx: Context, *, since: date, until: date) -> tuple[measures.Records, dict[str, bool]]:
    """Return the records of the window the caller may see, and which sources were read."""
    start, end = _bounds(since, until)
    sources = {name: ctx.can(permission) for name, permission in SOURCES.items()}
    lines = _delivery(session, ctx, since, until) if sources["delivery"] else []
    reports = _reports(session, ctx, start, end) if sources["production"] else []
    inspections = _inspections(session, ctx, start, end) if sources["quality"] else []
    receipts: list[measures.ProductionReceipt] = []
    flows: list[measures.StockFlow] = []
    if sources["inventory"]:
        receipts = [
            measures.ProductionReceipt(row.item_id, row.at, row.quantity)
            for row in inventory.production_output(session, ctx, since=start, until=end)
        ]
        flows = [
            measures.StockFlow(row.item_id, row.opening, row.closing, row.outflow)
            for row in inventory.stock_flows(session, ctx, since=start, until=end)
        ]
    return measures.Records(lines, reports, receipts, inspections, flows), sources


def _rank(figures: dict[int, measures.Figures]) -> list[int]:
    """Return ids busiest first (by lines completed), at most ``TOP_ROWS`` of them."""
    return sorted(figures, key=lambda k: (-figures[k].lines_completed, k))[:TOP_ROWS]


def overview(session: Session, ctx: Context, *, since: date, until: date, grain: measures.Grain = "month") -> Overview:
    """Return the factory's KPIs over [since, until] in total, per period, per item and per customer."""
    ctx.require(VIEW)
    ctx.require_tenant()
    data, sources = records(session, ctx, since=since, until=until)
    per_item = measures.by_item(data)
    per_customer = measures.by_customer(data.lines)
    item_ids = _rank(per_item)
    customer_ids = _rank(per_customer)
    items = masterdata.labels(session, ctx, item_ids=item_ids, party_ids=customer_ids)
    return Overview(
        since=since,
        until=until,
        grain=grain,
        sources=sources,
        total=measures.figures(data),
        periods=sorted(measures.by_period(data, since, until, grain).items()),
        items=[Labelled(i, *items["items"].get(i, (str(i), "")), per_item[i]) for i in item_ids],
        customers=[Labelled(c, *items["parties"].get(c, (str(c), "")), per_customer[c]) for c in customer_ids],
    )


__all__: Sequence[str] = ("Labelled", "Overview", "overview", "records")
