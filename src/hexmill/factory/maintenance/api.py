"""REST API of maintenance: orders, preventive plans, usage readings, failure codes and reliability.

Every list has a CSV twin (``/factory/<list>.csv``) taking the same filters, through the same
filter sets as the console.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from pydantic import AwareDatetime

from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.export import csv_download, csv_of_schema
from hexmill.core.pagination import MAX_LIMIT, Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.factory.maintenance import service
from hexmill.factory.maintenance.filters import (
    FAILURE_CODE_FILTERS,
    ORDER_FILTERS,
    PLAN_FILTERS,
    READING_FILTERS,
)
from hexmill.factory.maintenance.schemas import (
    FailureCodeCreate,
    FailureCodeRead,
    FailureCodeUpdate,
    GeneratedOrders,
    OrderComplete,
    OrderCreate,
    OrderRead,
    OrderStart,
    OrderUpdate,
    PlanCreate,
    PlanDetail,
    PlanDue,
    PlanRead,
    PlanUpdate,
    ReadingCreate,
    ReadingRead,
    ReliabilityRead,
)

router = APIRouter(prefix="/factory")
TAG = "maintenance"
NO_CONTENT = status.HTTP_204_NO_CONTENT
CREATED = status.HTTP_201_CREATED
DEFAULT_PERIOD = timedelta(days=30)
ORDER_COLUMNS = (
    "id",
    "number",
    "equipment_id",
    "kind",
    "priority",
    "status",
    "plan_id",
    "failure_code_id",
    "failure_at",
    "repair_start_at",
    "repair_end_at",
    "equipment_down",
    "due_date",
    "labour_hours",
    "created_at",
    "completed_at",
)
PLAN_COLUMNS = (
    "id",
    "equipment_id",
    "name",
    "trigger_type",
    "interval_days",
    "start_date",
    "counter",
    "interval_units",
    "active",
    "last_done_at",
    "last_done_reading",
)
READING_COLUMNS = ("id", "equipment_id", "counter", "value", "read_at", "is_reset", "source", "username")
CODE_COLUMNS = ("id", "code", "name", "active")


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see maintenance (checked before the input, so 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def editor(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may change maintenance orders, plans and readings."""
    ctx.require(service.EDIT)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Editor = Annotated[Context, Depends(editor)]
OrderFilters = Annotated[dict[str, Any], Depends(ORDER_FILTERS.dependency())]
PlanFilters = Annotated[dict[str, Any], Depends(PLAN_FILTERS.dependency())]
ReadingFilters = Annotated[dict[str, Any], Depends(READING_FILTERS.dependency())]
CodeFilters = Annotated[dict[str, Any], Depends(FAILURE_CODE_FILTERS.dependency())]


# ---------------------------------------------------------------------------------------------
# Maintenance orders
# ---------------------------------------------------------------------------------------------


@router.get("/maintenance-orders", response_model=Page[OrderRead], tags=[TAG])
def list_maintenance_orders(
    db: DbSession, ctx: Viewer, filters: OrderFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List maintenance orders, open and in progress first, filtered by number, equipment, kind, status."""
    rows, total = service.list_maintenance_orders(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(OrderRead, rows, total, offset, limit)


@router.get("/maintenance-orders.csv", tags=[TAG], response_class=Response)
def export_maintenance_orders(db: DbSession, ctx: Viewer, filters: OrderFilters) -> Response:
    """Export every maintenance order matching the filters as CSV."""
    return csv_download(
        "maintenance-orders",
        ORDER_COLUMNS,
        lambda o: service.list_maintenance_orders(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/maintenance-orders", response_model=OrderRead, status_code=CREATED, tags=[TAG])
def create_maintenance_order(body: OrderCreate, db: DbSession, ctx: Editor) -> Any:
    """Open a maintenance order; a corrective one needs ``failure_at``, times out of order are refused by field."""
    return service.create_maintenance_order(db, ctx, **body.model_dump())


@router.get("/maintenance-orders/{order_id}", response_model=OrderRead, tags=[TAG])
def get_maintenance_order(order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one maintenance order."""
    return service.get_maintenance_order(db, ctx, order_id)


@router.patch("/maintenance-orders/{order_id}", response_model=OrderRead, tags=[TAG])
def update_maintenance_order(order_id: ObjectId, body: OrderUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change an open or in-progress order; 409 once it is done or cancelled."""
    return service.update_maintenance_order(db, ctx, order_id, **body.model_dump(exclude_unset=True))


@router.delete("/maintenance-orders/{order_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_maintenance_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete an order that has not started; 409 otherwise (cancel it instead)."""
    service.delete_maintenance_order(db, ctx, order_id)
    return Response(status_code=NO_CONTENT)


@router.post("/maintenance-orders/{order_id}/start", response_model=OrderRead, tags=[TAG])
def start_maintenance_order(order_id: ObjectId, body: OrderStart, db: DbSession, ctx: Editor) -> Any:
    """Start work on an open order (the repair start is now unless given)."""
    return service.start_maintenance_order(db, ctx, order_id, repair_start_at=body.repair_start_at)


@router.post("/maintenance-orders/{order_id}/complete", response_model=OrderRead, tags=[TAG])
def complete_maintenance_order(order_id: ObjectId, body: OrderComplete, db: DbSession, ctx: Editor) -> Any:
    """Close an order as done (the repair end is now unless given); a plan's order moves the plan on."""
    return service.complete_maintenance_order(db, ctx, order_id, **body.model_dump())


@router.post("/maintenance-orders/{order_id}/cancel", response_model=OrderRead, tags=[TAG])
def cancel_maintenance_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Cancel an open or in-progress order; 409 once it is done."""
    return service.cancel_maintenance_order(db, ctx, order_id)


# ---------------------------------------------------------------------------------------------
# Preventive plans
# ---------------------------------------------------------------------------------------------


def _detail(db: DbSession, ctx: Context, plan: Any) -> PlanDetail:
    due = service.due_states(db, ctx, [plan], utcnow())[plan.id]
    return PlanDetail(**PlanRead.model_validate(plan).model_dump(), next_due=PlanDue.model_validate(due))


@router.get("/maintenance-plans", response_model=Page[PlanRead], tags=[TAG])
def list_plans(db: DbSession, ctx: Viewer, filters: PlanFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List preventive plans by name, filtered by name, equipment, trigger and whether active."""
    rows, total = service.list_plans(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(PlanRead, rows, total, offset, limit)


@router.get("/maintenance-plans.csv", tags=[TAG], response_class=Response)
def export_plans(db: DbSession, ctx: Viewer, filters: PlanFilters) -> Response:
    """Export every preventive plan matching the filters as CSV."""
    return csv_download(
        "maintenance-plans",
        PLAN_COLUMNS,
        lambda o: service.list_plans(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/maintenance-plans", response_model=PlanDetail, status_code=CREATED, tags=[TAG])
def create_plan(body: PlanCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a preventive plan, by calendar (``interval_days``) or by usage (``counter``, ``interval_units``)."""
    plan = service.create_plan(db, ctx, **body.model_dump())
    return _detail(db, ctx, plan)


@router.post("/maintenance-plans/generate-due", response_model=GeneratedOrders, tags=[TAG])
def generate_due_orders(db: DbSession, ctx: Editor) -> Any:
    """Open one preventive order for every active plan due now that has no open order yet."""
    return GeneratedOrders(created=[OrderRead.model_validate(o) for o in service.generate_due_orders(db, ctx)])


@router.get("/maintenance-plans/{plan_id}", response_model=PlanDetail, tags=[TAG])
def get_plan(plan_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one plan and when it falls due next (date, or counter value), and its open order if any."""
    return _detail(db, ctx, service.get_plan(db, ctx, plan_id))


@router.patch("/maintenance-plans/{plan_id}", response_model=PlanDetail, tags=[TAG])
def update_plan(plan_id: ObjectId, body: PlanUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a plan's name, interval, start, counter, tasks or whether it is active."""
    plan = service.update_plan(db, ctx, plan_id, **body.model_dump(exclude_unset=True))
    return _detail(db, ctx, plan)


@router.delete("/maintenance-plans/{plan_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_plan(plan_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a plan; the orders it opened stay, unlinked."""
    service.delete_plan(db, ctx, plan_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Usage readings
# ---------------------------------------------------------------------------------------------


@router.get("/usage-readings", response_model=Page[ReadingRead], tags=[TAG])
def list_readings(db: DbSession, ctx: Viewer, filters: ReadingFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List usage counter readings, latest first, filtered by equipment, counter and time."""
    rows, total = service.list_readings(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(ReadingRead, rows, total, offset, limit)


@router.get("/usage-readings.csv", tags=[TAG], response_class=Response)
def export_readings(db: DbSession, ctx: Viewer, filters: ReadingFilters) -> Response:
    """Export every usage reading matching the filters as CSV."""
    return csv_download(
        "usage-readings",
        READING_COLUMNS,
        lambda o: service.list_readings(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/usage-readings", response_model=ReadingRead, status_code=CREATED, tags=[TAG])
def record_reading(body: ReadingCreate, db: DbSession, ctx: Editor) -> Any:
    """Record a counter reading; one lower than the reading before it is refused unless ``is_reset``."""
    return service.record_reading(db, ctx, **body.model_dump())


# ---------------------------------------------------------------------------------------------
# Failure codes
# ---------------------------------------------------------------------------------------------


@router.get("/maintenance-failure-codes", response_model=Page[FailureCodeRead], tags=[TAG])
def list_failure_codes(db: DbSession, ctx: Viewer, filters: CodeFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List the cause and failure code catalogue by code."""
    rows, total = service.list_failure_codes(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(FailureCodeRead, rows, total, offset, limit)


@router.get("/maintenance-failure-codes.csv", tags=[TAG], response_class=Response)
def export_failure_codes(db: DbSession, ctx: Viewer, filters: CodeFilters) -> Response:
    """Export every failure code matching the filters as CSV."""
    return csv_download(
        "maintenance-failure-codes",
        CODE_COLUMNS,
        lambda o: service.list_failure_codes(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/maintenance-failure-codes", response_model=FailureCodeRead, status_code=CREATED, tags=[TAG])
def create_failure_code(body: FailureCodeCreate, db: DbSession, ctx: Editor) -> Any:
    """Add a cause or failure code to the catalogue."""
    return service.create_failure_code(db, ctx, **body.model_dump())


@router.get("/maintenance-failure-codes/{code_id}", response_model=FailureCodeRead, tags=[TAG])
def get_failure_code(code_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one failure code."""
    return service.get_failure_code(db, ctx, code_id)


@router.patch("/maintenance-failure-codes/{code_id}", response_model=FailureCodeRead, tags=[TAG])
def update_failure_code(code_id: ObjectId, body: FailureCodeUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a failure code."""
    return service.update_failure_code(db, ctx, code_id, **body.model_dump(exclude_unset=True))


@router.delete("/maintenance-failure-codes/{code_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_failure_code(code_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a failure code no order uses; 409 if one does (make it inactive instead)."""
    service.delete_failure_code(db, ctx, code_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Reliability
# ---------------------------------------------------------------------------------------------


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or utcnow()
    return start or end - DEFAULT_PERIOD, end


@router.get("/equipment-reliability", response_model=list[ReliabilityRead], tags=[TAG])
def reliability_table(
    db: DbSession, ctx: Viewer, start: AwareDatetime | None = None, end: AwareDatetime | None = None
) -> Any:
    """Return failures, MTTR, MTBF (hours) and availability of every machine over a period (the last 30 days).

    A failure is a corrective order with downtime whose breakdown started in the period; with no
    failure MTBF and MTTR are null and availability is 1.
    """
    since, until = _period(start, end)
    return service.reliability_table(db, ctx, start=since, end=until)


@router.get("/equipment-reliability.csv", tags=[TAG], response_class=Response)
def export_reliability(
    db: DbSession, ctx: Viewer, start: AwareDatetime | None = None, end: AwareDatetime | None = None
) -> Response:
    """Export the reliability table of every machine over the period as CSV."""
    since, until = _period(start, end)
    rows = service.reliability_table(db, ctx, start=since, end=until)
    return csv_of_schema("equipment-reliability", ReliabilityRead, lambda _offset: (rows, len(rows)))


@router.get("/equipment-reliability/{equipment_id}", response_model=ReliabilityRead, tags=[TAG])
def equipment_reliability(
    equipment_id: ObjectId,
    db: DbSession,
    ctx: Viewer,
    start: AwareDatetime | None = None,
    end: AwareDatetime | None = None,
) -> Any:
    """Return failures, MTTR, MTBF (hours) and availability of one machine over a period (the last 30 days)."""
    since, until = _period(start, end)
    return service.equipment_reliability(db, ctx, equipment_id, start=since, end=until)
