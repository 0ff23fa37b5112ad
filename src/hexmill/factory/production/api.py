"""REST API of production: work orders, their operations and shop-floor reports, issues, receipts, scrap reasons.

Lists have CSV twins (``/factory/work-orders.csv``, ``/factory/scrap-reasons.csv``,
``/factory/operation-reports.csv``) taking the same filters, through the same filter sets as the console.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import AwareDatetime

from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.errors import FieldError, InvalidInput
from hexmill.core.export import CSV_RESPONSE, csv_download, csv_response
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT, Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.factory.production import service
from hexmill.factory.production.filters import REASON_FILTERS, WORK_ORDER_FILTERS
from hexmill.factory.production.schemas import (
    IssueCreate,
    IssueRead,
    MachineCounts,
    MachineCountsResult,
    OperationRead,
    OperationReportRow,
    ReceiptCreate,
    ReceiptRead,
    ReportCreate,
    ReportRead,
    ScrapReasonCreate,
    ScrapReasonRead,
    ScrapReasonUpdate,
    WorkOrderCreate,
    WorkOrderDetail,
    WorkOrderRead,
    WorkOrderUpdate,
)

router = APIRouter(prefix="/factory")
TAG = "production"
NO_CONTENT = status.HTTP_204_NO_CONTENT
CREATED = status.HTTP_201_CREATED
WO_CSV = (
    "id",
    "number",
    "item_id",
    "quantity",
    "start_date",
    "due_date",
    "status",
    "sales_order_line_id",
    "received_quantity",
    "created_at",
    "released_at",
    "completed_at",
    "closed_at",
)
REASON_CSV = ("id", "code", "name", "active", "created_at")


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see production (checked before the input, so 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def editor(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may change work orders and scrap reasons."""
    ctx.require(service.EDIT)
    return ctx


def reporter(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may report on the shop floor."""
    ctx.require(service.REPORT)
    return ctx


def mover(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may issue material and receive goods: report and move stock."""
    ctx.require(service.REPORT)
    ctx.require(service.MOVE)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Editor = Annotated[Context, Depends(editor)]
Reporter = Annotated[Context, Depends(reporter)]
Mover = Annotated[Context, Depends(mover)]
WorkOrderFilters = Annotated[dict[str, Any], Depends(WORK_ORDER_FILTERS.dependency())]
ReasonFilters = Annotated[dict[str, Any], Depends(REASON_FILTERS.dependency())]


# ---------------------------------------------------------------------------------------------
# Work orders
# ---------------------------------------------------------------------------------------------


@router.get("/work-orders", response_model=Page[WorkOrderRead], tags=[TAG])
def list_work_orders(
    db: DbSession, ctx: Viewer, filters: WorkOrderFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List work orders, newest first, filtered by number, item, status and sales order line."""
    rows, total = service.list_work_orders(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(WorkOrderRead, rows, total, offset, limit)


@router.get("/work-orders.csv", tags=[TAG], response_class=Response, responses=CSV_RESPONSE)
def export_work_orders(db: DbSession, ctx: Viewer, filters: WorkOrderFilters) -> Response:
    """Export every work order matching the filters as CSV."""
    return csv_download(
        "work-orders", WO_CSV, lambda o: service.list_work_orders(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT)
    )


@router.post("/work-orders", response_model=WorkOrderDetail, status_code=CREATED, tags=[TAG])
def create_work_order(body: WorkOrderCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a draft work order for a made item; errors name the field."""
    return service.create_work_order(db, ctx, **body.model_dump())


@router.get("/work-orders/{work_order_id}", response_model=WorkOrderDetail, tags=[TAG])
def get_work_order(work_order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one work order with its components and operations (empty until released)."""
    return service.get_work_order(db, ctx, work_order_id)


@router.patch("/work-orders/{work_order_id}", response_model=WorkOrderDetail, tags=[TAG])
def update_work_order(work_order_id: ObjectId, body: WorkOrderUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a draft work order; 409 once it is released."""
    return service.update_work_order(db, ctx, work_order_id, **body.model_dump(exclude_unset=True))


@router.delete("/work-orders/{work_order_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_work_order(work_order_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a draft work order; 409 once it is released (cancel or close it instead)."""
    service.delete_work_order(db, ctx, work_order_id)
    return Response(status_code=NO_CONTENT)


@router.post("/work-orders/{work_order_id}/release", response_model=WorkOrderDetail, tags=[TAG])
def release_work_order(work_order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Release a draft: copy the BOM effective today (one level) and the routing into the order.

    409 naming the item when it has no routing.
    """
    return service.release_work_order(db, ctx, work_order_id)


@router.post("/work-orders/{work_order_id}/close", response_model=WorkOrderDetail, tags=[TAG])
def close_work_order(work_order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Close a released, running or completed order."""
    return service.close_work_order(db, ctx, work_order_id)


@router.post("/work-orders/{work_order_id}/cancel", response_model=WorkOrderDetail, tags=[TAG])
def cancel_work_order(work_order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Cancel a draft or released order with no reports, issues or receipts yet."""
    return service.cancel_work_order(db, ctx, work_order_id)


@router.get("/work-orders/{work_order_id}/operations", response_model=list[OperationRead], tags=[TAG])
def list_operations(work_order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List a work order's operations in sequence, with their state, good, scrap and labour minutes."""
    return service.list_operations(db, ctx, work_order_id)


@router.get("/work-orders/{work_order_id}/reports", response_model=list[ReportRead], tags=[TAG])
def list_work_order_reports(work_order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List the shop-floor reports of a work order, oldest first."""
    wo = service.get_work_order(db, ctx, work_order_id)
    return service.list_reports(db, ctx, work_order_id=wo.id)


@router.get("/work-orders/{work_order_id}/issues", response_model=list[IssueRead], tags=[TAG])
def list_issues(work_order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List the material issued to a work order, by hand and backflushed."""
    return service.list_issues(db, ctx, work_order_id)


@router.post("/work-orders/{work_order_id}/issues", response_model=list[IssueRead], status_code=CREATED, tags=[TAG])
def issue_material(work_order_id: ObjectId, body: IssueCreate, db: DbSession, ctx: Mover) -> Any:
    """Issue components from warehouse locations; tracked ones take the lot given, else the oldest lots first.

    Needs ``production.report`` and ``inventory.move``; errors name the line ("lines.1.quantity").
    """
    specs = [service.IssueSpec(**line.model_dump()) for line in body.lines]
    return service.issue_material(db, ctx, work_order_id, lines=specs)


@router.get("/work-orders/{work_order_id}/receipts", response_model=list[ReceiptRead], tags=[TAG])
def list_receipts(work_order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List a work order's finished-goods receipts with the lots and moves they posted."""
    return service.list_receipts(db, ctx, work_order_id)


@router.post("/work-orders/{work_order_id}/receipts", response_model=ReceiptRead, status_code=CREATED, tags=[TAG])
def receive_work_order(work_order_id: ObjectId, body: ReceiptCreate, db: DbSession, ctx: Mover) -> Any:
    """Receive good product into a location with a new lot (or serial per unit), backflushing components.

    Backflush tops each component's issues up to per unit x good received; tracked components take
    the lot named in ``component_lots``, else the oldest lots first. Needs ``production.report`` and
    ``inventory.move``.
    """
    data = body.model_dump()
    lots = {row["component_id"]: row["lot_id"] for row in data.pop("component_lots")}
    return service.receive_work_order(db, ctx, work_order_id, component_lots=lots, **data)


# ---------------------------------------------------------------------------------------------
# Operations and shop-floor reports
# ---------------------------------------------------------------------------------------------


@router.get("/wo-operations/{operation_id}", response_model=OperationRead, tags=[TAG])
def get_operation(operation_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one operation of a work order with its progress."""
    return service.get_operation(db, ctx, operation_id)


@router.get("/wo-operations/{operation_id}/reports", response_model=list[ReportRead], tags=[TAG])
def list_operation_reports(operation_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List an operation's shop-floor reports, oldest first."""
    op = service.get_operation(db, ctx, operation_id)
    return service.list_reports(db, ctx, operation_id=op.id)


@router.post("/wo-operations/{operation_id}/{kind}", response_model=ReportRead, status_code=CREATED, tags=[TAG])
def report_operation(
    operation_id: ObjectId,
    kind: Literal["start", "pause", "resume", "finish", "report"],
    db: DbSession,
    ctx: Reporter,
    body: ReportCreate | None = None,
) -> Any:
    """Report a shop-floor event: start, pause, resume, finish, or quantities ("report").

    409 naming the operation's state when it does not allow the event; quantities go with pause,
    finish and report, and an operation cannot report more good than the operation before it.
    """
    data = (body or ReportCreate()).model_dump()
    return service.report_operation(
        db,
        ctx,
        operation_id,
        kind=kind,
        good=data["good_quantity"],
        scrap=data["scrap_quantity"],
        scrap_reason_id=data["scrap_reason_id"],
        labour_minutes=data["labour_minutes"],
        at=data["at"],
        note=data["note"],
    )


@router.post("/machine-counts", response_model=MachineCountsResult, tags=[TAG])
def report_machine_counts(body: MachineCounts, db: DbSession, ctx: Reporter) -> Any:
    """Record a machine's good and scrap counts against the operation running on its work centre.

    The counts are the parts since the machine's previous call. Answers ``report: null`` when
    nothing runs on the work centre linked to the equipment. Not wired to telemetry by itself.
    """
    report = service.report_machine_counts(
        db, ctx, equipment_id=body.equipment_id, good=body.good, scrap=body.scrap, at=body.at or utcnow()
    )
    return MachineCountsResult(report=ReportRead.model_validate(report) if report else None)


def _window(since: datetime, until: datetime | None) -> datetime:
    end = until or utcnow()
    if end <= since:
        message = N_("The end of the period must be after its start.")
        raise InvalidInput(message, field="until", errors=[FieldError(message, field="until")])
    return end


Since = Annotated[AwareDatetime, Query(description="Start of the period (inclusive).")]
Until = Annotated[AwareDatetime | None, Query(description="End of the period (exclusive); now if left out.")]


@router.get("/operation-reports", response_model=list[OperationReportRow], tags=[TAG])
def operation_reports(db: DbSession, ctx: Viewer, since: Since, until: Until = None) -> Any:
    """List every shop-floor report of a period with its order, item, operation, work centre and labour minutes."""
    return service.operation_reports(db, ctx, since=since, until=_window(since, until))


@router.get("/operation-reports.csv", tags=[TAG], response_class=Response, responses=CSV_RESPONSE)
def export_operation_reports(db: DbSession, ctx: Viewer, since: Since, until: Until = None) -> Response:
    """Export the shop-floor reports of a period as CSV."""
    rows = service.operation_reports(db, ctx, since=since, until=_window(since, until))
    fields = list(OperationReportRow.model_fields)
    return csv_response("operation-reports", fields, ([getattr(r, f) for f in fields] for r in rows))


# ---------------------------------------------------------------------------------------------
# Scrap reasons
# ---------------------------------------------------------------------------------------------


@router.get("/scrap-reasons", response_model=Page[ScrapReasonRead], tags=[TAG])
def list_scrap_reasons(
    db: DbSession, ctx: Viewer, filters: ReasonFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List the enterprise's scrap reasons by code."""
    rows, total = service.list_scrap_reasons(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(ScrapReasonRead, rows, total, offset, limit)


@router.get("/scrap-reasons.csv", tags=[TAG], response_class=Response, responses=CSV_RESPONSE)
def export_scrap_reasons(db: DbSession, ctx: Viewer, filters: ReasonFilters) -> Response:
    """Export every scrap reason matching the filters as CSV."""
    return csv_download(
        "scrap-reasons",
        REASON_CSV,
        lambda o: service.list_scrap_reasons(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/scrap-reasons", response_model=ScrapReasonRead, status_code=CREATED, tags=[TAG])
def create_scrap_reason(body: ScrapReasonCreate, db: DbSession, ctx: Editor) -> Any:
    """Add a scrap reason; 409 when the code is taken."""
    return service.create_scrap_reason(db, ctx, **body.model_dump())


@router.get("/scrap-reasons/{reason_id}", response_model=ScrapReasonRead, tags=[TAG])
def get_scrap_reason(reason_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one scrap reason."""
    return service.get_scrap_reason(db, ctx, reason_id)


@router.patch("/scrap-reasons/{reason_id}", response_model=ScrapReasonRead, tags=[TAG])
def update_scrap_reason(reason_id: ObjectId, body: ScrapReasonUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a scrap reason's code, name or whether operators may pick it."""
    return service.update_scrap_reason(db, ctx, reason_id, **body.model_dump(exclude_unset=True))


@router.delete("/scrap-reasons/{reason_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_scrap_reason(reason_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a scrap reason no report names; 409 otherwise (make it inactive instead)."""
    service.delete_scrap_reason(db, ctx, reason_id)
    return Response(status_code=NO_CONTENT)
