"""Factory KPIs computed from plain records, per period and per item or customer.

The KPIs are the ones the papers measure: lead time, on-time delivery, delivery cycle, defect and
scrap rates, inventory turns and labour hours per unit. No I/O: the service gathers the records
from sales, production, quality and inventory and passes them in. Definitions (kept here, shown on the overview page):

- **Order lead time** of an order line: days from the order's confirmation to the line's first
  shipment, counted in the period the line was completed (or first shipped, while still open).
- **Delivery cycle** of an order: days from its confirmation to the shipment that completed its last
  line, counted in the period of that completion.
- **On-time delivery rate**: of the lines completed in a period, the share completed on or before
  their due date (the completing shipment's date in UTC).
- **Defect rate**: nonconforming quantity / inspected quantity.
- **Scrap rate**: scrapped / (good + scrapped), over every operation report.
- **Labour hours per unit**: reported labour hours / good quantity received from production.
- **Inventory turns**: quantity that left stock (shipped and consumed) / average on-hand quantity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import mean
from typing import Final, Literal, TypeVar

Grain = Literal["week", "month"]
SECONDS_PER_DAY: Final = 86_400


@dataclass(frozen=True, slots=True)
class ShippedLine:
    """A sales order line and what was shipped of it."""

    order_id: int
    customer_id: int
    item_id: int
    ordered: Decimal
    due_date: date | None
    confirmed_at: datetime | None
    first_shipped_at: datetime | None
    completed_at: datetime | None
    """When the shipped quantity first reached the ordered quantity (None while open)."""


@dataclass(frozen=True, slots=True)
class OperationReport:
    """Quantities and labour reported against a work order's operation."""

    item_id: int
    at: datetime
    good: Decimal
    scrap: Decimal
    labour_minutes: Decimal


@dataclass(frozen=True, slots=True)
class ProductionReceipt:
    """Good finished quantity received from a work order."""

    item_id: int
    at: datetime
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Inspection:
    """Quantity inspected and found nonconforming."""

    item_id: int
    at: datetime
    inspected: Decimal
    nonconforming: Decimal


@dataclass(frozen=True, slots=True)
class StockFlow:
    """An item's stock over a period: on hand at start and end, and the quantity that left stock."""

    item_id: int
    opening: Decimal
    closing: Decimal
    outflow: Decimal


@dataclass(slots=True)
class Figures:
    """The KPIs of one group (a period, an item or a customer); None where there is nothing to measure."""

    lead_time_days: float | None = None
    delivery_cycle_days: float | None = None
    on_time_rate: float | None = None
    defect_rate: float | None = None
    scrap_rate: float | None = None
    labour_hours_per_unit: float | None = None
    inventory_turns: float | None = None
    lines_completed: int = 0
    lines_on_time: int = 0
    orders_completed: int = 0


def period_start(moment: date | datetime, grain: Grain) -> date:
    """Return the first day of the week (Monday) or month that contains ``moment``."""
    day = moment.date() if isinstance(moment, datetime) else moment
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def periods(since: date, until: date, grain: Grain) -> list[date]:
    """Return the starts of every period overlapping [since, until], in order."""
    out: list[date] = []
    current = period_start(since, grain)
    while current <= until:
        out.append(current)
        if grain == "week":
            current += timedelta(days=7)
        else:
            current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return out


def _days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / SECONDS_PER_DAY


def _ratio(numerator: Decimal, denominator: Decimal) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


def lead_times(lines: Iterable[ShippedLine]) -> list[float]:
    """Return the lead time in days of every shipped line (confirmation → first shipment)."""
    return [
        _days(line.confirmed_at, line.first_shipped_at)
        for line in lines
        if line.confirmed_at is not None and line.first_shipped_at is not None
    ]


def delivery_cycles(lines: Iterable[ShippedLine]) -> list[tuple[int, datetime, float]]:
    """Return (order id, completion, days) of every order whose lines are all completed."""
    by_order: dict[int, list[ShippedLine]] = defaultdict(list)
    for line in lines:
        by_order[line.order_id].append(line)
    out: list[tuple[int, datetime, float]] = []
    for order_id, order_lines in by_order.items():
        completions = [line.completed_at for line in order_lines]
        confirmed = order_lines[0].confirmed_at
        if confirmed is None or any(c is None for c in completions):
            continue
        done = max(c for c in completions if c is not None)
        out.append((order_id, done, _days(confirmed, done)))
    return out


def on_time(line: ShippedLine) -> bool | None:
    """Return whether a completed line was completed by its due date (None: open or no due date)."""
    if line.completed_at is None or line.due_date is None:
        return None
    return line.completed_at.date() <= line.due_date


def delivery_figures(lines: Sequence[ShippedLine], cycles: Sequence[float] | None = None) -> Figures:
    """Return lead time, delivery cycle and on-time rate over the given lines.

    ``cycles`` are the delivery cycles to average when the lines are a slice (a period) of the
    orders' lines; by default they are computed from the lines themselves.
    """
    figures = Figures()
    leads = lead_times(lines)
    if cycles is None:
        cycles = [days for _order, _done, days in delivery_cycles(lines)]
    judged = [flag for flag in (on_time(line) for line in lines) if flag is not None]
    figures.lead_time_days = mean(leads) if leads else None
    figures.delivery_cycle_days = mean(cycles) if cycles else None
    figures.orders_completed = len(cycles)
    figures.lines_completed = len(judged)
    figures.lines_on_time = sum(judged)
    figures.on_time_rate = figures.lines_on_time / len(judged) if judged else None
    return figures


def defect_rate(inspections: Iterable[Inspection]) -> float | None:
    """Return nonconforming / inspected quantity (None when nothing was inspected)."""
    inspected = nonconforming = Decimal(0)
    for row in inspections:
        inspected += row.inspected
        nonconforming += row.nonconforming
    return _ratio(nonconforming, inspected)


def scrap_rate(reports: Iterable[OperationReport]) -> float | None:
    """Return scrapped / (good + scrapped) over the reports (None when nothing was reported)."""
    good = scrap = Decimal(0)
    for row in reports:
        good += row.good
        scrap += row.scrap
    return _ratio(scrap, good + scrap)


def labour_hours_per_unit(reports: Iterable[OperationReport], receipts: Iterable[ProductionReceipt]) -> float | None:
    """Return reported labour hours per good unit received (None when nothing was received)."""
    minutes = sum((row.labour_minutes for row in reports), Decimal(0))
    received = sum((row.quantity for row in receipts), Decimal(0))
    return _ratio(minutes / 60, received)


def inventory_turns(flows: Iterable[StockFlow]) -> float | None:
    """Return outflow / average on-hand over the flows (None when the average stock is zero)."""
    outflow = average = Decimal(0)
    for flow in flows:
        outflow += flow.outflow
        average += (flow.opening + flow.closing) / 2
    return _ratio(outflow, average)


K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def group(rows: Iterable[T], key: Callable[[T], K | None]) -> dict[K, list[T]]:
    """Return the rows grouped by key, dropping rows whose key is None."""
    out: dict[K, list[T]] = defaultdict(list)
    for row in rows:
        k = key(row)
        if k is not None:
            out[k].append(row)
    return dict(out)


@dataclass(frozen=True, slots=True)
class Records:
    """Every record the KPIs are computed from, for one window of time."""

    lines: Sequence[ShippedLine] = ()
    reports: Sequence[OperationReport] = ()
    receipts: Sequence[ProductionReceipt] = ()
    inspections: Sequence[Inspection] = ()
    flows: Sequence[StockFlow] = ()


def _line_period(line: ShippedLine, grain: Grain) -> date | None:
    moment = line.completed_at or line.first_shipped_at
    return period_start(moment, grain) if moment is not None else None


def figures(records: Records, cycles: Sequence[float] | None = None) -> Figures:
    """Return every KPI over all the records (``cycles``: see ``delivery_figures``)."""
    out = delivery_figures(records.lines, cycles)
    out.defect_rate = defect_rate(records.inspections)
    out.scrap_rate = scrap_rate(records.reports)
    out.labour_hours_per_unit = labour_hours_per_unit(records.reports, records.receipts)
    out.inventory_turns = inventory_turns(records.flows)
    return out


def by_period(records: Records, since: date, until: date, grain: Grain) -> dict[date, Figures]:
    """Return the KPIs per period (inventory turns are for the whole window only, so left out here)."""
    lines = group(records.lines, lambda r: _line_period(r, grain))
    reports = group(records.reports, lambda r: period_start(r.at, grain))
    receipts = group(records.receipts, lambda r: period_start(r.at, grain))
    inspections = group(records.inspections, lambda r: period_start(r.at, grain))
    cycles: dict[date, list[float]] = defaultdict(list)
    for _order, done, days in delivery_cycles(records.lines):
        cycles[period_start(done, grain)].append(days)
    out: dict[date, Figures] = {}
    for start in periods(since, until, grain):
        out[start] = figures(
            Records(
                lines=lines.get(start, []),
                reports=reports.get(start, []),
                receipts=receipts.get(start, []),
                inspections=inspections.get(start, []),
            ),
            cycles.get(start, []),
        )
    return out


def by_item(records: Records) -> dict[int, Figures]:
    """Return the KPIs per item."""
    lines = group(records.lines, lambda r: r.item_id)
    reports = group(records.reports, lambda r: r.item_id)
    receipts = group(records.receipts, lambda r: r.item_id)
    inspections = group(records.inspections, lambda r: r.item_id)
    flows = group(records.flows, lambda r: r.item_id)
    keys = set(lines) | set(reports) | set(receipts) | set(inspections) | set(flows)
    return {
        item_id: figures(
            Records(
                lines=lines.get(item_id, []),
                reports=reports.get(item_id, []),
                receipts=receipts.get(item_id, []),
                inspections=inspections.get(item_id, []),
                flows=flows.get(item_id, []),
            )
        )
        for item_id in sorted(keys)
    }


def by_customer(lines: Sequence[ShippedLine]) -> dict[int, Figures]:
    """Return the delivery KPIs per customer."""
    customers = group(lines, lambda r: r.customer_id)
    return {customer: delivery_figures(rows) for customer, rows in sorted(customers.items())}
