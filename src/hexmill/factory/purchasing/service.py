"""Purchasing logic: purchase orders to suppliers (drafts, confirmation, cancellation) and receipts.

Reads need ``purchasing.view`` and writes ``purchasing.edit``; receiving also moves stock, so it
needs ``inventory.move`` as well. Items, units and suppliers are read through the master-data
service and stock is posted through the inventory service (ADR 0011): a receipt line is one move
from the supplier virtual location to a warehouse location, with reference type
``purchase_order`` and the order's id. Lookups answer NotFound for missing orders and for those of
another enterprise alike.

An order is edited while it is a draft; once confirmed its status follows from its lines
(``receiving.order_status``). Receipts against one order are serialised by locking the order's
row (``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite), so two receipts cannot
both pass the tolerance check on the same open quantity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, selectinload

from hexmill.core import audit
from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.i18n import N_
from hexmill.core.lookup import page_of
from hexmill.core.pagination import MAX_LIMIT
from hexmill.factory import documents
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.purchasing import receiving
from hexmill.factory.purchasing.filters import ORDER_FILTERS
from hexmill.factory.purchasing.models import PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine

VIEW: Final = "purchasing.view"
EDIT: Final = "purchasing.edit"
MOVE: Final = inventory.MOVE
REFERENCE_TYPE: Final = "purchase_order"
STEP: Final = Decimal("0.000001")
PERCENT_STEP: Final = Decimal("0.01")
# Numeric(18, 6) holds values below 10**12.
MAX_QUANTITY: Final = Decimal(10) ** 12
LINE_FIELDS: Final = ("item_id", "quantity", "uom_id", "unit_price", "expected_date", "tolerance_pct")


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _invalid(message: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(message, field=field, params=params)], **params)


def _prefixed(exc: InvalidInput, prefix: str) -> InvalidInput:
    """Name the line an error is about: "lines.2.quantity" rather than "quantity"."""
    for err in exc.errors:
        err.field = prefix + (err.field or "")
    exc.field = prefix + (exc.field or "")
    return exc


def _audit(session: Session, ctx: Context, action: str, order: PurchaseOrder, **detail: Any) -> None:
    audit.record(
        session,
        ctx,
        f"purchasing.order.{action}",
        object_type="purchase_order",
        object_id=order.id,
        detail={
            "number": order.number,
            **{k: str(v) if isinstance(v, Decimal | date) else v for k, v in detail.items()},
        },
    )


def _base(quantity: Decimal, field: str) -> Decimal:
    """Round a converted quantity to the database's six places; refuse what rounds to nothing or overflows."""
    base = quantity.quantize(STEP, rounding=ROUND_HALF_EVEN)
    if base <= 0:
        raise _invalid(N_("The quantity is too small for the item's base unit."), field)
    if base >= MAX_QUANTITY:
        raise _invalid(N_("The quantity is too large for the item's base unit."), field)
    return base


def _q(value: Decimal, step: Decimal = STEP) -> Decimal:
    """Return a value at the column's scale, as the database gives it back (so every answer reads alike)."""
    return Decimal(value).quantize(step, rounding=ROUND_HALF_EVEN)


def _check_dates(order_date: date, expected_date: date | None, field: str) -> None:
    if expected_date is not None and expected_date < order_date:
        raise _invalid(N_("The expected date cannot be before the order date (%(date)s)."), field, date=str(order_date))


# ---------------------------------------------------------------------------------------------
# Purchase orders
# ---------------------------------------------------------------------------------------------


def list_purchase_orders(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[PurchaseOrder], int]:
    """Return one page of purchase orders, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(PurchaseOrder).order_by(PurchaseOrder.id.desc())
    return page_of(session, stmt, ORDER_FILTERS, filters=filters, offset=offset, limit=limit)


def get_purchase_order(session: Session, ctx: Context, order_id: int) -> PurchaseOrder:
    """Return one purchase order with its lines, or raise NotFound."""
    ctx.require(VIEW)
    order = session.scalar(
        select(PurchaseOrder).options(selectinload(PurchaseOrder.lines)).where(PurchaseOrder.id == order_id)
    )
    if order is None:
        raise NotFound(N_("Purchase order %(id)s not found."), id=order_id)
    return order


def _lock_order(session: Session, ctx: Context, order_id: int) -> PurchaseOrder:
    """Lock an order's row until commit, then read it and its lines afresh (receipts run one at a time)."""
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write that changes nothing takes the database's write lock now.
        session.execute(
            update(PurchaseOrder)
            .where(PurchaseOrder.tenant_id == tenant_id, PurchaseOrder.id == order_id)
            .values(id=PurchaseOrder.id)
            .execution_options(synchronize_session=False)
        )
        stmt = select(PurchaseOrder)
    else:
        stmt = select(PurchaseOrder).with_for_update(of=PurchaseOrder)
    order = session.scalar(
        stmt.options(selectinload(PurchaseOrder.lines))
        .where(PurchaseOrder.id == order_id)
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound(N_("Purchase order %(id)s not found."), id=order_id)
    return order


def _draft(session: Session, ctx: Context, order_id: int) -> PurchaseOrder:
    order = _lock_order(session, ctx, order_id)
    if order.status != "draft":
        raise Conflict(
            N_("Only a draft purchase order can be changed; %(number)s is %(status)s."),
            field="status",
            number=order.number,
            status=order.status,
        )
    return order


def _supplier(session: Session, ctx: Context, supplier_id: int) -> None:
    """Check that a party of the enterprise exists, is a supplier and is active."""
    try:
        party = masterdata.get_party(session, ctx, supplier_id)
    except NotFound as exc:
        raise _invalid(N_("Party %(id)s not found."), "supplier_id", id=supplier_id) from exc
    if not party.is_supplier:
        raise _invalid(N_("Party %(code)s is not a supplier."), "supplier_id", code=party.code)
    if not party.active:
        raise _invalid(N_("Party %(code)s is inactive."), "supplier_id", code=party.code)


ORDER_TAKEN: Final = N_("The order number %(number)s is already taken.")


def _unique_number(session: Session, number: str, exclude: int | None) -> None:
    documents.check_number_free(session, PurchaseOrder, number, exclude, ORDER_TAKEN)


def _flush_number(session: Session, number: str) -> None:
    documents.flush_numbered(session, number, ORDER_TAKEN)


def _line_fields(
    session: Session, ctx: Context, order: PurchaseOrder, fields: Mapping[str, Any], prefix: str
) -> dict[str, Any]:
    """Check a line's item, unit and dates; return its fields with the quantity in the item's base unit."""
    out = {k: v for k, v in fields.items() if k in LINE_FIELDS}
    try:
        item = masterdata.get_item(session, ctx, fields["item_id"])
    except NotFound as exc:
        raise _invalid(N_("Item %(id)s not found."), prefix + "item_id", id=fields["item_id"]) from exc
    if not item.active:
        raise _invalid(N_("Item %(code)s is inactive."), prefix + "item_id", code=item.code)
    out["uom_id"] = fields.get("uom_id") or item.uom_id
    try:
        converted = masterdata.convert_quantity(
            session, ctx, item_id=item.id, quantity=fields["quantity"], from_uom_id=out["uom_id"], to_uom_id=item.uom_id
        )
    except InvalidInput as exc:
        for err in exc.errors:
            err.field = "uom_id"
        exc.field = "uom_id"
        raise _prefixed(exc, prefix) from None
    out["base_quantity"] = _base(converted, prefix + "quantity")
    out["quantity"] = _q(fields["quantity"])
    out["unit_price"] = _q(fields.get("unit_price") or Decimal(0))
    out["tolerance_pct"] = _q(fields.get("tolerance_pct") or Decimal(0), PERCENT_STEP)
    _check_dates(order.order_date, fields.get("expected_date"), prefix + "expected_date")
    return out


def _add_line(session: Session, ctx: Context, order: PurchaseOrder, fields: Mapping[str, Any], prefix: str) -> None:
    values = _line_fields(session, ctx, order, fields, prefix)
    position = max((line.position for line in order.lines), default=0) + 10
    order.lines.append(
        PurchaseOrderLine(
            tenant_id=order.tenant_id,
            order_id=order.id,
            position=position,
            received_quantity=_q(Decimal(0)),
            received_base_quantity=_q(Decimal(0)),
            closed=False,
            **values,
        )
    )


def create_purchase_order(
    session: Session,
    ctx: Context,
    *,
    number: str,
    supplier_id: int,
    order_date: date | None = None,
    expected_date: date | None = None,
    note: str = "",
    lines: Sequence[Mapping[str, Any]] = (),
) -> PurchaseOrder:
    """Create a draft purchase order to a supplier, with its lines (errors name "lines.N.<field>")."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    order_date = order_date or utcnow().date()
    _unique_number(session, number, None)
    _supplier(session, ctx, supplier_id)
    _check_dates(order_date, expected_date, "expected_date")
    order = PurchaseOrder(
        tenant_id=tenant_id,
        number=number,
        supplier_id=supplier_id,
        order_date=order_date,
        expected_date=expected_date,
        note=note,
        status="draft",
        username=ctx.username,
        lines=[],
    )
    session.add(order)
    _flush_number(session, number)
    for n, line in enumerate(lines):
        _add_line(session, ctx, order, line, f"lines.{n}.")
    session.flush()
    _audit(session, ctx, "create", order, supplier_id=supplier_id, lines=len(lines))
    return order


def update_purchase_order(session: Session, ctx: Context, order_id: int, **fields: Any) -> PurchaseOrder:
    """Change a draft order's header: number, supplier, dates, note."""
    ctx.require(EDIT)
    order = _draft(session, ctx, order_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    if "number" in changes:
        _unique_number(session, changes["number"], order.id)
    if "supplier_id" in changes:
        _supplier(session, ctx, changes["supplier_id"])
    _check_dates(
        changes.get("order_date", order.order_date), changes.get("expected_date", order.expected_date), "expected_date"
    )
    for key, value in changes.items():
        setattr(order, key, value)
    _flush_number(session, order.number)
    _audit(session, ctx, "update", order, **changes)
    return order


def delete_purchase_order(session: Session, ctx: Context, order_id: int) -> None:
    """Delete a draft order and its lines."""
    ctx.require(EDIT)
    order = _draft(session, ctx, order_id)
    session.delete(order)
    session.flush()
    _audit(session, ctx, "delete", order)


def add_order_line(session: Session, ctx: Context, order_id: int, **fields: Any) -> PurchaseOrderLine:
    """Add a line to a draft order; its quantity is converted to the item's base unit."""
    ctx.require(EDIT)
    order = _draft(session, ctx, order_id)
    _add_line(session, ctx, order, fields, "")
    session.flush()
    line = order.lines[-1]
    _audit(session, ctx, "add_line", order, line=line.position, item_id=line.item_id, quantity=line.quantity)
    return line


def _line(order: PurchaseOrder, line_id: int) -> PurchaseOrderLine:
    missing = N_("Line %(id)s of purchase order %(number)s not found.")
    return documents.line_of(order.lines, line_id, missing, order.number)


def update_order_line(session: Session, ctx: Context, order_id: int, line_id: int, **fields: Any) -> PurchaseOrderLine:
    """Change a line of a draft order (item, quantity, unit, price, expected date, tolerance)."""
    ctx.require(EDIT)
    order = _draft(session, ctx, order_id)
    line = _line(order, line_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    merged = {key: getattr(line, key) for key in LINE_FIELDS} | changes
    if "item_id" in changes and "uom_id" not in changes:
        merged["uom_id"] = None  # a new item is ordered in its own base unit unless told otherwise
    for key, value in _line_fields(session, ctx, order, merged, "").items():
        setattr(line, key, value)
    session.flush()
    _audit(session, ctx, "update_line", order, line=line.position, **changes)
    return line


def delete_order_line(session: Session, ctx: Context, order_id: int, line_id: int) -> None:
    """Remove a line from a draft order."""
    ctx.require(EDIT)
    order = _draft(session, ctx, order_id)
    line = _line(order, line_id)
    order.lines.remove(line)
    session.flush()
    _audit(session, ctx, "delete_line", order, line=line.position)


def _states(order: PurchaseOrder) -> list[receiving.LineState]:
    return [
        receiving.LineState(line.quantity, line.received_quantity, line.tolerance_pct, line.closed)
        for line in order.lines
    ]


def confirm_purchase_order(session: Session, ctx: Context, order_id: int) -> PurchaseOrder:
    """Confirm a draft order with at least one line: it is sent, fixed, and goods may be received."""
    ctx.require(EDIT)
    order = _draft(session, ctx, order_id)
    if not order.lines:
        raise _invalid(N_("Purchase order %(number)s has no lines to confirm."), "lines", number=order.number)
    order.status, order.confirmed_at = "confirmed", utcnow()
    session.flush()
    _audit(session, ctx, "confirm", order)
    return order


def cancel_purchase_order(session: Session, ctx: Context, order_id: int) -> PurchaseOrder:
    """Cancel a draft or confirmed order; refused once anything has been received against it."""
    ctx.require(EDIT)
    order = _lock_order(session, ctx, order_id)
    if session.scalar(select(exists().where(Receipt.order_id == order.id))):
        raise Conflict(
            N_("Purchase order %(number)s has receipts and cannot be cancelled; close its open lines short instead."),
            field="status",
            number=order.number,
        )
    if order.status not in ("draft", "confirmed"):
        raise Conflict(
            N_("Purchase order %(number)s is %(status)s and cannot be cancelled."),
            field="status",
            number=order.number,
            status=order.status,
        )
    order.status = "cancelled"
    session.flush()
    _audit(session, ctx, "cancel", order)
    return order


def _open(session: Session, ctx: Context, order_id: int) -> PurchaseOrder:
    order = _lock_order(session, ctx, order_id)
    if order.status not in receiving.OPEN_STATES:
        raise Conflict(
            N_("Purchase order %(number)s is %(status)s: goods are received only on a confirmed order."),
            field="status",
            number=order.number,
            status=order.status,
        )
    return order


def close_order_line(session: Session, ctx: Context, order_id: int, line_id: int) -> PurchaseOrderLine:
    """Close a line short: it expects nothing more, and the order's status follows."""
    ctx.require(EDIT)
    order = _open(session, ctx, order_id)
    line = _line(order, line_id)
    if line.closed:
        raise Conflict(N_("Line %(line)s is already closed."), field="closed", line=line.position)
    if line.received_quantity >= line.quantity:
        raise Conflict(N_("Line %(line)s is already fully received."), field="closed", line=line.position)
    line.closed = True
    order.status = receiving.order_status(order.status, _states(order))
    session.flush()
    _audit(session, ctx, "close_line", order, line=line.position, received=line.received_quantity)
    return line


# ---------------------------------------------------------------------------------------------
# Receipts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptLineSpec:
    """A quantity of one order line (in the line's unit) received into a location, with its lot."""

    order_line_id: int
    quantity: Decimal
    location_id: int
    lot_number: str | None = None


def list_receipts(session: Session, ctx: Context, order_id: int) -> list[Receipt]:
    """Return an order's receipts with their lines, oldest first."""
    order = get_purchase_order(session, ctx, order_id)
    stmt = select(Receipt).options(selectinload(Receipt.lines)).where(Receipt.order_id == order.id)
    return list(session.scalars(stmt.order_by(Receipt.id)))


def _lot_id(session: Session, ctx: Context, item_id: int, number: str) -> int:
    """Return the id of the item's lot with this number, creating it through the inventory service if new."""
    offset = 0
    while True:
        rows, total = inventory.list_lots(
            session, ctx, filters={"item_id": item_id, "number": number}, offset=offset, limit=MAX_LIMIT
        )
        for lot in rows:
            if lot.number == number:
                return lot.id
        offset += len(rows)
        if not rows or offset >= total:
            break
    return inventory.create_lot(session, ctx, item_id=item_id, number=number).id


def _over_receipt(
    session: Session, ctx: Context, line: PurchaseOrderLine, *, item_code: str, exc: receiving.OverReceipt, field: str
) -> InvalidInput:
    unit = masterdata.get_uom(session, ctx, line.uom_id).code
    return _invalid(
        N_(
            "Line %(line)s (%(item)s): receiving %(quantity)s %(unit)s would bring it to %(total)s %(unit)s, "
            "more than the %(ordered)s %(unit)s ordered plus %(tolerance)s%% tolerance (at most %(limit)s %(unit)s)."
        ),
        field,
        line=line.position,
        item=item_code,
        unit=unit,
        quantity=_show(exc.quantity),
        total=_show(exc.total),
        ordered=_show(line.quantity),
        tolerance=_show(line.tolerance_pct),
        limit=_show(exc.limit),
    )


def _show(value: Decimal) -> str:
    """Return a quantity without trailing zeros and never in exponent notation."""
    return format(Decimal(value).normalize(), "f")


def _receive_line(
    session: Session,
    ctx: Context,
    order: PurchaseOrder,
    receipt: Receipt,
    spec: ReceiptLineSpec,
    *,
    supplier_location: int,
    prefix: str,
) -> None:
    """Check one receipt line, post its move and add it to the order line's received quantity."""
    line = next((ln for ln in order.lines if ln.id == spec.order_line_id), None)
    if line is None:
        raise _invalid(
            N_("Line %(id)s is not a line of purchase order %(number)s."),
            prefix + "order_line_id",
            id=spec.order_line_id,
            number=order.number,
        )
    if line.closed:
        raise _invalid(N_("Line %(line)s is closed."), prefix + "order_line_id", line=line.position)
    item = masterdata.get_item(session, ctx, line.item_id)
    state = receiving.LineState(line.quantity, line.received_quantity, line.tolerance_pct)
    try:
        total = receiving.check_receipt(state, spec.quantity)
    except receiving.OverReceipt as exc:
        raise _over_receipt(session, ctx, line, item_code=item.code, exc=exc, field=prefix + "quantity") from exc
    converted = masterdata.convert_quantity(
        session, ctx, item_id=item.id, quantity=spec.quantity, from_uom_id=line.uom_id, to_uom_id=item.uom_id
    )
    base = _base(converted, prefix + "quantity")
    try:
        location = inventory.get_location(session, ctx, spec.location_id)
    except NotFound as exc:
        raise _invalid(N_("Location %(id)s not found."), prefix + "location_id", id=spec.location_id) from exc
    if location.kind != "internal":
        raise _invalid(N_("Goods are received into a warehouse location."), prefix + "location_id")
    lot_id: int | None = None
    if item.tracking == "none":
        if spec.lot_number:
            raise _invalid(
                N_("Item %(code)s is not tracked: leave the lot empty."), prefix + "lot_number", code=item.code
            )
    elif not spec.lot_number:
        raise _invalid(
            N_("Item %(code)s is tracked: name its lot or serial number."), prefix + "lot_number", code=item.code
        )
    else:
        lot_id = _lot_id(session, ctx, item.id, spec.lot_number)
    try:
        move = inventory.post_move(
            session,
            ctx,
            item_id=item.id,
            quantity=base,
            from_location_id=supplier_location,
            to_location_id=location.id,
            lot_id=lot_id,
            reference_type=REFERENCE_TYPE,
            reference_id=str(order.id),
            reason=f"{order.number} / {line.position}"[:200],
        )
    except InvalidInput as exc:
        raise _prefixed(exc, prefix) from None
    line.received_quantity = _q(total)
    line.received_base_quantity = _q(line.received_base_quantity + base)
    receipt.lines.append(
        ReceiptLine(
            tenant_id=order.tenant_id,
            receipt_id=receipt.id,
            order_line_id=line.id,
            quantity=_q(spec.quantity),
            base_quantity=base,
            location_id=location.id,
            lot_id=lot_id,
            move_id=move.id,
        )
    )


def receive_purchase_order(
    session: Session, ctx: Context, order_id: int, *, lines: Sequence[ReceiptLineSpec], note: str = ""
) -> Receipt:
    """Receive goods against a confirmed order: one stock move per line, from the supplier location.

    Partial receipts leave the line open; a receipt that would take a line beyond its ordered
    quantity plus tolerance is refused, naming the line and the quantities ("lines.N.quantity").
    """
    ctx.require(EDIT)
    ctx.require(MOVE)
    if not lines:
        raise _invalid(N_("A receipt needs at least one line."), "lines")
    order = _open(session, ctx, order_id)
    supplier_location = inventory.virtual_locations(session, ctx)["supplier"].id
    receipt = Receipt(
        tenant_id=order.tenant_id, order_id=order.id, note=note, user_id=ctx.user_id, username=ctx.username, lines=[]
    )
    session.add(receipt)
    session.flush()
    for n, spec in enumerate(lines):
        _receive_line(session, ctx, order, receipt, spec, supplier_location=supplier_location, prefix=f"lines.{n}.")
    order.status = receiving.order_status(order.status, _states(order))
    session.flush()
    _audit(session, ctx, "receive", order, receipt_id=receipt.id, lines=len(lines), status=order.status)
    return receipt


# ---------------------------------------------------------------------------------------------
# Console helpers
# ---------------------------------------------------------------------------------------------


def choices(session: Session, ctx: Context) -> dict[str, list[tuple[int, str]]]:
    """Return (id, label) of suppliers, active items, units and warehouse locations for the console's forms."""
    ctx.require(VIEW)
    suppliers, _ = masterdata.list_parties(session, ctx, filters={"is_supplier": True}, limit=MAX_LIMIT)
    items, _ = masterdata.list_items(session, ctx, filters={"active": True}, limit=MAX_LIMIT)
    uoms, _ = masterdata.list_uoms(session, ctx, limit=MAX_LIMIT)
    locations: list[tuple[int, str]] = []
    if ctx.can(inventory.VIEW):
        locs, _ = inventory.list_locations(session, ctx, filters={"kind": "internal"}, limit=MAX_LIMIT)
        locations = [(loc.id, f"{loc.code} · {loc.name}") for loc in locs]
    return {
        "suppliers": [(p.id, f"{p.code} · {p.name}") for p in suppliers if p.active],
        "supplier_names": [(p.id, f"{p.code} · {p.name}") for p in suppliers],
        "items": [(i.id, f"{i.code} · {i.name}") for i in items],
        "uoms": [(u.id, u.code) for u in uoms],
        "locations": locations,
    }
