"""REST API of the inventory ledger: warehouses, locations, lots, moves, stock, reservations, counts, traces.

Every list answers JSON pages, or CSV (``?format=csv``: every matching row, up to
``CSV_MAX_ROWS``, offset and limit ignored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel

from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.export import CSV_RESPONSE, csv_of_schema
from hexmill.core.pagination import Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.factory.inventory import service
from hexmill.factory.inventory.filters import (
    COUNT_FILTERS,
    LOCATION_FILTERS,
    LOT_FILTERS,
    MOVE_FILTERS,
    RESERVATION_FILTERS,
    STOCK_FILTERS,
    WAREHOUSE_FILTERS,
)
from hexmill.factory.inventory.schemas import (
    CycleCountCreate,
    CycleCountRead,
    ItemStockRead,
    LocationCreate,
    LocationRead,
    LocationUpdate,
    LotCreate,
    LotRead,
    LotUpdate,
    MoveCreate,
    MoveRead,
    MoveReverse,
    ProductionCreate,
    ProductionRead,
    ReservationConsume,
    ReservationCreate,
    ReservationRead,
    StockRead,
    TraceLot,
    TraceRead,
    WarehouseCreate,
    WarehouseRead,
    WarehouseUpdate,
)

router = APIRouter(prefix="/factory/inventory")
TAG = "inventory"
CSV_MAX_ROWS = 100_000
S = TypeVar("S", bound=BaseModel)


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see stock (checked before the input, so 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def mover(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may move, reserve and count stock."""
    ctx.require(service.MOVE)
    return ctx


def setup(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may set up warehouses and locations."""
    ctx.require(service.SETUP)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Mover = Annotated[Context, Depends(mover)]
Setup = Annotated[Context, Depends(setup)]
Format = Annotated[Literal["json", "csv"], Query(alias="format", description="json (a page) or csv (every row)")]


def _listing(
    schema: type[S],
    fetch: Callable[..., tuple[Sequence[Any], int]],
    *,
    fmt: str,
    name: str,
    offset: int,
    limit: int,
) -> Page[S] | Response:
    if fmt == "csv":
        return csv_of_schema(name, schema, lambda o: fetch(offset=o, limit=CSV_MAX_ROWS))
    rows, total = fetch(offset=offset, limit=limit)
    return page_of_rows(schema, rows, total, offset, limit)


# -- warehouses --------------------------------------------------------------------------------


@router.get("/warehouses", response_model=Page[WarehouseRead], responses=CSV_RESPONSE, tags=[TAG])
def list_warehouses(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(WAREHOUSE_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List the enterprise's warehouses."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.list_warehouses(db, ctx, filters=filters, **page)

    return _listing(WarehouseRead, fetch, fmt=fmt, name="warehouses", offset=offset, limit=limit)


@router.post("/warehouses", response_model=WarehouseRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_warehouse(body: WarehouseCreate, db: DbSession, ctx: Setup) -> Any:
    """Create a warehouse."""
    return service.create_warehouse(db, ctx, **body.model_dump())


@router.get("/warehouses/{warehouse_id}", response_model=WarehouseRead, tags=[TAG])
def get_warehouse(warehouse_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one warehouse."""
    return service.get_warehouse(db, ctx, warehouse_id)


@router.patch("/warehouses/{warehouse_id}", response_model=WarehouseRead, tags=[TAG])
def update_warehouse(warehouse_id: ObjectId, body: WarehouseUpdate, db: DbSession, ctx: Setup) -> Any:
    """Change a warehouse's code or name."""
    return service.update_warehouse(db, ctx, warehouse_id, **body.model_dump(exclude_unset=True))


@router.delete("/warehouses/{warehouse_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_warehouse(warehouse_id: ObjectId, db: DbSession, ctx: Setup) -> Response:
    """Delete a warehouse; refused (409) while it still has locations."""
    service.delete_warehouse(db, ctx, warehouse_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- locations ---------------------------------------------------------------------------------


@router.get("/locations", response_model=Page[LocationRead], responses=CSV_RESPONSE, tags=[TAG])
def list_locations(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(LOCATION_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List locations: the warehouses' internal ones, then the virtual ones (supplier, customer, ...)."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.list_locations(db, ctx, filters=filters, **page)

    return _listing(LocationRead, fetch, fmt=fmt, name="locations", offset=offset, limit=limit)


@router.post("/locations", response_model=LocationRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_location(body: LocationCreate, db: DbSession, ctx: Setup) -> Any:
    """Create an internal location in a warehouse."""
    return service.create_location(db, ctx, **body.model_dump())


@router.get("/locations/{location_id}", response_model=LocationRead, tags=[TAG])
def get_location(location_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one location."""
    return service.get_location(db, ctx, location_id)


@router.patch("/locations/{location_id}", response_model=LocationRead, tags=[TAG])
def update_location(location_id: ObjectId, body: LocationUpdate, db: DbSession, ctx: Setup) -> Any:
    """Change an internal location; virtual ones are refused (409)."""
    return service.update_location(db, ctx, location_id, **body.model_dump(exclude_unset=True))


@router.delete("/locations/{location_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_location(location_id: ObjectId, db: DbSession, ctx: Setup) -> Response:
    """Delete an internal location without stock history."""
    service.delete_location(db, ctx, location_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- lots and serials --------------------------------------------------------------------------


@router.get("/lots", response_model=Page[LotRead], responses=CSV_RESPONSE, tags=[TAG])
def list_lots(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(LOT_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List lots and serial numbers, newest first."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.list_lots(db, ctx, filters=filters, **page)

    return _listing(LotRead, fetch, fmt=fmt, name="lots", offset=offset, limit=limit)


@router.post("/lots", response_model=LotRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_lot(body: LotCreate, db: DbSession, ctx: Mover) -> Any:
    """Create a lot or serial number of a tracked item (its kind follows the item's tracking)."""
    return service.create_lot(db, ctx, **body.model_dump())


@router.get("/lots/{lot_id}", response_model=LotRead, tags=[TAG])
def get_lot(lot_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one lot or serial number."""
    return service.get_lot(db, ctx, lot_id)


@router.patch("/lots/{lot_id}", response_model=LotRead, tags=[TAG])
def update_lot(lot_id: ObjectId, body: LotUpdate, db: DbSession, ctx: Mover) -> Any:
    """Change a lot's note."""
    return service.update_lot(db, ctx, lot_id, **body.model_dump(exclude_unset=True))


@router.delete("/lots/{lot_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_lot(lot_id: ObjectId, db: DbSession, ctx: Mover) -> Response:
    """Delete a lot that no move or reservation names."""
    service.delete_lot(db, ctx, lot_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _trace_read(trace: service.Trace, direction: Literal["down", "up"]) -> TraceRead:
    def lot(lot_id: int) -> TraceLot:
        row = trace.lots[lot_id]
        return TraceLot(id=row.id, item_id=row.item_id, number=row.number, kind=row.kind, depth=trace.depths[lot_id])

    reached = sorted((i for i in trace.depths if i != trace.root.id), key=lambda i: (trace.depths[i], i))
    return TraceRead(
        lot=lot(trace.root.id),
        direction=direction,
        lots=[lot(i) for i in reached],
        edges=trace.edges,
        shipments=[MoveRead.model_validate(m) for m in trace.shipments],
    )


@router.get("/lots/{lot_id}/trace/down", response_model=TraceRead, tags=[TAG])
def trace_down(lot_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Trace a lot down: every component lot it was made from, across all levels."""
    return _trace_read(service.trace_down(db, ctx, lot_id), "down")


@router.get("/lots/{lot_id}/trace/up", response_model=TraceRead, tags=[TAG])
def trace_up(lot_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Trace a lot up (a recall): every lot containing it, across all levels, and their shipments."""
    return _trace_read(service.trace_up(db, ctx, lot_id), "up")


# -- moves -------------------------------------------------------------------------------------


@router.get("/moves", response_model=Page[MoveRead], responses=CSV_RESPONSE, tags=[TAG])
def list_moves(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(MOVE_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List stock moves, newest first (the ledger)."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.list_moves(db, ctx, filters=filters, **page)

    return _listing(MoveRead, fetch, fmt=fmt, name="stock-moves", offset=offset, limit=limit)


@router.post("/moves", response_model=MoveRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def post_move(body: MoveCreate, db: DbSession, ctx: Mover) -> Any:
    """Post a stock move: receipt, issue, transfer, shipment or scrapping, by its two locations."""
    return service.post_move(db, ctx, **body.model_dump())


@router.get("/moves/{move_id}", response_model=MoveRead, tags=[TAG])
def get_move(move_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one stock move."""
    return service.get_move(db, ctx, move_id)


@router.post("/moves/{move_id}/reverse", response_model=MoveRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def reverse_move(move_id: ObjectId, body: MoveReverse, db: DbSession, ctx: Mover) -> Any:
    """Post the reversal of a move (409 if it was reversed already); returns the new move."""
    return service.reverse_move(db, ctx, move_id, reason=body.reason)


# -- stock -------------------------------------------------------------------------------------


@router.get("/stock", response_model=Page[StockRead], responses=CSV_RESPONSE, tags=[TAG])
def stock_on_hand(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(STOCK_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List stock on hand per item, internal location and lot, with reserved and available quantities."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.stock_on_hand(db, ctx, filters=filters, **page)

    return _listing(StockRead, fetch, fmt=fmt, name="stock", offset=offset, limit=limit)


@router.get("/stock/items", response_model=Page[ItemStockRead], responses=CSV_RESPONSE, tags=[TAG])
def stock_by_item(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(STOCK_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List stock on hand per item over every internal location and lot (or those filtered), by item code."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.stock_by_item(db, ctx, filters=filters, **page)

    return _listing(ItemStockRead, fetch, fmt=fmt, name="stock-by-item", offset=offset, limit=limit)


# -- reservations ------------------------------------------------------------------------------


@router.get("/reservations", response_model=Page[ReservationRead], responses=CSV_RESPONSE, tags=[TAG])
def list_reservations(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(RESERVATION_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List reservations, newest first."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.list_reservations(db, ctx, filters=filters, **page)

    return _listing(ReservationRead, fetch, fmt=fmt, name="reservations", offset=offset, limit=limit)


@router.post("/reservations", response_model=ReservationRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_reservation(body: ReservationCreate, db: DbSession, ctx: Mover) -> Any:
    """Reserve available stock for an order (422 naming quantity when not enough is available)."""
    return service.create_reservation(db, ctx, **body.model_dump())


@router.get("/reservations/{reservation_id}", response_model=ReservationRead, tags=[TAG])
def get_reservation(reservation_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one reservation."""
    return service.get_reservation(db, ctx, reservation_id)


@router.post("/reservations/{reservation_id}/release", response_model=ReservationRead, tags=[TAG])
def release_reservation(reservation_id: ObjectId, db: DbSession, ctx: Mover) -> Any:
    """Release an open reservation."""
    return service.release_reservation(db, ctx, reservation_id)


@router.post("/reservations/{reservation_id}/consume", response_model=ReservationRead, tags=[TAG])
def consume_reservation(reservation_id: ObjectId, body: ReservationConsume, db: DbSession, ctx: Mover) -> Any:
    """Issue an open reservation's stock to a location and close it."""
    return service.consume_reservation(db, ctx, reservation_id, to_location_id=body.to_location_id)


# -- cycle counts ------------------------------------------------------------------------------


@router.get("/cycle-counts", response_model=Page[CycleCountRead], responses=CSV_RESPONSE, tags=[TAG])
def list_cycle_counts(
    *,
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(COUNT_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
    fmt: Format = "json",
) -> Any:
    """List cycle counts, newest first."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.list_cycle_counts(db, ctx, filters=filters, **page)

    return _listing(CycleCountRead, fetch, fmt=fmt, name="cycle-counts", offset=offset, limit=limit)


@router.post("/cycle-counts", response_model=CycleCountRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def post_cycle_count(body: CycleCountCreate, db: DbSession, ctx: Mover) -> Any:
    """Record a count; the difference is posted to or from the inventory-adjustment location."""
    return service.post_cycle_count(db, ctx, **body.model_dump())


@router.get("/cycle-counts/{count_id}", response_model=CycleCountRead, tags=[TAG])
def get_cycle_count(count_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one cycle count."""
    return service.get_cycle_count(db, ctx, count_id)


# -- production records (genealogy) ------------------------------------------------------------


def _production_read(record: Any, moves: Sequence[Any]) -> ProductionRead:
    out = ProductionRead.model_validate(record)
    out.moves = [MoveRead.model_validate(m) for m in moves]
    return out


@router.get("/production", response_model=Page[ProductionRead], responses=CSV_RESPONSE, tags=[TAG])
def list_production_records(
    db: DbSession, ctx: Viewer, offset: Offset = 0, limit: Limit = 50, fmt: Format = "json"
) -> Any:
    """List production records, newest first (without their moves; get one for those)."""

    def fetch(**page: int) -> tuple[Sequence[Any], int]:
        return service.list_production_records(db, ctx, **page)

    return _listing(ProductionRead, fetch, fmt=fmt, name="production", offset=offset, limit=limit)


@router.post("/production", response_model=ProductionRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def post_production(body: ProductionCreate, db: DbSession, ctx: Mover) -> Any:
    """Record production: components consumed and outputs produced, linked for traceability."""
    record = service.post_production(
        db,
        ctx,
        consumed=[service.ProductionLine(**line.model_dump()) for line in body.consumed],
        produced=[service.ProductionLine(**line.model_dump()) for line in body.produced],
        reference_type=body.reference_type,
        reference_id=body.reference_id,
        note=body.note,
    )
    return _production_read(*service.get_production_record(db, ctx, record.id))


@router.get("/production/{record_id}", response_model=ProductionRead, tags=[TAG])
def get_production_record(record_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one production record with its consumed and produced moves."""
    return _production_read(*service.get_production_record(db, ctx, record_id))
