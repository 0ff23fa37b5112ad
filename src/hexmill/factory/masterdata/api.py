"""REST API of factory master data under /factory: units, conversions, items, parties, BOMs, routings, work centres.

Every list has a CSV twin (``/factory/<list>.csv``) taking the same filters, through the same
filter sets as the console.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import AwareDatetime

from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.export import csv_download
from hexmill.core.pagination import MAX_LIMIT, Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.factory.masterdata import service
from hexmill.factory.masterdata.filters import (
    BOM_FILTERS,
    CONVERSION_FILTERS,
    ITEM_FILTERS,
    OPERATION_FILTERS,
    PARTY_FILTERS,
    UOM_FILTERS,
    WORK_CENTRE_FILTERS,
)
from hexmill.factory.masterdata.schemas import (
    BomCreate,
    BomLineCreate,
    BomLineRead,
    BomLineUpdate,
    BomRead,
    BomUpdate,
    CalendarIn,
    ConversionCreate,
    ConversionRead,
    ConversionUpdate,
    ConvertedQuantity,
    IntervalRead,
    ItemCreate,
    ItemOptionsIn,
    ItemRead,
    ItemUpdate,
    OperationCreate,
    OperationRead,
    OperationUpdate,
    OptionGroupRead,
    PartyCreate,
    PartyRead,
    PartyUpdate,
    TreeRowRead,
    UomCreate,
    UomRead,
    UomUpdate,
    WorkCentreCreate,
    WorkCentreRead,
    WorkCentreUpdate,
)

router = APIRouter(prefix="/factory")
TAG = "factory"
# A CSV export walks the whole list in pages of this size.
EXPORT_PAGE = MAX_LIMIT


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see master data (checked before the input, so 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def editor(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may change master data (checked before the input)."""
    ctx.require(service.EDIT)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Editor = Annotated[Context, Depends(editor)]
UomFilters = Annotated[dict[str, Any], Depends(UOM_FILTERS.dependency())]
ConversionFilters = Annotated[dict[str, Any], Depends(CONVERSION_FILTERS.dependency())]
ItemFilters = Annotated[dict[str, Any], Depends(ITEM_FILTERS.dependency())]
PartyFilters = Annotated[dict[str, Any], Depends(PARTY_FILTERS.dependency())]
BomFilters = Annotated[dict[str, Any], Depends(BOM_FILTERS.dependency())]
OperationFilters = Annotated[dict[str, Any], Depends(OPERATION_FILTERS.dependency())]
WorkCentreFilters = Annotated[dict[str, Any], Depends(WORK_CENTRE_FILTERS.dependency())]
NO_CONTENT = status.HTTP_204_NO_CONTENT
CREATED = status.HTTP_201_CREATED


UOM_COLUMNS = ("id", "code", "name", "category")
CONVERSION_COLUMNS = ("id", "item_id", "from_uom_id", "to_uom_id", "factor")
ITEM_COLUMNS = ("id", "code", "name", "kind", "uom_id", "tracking", "allow_negative", "configurable", "active")
PARTY_COLUMNS = (
    "id",
    "code",
    "name",
    "is_customer",
    "is_supplier",
    "contact_name",
    "email",
    "phone",
    "partner_tenant_id",
    "active",
)
BOM_COLUMNS = ("id", "item_id", "version", "effective_from", "effective_to", "is_default")
OPERATION_COLUMNS = (
    "id",
    "item_id",
    "sequence",
    "name",
    "work_centre_id",
    "setup_minutes",
    "run_minutes",
    "transfer_batch",
)
WORK_CENTRE_COLUMNS = (
    "id",
    "code",
    "name",
    "asset_line_id",
    "asset_equipment_id",
    "parallel_capacity",
    "efficiency_pct",
    "timezone",
    "active",
)


# -- units -------------------------------------------------------------------------------------


@router.get("/uoms", response_model=Page[UomRead], tags=[TAG])
def list_uoms(db: DbSession, ctx: Viewer, filters: UomFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List the enterprise's units of measure (the default units are created on first use)."""
    rows, total = service.list_uoms(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(UomRead, rows, total, offset, limit)


@router.get("/uoms.csv", tags=[TAG], response_class=Response)
def export_uoms(db: DbSession, ctx: Viewer, filters: UomFilters) -> Response:
    """Export the units of measure as CSV."""
    return csv_download(
        "uoms", UOM_COLUMNS, lambda o: service.list_uoms(db, ctx, filters=filters, offset=o, limit=EXPORT_PAGE)
    )


@router.post("/uoms", response_model=UomRead, status_code=CREATED, tags=[TAG])
def create_uom(body: UomCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a unit of measure."""
    return service.create_uom(db, ctx, **body.model_dump())


@router.get("/uoms/{uom_id}", response_model=UomRead, tags=[TAG])
def get_uom(uom_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one unit of measure."""
    return service.get_uom(db, ctx, uom_id)


@router.patch("/uoms/{uom_id}", response_model=UomRead, tags=[TAG])
def update_uom(uom_id: ObjectId, body: UomUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a unit of measure."""
    return service.update_uom(db, ctx, uom_id, **body.model_dump(exclude_unset=True))


@router.delete("/uoms/{uom_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_uom(uom_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a unit of measure; refused (409) while items or BOM lines use it."""
    service.delete_uom(db, ctx, uom_id)
    return Response(status_code=NO_CONTENT)


# -- conversions -------------------------------------------------------------------------------


@router.get("/conversions", response_model=Page[ConversionRead], tags=[TAG])
def list_conversions(
    db: DbSession, ctx: Viewer, filters: ConversionFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List the unit conversions, general and item-specific."""
    rows, total = service.list_conversions(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(ConversionRead, rows, total, offset, limit)


@router.get("/conversions.csv", tags=[TAG], response_class=Response)
def export_conversions(db: DbSession, ctx: Viewer, filters: ConversionFilters) -> Response:
    """Export the unit conversions as CSV."""
    return csv_download(
        "conversions",
        CONVERSION_COLUMNS,
        lambda o: service.list_conversions(db, ctx, filters=filters, offset=o, limit=EXPORT_PAGE),
    )


@router.post("/conversions", response_model=ConversionRead, status_code=CREATED, tags=[TAG])
def create_conversion(body: ConversionCreate, db: DbSession, ctx: Editor) -> Any:
    """Define that one ``from`` unit is ``factor`` ``to`` units (for one item if ``item_id`` is given)."""
    return service.create_conversion(db, ctx, **body.model_dump())


@router.get("/conversions/{conversion_id}", response_model=ConversionRead, tags=[TAG])
def get_conversion(conversion_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one unit conversion."""
    return service.get_conversion(db, ctx, conversion_id)


@router.patch("/conversions/{conversion_id}", response_model=ConversionRead, tags=[TAG])
def update_conversion(conversion_id: ObjectId, body: ConversionUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a conversion's factor."""
    return service.update_conversion(db, ctx, conversion_id, factor=body.factor)


@router.delete("/conversions/{conversion_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_conversion(conversion_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a unit conversion."""
    service.delete_conversion(db, ctx, conversion_id)
    return Response(status_code=NO_CONTENT)


# -- items -------------------------------------------------------------------------------------


@router.get("/items", response_model=Page[ItemRead], tags=[TAG])
def list_items(db: DbSession, ctx: Viewer, filters: ItemFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List the enterprise's items."""
    rows, total = service.list_items(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(ItemRead, rows, total, offset, limit)


@router.get("/items.csv", tags=[TAG], response_class=Response)
def export_items(db: DbSession, ctx: Viewer, filters: ItemFilters) -> Response:
    """Export the items as CSV."""
    return csv_download(
        "items", ITEM_COLUMNS, lambda o: service.list_items(db, ctx, filters=filters, offset=o, limit=EXPORT_PAGE)
    )


@router.post("/items", response_model=ItemRead, status_code=CREATED, tags=[TAG])
def create_item(body: ItemCreate, db: DbSession, ctx: Editor) -> Any:
    """Create an item."""
    return service.create_item(db, ctx, **body.model_dump())


@router.get("/items/{item_id}", response_model=ItemRead, tags=[TAG])
def get_item(item_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one item."""
    return service.get_item(db, ctx, item_id)


@router.patch("/items/{item_id}", response_model=ItemRead, tags=[TAG])
def update_item(item_id: ObjectId, body: ItemUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change an item."""
    return service.update_item(db, ctx, item_id, **body.model_dump(exclude_unset=True))


@router.delete("/items/{item_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_item(item_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete an item; refused (409) while a BOM uses it as a component."""
    service.delete_item(db, ctx, item_id)
    return Response(status_code=NO_CONTENT)


@router.get("/items/{item_id}/options", response_model=list[OptionGroupRead], tags=[TAG])
def get_item_options(item_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return a configurable item's option groups and values."""
    return service.item_options(db, ctx, item_id)


@router.put("/items/{item_id}/options", response_model=list[OptionGroupRead], tags=[TAG])
def set_item_options(item_id: ObjectId, body: ItemOptionsIn, db: DbSession, ctx: Editor) -> Any:
    """Replace a configurable item's option groups and values."""
    groups = [service.OptionGroupSpec(g.code, g.name, [(v.code, v.name) for v in g.values]) for g in body.groups]
    service.set_item_options(db, ctx, item_id, groups)
    return service.item_options(db, ctx, item_id)


@router.get("/items/{item_id}/convert", response_model=ConvertedQuantity, tags=[TAG])
def convert_quantity(
    item_id: ObjectId,
    *,
    db: DbSession,
    ctx: Viewer,
    quantity: Annotated[Decimal, Query(allow_inf_nan=False, max_digits=24)],
    from_uom_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    to_uom_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
) -> Any:
    """Convert a quantity of the item between two units; 422 naming both units when no factor connects them."""
    result = service.convert_quantity(
        db, ctx, item_id=item_id, quantity=quantity, from_uom_id=from_uom_id, to_uom_id=to_uom_id
    )
    return ConvertedQuantity(item_id=item_id, quantity=result, uom_id=to_uom_id)


@router.get("/items/{item_id}/bom-tree", response_model=list[TreeRowRead], tags=[TAG])
def get_bom_tree(
    item_id: ObjectId,
    *,
    db: DbSession,
    ctx: Viewer,
    on: date | None = None,
    quantity: Annotated[Decimal, Query(gt=0, allow_inf_nan=False, max_digits=18)] = Decimal(1),
    options: Annotated[list[int] | None, Query()] = None,
) -> Any:
    """Return the item's multi-level BOM explosion on a date (today by default), quantities in base units."""
    rows = service.bom_tree(
        db, ctx, item_id, on=on or utcnow().date(), quantity=quantity, options=frozenset(options or [])
    )
    return [
        TreeRowRead(
            level=r.level,
            parent_id=r.parent.id,
            component_id=r.component.id,
            component_code=r.component.code,
            component_name=r.component.name,
            quantity=r.quantity,
            uom_code=r.component.uom.code,
            line_id=r.line_id,
        )
        for r in rows
    ]


# -- parties -----------------------------------------------------------------------------------


@router.get("/parties", response_model=Page[PartyRead], tags=[TAG])
def list_parties(db: DbSession, ctx: Viewer, filters: PartyFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List the enterprise's customers and suppliers."""
    rows, total = service.list_parties(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(PartyRead, rows, total, offset, limit)


@router.get("/parties.csv", tags=[TAG], response_class=Response)
def export_parties(db: DbSession, ctx: Viewer, filters: PartyFilters) -> Response:
    """Export the customers and suppliers as CSV."""
    return csv_download(
        "parties",
        PARTY_COLUMNS,
        lambda o: service.list_parties(db, ctx, filters=filters, offset=o, limit=EXPORT_PAGE),
    )


@router.post("/parties", response_model=PartyRead, status_code=CREATED, tags=[TAG])
def create_party(body: PartyCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a customer and/or supplier (``partner_tenant_id`` names another enterprise on the platform)."""
    return service.create_party(db, ctx, **body.model_dump())


@router.get("/parties/{party_id}", response_model=PartyRead, tags=[TAG])
def get_party(party_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one party."""
    return service.get_party(db, ctx, party_id)


@router.patch("/parties/{party_id}", response_model=PartyRead, tags=[TAG])
def update_party(party_id: ObjectId, body: PartyUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a party."""
    return service.update_party(db, ctx, party_id, **body.model_dump(exclude_unset=True))


@router.delete("/parties/{party_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_party(party_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a party."""
    service.delete_party(db, ctx, party_id)
    return Response(status_code=NO_CONTENT)


# -- BOMs --------------------------------------------------------------------------------------


@router.get("/boms", response_model=Page[BomRead], tags=[TAG])
def list_boms(db: DbSession, ctx: Viewer, filters: BomFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List BOM versions with their lines."""
    rows, total = service.list_boms(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(BomRead, rows, total, offset, limit)


@router.get("/boms.csv", tags=[TAG], response_class=Response)
def export_boms(db: DbSession, ctx: Viewer, filters: BomFilters) -> Response:
    """Export the BOM headers as CSV."""
    return csv_download(
        "boms", BOM_COLUMNS, lambda o: service.list_boms(db, ctx, filters=filters, offset=o, limit=EXPORT_PAGE)
    )


@router.post("/boms", response_model=BomRead, status_code=CREATED, tags=[TAG])
def create_bom(body: BomCreate, db: DbSession, ctx: Editor) -> Any:
    """Create an empty BOM version of an item."""
    bom = service.create_bom(db, ctx, **body.model_dump())
    return service.get_bom(db, ctx, bom.id)


@router.get("/boms/{bom_id}", response_model=BomRead, tags=[TAG])
def get_bom(bom_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one BOM version with its lines."""
    return service.get_bom(db, ctx, bom_id)


@router.patch("/boms/{bom_id}", response_model=BomRead, tags=[TAG])
def update_bom(bom_id: ObjectId, body: BomUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a BOM version's header."""
    return service.update_bom(db, ctx, bom_id, **body.model_dump(exclude_unset=True))


@router.delete("/boms/{bom_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_bom(bom_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a BOM version with its lines."""
    service.delete_bom(db, ctx, bom_id)
    return Response(status_code=NO_CONTENT)


@router.post("/boms/{bom_id}/lines", response_model=BomLineRead, status_code=CREATED, tags=[TAG])
def add_bom_line(bom_id: ObjectId, body: BomLineCreate, db: DbSession, ctx: Editor) -> Any:
    """Add a component; 422 naming the cycle (by item codes) if it would close one at any level."""
    return service.add_bom_line(db, ctx, bom_id, **body.model_dump())


@router.patch("/boms/{bom_id}/lines/{line_id}", response_model=BomLineRead, tags=[TAG])
def update_bom_line(bom_id: ObjectId, line_id: ObjectId, body: BomLineUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a BOM line."""
    return service.update_bom_line(db, ctx, bom_id, line_id, **body.model_dump(exclude_unset=True))


@router.delete("/boms/{bom_id}/lines/{line_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_bom_line(bom_id: ObjectId, line_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Remove a BOM line."""
    service.delete_bom_line(db, ctx, bom_id, line_id)
    return Response(status_code=NO_CONTENT)


# -- routings ----------------------------------------------------------------------------------


@router.get("/operations", response_model=Page[OperationRead], tags=[TAG])
def list_operations(
    db: DbSession, ctx: Viewer, filters: OperationFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List routing operations (one item's routing with ``item_id``)."""
    rows, total = service.list_operations(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(OperationRead, rows, total, offset, limit)


@router.get("/operations.csv", tags=[TAG], response_class=Response)
def export_operations(db: DbSession, ctx: Viewer, filters: OperationFilters) -> Response:
    """Export routing operations as CSV."""
    return csv_download(
        "operations",
        OPERATION_COLUMNS,
        lambda o: service.list_operations(db, ctx, filters=filters, offset=o, limit=EXPORT_PAGE),
    )


@router.post("/operations", response_model=OperationRead, status_code=CREATED, tags=[TAG])
def create_operation(body: OperationCreate, db: DbSession, ctx: Editor) -> Any:
    """Add an operation to an item's routing."""
    return service.create_operation(db, ctx, **body.model_dump())


@router.get("/operations/{operation_id}", response_model=OperationRead, tags=[TAG])
def get_operation(operation_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one routing operation."""
    return service.get_operation(db, ctx, operation_id)


@router.patch("/operations/{operation_id}", response_model=OperationRead, tags=[TAG])
def update_operation(operation_id: ObjectId, body: OperationUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a routing operation."""
    return service.update_operation(db, ctx, operation_id, **body.model_dump(exclude_unset=True))


@router.delete("/operations/{operation_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_operation(operation_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Remove an operation from its routing."""
    service.delete_operation(db, ctx, operation_id)
    return Response(status_code=NO_CONTENT)


# -- work centres ------------------------------------------------------------------------------


@router.get("/work-centres", response_model=Page[WorkCentreRead], tags=[TAG])
def list_work_centres(
    db: DbSession, ctx: Viewer, filters: WorkCentreFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List the enterprise's work centres with their calendars."""
    rows, total = service.list_work_centres(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(WorkCentreRead, rows, total, offset, limit)


@router.get("/work-centres.csv", tags=[TAG], response_class=Response)
def export_work_centres(db: DbSession, ctx: Viewer, filters: WorkCentreFilters) -> Response:
    """Export the work centres as CSV."""
    return csv_download(
        "work-centres",
        WORK_CENTRE_COLUMNS,
        lambda o: service.list_work_centres(db, ctx, filters=filters, offset=o, limit=EXPORT_PAGE),
    )


@router.post("/work-centres", response_model=WorkCentreRead, status_code=CREATED, tags=[TAG])
def create_work_centre(body: WorkCentreCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a work centre (optionally standing for an assets line or equipment)."""
    wc = service.create_work_centre(db, ctx, **body.model_dump())
    return service.get_work_centre(db, ctx, wc.id)


@router.get("/work-centres/{work_centre_id}", response_model=WorkCentreRead, tags=[TAG])
def get_work_centre(work_centre_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one work centre with its calendar."""
    return service.get_work_centre(db, ctx, work_centre_id)


@router.patch("/work-centres/{work_centre_id}", response_model=WorkCentreRead, tags=[TAG])
def update_work_centre(work_centre_id: ObjectId, body: WorkCentreUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a work centre."""
    return service.update_work_centre(db, ctx, work_centre_id, **body.model_dump(exclude_unset=True))


@router.delete("/work-centres/{work_centre_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_work_centre(work_centre_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a work centre; refused (409) while routing operations use it."""
    service.delete_work_centre(db, ctx, work_centre_id)
    return Response(status_code=NO_CONTENT)


@router.put("/work-centres/{work_centre_id}/calendar", response_model=WorkCentreRead, tags=[TAG])
def set_calendar(work_centre_id: ObjectId, body: CalendarIn, db: DbSession, ctx: Editor) -> Any:
    """Replace a work centre's calendar: IANA time zone, weekly shifts and holidays."""
    return service.set_calendar(
        db,
        ctx,
        work_centre_id,
        timezone=body.timezone,
        shifts=[(s.weekday, s.start, s.end, s.name) for s in body.shifts],
        holidays=[(h.day, h.name) for h in body.holidays],
    )


@router.get("/work-centres/{work_centre_id}/intervals", response_model=list[IntervalRead], tags=[TAG])
def get_intervals(
    work_centre_id: ObjectId, db: DbSession, ctx: Viewer, start: AwareDatetime, end: AwareDatetime
) -> Any:
    """Return the work centre's working intervals between two aware instants, in its time zone."""
    intervals = service.work_centre_intervals(db, ctx, work_centre_id, start=start, end=end)
    return [IntervalRead(start=i.start, end=i.end, hours=i.duration.total_seconds() / 3600) for i in intervals]
