"""The inventory ledger's logic: locations, lots, posting and reversing moves, stock, reservations, genealogy.

Reads need ``inventory.view``; moves, reservations, counts and lots need ``inventory.move``;
warehouses and locations are set up with ``factory.edit``. Every quantity change is one row of
``factory_stock_moves`` and nothing else: on-hand, reserved and available are queries over moves
and open reservations. The rules of ``ledger.py`` decide whether a move may be posted; the
balances they check are read inside the transaction after the moved items' rows are locked
(``SELECT ... FOR UPDATE`` on PostgreSQL), so two concurrent issues of one item run one after the
other and the second sees the first. SQLite has a single writer: a transaction that read before
another committed fails with "database is locked" instead of passing a stale check.

Quantities are summed in SQL as integer millionths (the Numeric scale), so the sums are exact on
SQLite, whose NUMERIC is a float, as on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from hexmill.core import audit
from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput
from hexmill.core.filters import FilterSet
from hexmill.core.i18n import N_
from hexmill.core.lookup import lookup, page_of, reference
from hexmill.core.pagination import count_of
from hexmill.factory.inventory import genealogy, ledger
from hexmill.factory.inventory.filters import (
    COUNT_FILTERS,
    LOCATION_FILTERS,
    LOT_FILTERS,
    MOVE_FILTERS,
    RESERVATION_FILTERS,
    STOCK_FILTERS,
    WAREHOUSE_FILTERS,
)
from hexmill.factory.inventory.models import (
    VIRTUAL_KINDS,
    CycleCount,
    Location,
    Lot,
    ProductionRecord,
    Reservation,
    StockBalance,
    StockMove,
    Warehouse,
)
from hexmill.factory.masterdata.models import Item

VIEW: Final = "inventory.view"
MOVE: Final = "inventory.move"
SETUP: Final = "factory.edit"
SCALE: Final = 1_000_000
ZERO: Final = Decimal(0)
MAX_TRACE_LOTS: Final = 100_000


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _micro(column: Any) -> ColumnElement[int]:
    """Return a quantity column as whole millionths, so SQL sums are exact on every backend."""
    return cast(func.round(column * SCALE), BigInteger)


def _from_micro(value: object) -> Decimal:
    # scaleb is exact: n millionths are n * 10**-6 with six decimal places, as Numeric(18, 6) reads.
    return Decimal(int(value or 0)).scaleb(-6)  # type: ignore[call-overload]


def _page(
    session: Session,
    ctx: Context,
    stmt: Select[Any],
    flt: FilterSet,
    *,
    filters: Mapping[str, Any] | None,
    offset: int,
    limit: int,
) -> tuple[list[Any], int]:
    ctx.require(VIEW)
    ctx.require_tenant()
    return page_of(session, stmt, flt, filters=filters, offset=offset, limit=limit)


def _invalid(message: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(message, field=field, params=params)], **params)


def _unique(
    session: Session, column: Any, value: str, *, field: str, where: Any = None, exclude: int | None = None
) -> None:
    """Raise Conflict on ``field`` if ``value`` is already taken (within ``where``), then flush.

    A concurrent write that slips past the check hits the unique constraint, which is a Conflict too.
    """
    stmt = select(column).where(column == value)
    if where is not None:
        stmt = stmt.where(where)
    if exclude is not None:
        stmt = stmt.where(column.class_.id != exclude)
    with session.no_autoflush:
        taken = session.scalar(stmt) is not None
    if taken:
        raise Conflict(N_("%(value)s is already taken."), field=field, value=value)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("%(value)s is already taken."), field=field, value=value) from exc


def _lot_is(column: Any, lot_id: int | None) -> ColumnElement[bool]:
    test: ColumnElement[bool] = column.is_(None) if lot_id is None else column == lot_id
    return test


# ---------------------------------------------------------------------------------------------
# Warehouses and locations
# ---------------------------------------------------------------------------------------------

VIRTUAL_NAMES: Final = {
    "supplier": N_("Suppliers"),
    "customer": N_("Customers"),
    "production": N_("Production"),
    "scrap": N_("Scrap"),
    "adjustment": N_("Inventory adjustment"),
}


def virtual_locations(session: Session, ctx: Context) -> dict[str, Location]:
    """Return the enterprise's virtual locations by kind, creating those that are missing."""
    tenant_id = ctx.require_tenant()
    found = {loc.kind: loc for loc in session.scalars(select(Location).where(Location.kind.in_(VIRTUAL_KINDS)))}
    for kind in VIRTUAL_KINDS:
        if kind in found:
            continue
        loc = Location(
            tenant_id=tenant_id, warehouse_id=None, kind=kind, code=f"virtual/{kind}", name=VIRTUAL_NAMES[kind]
        )
        try:
            with session.begin_nested():
                session.add(loc)
                session.flush()
        except IntegrityError:
            # Another request created it first: take theirs.
            loc = session.scalars(select(Location).where(Location.kind == kind)).one()
        found[kind] = loc
    return found


def list_warehouses(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Warehouse], int]:
    """Return one page of the enterprise's warehouses, and their total."""
    stmt = select(Warehouse).order_by(Warehouse.code, Warehouse.id)
    return _page(session, ctx, stmt, WAREHOUSE_FILTERS, filters=filters, offset=offset, limit=limit)


def get_warehouse(session: Session, ctx: Context, warehouse_id: int) -> Warehouse:
    """Return one warehouse, or raise NotFound."""
    ctx.require(VIEW)
    result: Warehouse = lookup(session, Warehouse, warehouse_id, N_("Warehouse %(id)s not found."))
    return result


def create_warehouse(session: Session, ctx: Context, *, code: str, name: str) -> Warehouse:
    """Create a warehouse."""
    ctx.require(SETUP)
    wh = Warehouse(tenant_id=ctx.require_tenant(), code=code, name=name)
    session.add(wh)
    _unique(session, Warehouse.code, code, field="code")
    audit.record(
        session, ctx, "inventory.warehouse.create", object_type="warehouse", object_id=wh.id, detail={"code": code}
    )
    return wh


def update_warehouse(session: Session, ctx: Context, warehouse_id: int, **fields: Any) -> Warehouse:
    """Change a warehouse's code or name."""
    ctx.require(SETUP)
    wh = get_warehouse(session, ctx, warehouse_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    for key, value in changes.items():
        setattr(wh, key, value)
    _unique(session, Warehouse.code, wh.code, field="code", exclude=wh.id)
    audit.record(session, ctx, "inventory.warehouse.update", object_type="warehouse", object_id=wh.id, detail=changes)
    return wh


def delete_warehouse(session: Session, ctx: Context, warehouse_id: int) -> None:
    """Delete a warehouse that has no locations left."""
    ctx.require(SETUP)
    wh = get_warehouse(session, ctx, warehouse_id)
    if session.scalar(select(exists().where(Location.warehouse_id == wh.id))):
        raise Conflict(
            N_("Warehouse %(code)s still has locations; delete them first."), field="locations", code=wh.code
        )
    session.delete(wh)
    session.flush()
    audit.record(
        session,
        ctx,
        "inventory.warehouse.delete",
        object_type="warehouse",
        object_id=warehouse_id,
        detail={"code": wh.code},
    )


def list_locations(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Location], int]:
    """Return one page of locations (internal and virtual), and their total."""
    ctx.require(VIEW)
    virtual_locations(session, ctx)
    stmt = select(Location).order_by(Location.kind != "internal", Location.code, Location.id)
    return _page(session, ctx, stmt, LOCATION_FILTERS, filters=filters, offset=offset, limit=limit)


def get_location(session: Session, ctx: Context, location_id: int) -> Location:
    """Return one location, or raise NotFound."""
    ctx.require(VIEW)
    result: Location = lookup(session, Location, location_id, N_("Location %(id)s not found."))
    return result


def create_location(session: Session, ctx: Context, *, warehouse_id: int, code: str, name: str) -> Location:
    """Create an internal location (a bin, shelf or area) in a warehouse."""
    ctx.require(SETUP)
    reference(session, Warehouse, warehouse_id, "warehouse_id", N_("Warehouse %(id)s not found."))
    loc = Location(tenant_id=ctx.require_tenant(), warehouse_id=warehouse_id, code=code, name=name, kind="internal")
    session.add(loc)
    _unique(session, Location.code, code, field="code")
    audit.record(
        session,
        ctx,
        "inventory.location.create",
        object_type="location",
        object_id=loc.id,
        detail={"code": code, "warehouse_id": warehouse_id},
    )
    return loc


def _own_location(session: Session, ctx: Context, location_id: int) -> Location:
    loc = get_location(session, ctx, location_id)
    if loc.kind != "internal":
        raise Conflict(N_("Virtual locations belong to the platform and cannot be changed."), field="kind")
    return loc


def update_location(session: Session, ctx: Context, location_id: int, **fields: Any) -> Location:
    """Change an internal location's code or name, or move it to another warehouse."""
    ctx.require(SETUP)
    loc = _own_location(session, ctx, location_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    if "warehouse_id" in changes:
        reference(session, Warehouse, changes["warehouse_id"], "warehouse_id", N_("Warehouse %(id)s not found."))
    for key, value in changes.items():
        setattr(loc, key, value)
    _unique(session, Location.code, loc.code, field="code", exclude=loc.id)
    audit.record(session, ctx, "inventory.location.update", object_type="location", object_id=loc.id, detail=changes)
    return loc


def delete_location(session: Session, ctx: Context, location_id: int) -> None:
    """Delete an internal location no move or reservation has used."""
    ctx.require(SETUP)
    loc = _own_location(session, ctx, location_id)
    used = or_(StockMove.from_location_id == loc.id, StockMove.to_location_id == loc.id)
    if session.scalar(select(exists().where(used))) or session.scalar(
        select(exists().where(Reservation.location_id == loc.id))
    ):
        raise Conflict(N_("Location %(code)s has stock history and cannot be deleted."), field="moves", code=loc.code)
    session.delete(loc)
    session.flush()
    audit.record(
        session,
        ctx,
        "inventory.location.delete",
        object_type="location",
        object_id=location_id,
        detail={"code": loc.code},
    )


# ---------------------------------------------------------------------------------------------
# Items, lots and serials
# ---------------------------------------------------------------------------------------------


def _item(session: Session, item_id: int, field: str = "item_id") -> Item:
    result: Item = reference(session, Item, item_id, field, N_("Item %(id)s not found."))
    return result


def list_lots(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Lot], int]:
    """Return one page of lots and serial numbers, newest first, and their total."""
    stmt = select(Lot).order_by(Lot.created_at.desc(), Lot.id.desc())
    return _page(session, ctx, stmt, LOT_FILTERS, filters=filters, offset=offset, limit=limit)


def get_lot(session: Session, ctx: Context, lot_id: int) -> Lot:
    """Return one lot or serial number, or raise NotFound."""
    ctx.require(VIEW)
    result: Lot = lookup(session, Lot, lot_id, N_("Lot %(id)s not found."))
    return result


def create_lot(session: Session, ctx: Context, *, item_id: int, number: str, note: str = "") -> Lot:
    """Create a lot (for a lot-tracked item) or a serial number (for a serial-tracked one)."""
    ctx.require(MOVE)
    item = _item(session, item_id)
    if item.tracking == "none":
        raise _invalid(N_("Item %(code)s is not tracked by lot or serial number."), "item_id", code=item.code)
    lot = Lot(tenant_id=ctx.require_tenant(), item_id=item.id, number=number, kind=item.tracking, note=note)
    session.add(lot)
    _unique(session, Lot.number, number, field="number", where=Lot.item_id == item.id)
    audit.record(
        session,
        ctx,
        "inventory.lot.create",
        object_type="lot",
        object_id=lot.id,
        detail={"item_id": item.id, "number": number},
    )
    return lot


def update_lot(session: Session, ctx: Context, lot_id: int, *, note: str | None = None) -> Lot:
    """Change a lot's note (its number and item are fixed once moves may name it)."""
    ctx.require(MOVE)
    lot = get_lot(session, ctx, lot_id)
    if note is not None:
        lot.note = note
    session.flush()
    audit.record(session, ctx, "inventory.lot.update", object_type="lot", object_id=lot.id, detail={"note": note})
    return lot


def delete_lot(session: Session, ctx: Context, lot_id: int) -> None:
    """Delete a lot no move or reservation names (one entered by mistake)."""
    ctx.require(MOVE)
    lot = get_lot(session, ctx, lot_id)
    if session.scalar(select(exists().where(StockMove.lot_id == lot.id))) or session.scalar(
        select(exists().where(Reservation.lot_id == lot.id))
    ):
        raise Conflict(N_("Lot %(number)s has stock history and cannot be deleted."), field="moves", number=lot.number)
    session.delete(lot)
    session.flush()
    audit.record(
        session, ctx, "inventory.lot.delete", object_type="lot", object_id=lot_id, detail={"number": lot.number}
    )


# ---------------------------------------------------------------------------------------------
# Balances (derived from moves)
# ---------------------------------------------------------------------------------------------


def _lot_key(lot_id: int | None) -> int:
    return lot_id or 0


def balance(session: Session, tenant_id: int, item_id: int, location_id: int, lot_id: int | None) -> Decimal:
    """Return the quantity of an item/lot at a location: what arrived there less what left."""
    stmt = select(StockBalance.quantity_micro).where(
        StockBalance.tenant_id == tenant_id,
        StockBalance.item_id == item_id,
        StockBalance.location_id == location_id,
        StockBalance.lot_key == _lot_key(lot_id),
    )
    return _from_micro(session.scalar(stmt))


def _internal_on_hand(session: Session, tenant_id: int, item_id: int, lot_id: int | None) -> Decimal:
    """Return an item/lot's quantity across every internal location (a serial's is 0 or 1)."""
    stmt = (
        select(func.coalesce(func.sum(StockBalance.quantity_micro), 0))
        .join(Location, Location.id == StockBalance.location_id)
        .where(
            StockBalance.tenant_id == tenant_id,
            StockBalance.item_id == item_id,
            StockBalance.lot_key == _lot_key(lot_id),
            Location.kind == "internal",
        )
    )
    return _from_micro(session.scalar(stmt))


def _add_to_balance(session: Session, tenant_id: int, move: StockMove, location_id: int, sign: int) -> None:
    """Add a move's quantity (signed) to the running sum of its item/location/lot (the item is locked)."""
    delta = sign * int((move.quantity * SCALE).to_integral_value())
    key = (
        StockBalance.tenant_id == tenant_id,
        StockBalance.item_id == move.item_id,
        StockBalance.location_id == location_id,
        StockBalance.lot_key == _lot_key(move.lot_id),
    )
    done = session.execute(
        update(StockBalance)
        .where(*key)
        .values(quantity_micro=StockBalance.quantity_micro + delta)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) == 0:
        session.execute(
            insert(StockBalance).values(
                tenant_id=tenant_id,
                item_id=move.item_id,
                location_id=location_id,
                lot_id=move.lot_id,
                lot_key=_lot_key(move.lot_id),
                quantity_micro=delta,
            )
        )


def reserved(session: Session, tenant_id: int, item_id: int, location_id: int, lot_id: int | None) -> Decimal:
    """Return the quantity of open reservations on an item/location/lot."""
    stmt = select(func.coalesce(func.sum(_micro(Reservation.quantity)), 0)).where(
        Reservation.tenant_id == tenant_id,
        Reservation.item_id == item_id,
        Reservation.location_id == location_id,
        _lot_is(Reservation.lot_id, lot_id),
        Reservation.status == "open",
    )
    return _from_micro(session.scalar(stmt))


def _sums_from_moves(tenant_id: int) -> Select[Any]:
    """Return (item, location, lot, millionths) per item/location/lot, summed from the ledger itself."""
    q = _micro(StockMove.quantity)
    signed = func.sum(case((StockMove.to_location_id == Location.id, q), else_=-q))
    columns: list[Any] = [StockMove.item_id, Location.id.label("location_id"), StockMove.lot_id, signed.label("micro")]
    return (
        select(*columns)
        .join(Location, or_(Location.id == StockMove.to_location_id, Location.id == StockMove.from_location_id))
        .where(StockMove.tenant_id == tenant_id, Location.tenant_id == tenant_id)
        .group_by(StockMove.item_id, Location.id, StockMove.lot_id)
    )


def rebuild_balances(session: Session, ctx: Context) -> int:
    """Recompute every running sum of the enterprise from its moves; return how many rows were written.

    Run after a bulk load of moves, or if ``verify_balances`` ever reports a difference.
    """
    ctx.require(MOVE)
    tenant_id = ctx.require_tenant()
    rows = session.execute(_sums_from_moves(tenant_id)).all()
    session.execute(
        delete(StockBalance).where(StockBalance.tenant_id == tenant_id).execution_options(synchronize_session=False)
    )
    values = [
        {
            "tenant_id": tenant_id,
            "item_id": r.item_id,
            "location_id": r.location_id,
            "lot_id": r.lot_id,
            "lot_key": _lot_key(r.lot_id),
            "quantity_micro": int(r.micro),
        }
        for r in rows
    ]
    for start in range(0, len(values), 5_000):
        session.execute(insert(StockBalance), values[start : start + 5_000])
    audit.record(session, ctx, "inventory.balances.rebuild", object_type="stock_balance", detail={"rows": len(values)})
    return len(values)


def verify_balances(session: Session, ctx: Context) -> list[tuple[int, int, int | None, Decimal, Decimal]]:
    """Return (item, location, lot, kept, from moves) for every running sum that differs from the ledger."""
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    truth = {(r.item_id, r.location_id, r.lot_id): int(r.micro) for r in session.execute(_sums_from_moves(tenant_id))}
    kept = {
        (r.item_id, r.location_id, r.lot_id): int(r.quantity_micro)
        for r in session.execute(
            select(
                StockBalance.item_id, StockBalance.location_id, StockBalance.lot_id, StockBalance.quantity_micro
            ).where(StockBalance.tenant_id == tenant_id)
        )
    }
    return [
        (key[0], key[1], key[2], _from_micro(kept.get(key, 0)), _from_micro(truth.get(key, 0)))
        for key in sorted(set(truth) | set(kept), key=lambda k: (k[0], k[1], k[2] or 0))
        if kept.get(key, 0) != truth.get(key, 0)
    ]


class StockRow(NamedTuple):
    """On hand, reserved and available quantity of one item/location/lot (immutable, read by attribute).

    A named tuple rather than a frozen dataclass: an export builds tens of thousands of them, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost more than the query.
    """

    item_id: int
    item_code: str
    item_name: str
    location_id: int
    location_code: str
    warehouse_id: int | None
    lot_id: int | None
    lot_number: str | None
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


def _stock_select(tenant_id: int, filters: Mapping[str, Any]) -> Select[Any]:
    """Return the non-zero internal balances, filtered and ordered (item, location, lot)."""
    columns: list[Any] = [
        StockBalance.item_id,
        StockBalance.location_id,
        StockBalance.lot_id,
        StockBalance.lot_key,
        StockBalance.quantity_micro.label("on_hand"),
        Location.code.label("location_code"),
        Location.warehouse_id,
    ]
    stmt: Select[Any] = (
        select(*columns)
        .join(Location, Location.id == StockBalance.location_id)
        .where(
            StockBalance.tenant_id == tenant_id,
            Location.kind == "internal",
            StockBalance.quantity_micro != 0,
        )
        .order_by(StockBalance.item_id, StockBalance.location_id, StockBalance.lot_key)
    )
    return STOCK_FILTERS.apply(stmt, filters)


def stock_on_hand(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[StockRow], int]:
    """Return one page of on-hand stock per item/location/lot with reserved and available, and the total."""
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    stmt = _stock_select(tenant_id, filters or {})
    # The page's balances first (ordered, limited), then only their rows joined to items and lots.
    # Run on the session's connection, outside the ORM: for an export of every row the ORM's result
    # machinery cost more than the query. So every table names its tenant here (the tenant guard
    # adds nothing on this path; PostgreSQL's row-level security still applies).
    page = stmt.where(Location.tenant_id == tenant_id).offset(offset).limit(limit).subquery()
    columns: list[Any] = [
        page.c.item_id,
        page.c.location_id,
        page.c.lot_id,
        page.c.on_hand,
        Item.code,
        Item.name,
        page.c.location_code,
        page.c.warehouse_id,
        Lot.number,
    ]
    named = (
        select(*columns)
        .select_from(page)
        .join(Item, and_(Item.id == page.c.item_id, Item.tenant_id == tenant_id))
        .outerjoin(Lot, and_(Lot.id == page.c.lot_id, Lot.tenant_id == tenant_id))
        .order_by(page.c.item_id, page.c.location_id, page.c.lot_key)
    )
    rows = session.connection().execute(named).all()
    # A page that is not full is the last one, so its total is known without counting; otherwise the
    # total counts balances alone (joined to locations for the internal ones and the filters).
    last = len(rows) < limit and (rows or offset == 0)
    total = offset + len(rows) if last else count_of(session, stmt)
    return _stock_rows(session, tenant_id, rows), total


def _stock_rows(session: Session, tenant_id: int, rows: Sequence[Any]) -> list[StockRow]:
    """Add the open reservations to balance rows (one query) and shape them."""
    if not rows:
        return []
    # Open reservations are few: one grouped query over the enterprise's, not an IN list of items.
    res = session.execute(
        select(
            Reservation.item_id,
            Reservation.location_id,
            Reservation.lot_id,
            func.sum(_micro(Reservation.quantity)),
        )
        .where(Reservation.tenant_id == tenant_id, Reservation.status == "open")
        .group_by(Reservation.item_id, Reservation.location_id, Reservation.lot_id)
    ).all()
    held = {(r[0], r[1], r[2]): _from_micro(r[3]) for r in res}
    available = ledger.available
    out: list[StockRow] = []
    append = out.append
    for item_id, location_id, lot_id, micro, item_code, item_name, location_code, warehouse_id, lot_number in rows:
        on_hand = Decimal(micro).scaleb(-6)  # as _from_micro: exact, six decimal places
        booked = held.get((item_id, location_id, lot_id)) if held else None
        if booked is None:
            # Nothing reserved: available is on hand, never below zero (ledger.available with 0).
            booked, free = ZERO, (on_hand if on_hand >= ZERO else ZERO)
        else:
            free = available(on_hand, booked)
        append(
            StockRow(
                item_id,
                item_code,
                item_name,
                location_id,
                location_code,
                warehouse_id,
                lot_id,
                lot_number,
                on_hand,
                booked,
                free,
            )
        )
    return out


class ItemStock(NamedTuple):
    """On hand, reserved and available quantity of one item over every internal location and lot."""

    item_id: int
    item_code: str
    item_name: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


def stock_by_item(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[ItemStock], int]:
    """Return one page of stock per item (every internal location and lot summed), ordered by item code.

    Items with no stock are left out. ``available`` is summed per location and lot, as each of
    them can be given out, so stock reserved in one place never counts as available in another.
    Takes the same filters as ``stock_on_hand`` (a warehouse or location filter narrows the sums).
    """
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    places = _stock_select(tenant_id, filters or {}).order_by(None).where(Location.tenant_id == tenant_id).subquery()
    on_hand = func.sum(places.c.on_hand)
    negative = func.sum(case((places.c.on_hand < 0, places.c.on_hand), else_=0))
    per_item = (
        select(places.c.item_id, on_hand.label("micro"), negative.label("negative"))
        .group_by(places.c.item_id)
        .having(on_hand != 0)
        .subquery()
    )
    stmt = (
        select(per_item.c.item_id, per_item.c.micro, per_item.c.negative, Item.code, Item.name)
        .join(Item, and_(Item.id == per_item.c.item_id, Item.tenant_id == tenant_id))
        .order_by(Item.code)
    )
    rows = session.connection().execute(stmt.offset(offset).limit(limit)).all()
    last = len(rows) < limit and (rows or offset == 0)
    total = offset + len(rows) if last else count_of(session, select(per_item.c.item_id))
    if not rows:
        return [], total
    # Available is settled per place (location and lot): the open reservations of the places in
    # the filter, each with its place's balance, in one query.
    booked_micro = func.sum(_micro(Reservation.quantity))
    held = session.execute(
        select(Reservation.item_id, places.c.on_hand, booked_micro)
        .join(
            places,
            and_(
                places.c.item_id == Reservation.item_id,
                places.c.location_id == Reservation.location_id,
                places.c.lot_key == func.coalesce(Reservation.lot_id, 0),
            ),
        )
        .where(Reservation.tenant_id == tenant_id, Reservation.status == "open")
        .group_by(Reservation.item_id, Reservation.location_id, Reservation.lot_id, places.c.on_hand)
    ).all()
    reserved: dict[int, Decimal] = {}
    free_held: dict[int, Decimal] = {}
    held_on_hand: dict[int, Decimal] = {}
    for item_id, place_micro, micro in held:
        here, booked = _from_micro(place_micro), _from_micro(micro)
        reserved[item_id] = reserved.get(item_id, ZERO) + booked
        free_held[item_id] = free_held.get(item_id, ZERO) + ledger.available(here, booked)
        held_on_hand[item_id] = held_on_hand.get(item_id, ZERO) + (here if here > ZERO else ZERO)
    out: list[ItemStock] = []
    append = out.append
    for item_id, micro, negative, code, name in rows:
        total_on_hand = Decimal(micro).scaleb(-6)  # as _from_micro: exact, six decimal places
        # Available = what the unreserved places hold (their positive part) + what the reserved ones can spare.
        free = total_on_hand - Decimal(negative).scaleb(-6) if negative else total_on_hand
        if item_id in reserved:
            free = free - held_on_hand[item_id] + free_held[item_id]
            append(ItemStock(item_id, code, name, total_on_hand, reserved[item_id], free))
        else:
            append(ItemStock(item_id, code, name, total_on_hand, ZERO, free))
    return out, total


# ---------------------------------------------------------------------------------------------
# Moves
# ---------------------------------------------------------------------------------------------


def list_moves(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[StockMove], int]:
    """Return one page of stock moves, newest first, and their total."""
    stmt = select(StockMove).order_by(StockMove.id.desc())
    filters = dict(filters or {})
    location_id = filters.pop("location_id", None)
    if location_id is not None:
        stmt = stmt.where(or_(StockMove.from_location_id == location_id, StockMove.to_location_id == location_id))
    return _page(session, ctx, stmt, MOVE_FILTERS, filters=filters, offset=offset, limit=limit)


def get_move(session: Session, ctx: Context, move_id: int) -> StockMove:
    """Return one stock move, or raise NotFound."""
    ctx.require(VIEW)
    result: StockMove = lookup(session, StockMove, move_id, N_("Stock move %(id)s not found."))
    return result


def _lock_items(session: Session, tenant_id: int, item_ids: Iterable[int]) -> None:
    """Lock the moved items' rows until commit, in id order (no deadlock between two multi-item posts).

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the item rows. SQLite has no row locks and runs a
    read outside any transaction, so a write that changes nothing takes the database's write lock
    now, before the balances are read; a concurrent post waits for the commit (busy timeout).
    """
    ids = sorted(set(item_ids))
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Item)
            .where(Item.tenant_id == tenant_id, Item.id.in_(ids))
            .values(id=Item.id)
            .execution_options(synchronize_session=False)
        )
        return
    session.execute(
        select(Item.id).where(Item.tenant_id == tenant_id, Item.id.in_(ids)).order_by(Item.id).with_for_update()
    )


def _ledger_error(exc: ledger.LedgerError) -> InvalidInput:
    return _invalid(exc.message, exc.field, **exc.params)


@dataclass(frozen=True, slots=True)
class MoveSpec:
    """The fields of one move to post."""

    item_id: int
    quantity: Decimal
    from_location_id: int
    to_location_id: int
    lot_id: int | None = None
    reference_type: str = ""
    reference_id: str = ""
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _check_and_add(session: Session, ctx: Context, spec: MoveSpec, *, reversal_of: int | None = None) -> StockMove:
    """Validate one move against the ledger's rules on the current balances and add it (items locked)."""
    tenant_id = ctx.require_tenant()
    item = _item(session, spec.item_id)
    src = reference(session, Location, spec.from_location_id, "from_location_id", N_("Location %(id)s not found."))
    dst = reference(session, Location, spec.to_location_id, "to_location_id", N_("Location %(id)s not found."))
    if item.tracking == "none":
        if spec.lot_id is not None:
            raise _invalid(N_("Item %(code)s is not tracked: leave the lot empty."), "lot_id", code=item.code)
    else:
        if spec.lot_id is None:
            raise _invalid(N_("Item %(code)s is tracked: name its lot or serial number."), "lot_id", code=item.code)
        lot = reference(session, Lot, spec.lot_id, "lot_id", N_("Lot %(id)s not found."))
        if lot.item_id != item.id:
            raise _invalid(N_("Lot %(number)s belongs to another item."), "lot_id", number=lot.number)
    move = ledger.Move(spec.item_id, spec.quantity, src.id, dst.id, spec.lot_id, reversal_of=reversal_of)
    kinds = {src.id: src.kind, dst.id: dst.kind}
    try:
        ledger.check_stock(
            move,
            balance=lambda key: balance(session, tenant_id, key[0], key[1], key[2]),
            serial_on_hand=lambda item_id, lot_id: _internal_on_hand(session, tenant_id, item_id, lot_id),
            is_internal=lambda loc: kinds[loc] == "internal",
            rule=ledger.ItemRule(allow_negative=item.allow_negative, serial=item.tracking == "serial"),
        )
    except ledger.LedgerError as exc:
        raise _ledger_error(exc) from exc
    row = StockMove(
        tenant_id=tenant_id,
        item_id=item.id,
        quantity=spec.quantity,
        from_location_id=src.id,
        to_location_id=dst.id,
        lot_id=spec.lot_id,
        reference_type=spec.reference_type,
        reference_id=spec.reference_id,
        reason=spec.reason,
        reversal_of=reversal_of,
        user_id=ctx.user_id,
        username=ctx.username,
        created_at=utcnow(),
        **spec.extra,
    )
    session.add(row)
    session.flush()
    _add_to_balance(session, tenant_id, row, src.id, -1)
    _add_to_balance(session, tenant_id, row, dst.id, +1)
    audit.record(
        session,
        ctx,
        "inventory.move.post",
        object_type="stock_move",
        object_id=row.id,
        detail={
            "item_id": item.id,
            "quantity": str(spec.quantity),
            "from": src.id,
            "to": dst.id,
            "lot_id": spec.lot_id,
            "reversal_of": reversal_of,
        },
    )
    return row


def post_move(
    session: Session,
    ctx: Context,
    *,
    item_id: int,
    quantity: Decimal,
    from_location_id: int,
    to_location_id: int,
    lot_id: int | None = None,
    reference_type: str = "",
    reference_id: str = "",
    reason: str = "",
) -> StockMove:
    """Post one stock move: a receipt, issue, transfer, shipment or scrapping, by its two locations."""
    ctx.require(MOVE)
    _lock_items(session, ctx.require_tenant(), [item_id])
    spec = MoveSpec(item_id, quantity, from_location_id, to_location_id, lot_id, reference_type, reference_id, reason)
    return _check_and_add(session, ctx, spec)


def reverse_move(session: Session, ctx: Context, move_id: int, *, reason: str = "") -> StockMove:
    """Post the opposite of a move, linked by ``reversal_of``; a move reverses once."""
    ctx.require(MOVE)
    original = get_move(session, ctx, move_id)
    _lock_items(session, ctx.require_tenant(), [original.item_id])
    if original.reversal_of is not None:
        raise _invalid(N_("A reversal cannot be reversed; post a new move instead."), "move_id")
    if session.scalar(select(exists().where(StockMove.reversal_of == original.id))):
        raise Conflict(N_("This move has already been reversed."), field="move_id")
    spec = MoveSpec(
        original.item_id,
        original.quantity,
        original.to_location_id,
        original.from_location_id,
        original.lot_id,
        original.reference_type,
        original.reference_id,
        reason or original.reason,
    )
    try:
        with session.begin_nested():
            return _check_and_add(session, ctx, spec, reversal_of=original.id)
    except IntegrityError as exc:
        # The unique reversal_of: a concurrent reversal of the same move committed first.
        raise Conflict(N_("This move has already been reversed."), field="move_id") from exc


# ---------------------------------------------------------------------------------------------
# Reservations
# ---------------------------------------------------------------------------------------------


def list_reservations(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Reservation], int]:
    """Return one page of reservations, newest first, and their total."""
    stmt = select(Reservation).order_by(Reservation.id.desc())
    return _page(session, ctx, stmt, RESERVATION_FILTERS, filters=filters, offset=offset, limit=limit)


def get_reservation(session: Session, ctx: Context, reservation_id: int) -> Reservation:
    """Return one reservation, or raise NotFound."""
    ctx.require(VIEW)
    result: Reservation = lookup(session, Reservation, reservation_id, N_("Reservation %(id)s not found."))
    return result


def create_reservation(
    session: Session,
    ctx: Context,
    *,
    item_id: int,
    location_id: int,
    quantity: Decimal,
    reference_type: str,
    reference_id: str,
    lot_id: int | None = None,
) -> Reservation:
    """Reserve available stock of an item/location/lot for an order; never more than is available."""
    ctx.require(MOVE)
    tenant_id = ctx.require_tenant()
    _lock_items(session, ctx.require_tenant(), [item_id])
    item = _item(session, item_id)
    loc = reference(session, Location, location_id, "location_id", N_("Location %(id)s not found."))
    if loc.kind != "internal":
        raise _invalid(N_("Only stock in a warehouse location can be reserved."), "location_id")
    if (item.tracking == "none") != (lot_id is None):
        field_msg = (
            N_("Item %(code)s is not tracked: leave the lot empty.")
            if lot_id is not None
            else N_("Item %(code)s is tracked: name its lot or serial number.")
        )
        raise _invalid(field_msg, "lot_id", code=item.code)
    if lot_id is not None:
        lot = reference(session, Lot, lot_id, "lot_id", N_("Lot %(id)s not found."))
        if lot.item_id != item.id:
            raise _invalid(N_("Lot %(number)s belongs to another item."), "lot_id", number=lot.number)
    try:
        ledger.check_reservation(
            quantity,
            on_hand=balance(session, tenant_id, item_id, location_id, lot_id),
            reserved=reserved(session, tenant_id, item_id, location_id, lot_id),
        )
    except ledger.LedgerError as exc:
        raise _ledger_error(exc) from exc
    row = Reservation(
        tenant_id=tenant_id,
        item_id=item_id,
        location_id=location_id,
        lot_id=lot_id,
        quantity=quantity,
        reference_type=reference_type,
        reference_id=reference_id,
        status="open",
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        ctx,
        "inventory.reservation.create",
        object_type="reservation",
        object_id=row.id,
        detail={"item_id": item_id, "quantity": str(quantity)},
    )
    return row


def _open_reservation(session: Session, ctx: Context, reservation_id: int) -> Reservation:
    row = get_reservation(session, ctx, reservation_id)
    if row.status != "open":
        raise Conflict(N_("This reservation is already %(status)s."), field="status", status=row.status)
    return row


def release_reservation(session: Session, ctx: Context, reservation_id: int) -> Reservation:
    """Release a reservation: its quantity is available again."""
    ctx.require(MOVE)
    row = _open_reservation(session, ctx, reservation_id)
    row.status, row.closed_at = "released", utcnow()
    session.flush()
    audit.record(session, ctx, "inventory.reservation.release", object_type="reservation", object_id=row.id)
    return row


def consume_reservation(session: Session, ctx: Context, reservation_id: int, *, to_location_id: int) -> Reservation:
    """Issue a reservation's stock to a location (a shipment, production) and close it."""
    ctx.require(MOVE)
    row = _open_reservation(session, ctx, reservation_id)
    _lock_items(session, ctx.require_tenant(), [row.item_id])
    # The reservation stops holding its stock as the move takes it, so the move's own check is the usual one.
    row.status, row.closed_at = "consumed", utcnow()
    session.flush()
    spec = MoveSpec(
        row.item_id,
        row.quantity,
        row.location_id,
        to_location_id,
        row.lot_id,
        row.reference_type,
        row.reference_id,
        "reservation",
    )
    move = _check_and_add(session, ctx, spec)
    row.move_id = move.id
    session.flush()
    audit.record(
        session,
        ctx,
        "inventory.reservation.consume",
        object_type="reservation",
        object_id=row.id,
        detail={"move_id": move.id},
    )
    return row


# ---------------------------------------------------------------------------------------------
# Cycle counts
# ---------------------------------------------------------------------------------------------


def list_cycle_counts(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[CycleCount], int]:
    """Return one page of cycle counts, newest first, and their total."""
    stmt = select(CycleCount).order_by(CycleCount.id.desc())
    return _page(session, ctx, stmt, COUNT_FILTERS, filters=filters, offset=offset, limit=limit)


def get_cycle_count(session: Session, ctx: Context, count_id: int) -> CycleCount:
    """Return one cycle count, or raise NotFound."""
    ctx.require(VIEW)
    result: CycleCount = lookup(session, CycleCount, count_id, N_("Cycle count %(id)s not found."))
    return result


def post_cycle_count(
    session: Session,
    ctx: Context,
    *,
    item_id: int,
    location_id: int,
    counted_quantity: Decimal,
    lot_id: int | None = None,
) -> CycleCount:
    """Record a counted quantity and post the difference to or from the inventory-adjustment location."""
    ctx.require(MOVE)
    tenant_id = ctx.require_tenant()
    _lock_items(session, ctx.require_tenant(), [item_id])
    _item(session, item_id)
    loc = reference(session, Location, location_id, "location_id", N_("Location %(id)s not found."))
    if loc.kind != "internal":
        raise _invalid(N_("Only stock in a warehouse location can be counted."), "location_id")
    adjustment = virtual_locations(session, ctx)["adjustment"]
    expected = balance(session, tenant_id, item_id, location_id, lot_id)
    try:
        diff = ledger.count_difference(
            item_id, location_id, lot_id, counted=counted_quantity, on_hand=expected, adjustment_location=adjustment.id
        )
    except ledger.LedgerError as exc:
        raise _ledger_error(exc) from exc
    row = CycleCount(
        tenant_id=tenant_id,
        item_id=item_id,
        location_id=location_id,
        lot_id=lot_id,
        counted_quantity=counted_quantity,
        expected_quantity=expected,
        username=ctx.username,
    )
    session.add(row)
    session.flush()
    if diff is not None:
        # Moves are never updated: the count exists first, so its move can name it from the start.
        spec = MoveSpec(
            item_id,
            diff.quantity,
            diff.from_location,
            diff.to_location,
            lot_id,
            "cycle_count",
            str(row.id),
            "cycle count",
        )
        row.move_id = _check_and_add(session, ctx, spec).id
        session.flush()
    audit.record(
        session,
        ctx,
        "inventory.count.post",
        object_type="cycle_count",
        object_id=row.id,
        detail={"counted": str(counted_quantity), "expected": str(expected)},
    )
    return row


# ---------------------------------------------------------------------------------------------
# Production records and genealogy
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductionLine:
    """One component consumed (from an internal location) or output produced (into one)."""

    item_id: int
    quantity: Decimal
    location_id: int
    lot_id: int | None = None


def list_production_records(
    session: Session, ctx: Context, *, offset: int = 0, limit: int = 50
) -> tuple[list[ProductionRecord], int]:
    """Return one page of production records, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(ProductionRecord).order_by(ProductionRecord.id.desc())
    return list(session.scalars(stmt.offset(offset).limit(limit))), count_of(session, stmt)


def get_production_record(session: Session, ctx: Context, record_id: int) -> tuple[ProductionRecord, list[StockMove]]:
    """Return a production record and its moves (consumed first)."""
    ctx.require(VIEW)
    record: ProductionRecord = lookup(session, ProductionRecord, record_id, N_("Production record %(id)s not found."))
    moves = list(
        session.scalars(
            select(StockMove)
            .where(StockMove.production_id == record.id)
            .order_by(StockMove.production_role, StockMove.id)
        )
    )
    return record, moves


def post_production(
    session: Session,
    ctx: Context,
    *,
    consumed: Sequence[ProductionLine],
    produced: Sequence[ProductionLine],
    reference_type: str = "",
    reference_id: str = "",
    note: str = "",
) -> ProductionRecord:
    """Record production: issue the components to production and receive the output from it, linked.

    The links are the genealogy: every output lot of the record was made from every component lot.
    """
    ctx.require(MOVE)
    ctx.require_tenant()
    if not produced:
        raise _invalid(N_("A production record needs at least one output."), "produced")
    record, _ = add_to_production(
        session,
        ctx,
        None,
        consumed=consumed,
        produced=produced,
        reference_type=reference_type,
        reference_id=reference_id,
        note=note,
    )
    return record


def add_to_production(
    session: Session,
    ctx: Context,
    record_id: int | None,
    *,
    consumed: Sequence[ProductionLine] = (),
    produced: Sequence[ProductionLine] = (),
    reference_type: str = "",
    reference_id: str = "",
    note: str = "",
) -> tuple[ProductionRecord, list[StockMove]]:
    """Post consumed and produced moves into a production record, a new one when ``record_id`` is None.

    A work order issues components before any output exists and receives output more than once;
    its moves all go into one record, so every lot it produced traces down to every component lot
    it consumed, whenever that was issued.

    Args:
        session: The request's session.
        ctx: The caller; needs ``inventory.move``.
        record_id: The record to add to (of the caller's enterprise), or None to open one.
        consumed: Components issued from internal locations to the production location.
        produced: Output received from the production location into internal locations.
        reference_type: The record's and the moves' reference type (a new record only keeps it).
        reference_id: The record's and the moves' reference.
        note: The note of a new record.

    Returns:
        The record and the moves posted, consumed first, in the order given.

    Raises:
        NotFound: ``record_id`` is not a record of the enterprise.
        InvalidInput: A move breaks the ledger's rules; its field names the line ("consumed.2.quantity").
    """
    ctx.require(MOVE)
    tenant_id = ctx.require_tenant()
    _lock_items(session, tenant_id, [line.item_id for line in (*consumed, *produced)])
    production = virtual_locations(session, ctx)["production"]
    if record_id is None:
        record = ProductionRecord(
            tenant_id=tenant_id,
            reference_type=reference_type,
            reference_id=reference_id,
            note=note,
            user_id=ctx.user_id,
            username=ctx.username,
        )
        session.add(record)
        session.flush()
    else:
        record = lookup(session, ProductionRecord, record_id, N_("Production record %(id)s not found."))
    moves: list[StockMove] = []
    for role, lines in (("consumed", consumed), ("produced", produced)):
        for n, line in enumerate(lines):
            src, dst = (line.location_id, production.id) if role == "consumed" else (production.id, line.location_id)
            spec = MoveSpec(
                line.item_id,
                line.quantity,
                src,
                dst,
                line.lot_id,
                reference_type,
                reference_id,
                "production",
                {"production_id": record.id, "production_role": role},
            )
            try:
                moves.append(_check_and_add(session, ctx, spec))
            except InvalidInput as exc:
                # Name the line: "consumed.2.quantity" rather than "quantity".
                prefix = f"{role}.{n}."
                for err in exc.errors:
                    err.field = prefix + (err.field or "")
                exc.field = prefix + (exc.field or "")
                raise
    audit.record(
        session,
        ctx,
        "inventory.production.post",
        object_type="production_record",
        object_id=record.id,
        detail={"consumed": len(consumed), "produced": len(produced), "added": record_id is not None},
    )
    return record, moves


# One recursive query walks the genealogy from a lot: at each step, from the lot's moves of the
# starting role (produced when tracing down, consumed when tracing up) to the lots of the other
# role in the same production record. Reversed moves (and the reversals) are left out. UNION, not
# UNION ALL, keeps each edge once, which also ends the walk on a cyclic record. Plain SQL with the
# tenant in every table's predicate (STYLE.md rule 4).
#
# The two backends get the same walk in two shapes, each the one its planner runs well:
# - PostgreSQL: the step joins the worktable to the lot's moves and those to the record's moves
#   (nested loops over the (lot, role) and production_id indexes).
# - SQLite: for the same join SQLite (3.40 here) plans Bloom filters on the moves in the recursive
#   step (EXPLAIN QUERY PLAN: "BLOOM FILTER ON a", "ON b"), as it takes the recursive table for a
#   large one; over the 100,000-move benchmark ledger that cost 12 ms for a walk of two edges and
#   28 ms for a recall of 580. The step names the record's moves by ``production_id IN`` (the
#   lot's not-reversed moves of the starting role) instead, which it runs as index probes per
#   worktable row: 0.03 ms and 4 ms for the same walks. PostgreSQL cannot turn that correlated IN
#   into a join and filters every move with it (seconds), hence two texts; the edges are the same.
_WALK = text("""
WITH RECURSIVE walk(src, dst) AS (
  SELECT a.lot_id, b.lot_id
    FROM factory_stock_moves a
    JOIN factory_stock_moves b ON b.production_id = a.production_id AND b.tenant_id = :tenant
   WHERE a.tenant_id = :tenant AND a.lot_id = :lot AND a.production_role = :start
     AND b.production_role = :other AND b.lot_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = a.id AND r.tenant_id = :tenant)
     AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = b.id AND r.tenant_id = :tenant)
  UNION
  SELECT a.lot_id, b.lot_id
    FROM walk w
    JOIN factory_stock_moves a ON a.lot_id = w.dst AND a.tenant_id = :tenant AND a.production_role = :start
    JOIN factory_stock_moves b ON b.production_id = a.production_id AND b.tenant_id = :tenant
   WHERE b.production_role = :other AND b.lot_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = a.id AND r.tenant_id = :tenant)
     AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = b.id AND r.tenant_id = :tenant)
)
SELECT src, dst FROM walk LIMIT :limit
""")
_WALK_SQLITE = text("""
WITH RECURSIVE walk(src, dst) AS (
  SELECT a.lot_id, b.lot_id
    FROM factory_stock_moves a
    JOIN factory_stock_moves b ON b.production_id = a.production_id AND b.tenant_id = :tenant
   WHERE a.tenant_id = :tenant AND a.lot_id = :lot AND a.production_role = :start
     AND b.production_role = :other AND b.lot_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = a.id AND r.tenant_id = :tenant)
     AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = b.id AND r.tenant_id = :tenant)
  UNION
  SELECT w.dst, b.lot_id
    FROM walk w
    JOIN factory_stock_moves b ON b.tenant_id = :tenant AND b.production_role = :other AND b.lot_id IS NOT NULL
   WHERE b.production_id IN (
           SELECT a.production_id FROM factory_stock_moves a
            WHERE a.lot_id = w.dst AND a.tenant_id = :tenant AND a.production_role = :start
              AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = a.id AND r.tenant_id = :tenant))
     AND NOT EXISTS (SELECT 1 FROM factory_stock_moves r WHERE r.reversal_of = b.id AND r.tenant_id = :tenant)
)
SELECT src, dst FROM walk LIMIT :limit
""")


def _edges(session: Session, tenant_id: int, lot_id: int, *, down: bool) -> list[tuple[int, int]]:
    """Return the genealogy edges (from, to) walking away from a lot: down to components, up to containers."""
    start, other = ("produced", "consumed") if down else ("consumed", "produced")
    params = {"tenant": tenant_id, "lot": lot_id, "start": start, "other": other, "limit": MAX_TRACE_LOTS}
    walk = _WALK_SQLITE if session.get_bind().dialect.name == "sqlite" else _WALK
    return [(int(r[0]), int(r[1])) for r in session.execute(walk, params)]


@dataclass(frozen=True, slots=True)
class Trace:
    """A lot's genealogy one way: the lots reached, the edges between them, and (up) the shipments."""

    root: Lot
    lots: dict[int, Any]
    edges: list[tuple[int, int]]
    depths: dict[int, int]
    shipments: list[Any]

    def tree(self) -> genealogy.TraceNode:
        """Return the trace as a tree rooted at the lot traced."""
        return genealogy.tree(self.root.id, self.edges)


def _trace(session: Session, ctx: Context, lot_id: int, *, down: bool) -> Trace:
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    root = get_lot(session, ctx, lot_id)
    edges = _edges(session, tenant_id, root.id, down=down)
    depth = genealogy.depths(root.id, edges)
    # Column rows, not ORM objects: a recall may reach thousands of lots.
    lots: dict[int, Any] = {root.id: root}
    if len(depth) > 1:
        found = select(Lot.id, Lot.item_id, Lot.number, Lot.kind).where(Lot.tenant_id == tenant_id, Lot.id.in_(depth))
        lots.update({row.id: row for row in session.execute(found)})
    shipments: list[Any] = []
    if not down:
        customer = select(Location.id).where(Location.tenant_id == tenant_id, Location.kind == "customer")
        undo = aliased(StockMove)
        # Column rows (every column of a move), not ORM objects: a recall may list hundreds of shipments.
        # Sorted here, not by ORDER BY id: asked for the order, SQLite walked the enterprise's whole
        # ledger in id order (tenant index, 22 ms) instead of probing the lots' moves (lot index, 2 ms).
        found_moves = session.execute(
            select(*StockMove.__table__.columns).where(
                StockMove.tenant_id == tenant_id,
                StockMove.lot_id.in_(list(depth)),
                StockMove.to_location_id.in_(customer),
                StockMove.reversal_of.is_(None),
                ~exists().where(undo.tenant_id == tenant_id, undo.reversal_of == StockMove.id),
            )
        ).all()
        shipments = sorted(found_moves, key=lambda row: row.id)
    return Trace(root=root, lots=lots, edges=sorted(set(edges)), depths=depth, shipments=shipments)


def trace_down(session: Session, ctx: Context, lot_id: int) -> Trace:
    """Return every component lot a lot was made from, across all levels."""
    return _trace(session, ctx, lot_id, down=True)


def trace_up(session: Session, ctx: Context, lot_id: int) -> Trace:
    """Return every lot containing a lot, across all levels, and every shipment of any of them (a recall)."""
    return _trace(session, ctx, lot_id, down=False)


def choices(session: Session, ctx: Context) -> dict[str, list[tuple[int, str]]]:
    """Return (id, label) of the active items and of every location, for the console's forms."""
    ctx.require(VIEW)
    ctx.require_tenant()
    virtual_locations(session, ctx)
    items = session.execute(
        select(Item.id, Item.code, Item.name, Item.tracking)
        .where(Item.active.is_(True))
        .order_by(Item.code)
        .limit(2000)
    ).all()
    locs = session.execute(select(Location.id, Location.code, Location.name).order_by(Location.code).limit(2000)).all()
    return {
        "items": [(r.id, f"{r.code} · {r.name}") for r in items],
        "locations": [(r.id, f"{r.code} · {r.name}") for r in locs],
    }


def describe(
    session: Session, ctx: Context, *, item_ids: Iterable[int], lot_ids: Iterable[int] = ()
) -> dict[str, dict[int, str]]:
    """Return display labels of items (code) and lots (number) by id, in two queries."""
    ctx.require(VIEW)
    items, lots = set(item_ids), set(lot_ids)
    return {
        "items": {r.id: r.code for r in session.execute(select(Item.id, Item.code).where(Item.id.in_(items)))}
        if items
        else {},
        "lots": {r.id: r.number for r in session.execute(select(Lot.id, Lot.number).where(Lot.id.in_(lots)))}
        if lots
        else {},
        "locations": {r.id: r.code for r in session.execute(select(Location.id, Location.code))},
    }


# ---------------------------------------------------------------------------------------------
# Stock flows (for the factory KPIs)
# ---------------------------------------------------------------------------------------------


class ItemFlow(NamedTuple):
    """An item's stock over a window: on hand (internal locations) at its start and end, what left it."""

    item_id: int
    opening: Decimal
    closing: Decimal
    outflow: Decimal
    """Shipped to customers and consumed by production, less reversals of either."""
    produced: Decimal
    """Received from production, less reversals."""


class FlowMove(NamedTuple):
    """A move into stock from production, or out of stock to a customer, with its time."""

    item_id: int
    at: datetime
    quantity: Decimal


def stock_flows(session: Session, ctx: Context, *, since: datetime, until: datetime) -> list[ItemFlow]:
    """Return per item the internal on-hand at ``since`` and ``until`` and the flows between them.

    One pass over the ledger up to ``until`` (Core, tenant named on every table): signed sums over
    internal locations before each bound, and the quantities that crossed to and from the
    customer and production locations inside the window.
    """
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    src, dst = aliased(Location), aliased(Location)
    q = _micro(StockMove.quantity)
    internal_delta = case((dst.kind == "internal", q), else_=0) - case((src.kind == "internal", q), else_=0)
    inside = and_(StockMove.created_at >= since, StockMove.created_at < until)
    out_kinds = ("customer", "production")
    original, reversal = StockMove.reversal_of.is_(None), StockMove.reversal_of.is_not(None)
    # A reversal runs the other way: one of a consumption looks like output and one of output like a
    # consumption, so each sum takes originals one way and reversals the other.
    leaving = and_(inside, original, src.kind == "internal", dst.kind.in_(out_kinds))
    undoing = and_(inside, reversal, src.kind.in_(out_kinds), dst.kind == "internal")
    made = and_(inside, original, src.kind == "production", dst.kind == "internal")
    made_undone = and_(inside, reversal, src.kind == "internal", dst.kind == "production")
    stmt = (
        select(
            StockMove.item_id,
            func.sum(case((StockMove.created_at < since, internal_delta), else_=0)).label("opening"),
            func.sum(internal_delta).label("closing"),
            func.sum(case((leaving, q), (undoing, -q), else_=0)).label("outflow"),
            func.sum(case((made, q), (made_undone, -q), else_=0)).label("produced"),
        )
        .join(src, and_(src.id == StockMove.from_location_id, src.tenant_id == tenant_id))
        .join(dst, and_(dst.id == StockMove.to_location_id, dst.tenant_id == tenant_id))
        .where(StockMove.tenant_id == tenant_id, StockMove.created_at < until)
        .group_by(StockMove.item_id)
        .order_by(StockMove.item_id)
    )
    rows = session.connection().execute(stmt).all()
    return [
        ItemFlow(
            r.item_id,
            _from_micro(r.opening),
            _from_micro(r.closing),
            _from_micro(r.outflow),
            _from_micro(r.produced),
        )
        for r in rows
    ]


def production_output(session: Session, ctx: Context, *, since: datetime, until: datetime) -> list[FlowMove]:
    """Return every receipt from production into stock inside the window that was not reversed."""
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    src, dst = aliased(Location), aliased(Location)
    undo = aliased(StockMove)
    stmt = (
        select(StockMove.item_id, StockMove.created_at, StockMove.quantity)
        .join(src, and_(src.id == StockMove.from_location_id, src.tenant_id == tenant_id))
        .join(dst, and_(dst.id == StockMove.to_location_id, dst.tenant_id == tenant_id))
        .where(
            StockMove.tenant_id == tenant_id,
            StockMove.created_at >= since,
            StockMove.created_at < until,
            StockMove.reversal_of.is_(None),
            src.kind == "production",
            dst.kind == "internal",
            ~exists().where(undo.tenant_id == tenant_id, undo.reversal_of == StockMove.id),
        )
        .order_by(StockMove.created_at)
    )
    return [FlowMove(r.item_id, r.created_at, r.quantity) for r in session.connection().execute(stmt)]
