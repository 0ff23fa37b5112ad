"""Production logic: work orders, their release snapshots, shop-floor reports, material issues and receipts.

Permissions: reads need ``production.view``; creating, editing, releasing, closing and cancelling
work orders and the scrap-reason catalogue need ``production.edit``; shop-floor reports need
``production.report``; issuing material and receiving finished goods move stock, so they need
``production.report`` and ``inventory.move``. Lookups answer NotFound for missing objects and for
another enterprise's alike (the tenant guard scopes every query).

Master data is read through ``hexmill.factory.masterdata.service`` and stock is moved through
``hexmill.factory.inventory.service`` (ADR 0011). Every material move of a work order (manual
issues, backflushed components, received output) goes into one inventory production record, so
``inventory.service.trace_down`` on any lot received from the order lists every component lot
the order consumed, whenever and however it was issued.

Functions other packages may call (stable):

- ``get_work_order(session, ctx, work_order_id) -> WorkOrder`` (with components and operations)
- ``list_work_orders(session, ctx, *, filters=None, offset=0, limit=50) -> (list[WorkOrder], total)``
- ``get_operation(session, ctx, operation_id) -> WorkOrderOperation``
- ``operation_reports(session, ctx, *, since, until) -> list[ReportRow]``: every shop-floor report
  in ``[since, until)`` with its work order, item, operation, work centre, good, scrap, scrap reason,
  the labour minutes it accounts for, and its time (for KPIs: scrap rate, labour hours per unit).
- ``report_machine_counts(session, ctx, *, equipment_id, good, scrap, at) -> OperationReport | None``

A work order is edited while it is a draft. Release copies the item's BOM (effective on the
release date, one level) and routing into the order; the order then runs (in progress with the
first report, issue or receipt), is completed when the good quantity received reaches the
ordered quantity, and is closed explicitly. Reports, issues and receipts of one order run one at
a time: each locks the order's row first (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock
on SQLite).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, Protocol

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hexmill.core import audit
from hexmill.core.clock import as_utc, utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.i18n import N_
from hexmill.core.lookup import lookup, page_of, reference
from hexmill.core.pagination import MAX_LIMIT
from hexmill.factory import documents
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.production import materials, shopfloor
from hexmill.factory.production.filters import REASON_FILTERS, WORK_ORDER_FILTERS
from hexmill.factory.production.models import (
    FinishedGoodsReceipt,
    MaterialIssue,
    OperationReport,
    ReceiptOutput,
    ScrapReason,
    WorkOrder,
    WorkOrderComponent,
    WorkOrderOperation,
)
from hexmill.factory.sales import service as sales

VIEW: Final = "production.view"
EDIT: Final = "production.edit"
REPORT: Final = "production.report"
MOVE: Final = inventory.MOVE
REFERENCE_TYPE: Final = "work_order"
MAKE_KINDS: Final = ("semi_finished", "finished")
# Numeric(18, 6) holds values below 10**12.
MAX_QUANTITY: Final = Decimal(10) ** 12
MINUTE_STEP: Final = Decimal("0.001")
# Numeric(12, 3) holds labour minutes below 10**9.
MAX_MINUTES: Final = Decimal(10) ** 9
# States in which the shop floor reports, issues and receives against an order.
RUNNING_STATES: Final = ("released", "in_progress")
REPORTING_STATES: Final = ("released", "in_progress", "completed")
ORDER_FIELDS: Final = ("number", "item_id", "quantity", "start_date", "due_date", "sales_order_line_id", "note")


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _invalid(message: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(message, field=field, params=params)], **params)


def _show(value: Decimal) -> str:
    """Return a quantity without trailing zeros and never in exponent notation."""
    return format(Decimal(value).normalize(), "f")


def _minutes(value: Decimal) -> Decimal:
    return Decimal(value).quantize(MINUTE_STEP, rounding=ROUND_HALF_EVEN)


def _audit(session: Session, ctx: Context, action: str, wo: WorkOrder, **detail: Any) -> None:
    audit.record(
        session,
        ctx,
        f"production.work_order.{action}",
        object_type="work_order",
        object_id=wo.id,
        detail={
            "number": wo.number,
            **{k: str(v) if isinstance(v, Decimal | date | datetime) else v for k, v in detail.items()},
        },
    )


def _when(value: datetime, field: str = "at") -> datetime:
    """Return a time as aware UTC, or refuse one that UTC cannot hold (year 1 east of Greenwich)."""
    try:
        return as_utc(value)
    except OverflowError as exc:
        raise _invalid(N_("The time is out of range."), field) from exc


def _within(value: Decimal, field: str, limit: Decimal = MAX_QUANTITY) -> Decimal:
    """Return a total the database can hold, or refuse the input that would make it overflow."""
    if abs(value) >= limit:
        raise _invalid(N_("The total would be too large: %(total)s."), field, total=_show(value))
    return value


def _quantity(value: Decimal, field: str) -> Decimal:
    out = materials.q(value)
    if out <= 0:
        raise _invalid(N_("The quantity must be greater than zero."), field)
    if out >= MAX_QUANTITY:
        raise _invalid(N_("The quantity is too large."), field)
    return out


# ---------------------------------------------------------------------------------------------
# Work orders
# ---------------------------------------------------------------------------------------------


def list_work_orders(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[WorkOrder], int]:
    """Return one page of work orders, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(WorkOrder).order_by(WorkOrder.id.desc())
    return page_of(session, stmt, WORK_ORDER_FILTERS, filters=filters, offset=offset, limit=limit)


def _with_parts() -> Any:
    return (selectinload(WorkOrder.components), selectinload(WorkOrder.operations))


def get_work_order(session: Session, ctx: Context, work_order_id: int) -> WorkOrder:
    """Return one work order with its components and operations, or raise NotFound."""
    ctx.require(VIEW)
    wo = session.scalar(select(WorkOrder).options(*_with_parts()).where(WorkOrder.id == work_order_id))
    if wo is None:
        raise NotFound(N_("Work order %(id)s not found."), id=work_order_id)
    return wo


def _lock(session: Session, ctx: Context, work_order_id: int) -> WorkOrder:
    """Lock a work order's row until commit, then read it and its parts afresh (its writes run one at a time)."""
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write that changes nothing takes the database's write lock now.
        session.execute(
            update(WorkOrder)
            .where(WorkOrder.tenant_id == tenant_id, WorkOrder.id == work_order_id)
            .values(id=WorkOrder.id)
            .execution_options(synchronize_session=False)
        )
        stmt = select(WorkOrder)
    else:
        stmt = select(WorkOrder).with_for_update(of=WorkOrder)
    wo = session.scalar(
        stmt.options(*_with_parts()).where(WorkOrder.id == work_order_id).execution_options(populate_existing=True)
    )
    if wo is None:
        raise NotFound(N_("Work order %(id)s not found."), id=work_order_id)
    return wo


def _draft(session: Session, ctx: Context, work_order_id: int) -> WorkOrder:
    wo = _lock(session, ctx, work_order_id)
    if wo.status != "draft":
        raise Conflict(
            N_("Only a draft work order can be changed; %(number)s is %(status)s."),
            field="status",
            number=wo.number,
            status=wo.status,
        )
    return wo


def _in_states(wo: WorkOrder, states: Sequence[str], message: str) -> None:
    if wo.status not in states:
        raise Conflict(message, field="status", number=wo.number, status=wo.status)


def _make_item(session: Session, ctx: Context, item_id: int) -> Any:
    try:
        item = masterdata.get_item(session, ctx, item_id)
    except NotFound as exc:
        raise _invalid(N_("Item %(id)s not found."), "item_id", id=item_id) from exc
    if not item.active:
        raise _invalid(N_("Item %(code)s is inactive."), "item_id", code=item.code)
    if item.kind not in MAKE_KINDS:
        raise _invalid(
            N_("Item %(code)s is not made in the factory: only semi-finished and finished items are."),
            "item_id",
            code=item.code,
        )
    return item


def _sales_line(session: Session, ctx: Context, line_id: int | None, item_id: int) -> None:
    """Check that a sales order line of the enterprise exists and asks for the item made."""
    if line_id is None:
        return
    try:
        line = sales.get_order_line(session, ctx, line_id)
    except NotFound as exc:
        raise _invalid(N_("Sales order line %(id)s not found."), "sales_order_line_id", id=line_id) from exc
    if line.item_id != item_id:
        raise _invalid(
            N_("Sales order line %(id)s is for another item than the work order makes."),
            "sales_order_line_id",
            id=line_id,
        )


def _check_dates(start: date | None, due: date | None) -> None:
    if start is not None and due is not None and due < start:
        raise _invalid(N_("The due date cannot be before the start date (%(date)s)."), "due_date", date=str(start))


WORK_ORDER_TAKEN: Final = N_("The work order number %(number)s is already taken.")


def _unique_number(session: Session, number: str, exclude: int | None) -> None:
    documents.check_number_free(session, WorkOrder, number, exclude, WORK_ORDER_TAKEN)


def _flush_number(session: Session, number: str) -> None:
    documents.flush_numbered(session, number, WORK_ORDER_TAKEN)


def create_work_order(
    session: Session,
    ctx: Context,
    *,
    number: str,
    item_id: int,
    quantity: Decimal,
    start_date: date | None = None,
    due_date: date | None = None,
    sales_order_line_id: int | None = None,
    note: str = "",
) -> WorkOrder:
    """Create a draft work order to make a quantity (in the item's base unit) of a made item.

    It may name the sales order line it makes the goods for (of the same item).
    """
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_number(session, number, None)
    _make_item(session, ctx, item_id)
    qty = _quantity(quantity, "quantity")
    _check_dates(start_date, due_date)
    _sales_line(session, ctx, sales_order_line_id, item_id)
    wo = WorkOrder(
        tenant_id=tenant_id,
        number=number,
        item_id=item_id,
        quantity=qty,
        start_date=start_date,
        due_date=due_date,
        sales_order_line_id=sales_order_line_id,
        note=note,
        status="draft",
        received_quantity=materials.q(Decimal(0)),
        username=ctx.username,
        components=[],
        operations=[],
    )
    session.add(wo)
    _flush_number(session, number)
    _audit(session, ctx, "create", wo, item_id=item_id, quantity=qty)
    return wo


def update_work_order(
    session: Session, ctx: Context, work_order_id: int, *, clear_sales_order_line: bool = False, **fields: Any
) -> WorkOrder:
    """Change a draft work order: number, item, quantity, dates, sales order line (or clear it), note."""
    ctx.require(EDIT)
    wo = _draft(session, ctx, work_order_id)
    changes = {k: v for k, v in fields.items() if v is not None and k in ORDER_FIELDS}
    if "number" in changes:
        _unique_number(session, changes["number"], wo.id)
    if "item_id" in changes:
        _make_item(session, ctx, changes["item_id"])
    if "quantity" in changes:
        changes["quantity"] = _quantity(changes["quantity"], "quantity")
    _check_dates(changes.get("start_date", wo.start_date), changes.get("due_date", wo.due_date))
    if clear_sales_order_line:
        changes["sales_order_line_id"] = None
    elif "item_id" in changes or "sales_order_line_id" in changes:
        _sales_line(
            session, ctx, changes.get("sales_order_line_id", wo.sales_order_line_id), changes.get("item_id", wo.item_id)
        )
    for key, value in changes.items():
        setattr(wo, key, value)
    _flush_number(session, wo.number)
    _audit(session, ctx, "update", wo, **changes)
    return wo


def delete_work_order(session: Session, ctx: Context, work_order_id: int) -> None:
    """Delete a draft work order (a released one is cancelled or closed instead)."""
    ctx.require(EDIT)
    wo = _draft(session, ctx, work_order_id)
    session.delete(wo)
    session.flush()
    _audit(session, ctx, "delete", wo)


def release_work_order(session: Session, ctx: Context, work_order_id: int) -> WorkOrder:
    """Release a draft: snapshot the BOM (one level, effective today) and the routing into the order.

    Refused, naming the item, when the item has no routing. Later edits of the BOM or routing do
    not change the order.
    """
    ctx.require(EDIT)
    wo = _draft(session, ctx, work_order_id)
    item = _make_item(session, ctx, wo.item_id)
    routing, _ = masterdata.list_operations(session, ctx, filters={"item_id": item.id}, limit=MAX_LIMIT)
    if not routing:
        raise Conflict(
            N_("Item %(code)s has no routing: add its operations before releasing work order %(number)s."),
            field="item_id",
            code=item.code,
            number=wo.number,
        )
    today = utcnow().date()
    rows = [row for row in masterdata.bom_tree(session, ctx, item.id, on=today) if row.level == 1]
    for n, row in enumerate(rows):
        per_unit = _within(materials.per_unit(row.quantity), "quantity", Decimal(10) ** 14)
        _within(per_unit * wo.quantity, "quantity")
        wo.components.append(
            WorkOrderComponent(
                tenant_id=wo.tenant_id,
                work_order_id=wo.id,
                position=(n + 1) * 10,
                item_id=row.component.id,
                quantity_per_unit=per_unit,
                required_quantity=materials.required(per_unit, wo.quantity),
                uom_id=row.component.uom_id,
                issued_quantity=materials.q(Decimal(0)),
            )
        )
    for op in routing:
        wo.operations.append(
            WorkOrderOperation(
                tenant_id=wo.tenant_id,
                work_order_id=wo.id,
                sequence=op.sequence,
                name=op.name,
                work_centre_id=op.work_centre_id,
                setup_minutes=op.setup_minutes,
                run_minutes=op.run_minutes,
                transfer_batch=op.transfer_batch,
                status="pending",
                good_quantity=materials.q(Decimal(0)),
                scrap_quantity=materials.q(Decimal(0)),
                labour_minutes=_minutes(Decimal(0)),
            )
        )
    wo.status, wo.released_at = "released", utcnow()
    session.flush()
    _audit(session, ctx, "release", wo, components=len(rows), operations=len(routing), on=today)
    return wo


def close_work_order(session: Session, ctx: Context, work_order_id: int) -> WorkOrder:
    """Close a released, running or completed order: nothing more is reported, issued or received."""
    ctx.require(EDIT)
    wo = _lock(session, ctx, work_order_id)
    _in_states(wo, REPORTING_STATES, N_("Work order %(number)s is %(status)s and cannot be closed."))
    wo.status, wo.closed_at = "closed", utcnow()
    session.flush()
    _audit(session, ctx, "close", wo, received=wo.received_quantity)
    return wo


def cancel_work_order(session: Session, ctx: Context, work_order_id: int) -> WorkOrder:
    """Cancel a draft or released order on which nothing has been reported, issued or received."""
    ctx.require(EDIT)
    wo = _lock(session, ctx, work_order_id)
    _in_states(wo, ("draft", "released"), N_("Work order %(number)s is %(status)s and cannot be cancelled."))
    used = session.scalar(
        select(
            or_(
                exists().where(OperationReport.work_order_id == wo.id),
                exists().where(MaterialIssue.work_order_id == wo.id),
                exists().where(FinishedGoodsReceipt.work_order_id == wo.id),
            )
        )
    )
    if used:
        raise Conflict(
            N_("Work order %(number)s has reports, issues or receipts and cannot be cancelled; close it instead."),
            field="status",
            number=wo.number,
        )
    wo.status = "cancelled"
    session.flush()
    _audit(session, ctx, "cancel", wo)
    return wo


def _started(wo: WorkOrder) -> None:
    if wo.status == "released":
        wo.status = "in_progress"


# ---------------------------------------------------------------------------------------------
# Operations and shop-floor reports
# ---------------------------------------------------------------------------------------------


def get_operation(session: Session, ctx: Context, operation_id: int) -> WorkOrderOperation:
    """Return one operation of a work order, or raise NotFound."""
    ctx.require(VIEW)
    result: WorkOrderOperation = lookup(session, WorkOrderOperation, operation_id, N_("Operation %(id)s not found."))
    return result


def list_operations(session: Session, ctx: Context, work_order_id: int) -> list[WorkOrderOperation]:
    """Return a work order's operations in sequence."""
    return list(get_work_order(session, ctx, work_order_id).operations)


def list_reports(
    session: Session, ctx: Context, *, work_order_id: int | None = None, operation_id: int | None = None
) -> list[OperationReport]:
    """Return the shop-floor reports of a work order or one operation, oldest first."""
    ctx.require(VIEW)
    stmt = select(OperationReport).order_by(OperationReport.at, OperationReport.id)
    if work_order_id is not None:
        stmt = stmt.where(OperationReport.work_order_id == work_order_id)
    if operation_id is not None:
        stmt = stmt.where(OperationReport.operation_id == operation_id)
    return list(session.scalars(stmt))


class _Reported(Protocol):
    """What an event is built from: a report object or a row of its columns."""

    kind: str
    at: datetime
    good_quantity: Decimal
    scrap_quantity: Decimal
    labour_minutes: Decimal | None


def _event(report: _Reported) -> shopfloor.Event:
    return shopfloor.Event(
        report.kind, as_utc(report.at), report.good_quantity, report.scrap_quantity, report.labour_minutes
    )


# Refusals name the operation's state in the message itself, so that it is translated with it.
REFUSALS: Final = {
    "pending": N_("Operation %(sequence)s is pending: start it first."),
    "running": N_("Operation %(sequence)s is running: pause it, finish it or report quantities."),
    "paused": N_("Operation %(sequence)s is paused: resume it, finish it or report quantities."),
    "finished": N_("Operation %(sequence)s is finished: it takes no more reports."),
}


def _previous(wo: WorkOrder, op: WorkOrderOperation) -> WorkOrderOperation | None:
    before = [o for o in wo.operations if o.sequence < op.sequence]
    return max(before, key=lambda o: o.sequence) if before else None


def _reason(session: Session, reason_id: int | None, scrap: Decimal) -> ScrapReason | None:
    if reason_id is None:
        return None
    reason: ScrapReason = reference(
        session, ScrapReason, reason_id, "scrap_reason_id", N_("Scrap reason %(id)s not found.")
    )
    if not reason.active:
        raise _invalid(N_("Scrap reason %(code)s is inactive."), "scrap_reason_id", code=reason.code)
    if scrap <= 0:
        raise _invalid(N_("A scrap reason goes with a scrap quantity."), "scrap_reason_id")
    return reason


def _record(
    session: Session,
    ctx: Context,
    wo: WorkOrder,
    op: WorkOrderOperation,
    *,
    kind: str,
    at: datetime,
    good: Decimal,
    scrap: Decimal,
    scrap_reason_id: int | None,
    labour_minutes: Decimal | None,
    note: str,
    source: str,
) -> OperationReport:
    """Check one event against the operation's events so far, add it and rewrite the operation's totals."""
    _in_states(wo, REPORTING_STATES, N_("Work order %(number)s is %(status)s: its operations take no reports."))
    good, scrap = materials.q(good), materials.q(scrap)
    labour = _minutes(labour_minutes) if labour_minutes is not None else None
    _reason(session, scrap_reason_id, scrap)
    past = list(
        session.scalars(
            select(OperationReport)
            .where(OperationReport.operation_id == op.id)
            .order_by(OperationReport.at, OperationReport.id)
        )
    )
    state = shopfloor.fold(_event(r) for r in past)
    event = shopfloor.Event(kind, _when(at), good, scrap, labour)
    try:
        after = shopfloor.apply(state, event)
    except shopfloor.IllegalTransition as exc:
        raise Conflict(REFUSALS[exc.status], field="kind", sequence=op.sequence) from exc
    except shopfloor.OutOfOrder as exc:
        raise _invalid(
            N_("The report's time is before the operation's last report (%(last)s)."),
            "at",
            last=exc.last.isoformat(),
        ) from exc
    except shopfloor.BadQuantity as exc:
        raise _invalid(
            N_("Quantities and labour time are reported with pause, finish or report only."), "good_quantity"
        ) from exc
    _within(after.good, "good_quantity")
    _within(after.scrap, "scrap_quantity")
    _within(after.labour_minutes, "labour_minutes" if labour is not None else "at", MAX_MINUTES)
    previous = _previous(wo, op)
    if good and previous is not None and not shopfloor.within_previous(after.good, previous.good_quantity):
        raise _invalid(
            N_(
                "Operation %(sequence)s would have %(good)s good, more than the %(previous)s good of operation "
                "%(previous_sequence)s before it."
            ),
            "good_quantity",
            sequence=op.sequence,
            good=_show(after.good),
            previous=_show(previous.good_quantity),
            previous_sequence=previous.sequence,
        )
    report = OperationReport(
        tenant_id=wo.tenant_id,
        work_order_id=wo.id,
        operation_id=op.id,
        kind=kind,
        source=source,
        at=event.at,
        good_quantity=good,
        scrap_quantity=scrap,
        scrap_reason_id=scrap_reason_id,
        labour_minutes=labour,
        note=note,
        user_id=ctx.user_id,
        username=ctx.username,
        created_at=utcnow(),
    )
    session.add(report)
    op.status = after.status
    op.good_quantity = materials.q(after.good)
    op.scrap_quantity = materials.q(after.scrap)
    op.labour_minutes = _minutes(after.labour_minutes)
    op.running_since, op.started_at, op.finished_at = after.running_since, after.started_at, after.finished_at
    _started(wo)
    session.flush()
    audit.record(
        session,
        ctx,
        f"production.operation.{kind}",
        object_type="work_order_operation",
        object_id=op.id,
        detail={
            "work_order": wo.number,
            "sequence": op.sequence,
            "good": str(good),
            "scrap": str(scrap),
            "source": source,
        },
    )
    return report


def report_operation(
    session: Session,
    ctx: Context,
    operation_id: int,
    *,
    kind: str,
    good: Decimal = Decimal(0),
    scrap: Decimal = Decimal(0),
    scrap_reason_id: int | None = None,
    labour_minutes: Decimal | None = None,
    at: datetime | None = None,
    note: str = "",
) -> OperationReport:
    """Report a shop-floor event on an operation: start, pause, resume, finish, or quantities ("report").

    The operation's state follows from its events (``shopfloor``): an event its state does not
    allow is refused naming the state; an operation cannot report more good in all than the
    operation before it. Quantities go with pause, finish and report.
    """
    ctx.require(REPORT)
    if kind not in shopfloor.KINDS:
        raise _invalid(N_("Unknown report kind %(kind)s."), "kind", kind=kind)
    op = get_operation(session, ctx, operation_id)
    wo = _lock(session, ctx, op.work_order_id)
    op = next(o for o in wo.operations if o.id == operation_id)
    return _record(
        session,
        ctx,
        wo,
        op,
        kind=kind,
        at=at or utcnow(),
        good=good,
        scrap=scrap,
        scrap_reason_id=scrap_reason_id,
        labour_minutes=labour_minutes,
        note=note,
        source="manual",
    )


def report_machine_counts(
    session: Session, ctx: Context, *, equipment_id: int, good: Decimal, scrap: Decimal, at: datetime
) -> OperationReport | None:
    """Record a machine's good and scrap counts against the operation running on its work centre.

    The work centre is the one master data links to the equipment; of its running operations the
    one started last takes the counts (counts are the parts made since the machine's previous
    call, not running totals). Returns the report, or None when nothing runs there. This is a hook
    for an integration to call: it is not wired to telemetry automatically.
    """
    ctx.require(REPORT)
    centres: list[int] = []
    offset = 0
    while True:
        rows, total = masterdata.list_work_centres(session, ctx, offset=offset, limit=MAX_LIMIT)
        centres += [wc.id for wc in rows if wc.asset_equipment_id == equipment_id]
        offset += len(rows)
        if not rows or offset >= total:
            break
    if not centres:
        return None
    running = session.scalar(
        select(WorkOrderOperation)
        .where(WorkOrderOperation.work_centre_id.in_(centres), WorkOrderOperation.status == "running")
        .order_by(WorkOrderOperation.running_since.desc(), WorkOrderOperation.id.desc())
        .limit(1)
    )
    if running is None:
        return None
    wo = _lock(session, ctx, running.work_order_id)
    op = next(o for o in wo.operations if o.id == running.id)
    return _record(
        session,
        ctx,
        wo,
        op,
        kind="report",
        at=at,
        good=good,
        scrap=scrap,
        scrap_reason_id=None,
        labour_minutes=None,
        note="",
        source="machine",
    )


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One shop-floor report for KPIs: where, what, how much, and the labour minutes it accounts for."""

    report_id: int
    work_order_id: int
    work_order_number: str
    item_id: int
    operation_id: int
    sequence: int
    work_centre_id: int
    kind: str
    source: str
    good: Decimal
    scrap: Decimal
    scrap_reason_id: int | None
    scrap_reason_code: str | None
    labour_minutes: Decimal
    at: datetime


def operation_reports(session: Session, ctx: Context, *, since: datetime, until: datetime) -> list[ReportRow]:
    """Return every shop-floor report timed in ``[since, until)``, oldest first, for KPIs.

    ``labour_minutes`` of a row is the labour it accounts for: the running interval it closes (or
    the minutes entered instead), a quantity report's entered minutes, else 0; summed over an
    operation's rows it is the operation's labour time.
    """
    ctx.require(VIEW)
    ctx.require_tenant()
    since, until = _when(since, "since"), _when(until, "until")
    # Labour needs each operation's whole history replayed, so every report of the operations
    # reported on in the window is read; as plain column rows in one joined query, not objects
    # (a year of reports as ORM objects cost most of the factory overview's time).
    touched = select(OperationReport.operation_id).where(OperationReport.at >= since, OperationReport.at < until)
    rows = session.execute(
        select(
            OperationReport.id,
            OperationReport.operation_id,
            OperationReport.kind,
            OperationReport.source,
            OperationReport.at,
            OperationReport.good_quantity,
            OperationReport.scrap_quantity,
            OperationReport.scrap_reason_id,
            OperationReport.labour_minutes,
            WorkOrderOperation.work_order_id,
            WorkOrderOperation.sequence,
            WorkOrderOperation.work_centre_id,
            WorkOrder.number,
            WorkOrder.item_id,
        )
        .join(WorkOrderOperation, WorkOrderOperation.id == OperationReport.operation_id)
        .join(WorkOrder, WorkOrder.id == WorkOrderOperation.work_order_id)
        .where(OperationReport.operation_id.in_(touched.distinct()))
        .order_by(OperationReport.operation_id, OperationReport.at, OperationReport.id)
    ).all()
    if not rows:
        return []
    reasons = {r.id: r.code for r in session.execute(select(ScrapReason.id, ScrapReason.code))}
    lo, hi = as_utc(since), as_utc(until)
    out: list[ReportRow] = []
    state = shopfloor.OperationState()
    current = None
    for r in rows:
        if r.operation_id != current:
            current, state = r.operation_id, shopfloor.OperationState()
        before = state
        try:
            state = shopfloor.apply(before, _event(r))
        except (shopfloor.IllegalTransition, shopfloor.OutOfOrder, shopfloor.BadQuantity):
            state = before  # stored reports were checked on the way in; a bad one accounts for nothing
        at = as_utc(r.at)
        if not lo <= at < hi:
            continue
        out.append(
            ReportRow(
                report_id=r.id,
                work_order_id=r.work_order_id,
                work_order_number=r.number,
                item_id=r.item_id,
                operation_id=r.operation_id,
                sequence=r.sequence,
                work_centre_id=r.work_centre_id,
                kind=r.kind,
                source=r.source,
                good=r.good_quantity,
                scrap=r.scrap_quantity,
                scrap_reason_id=r.scrap_reason_id,
                scrap_reason_code=reasons.get(r.scrap_reason_id) if r.scrap_reason_id else None,
                labour_minutes=_minutes(state.labour_minutes - before.labour_minutes),
                at=at,
            )
        )
    out.sort(key=lambda row: (row.at, row.report_id))
    return out


def shop_floor_queue(session: Session, ctx: Context, work_centre_id: int) -> list[tuple[WorkOrderOperation, WorkOrder]]:
    """Return the open operations at a work centre (running first, then by due date), with their orders."""
    ctx.require(VIEW)
    rows = session.execute(
        select(WorkOrderOperation, WorkOrder)
        .join(WorkOrder, WorkOrder.id == WorkOrderOperation.work_order_id)
        .where(
            WorkOrderOperation.work_centre_id == work_centre_id,
            WorkOrderOperation.status.in_(("pending", "running", "paused")),
            WorkOrder.status.in_(REPORTING_STATES),
        )
        .order_by(WorkOrder.due_date, WorkOrder.id, WorkOrderOperation.sequence)
        .limit(200)
    ).all()
    order = {"running": 0, "paused": 1, "pending": 2}
    pairs = [(op, wo) for op, wo in rows]
    return sorted(pairs, key=lambda pair: order[pair[0].status])


# ---------------------------------------------------------------------------------------------
# Scrap reasons
# ---------------------------------------------------------------------------------------------


def list_scrap_reasons(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[ScrapReason], int]:
    """Return one page of the enterprise's scrap reasons by code, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(ScrapReason).order_by(ScrapReason.code, ScrapReason.id)
    return page_of(session, stmt, REASON_FILTERS, filters=filters, offset=offset, limit=limit)


def get_scrap_reason(session: Session, ctx: Context, reason_id: int) -> ScrapReason:
    """Return one scrap reason, or raise NotFound."""
    ctx.require(VIEW)
    result: ScrapReason = lookup(session, ScrapReason, reason_id, N_("Scrap reason %(id)s not found."))
    return result


def _unique_code(session: Session, code: str, exclude: int | None) -> None:
    stmt = select(ScrapReason.id).where(ScrapReason.code == code)
    if exclude is not None:
        stmt = stmt.where(ScrapReason.id != exclude)
    with session.no_autoflush:
        taken = session.scalar(stmt) is not None
    if taken:
        raise Conflict(N_("The scrap reason code %(code)s is already taken."), field="code", code=code)


def _flush_code(session: Session, code: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("The scrap reason code %(code)s is already taken."), field="code", code=code) from exc


def create_scrap_reason(session: Session, ctx: Context, *, code: str, name: str, active: bool = True) -> ScrapReason:
    """Add a scrap reason to the enterprise's catalogue."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_code(session, code, None)
    reason = ScrapReason(tenant_id=tenant_id, code=code, name=name, active=active)
    session.add(reason)
    _flush_code(session, code)
    audit.record(
        session,
        ctx,
        "production.scrap_reason.create",
        object_type="scrap_reason",
        object_id=reason.id,
        detail={"code": code},
    )
    return reason


def update_scrap_reason(session: Session, ctx: Context, reason_id: int, **fields: Any) -> ScrapReason:
    """Change a scrap reason's code, name or whether operators may pick it."""
    ctx.require(EDIT)
    reason = get_scrap_reason(session, ctx, reason_id)
    changes = {k: v for k, v in fields.items() if v is not None and k in ("code", "name", "active")}
    if "code" in changes:
        _unique_code(session, changes["code"], reason.id)
    for key, value in changes.items():
        setattr(reason, key, value)
    _flush_code(session, reason.code)
    audit.record(
        session,
        ctx,
        "production.scrap_reason.update",
        object_type="scrap_reason",
        object_id=reason.id,
        detail=dict(changes),
    )
    return reason


def delete_scrap_reason(session: Session, ctx: Context, reason_id: int) -> None:
    """Delete a scrap reason no report names (one in use is made inactive instead)."""
    ctx.require(EDIT)
    reason = get_scrap_reason(session, ctx, reason_id)
    if session.scalar(select(exists().where(OperationReport.scrap_reason_id == reason.id))):
        raise Conflict(
            N_("Scrap reason %(code)s is named by shop-floor reports; make it inactive instead."),
            field="id",
            code=reason.code,
        )
    session.delete(reason)
    session.flush()
    audit.record(
        session,
        ctx,
        "production.scrap_reason.delete",
        object_type="scrap_reason",
        object_id=reason_id,
        detail={"code": reason.code},
    )


# ---------------------------------------------------------------------------------------------
# Material issues and finished-goods receipts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueSpec:
    """A quantity of one of the order's components issued from a location (lot: FIFO if not given)."""

    component_id: int
    quantity: Decimal
    location_id: int
    lot_id: int | None = None


def list_issues(session: Session, ctx: Context, work_order_id: int) -> list[MaterialIssue]:
    """Return a work order's material issues (manual and backflushed), oldest first."""
    wo = get_work_order(session, ctx, work_order_id)
    return list(
        session.scalars(select(MaterialIssue).where(MaterialIssue.work_order_id == wo.id).order_by(MaterialIssue.id))
    )


def list_receipts(session: Session, ctx: Context, work_order_id: int) -> list[FinishedGoodsReceipt]:
    """Return a work order's finished-goods receipts with their outputs, oldest first."""
    wo = get_work_order(session, ctx, work_order_id)
    stmt = (
        select(FinishedGoodsReceipt)
        .options(selectinload(FinishedGoodsReceipt.outputs))
        .where(FinishedGoodsReceipt.work_order_id == wo.id)
        .order_by(FinishedGoodsReceipt.id)
    )
    return list(session.scalars(stmt))


def _internal(session: Session, ctx: Context, location_id: int, field: str) -> int:
    try:
        location = inventory.get_location(session, ctx, location_id)
    except NotFound as exc:
        raise _invalid(N_("Location %(id)s not found."), field, id=location_id) from exc
    if location.kind != "internal":
        raise _invalid(N_("Material moves from and to a warehouse location."), field)
    return location.id


def _picks(
    session: Session,
    ctx: Context,
    component: WorkOrderComponent,
    item: Any,
    *,
    quantity: Decimal,
    location_id: int,
    lot_id: int | None,
    prefix: str,
) -> list[tuple[int | None, Decimal]]:
    """Return (lot, quantity) to consume: the lot given, none for untracked items, else FIFO at the location."""
    if item.tracking == "none":
        if lot_id is not None:
            raise _invalid(N_("Item %(code)s is not tracked: leave the lot empty."), prefix + "lot_id", code=item.code)
        return [(None, quantity)]
    if lot_id is not None:
        return [(lot_id, quantity)]
    stock: list[materials.LotStock] = []
    offset = 0
    while True:
        rows, total = inventory.stock_on_hand(
            session,
            ctx,
            filters={"item_id": component.item_id, "location_id": location_id},
            offset=offset,
            limit=MAX_LIMIT,
        )
        stock += [materials.LotStock(r.lot_id, r.available) for r in rows if r.lot_id is not None]
        offset += len(rows)
        if not rows or offset >= total:
            break
    try:
        return list(materials.pick_fifo(stock, quantity))
    except materials.Shortage as exc:
        raise _invalid(
            N_("Only %(available)s of %(item)s is available in lots at that location; %(needed)s is needed."),
            prefix + "quantity",
            available=_show(exc.available),
            item=item.code,
            needed=_show(exc.needed),
        ) from exc


def _renamed(name: str | None, fields: Sequence[str], consumed: int) -> str | None:
    """Name an inventory error's line ("consumed.2.quantity") by the input it came from ("lines.1.quantity").

    ``fields`` holds one name per move, consumed first: a prefix ending in "." takes the rest of the
    inventory field after it, any other name replaces it whole.
    """
    role, _, rest = (name or "").partition(".")
    n, _, tail = rest.partition(".")
    if role not in ("consumed", "produced") or not n.isdigit():
        return name
    index = int(n) + (0 if role == "consumed" else consumed)
    if index >= len(fields):
        return name
    return fields[index] + tail if fields[index].endswith(".") else fields[index]


def _post(
    session: Session,
    ctx: Context,
    wo: WorkOrder,
    *,
    consumed: Sequence[inventory.ProductionLine],
    produced: Sequence[inventory.ProductionLine],
    fields: Sequence[str],
) -> list[Any]:
    """Post the moves into the order's production record (opened with its first moves); name lines by ``fields``."""
    try:
        record, moves = inventory.add_to_production(
            session,
            ctx,
            wo.production_record_id,
            consumed=consumed,
            produced=produced,
            reference_type=REFERENCE_TYPE,
            reference_id=str(wo.id),
            note=wo.number,
        )
    except InvalidInput as exc:
        for err in exc.errors:
            err.field = _renamed(err.field, fields, len(consumed))
        exc.field = _renamed(exc.field, fields, len(consumed))
        raise
    wo.production_record_id = record.id
    return moves


def issue_material(
    session: Session, ctx: Context, work_order_id: int, *, lines: Sequence[IssueSpec]
) -> list[MaterialIssue]:
    """Issue components to a released or running order from warehouse locations (errors name "lines.N.x").

    Tracked components take the lot given, else the oldest lots at the location first (FIFO).
    """
    ctx.require(REPORT)
    ctx.require(MOVE)
    if not lines:
        raise _invalid(N_("An issue needs at least one line."), "lines")
    wo = _lock(session, ctx, work_order_id)
    _in_states(wo, RUNNING_STATES, N_("Work order %(number)s is %(status)s: material is issued only while it runs."))
    components = {c.id: c for c in wo.components}
    consumed: list[inventory.ProductionLine] = []
    fields: list[str] = []
    owners: list[tuple[WorkOrderComponent, int]] = []
    for n, spec in enumerate(lines):
        prefix = f"lines.{n}."
        component = components.get(spec.component_id)
        if component is None:
            raise _invalid(
                N_("Component %(id)s is not a component of work order %(number)s."),
                prefix + "component_id",
                id=spec.component_id,
                number=wo.number,
            )
        quantity = _quantity(spec.quantity, prefix + "quantity")
        _within(component.issued_quantity + quantity, prefix + "quantity")
        location_id = _internal(session, ctx, spec.location_id, prefix + "location_id")
        item = masterdata.get_item(session, ctx, component.item_id)
        for lot_id, qty in _picks(
            session, ctx, component, item, quantity=quantity, location_id=location_id, lot_id=spec.lot_id, prefix=prefix
        ):
            consumed.append(inventory.ProductionLine(component.item_id, qty, location_id, lot_id))
            fields.append(prefix)
            owners.append((component, location_id))
    moves = _post(session, ctx, wo, consumed=consumed, produced=(), fields=fields)
    issues = []
    for (component, location_id), move in zip(owners, moves, strict=True):
        issues.append(_issue(wo, component, move, location_id=location_id, kind="manual", receipt_id=None, ctx=ctx))
        component.issued_quantity = materials.q(component.issued_quantity + move.quantity)
    session.add_all(issues)
    _started(wo)
    session.flush()
    _audit(session, ctx, "issue", wo, lines=len(lines), moves=len(moves))
    return issues


def _issue(
    wo: WorkOrder,
    component: WorkOrderComponent,
    move: Any,
    *,
    location_id: int,
    kind: str,
    receipt_id: int | None,
    ctx: Context,
) -> MaterialIssue:
    return MaterialIssue(
        tenant_id=wo.tenant_id,
        work_order_id=wo.id,
        component_id=component.id,
        kind=kind,
        quantity=move.quantity,
        location_id=location_id,
        lot_id=move.lot_id,
        move_id=move.id,
        receipt_id=receipt_id,
        username=ctx.username,
        created_at=utcnow(),
    )


def _new_lot(session: Session, ctx: Context, item: Any, number: str, field: str) -> int:
    rows, _ = inventory.list_lots(session, ctx, filters={"item_id": item.id, "number": number}, limit=MAX_LIMIT)
    if any(lot.number == number for lot in rows):
        raise _invalid(
            N_("%(number)s already exists for item %(code)s: received goods take a new number."),
            field,
            number=number,
            code=item.code,
        )
    return inventory.create_lot(session, ctx, item_id=item.id, number=number).id


def _outputs(
    session: Session,
    ctx: Context,
    item: Any,
    *,
    quantity: Decimal,
    location_id: int,
    lot_number: str | None,
    serial_numbers: Sequence[str],
) -> list[tuple[int | None, Decimal, str]]:
    """Return (lot, quantity, field) of the output moves: untracked, one new lot, or one new serial per unit."""
    if item.tracking == "none":
        if lot_number or serial_numbers:
            raise _invalid(N_("Item %(code)s is not tracked: leave the lot empty."), "lot_number", code=item.code)
        return [(None, quantity, "quantity")]
    if item.tracking == "lot":
        if serial_numbers:
            raise _invalid(N_("Item %(code)s is tracked by lot, not serial number."), "serial_numbers", code=item.code)
        if not lot_number:
            raise _invalid(N_("Item %(code)s is tracked: name the new lot."), "lot_number", code=item.code)
        return [(_new_lot(session, ctx, item, lot_number, "lot_number"), quantity, "lot_number")]
    count = materials.serial_count(quantity)
    if count is None:
        raise _invalid(
            N_("Item %(code)s has serial numbers: receive a whole number of units."), "quantity", code=item.code
        )
    if lot_number:
        raise _invalid(N_("Item %(code)s is tracked by serial number, not lot."), "lot_number", code=item.code)
    if len(serial_numbers) != count:
        raise _invalid(
            N_("Receiving %(count)s units of %(code)s needs %(count)s serial numbers, one per unit; %(given)s given."),
            "serial_numbers",
            count=count,
            code=item.code,
            given=len(serial_numbers),
        )
    seen: set[str] = set()
    out: list[tuple[int | None, Decimal, str]] = []
    for n, number in enumerate(serial_numbers):
        field = f"serial_numbers.{n}"
        if number in seen:
            raise _invalid(N_("Serial number %(number)s is given twice."), field, number=number)
        seen.add(number)
        out.append((_new_lot(session, ctx, item, number, field), Decimal(1), field))
    return out


def receive_work_order(
    session: Session,
    ctx: Context,
    work_order_id: int,
    *,
    quantity: Decimal,
    location_id: int,
    lot_number: str | None = None,
    serial_numbers: Sequence[str] = (),
    backflush: bool = True,
    backflush_location_id: int | None = None,
    component_lots: Mapping[int, int] | None = None,
    note: str = "",
) -> FinishedGoodsReceipt:
    """Receive good product of a running order into a warehouse location, backflushing its components.

    The product gets a new lot (lot-tracked items) or one new serial number per unit. Backflush
    consumes, from ``backflush_location_id``, what each component still needs so that its issues
    cover per unit x good received in all (nothing when manual issues already cover it); a tracked
    component takes the lot named in ``component_lots`` (component id -> lot id), else FIFO lots.
    The order is completed when the good received reaches its quantity.
    """
    ctx.require(REPORT)
    ctx.require(MOVE)
    wo = _lock(session, ctx, work_order_id)
    _in_states(wo, RUNNING_STATES, N_("Work order %(number)s is %(status)s: goods are received only while it runs."))
    qty = _quantity(quantity, "quantity")
    location = _internal(session, ctx, location_id, "location_id")
    item = masterdata.get_item(session, ctx, wo.item_id)
    consumed: list[inventory.ProductionLine] = []
    fields: list[str] = []
    owners: list[tuple[WorkOrderComponent, int]] = []
    lots = dict(component_lots or {})
    good_total = _within(wo.received_quantity + qty, "quantity")
    for n, component in enumerate(wo.components):
        _within(component.quantity_per_unit * good_total, f"components.{n}.quantity")
    needs = [
        (n, c, materials.backflush_quantity(c.quantity_per_unit, good_total, c.issued_quantity))
        for n, c in enumerate(wo.components)
    ]
    if backflush and any(need > 0 for _, _, need in needs):
        if backflush_location_id is None:
            raise _invalid(N_("Name the location the components are backflushed from."), "backflush_location_id")
        source = _internal(session, ctx, backflush_location_id, "backflush_location_id")
        for n, component, need in needs:
            if need <= 0:
                continue
            prefix = f"components.{n}."
            component_item = masterdata.get_item(session, ctx, component.item_id)
            for lot_id, part in _picks(
                session,
                ctx,
                component,
                component_item,
                quantity=need,
                location_id=source,
                lot_id=lots.get(component.id),
                prefix=prefix,
            ):
                consumed.append(inventory.ProductionLine(component.item_id, part, source, lot_id))
                fields.append(prefix)
                owners.append((component, source))
    # New lots last: a refused backflush leaves no lot behind.
    outputs = _outputs(
        session, ctx, item, quantity=qty, location_id=location, lot_number=lot_number, serial_numbers=serial_numbers
    )
    produced = [inventory.ProductionLine(wo.item_id, part, location, lot_id) for lot_id, part, _ in outputs]
    fields += [field for _, _, field in outputs]
    moves = _post(session, ctx, wo, consumed=consumed, produced=produced, fields=fields)
    receipt = FinishedGoodsReceipt(
        tenant_id=wo.tenant_id,
        work_order_id=wo.id,
        quantity=qty,
        location_id=location,
        note=note,
        user_id=ctx.user_id,
        username=ctx.username,
        outputs=[],
    )
    session.add(receipt)
    session.flush()
    for move in moves[len(consumed) :]:
        receipt.outputs.append(
            ReceiptOutput(
                tenant_id=wo.tenant_id,
                receipt_id=receipt.id,
                quantity=move.quantity,
                lot_id=move.lot_id,
                move_id=move.id,
            )
        )
    for (component, source_id), move in zip(owners, moves[: len(consumed)], strict=True):
        session.add(
            _issue(wo, component, move, location_id=source_id, kind="backflush", receipt_id=receipt.id, ctx=ctx)
        )
        component.issued_quantity = materials.q(component.issued_quantity + move.quantity)
    wo.received_quantity = materials.q(good_total)
    _started(wo)
    if wo.received_quantity >= wo.quantity:
        wo.status, wo.completed_at = "completed", utcnow()
    session.flush()
    _audit(
        session, ctx, "receive", wo, receipt_id=receipt.id, quantity=qty, backflushed=len(consumed), status=wo.status
    )
    return receipt


# ---------------------------------------------------------------------------------------------
# Console helpers
# ---------------------------------------------------------------------------------------------


def choices(session: Session, ctx: Context) -> dict[str, list[tuple[int, str]]]:
    """Return (id, label) of made items, all items, units, work centres, locations and scrap reasons for forms."""
    ctx.require(VIEW)
    items, _ = masterdata.list_items(session, ctx, limit=MAX_LIMIT)
    uoms, _ = masterdata.list_uoms(session, ctx, limit=MAX_LIMIT)
    centres, _ = masterdata.list_work_centres(session, ctx, limit=MAX_LIMIT)
    reasons, _ = list_scrap_reasons(session, ctx, filters={"active": True}, limit=MAX_LIMIT)
    codes = {u.id: u.code for u in uoms}
    locations: list[tuple[int, str]] = []
    if ctx.can(inventory.VIEW):
        locs, _ = inventory.list_locations(session, ctx, filters={"kind": "internal"}, limit=MAX_LIMIT)
        locations = [(loc.id, f"{loc.code} · {loc.name}") for loc in locs]
    return {
        "make_items": [(i.id, f"{i.code} · {i.name}") for i in items if i.active and i.kind in MAKE_KINDS],
        "items": [(i.id, f"{i.code} · {i.name}") for i in items],
        "uoms": [(u.id, u.code) for u in uoms],
        "item_units": [(i.id, codes.get(i.uom_id, "")) for i in items],
        "work_centres": [(wc.id, f"{wc.code} · {wc.name}") for wc in centres],
        "locations": locations,
        "reasons": [(r.id, f"{r.code} · {r.name}") for r in reasons],
    }
