"""REST API of quality under /factory/quality/...: plans, defect codes, inspections, nonconformances, charts.

Every list has a CSV twin (``/factory/quality/<list>.csv``) taking the same filters, through the
same filter sets as the console.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.export import csv_download
from hexmill.core.pagination import MAX_LIMIT, Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.factory.quality import service
from hexmill.factory.quality.filters import DEFECT_FILTERS, INSPECTION_FILTERS, NC_FILTERS, PLAN_FILTERS
from hexmill.factory.quality.schemas import (
    BinRead,
    CapabilityRead,
    DefectCodeCreate,
    DefectCodeRead,
    DefectCodeUpdate,
    DispositionCreate,
    InspectionCreate,
    InspectionDetail,
    InspectionRead,
    NonconformanceCreate,
    NonconformanceDetail,
    NonconformanceRead,
    ParetoBarRead,
    ParetoRead,
    PlanCreate,
    PlanDetail,
    PlanRead,
    PlanUpdate,
)

router = APIRouter(prefix="/factory/quality")
TAG = "quality"
NO_CONTENT = status.HTTP_204_NO_CONTENT
CREATED = status.HTTP_201_CREATED
PLAN_COLUMNS = ("id", "code", "name", "stage", "item_id", "active", "created_at")
DEFECT_COLUMNS = ("id", "code", "name", "category", "active")
INSPECTION_COLUMNS = (
    "id",
    "plan_id",
    "source_type",
    "source_id",
    "item_id",
    "lot_id",
    "location_id",
    "quantity",
    "result",
    "username",
    "inspected_at",
)
NC_COLUMNS = (
    "id",
    "status",
    "stage",
    "source_id",
    "item_id",
    "lot_id",
    "location_id",
    "defect_code_id",
    "quantity",
    "dispositioned_quantity",
    "characteristics",
    "inspection_id",
    "created_at",
    "closed_at",
)


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see quality records (checked before the input: 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def editor(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may change quality records."""
    ctx.require(service.EDIT)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Editor = Annotated[Context, Depends(editor)]
PlanFilters = Annotated[dict[str, Any], Depends(PLAN_FILTERS.dependency())]
DefectFilters = Annotated[dict[str, Any], Depends(DEFECT_FILTERS.dependency())]
InspectionFilters = Annotated[dict[str, Any], Depends(INSPECTION_FILTERS.dependency())]
NcFilters = Annotated[dict[str, Any], Depends(NC_FILTERS.dependency())]
Since = Annotated[datetime | None, Query(description="First instant included (ISO 8601 with zone).")]
Until = Annotated[datetime | None, Query(description="First instant excluded (ISO 8601 with zone).")]


def _aware(moment: datetime | None) -> datetime | None:
    """Read a time without a zone as UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _plan_detail(db: DbSession, ctx: Context, plan: Any) -> PlanDetail:
    detail = PlanDetail.model_validate(plan)
    detail.in_use = service.plan_in_use(db, ctx, plan.id)
    return detail


# ---------------------------------------------------------------------------------------------
# Inspection plans
# ---------------------------------------------------------------------------------------------


@router.get("/plans", response_model=Page[PlanRead], tags=[TAG])
def list_inspection_plans(
    db: DbSession, ctx: Viewer, filters: PlanFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List inspection plans by code, filtered by code, stage, item and active."""
    rows, total = service.list_inspection_plans(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(PlanRead, rows, total, offset, limit)


@router.get("/plans.csv", tags=[TAG], response_class=Response)
def export_inspection_plans(db: DbSession, ctx: Viewer, filters: PlanFilters) -> Response:
    """Export every inspection plan matching the filters as CSV."""
    return csv_download(
        "inspection-plans",
        PLAN_COLUMNS,
        lambda o: service.list_inspection_plans(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/plans", response_model=PlanDetail, status_code=CREATED, tags=[TAG])
def create_inspection_plan(body: PlanCreate, db: DbSession, ctx: Editor) -> Any:
    """Create an inspection plan with its characteristics; errors name them ("characteristics.1.usl")."""
    plan = service.create_inspection_plan(db, ctx, **body.model_dump())
    return _plan_detail(db, ctx, plan)


@router.get("/plans/{plan_id}", response_model=PlanDetail, tags=[TAG])
def get_inspection_plan(plan_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one plan with its characteristics and whether an inspection has used it."""
    return _plan_detail(db, ctx, service.get_inspection_plan(db, ctx, plan_id))


@router.patch("/plans/{plan_id}", response_model=PlanDetail, tags=[TAG])
def update_inspection_plan(plan_id: ObjectId, body: PlanUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a plan's name, note or active flag, or replace its characteristics (409 once the plan is used)."""
    plan = service.update_inspection_plan(db, ctx, plan_id, **body.model_dump(exclude_unset=True))
    return _plan_detail(db, ctx, plan)


@router.delete("/plans/{plan_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_inspection_plan(plan_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a plan no inspection has used; 409 otherwise (deactivate it instead)."""
    service.delete_inspection_plan(db, ctx, plan_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Defect codes
# ---------------------------------------------------------------------------------------------


@router.get("/defect-codes", response_model=Page[DefectCodeRead], tags=[TAG])
def list_defect_codes(db: DbSession, ctx: Viewer, filters: DefectFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List the defect code catalogue by code, filtered by code, category and active."""
    rows, total = service.list_defect_codes(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(DefectCodeRead, rows, total, offset, limit)


@router.get("/defect-codes.csv", tags=[TAG], response_class=Response)
def export_defect_codes(db: DbSession, ctx: Viewer, filters: DefectFilters) -> Response:
    """Export every defect code matching the filters as CSV."""
    return csv_download(
        "defect-codes",
        DEFECT_COLUMNS,
        lambda o: service.list_defect_codes(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/defect-codes", response_model=DefectCodeRead, status_code=CREATED, tags=[TAG])
def create_defect_code(body: DefectCodeCreate, db: DbSession, ctx: Editor) -> Any:
    """Add a defect code; 409 naming "code" when it is taken."""
    return service.create_defect_code(db, ctx, **body.model_dump())


@router.get("/defect-codes/{defect_code_id}", response_model=DefectCodeRead, tags=[TAG])
def get_defect_code(defect_code_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one defect code."""
    return service.get_defect_code(db, ctx, defect_code_id)


@router.patch("/defect-codes/{defect_code_id}", response_model=DefectCodeRead, tags=[TAG])
def update_defect_code(defect_code_id: ObjectId, body: DefectCodeUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a defect code's code, name, category or active flag."""
    return service.update_defect_code(db, ctx, defect_code_id, **body.model_dump(exclude_unset=True))


@router.delete("/defect-codes/{defect_code_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_defect_code(defect_code_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a defect code no nonconformance names; 409 otherwise (deactivate it instead)."""
    service.delete_defect_code(db, ctx, defect_code_id)
    return Response(status_code=NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Inspections
# ---------------------------------------------------------------------------------------------


@router.get("/inspections", response_model=Page[InspectionRead], tags=[TAG])
def list_inspections(
    db: DbSession, ctx: Viewer, filters: InspectionFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List inspections, newest first, filtered by plan, item, source, result and time."""
    rows, total = service.list_inspections(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(InspectionRead, rows, total, offset, limit)


@router.get("/inspections.csv", tags=[TAG], response_class=Response)
def export_inspections(db: DbSession, ctx: Viewer, filters: InspectionFilters) -> Response:
    """Export every inspection matching the filters as CSV."""
    return csv_download(
        "inspections",
        INSPECTION_COLUMNS,
        lambda o: service.list_inspections(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/inspections", response_model=InspectionDetail, status_code=CREATED, tags=[TAG])
def create_inspection(body: InspectionCreate, db: DbSession, ctx: Editor) -> Any:
    """Record an inspection's results; any out-of-tolerance result opens a nonconformance.

    Without ``plan_id`` the active plan for the item and the stage ``source_type`` is used.
    Errors name the result ("results.3.value").
    """
    return service.create_inspection(db, ctx, **body.model_dump())


@router.get("/inspections/{inspection_id}", response_model=InspectionDetail, tags=[TAG])
def get_inspection(inspection_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one inspection with its results and the nonconformances it opened."""
    return service.get_inspection(db, ctx, inspection_id)


# ---------------------------------------------------------------------------------------------
# Nonconformances
# ---------------------------------------------------------------------------------------------


@router.get("/nonconformances", response_model=Page[NonconformanceRead], tags=[TAG])
def list_nonconformances(db: DbSession, ctx: Viewer, filters: NcFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List nonconformances, open first, filtered by status, stage, item, defect code, inspection and time."""
    rows, total = service.list_nonconformances(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(NonconformanceRead, rows, total, offset, limit)


@router.get("/nonconformances.csv", tags=[TAG], response_class=Response)
def export_nonconformances(db: DbSession, ctx: Viewer, filters: NcFilters) -> Response:
    """Export every nonconformance matching the filters as CSV."""
    return csv_download(
        "nonconformances",
        NC_COLUMNS,
        lambda o: service.list_nonconformances(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/nonconformances", response_model=NonconformanceDetail, status_code=CREATED, tags=[TAG])
def create_nonconformance(body: NonconformanceCreate, db: DbSession, ctx: Editor) -> Any:
    """Raise a nonconformance by hand."""
    return service.create_nonconformance(db, ctx, **body.model_dump())


@router.get("/nonconformances/{nc_id}", response_model=NonconformanceDetail, tags=[TAG])
def get_nonconformance(nc_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one nonconformance with its dispositions and the stock moves they posted."""
    return service.get_nonconformance(db, ctx, nc_id)


@router.post("/nonconformances/{nc_id}/disposition", response_model=NonconformanceDetail, tags=[TAG])
def disposition_nonconformance(nc_id: ObjectId, body: DispositionCreate, db: DbSession, ctx: Editor) -> Any:
    """Disposition (part of) the affected quantity: scrap, return to supplier, rework or use as is.

    Lines that move stock also need ``inventory.move``. The sum may not exceed the affected
    quantity (422 naming "lines.N.quantity").
    """
    specs = [service.DispositionSpec(**line.model_dump()) for line in body.lines]
    return service.disposition(db, ctx, nc_id, lines=specs)


@router.post("/nonconformances/{nc_id}/close", response_model=NonconformanceDetail, tags=[TAG])
def close_nonconformance(nc_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Close a fully dispositioned nonconformance; 409 otherwise."""
    return service.close_nonconformance(db, ctx, nc_id)


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


@router.get("/capability/{characteristic_id}", response_model=CapabilityRead, tags=[TAG])
def get_capability(
    characteristic_id: ObjectId, db: DbSession, ctx: Viewer, since: Since = None, until: Until = None
) -> Any:
    """Return Cp/Cpk/Cpu/Cpl of a measured characteristic over a period, with a histogram of its values."""
    report = service.capability(db, ctx, characteristic_id, _aware(since), _aware(until))
    return CapabilityRead(
        **{k: getattr(report, k) for k in CapabilityRead.model_fields if k != "bins"},
        bins=[BinRead.model_validate(b) for b in report.bins],
    )


@router.get("/pareto", response_model=ParetoRead, tags=[TAG])
def get_pareto(
    db: DbSession,
    ctx: Viewer,
    since: Since = None,
    until: Until = None,
    by: Annotated[Literal["count", "quantity"], Query(description="Sort by count or by quantity.")] = "count",
) -> Any:
    """Return nonconformances by defect code for a period, largest first, with the cumulative percentage."""
    report = service.pareto(db, ctx, since=_aware(since), until=_aware(until), by=by)
    bars = [
        ParetoBarRead(
            defect_code_id=b.key if isinstance(b.key, int) else None,
            code=b.label,
            name=report.codes[b.key].name if isinstance(b.key, int) else "",
            count=b.count,
            quantity=b.quantity,
            cumulative_pct=b.cumulative_pct,
        )
        for b in report.bars
    ]
    return ParetoRead(by=by, total_count=report.total_count, total_quantity=report.total_quantity, bars=bars)
