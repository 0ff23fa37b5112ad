"""Console pages of the inventory ledger: stock, moves, lots and their trace, counts, warehouses, reservations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT
from hexmill.core.params import MAX_ID
from hexmill.factory.inventory import service
from hexmill.factory.inventory.filters import LOT_FILTERS, MOVE_FILTERS, STOCK_FILTERS
from hexmill.factory.inventory.models import RESERVATION_STATES
from hexmill.factory.inventory.schemas import (
    CycleCountCreate,
    LocationCreate,
    LotCreate,
    MoveCreate,
    ReservationCreate,
    WarehouseCreate,
)
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50

KIND_LABELS = {
    "internal": N_("Warehouse location"),
    "supplier": N_("Suppliers"),
    "customer": N_("Customers"),
    "production": N_("Production"),
    "scrap": N_("Scrap"),
    "adjustment": N_("Inventory adjustment"),
}
MOVE_FIELDS = (
    "item_id",
    "quantity",
    "from_location_id",
    "to_location_id",
    "lot_id",
    "reference_type",
    "reference_id",
    "reason",
)
COUNT_FIELDS = ("item_id", "location_id", "lot_id", "counted_quantity")


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), MAX_ID) if raw.isdigit() else 0


@router.get("/inventory")
def stock_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show stock on hand per item, location and lot, with reserved and available quantities."""
    return _stock(request, db, page)


def _stock(request: Request, db: Session, page: Console) -> Response:
    filters = STOCK_FILTERS.parse(request.query_params)
    offset = _offset(request)
    per_item = request.query_params.get("per") == "item"
    listing = service.stock_by_item if per_item else service.stock_on_hand
    rows, total = listing(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    return render(
        request,
        "inventory/stock.html",
        per_item=per_item,
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        choices=service.choices(db, page.ctx),
    )


@router.get("/inventory/moves")
def moves_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the ledger, newest first, and the form to post a move."""
    return _moves(request, db, page, form={}, errors=None)


def _moves(
    request: Request, db: Session, page: Console, *, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    filters = MOVE_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_moves(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    labels = service.describe(
        db, page.ctx, item_ids={m.item_id for m in rows}, lot_ids={m.lot_id for m in rows if m.lot_id}
    )
    reversed_ids = {m.reversal_of for m in rows if m.reversal_of}
    lots, _ = service.list_lots(db, page.ctx, limit=500)
    return render(
        request,
        "inventory/moves.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        labels=labels,
        reversed_ids=reversed_ids,
        choices=service.choices(db, page.ctx),
        lots=[(lot.id, lot.number) for lot in lots],
        form=form,
        errors=errors or FormErrors(),
        can_move=page.ctx.can(service.MOVE),
    )


@router.post("/inventory/moves")
def post_move(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Post a move; invalid input or too little stock comes back inline, next to the field."""
    data = values(form, MOVE_FIELDS)
    new_lot = values(form, ("lot_number",))
    try:
        body = validate(MoveCreate, data)
        fields = body.model_dump()
        if new_lot and fields["lot_id"] is None:
            # A receipt of a new lot or serial: create it with the move, in the same transaction.
            lot = validate(LotCreate, {"item_id": fields["item_id"], "number": new_lot["lot_number"]})
            made = attempt(db, lambda: service.create_lot(db, page.ctx, item_id=lot.item_id, number=lot.number))
            fields["lot_id"] = made.id
        move = attempt(db, lambda: service.post_move(db, page.ctx, **fields))
    except FormInvalid as exc:
        errors = exc.errors
        if "number" in errors.fields:  # the lot's own field, shown on the new-lot input
            errors.fields["lot_number"] = errors.fields.pop("number")
        return _moves(request, db, page, form={**data, **new_lot}, errors=errors)
    return flash(request, redirect("/inventory/moves"), N_("Stock move %(id)s posted."), id=move.id)


@router.post("/inventory/moves/{move_id}/reverse")
def reverse_move(request: Request, move_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Reverse a move after confirmation."""
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Reverse stock move %(id)s?"),
            params={"id": move_id},
            action=f"/inventory/moves/{move_id}/reverse",
            back="/inventory/moves",
        )
    try:
        undo = service.reverse_move(db, page.ctx, min(max(move_id, 0), MAX_ID))
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect("/inventory/moves"), exc.detail, "error", **exc.params)
    return flash(request, redirect("/inventory/moves"), N_("Stock move %(id)s reversed."), id=undo.reversal_of)


@router.get("/inventory/lots")
def lots_page(request: Request, db: DbSession, page: Console) -> Response:
    """List lots and serial numbers, each with a link to its trace."""
    filters = LOT_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_lots(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    labels = service.describe(db, page.ctx, item_ids={lot.item_id for lot in rows})
    return render(
        request,
        "inventory/lots.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        labels=labels,
        filters=filters,
    )


@router.get("/inventory/lots/{lot_id}")
def trace_page(request: Request, lot_id: int, db: DbSession, page: Console) -> Response:
    """Show a lot's genealogy both ways as trees: what it is made of, and what contains it (with shipments)."""
    lot_id = min(max(lot_id, 0), MAX_ID)
    down = service.trace_down(db, page.ctx, lot_id)
    up = service.trace_up(db, page.ctx, lot_id)
    lots = {**down.lots, **up.lots}
    labels = service.describe(db, page.ctx, item_ids={lot.item_id for lot in lots.values()})
    return render(
        request,
        "inventory/trace.html",
        lot=down.root,
        down=down.tree(),
        up=up.tree(),
        lots=lots,
        labels=labels,
        shipments=up.shipments,
    )


@router.get("/inventory/counts")
def counts_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the cycle-count form and the latest counts."""
    return _counts(request, db, page, form={}, errors=None)


def _counts(
    request: Request, db: Session, page: Console, *, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    rows, total = service.list_cycle_counts(db, page.ctx, offset=0, limit=PAGE)
    labels = service.describe(
        db, page.ctx, item_ids={c.item_id for c in rows}, lot_ids={c.lot_id for c in rows if c.lot_id}
    )
    lots, _ = service.list_lots(db, page.ctx, limit=500)
    return render(
        request,
        "inventory/counts.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        labels=labels,
        choices=service.choices(db, page.ctx),
        lots=[(lot.id, lot.number) for lot in lots],
        form=form,
        errors=errors or FormErrors(),
        can_move=page.ctx.can(service.MOVE),
    )


@router.post("/inventory/counts")
def post_count(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Record a count; the difference is posted to or from the inventory-adjustment location."""
    data = values(form, COUNT_FIELDS)
    try:
        body = validate(CycleCountCreate, data)
        count = attempt(db, lambda: service.post_cycle_count(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _counts(request, db, page, form=data, errors=exc.errors)
    return flash(request, redirect("/inventory/counts"), N_("Count %(id)s recorded."), id=count.id)


# -- warehouses and their locations -------------------------------------------------------------

WAREHOUSE_FIELDS = ("code", "name")
LOCATION_FIELDS = ("code", "name")


@router.get("/inventory/warehouses")
def warehouses_page(request: Request, db: DbSession, page: Console) -> Response:
    """List the warehouses with how many locations each has, and the form to add one."""
    return _warehouses(request, db, page, form={}, errors=None)


def _warehouses(
    request: Request, db: Session, page: Console, *, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    houses, total = service.list_warehouses(db, page.ctx, offset=_offset(request), limit=PAGE)
    places, _ = service.list_locations(db, page.ctx, filters={"kind": "internal"}, offset=0, limit=MAX_LIMIT)
    counts: dict[int | None, int] = {}
    for loc in places:
        counts[loc.warehouse_id] = counts.get(loc.warehouse_id, 0) + 1
    return render(
        request,
        "inventory/warehouses.html",
        status_code=422 if errors else 200,
        warehouses=houses,
        total=total,
        offset=_offset(request),
        limit=PAGE,
        counts=counts,
        form=form,
        errors=errors or FormErrors(),
        can_setup=page.ctx.can(service.SETUP),
    )


@router.post("/inventory/warehouses")
def post_warehouse(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Add a warehouse."""
    page.ctx.require(service.SETUP)
    data = values(form, WAREHOUSE_FIELDS)
    try:
        body = validate(WarehouseCreate, data)
        house = attempt(db, lambda: service.create_warehouse(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _warehouses(request, db, page, form=data, errors=exc.errors)
    target = redirect(f"/inventory/warehouses/{house.id}")
    return flash(request, target, N_("Warehouse %(code)s added."), code=house.code)


@router.get("/inventory/warehouses/{warehouse_id}")
def warehouse_page(request: Request, warehouse_id: int, db: DbSession, page: Console) -> Response:
    """Show a warehouse's locations and the form to add one."""
    return _warehouse(request, db, page, min(max(warehouse_id, 0), MAX_ID), form={}, errors=None)


def _warehouse(
    request: Request,
    db: Session,
    page: Console,
    warehouse_id: int,
    *,
    form: dict[str, Any],
    errors: FormErrors | None,
) -> Response:
    house = service.get_warehouse(db, page.ctx, warehouse_id)
    places, _ = service.list_locations(db, page.ctx, filters={"warehouse_id": house.id}, offset=0, limit=MAX_LIMIT)
    return render(
        request,
        "inventory/warehouse.html",
        status_code=422 if errors else 200,
        warehouse=house,
        locations=places,
        form=form,
        errors=errors or FormErrors(),
        can_setup=page.ctx.can(service.SETUP),
    )


@router.post("/inventory/warehouses/{warehouse_id}/locations")
def post_location(request: Request, warehouse_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Add a location to a warehouse."""
    page.ctx.require(service.SETUP)
    house_id = min(max(warehouse_id, 0), MAX_ID)
    data = values(form, LOCATION_FIELDS)
    try:
        body = validate(LocationCreate, {**data, "warehouse_id": house_id})
        loc = attempt(db, lambda: service.create_location(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _warehouse(request, db, page, house_id, form=data, errors=exc.errors)
    return flash(request, redirect(f"/inventory/warehouses/{house_id}"), N_("Location %(code)s added."), code=loc.code)


# -- reservations ---------------------------------------------------------------------------------

RESERVATION_FIELDS = ("item_id", "location_id", "lot_id", "quantity", "reference_type", "reference_id")


@router.get("/inventory/reservations")
def reservations_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the open reservations (filter by status), and the form to reserve stock."""
    return _reservations(request, db, page, form={}, errors=None)


def _reservations(
    request: Request, db: Session, page: Console, *, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    status = request.query_params.get("status", "open")
    filters = {"status": status} if status in RESERVATION_STATES else {}
    rows, total = service.list_reservations(db, page.ctx, filters=filters, offset=_offset(request), limit=PAGE)
    labels = service.describe(
        db, page.ctx, item_ids={r.item_id for r in rows}, lot_ids={r.lot_id for r in rows if r.lot_id}
    )
    lots, _ = service.list_lots(db, page.ctx, limit=500)
    return render(
        request,
        "inventory/reservations.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        offset=_offset(request),
        limit=PAGE,
        status=status,
        labels=labels,
        choices=service.choices(db, page.ctx),
        lots=[(lot.id, lot.number) for lot in lots],
        form=form,
        errors=errors or FormErrors(),
        can_move=page.ctx.can(service.MOVE),
    )


@router.post("/inventory/reservations")
def post_reservation(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Reserve available stock for an order."""
    page.ctx.require(service.MOVE)
    data = values(form, RESERVATION_FIELDS)
    try:
        body = validate(ReservationCreate, data)
        held = attempt(db, lambda: service.create_reservation(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _reservations(request, db, page, form=data, errors=exc.errors)
    return flash(request, redirect("/inventory/reservations"), N_("Reservation %(id)s made."), id=held.id)


@router.post("/inventory/reservations/{reservation_id}/release")
def release_reservation(request: Request, reservation_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Release an open reservation: its stock becomes available again."""
    del form  # read for the CSRF check only
    try:
        service.release_reservation(db, page.ctx, min(max(reservation_id, 0), MAX_ID))
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect("/inventory/reservations"), exc.detail, "error", **exc.params)
    return flash(request, redirect("/inventory/reservations"), N_("Reservation %(id)s released."), id=reservation_id)
