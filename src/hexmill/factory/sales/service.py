"""Sales logic: quotations, sales orders to customers, deliveries (picking, shipping) and returns.

Reads need ``sales.view`` and writes ``sales.edit``; picking, shipping and returns also move stock,
so they need ``inventory.move`` as well. Items, units, options and customers are read through the
master-data service and stock is reserved and moved through the inventory service (ADR 0011).
Lookups answer NotFound for missing objects and for those of another enterprise alike.

Quotations go draft → sent → accepted / rejected / expired; an accepted quotation converts once into
a draft sales order with the same lines (``SalesOrder.quotation_id``). A sales order is edited while
it is a draft; once confirmed its status follows from its lines (``delivering.order_status``).
A delivery names order lines, a quantity in the item's base unit, a warehouse location and (for
tracked items) a lot. Picking reserves that stock for the order (reference type ``sales_order``,
the order's id); shipping consumes the reservations — or, for a delivery never picked, posts the
moves directly — each a stock move from the location to the enterprise's virtual customer location
with reference type ``sales_order`` and the order's id, so a shipped lot shows in
``inventory.service.trace_up``. A return posts moves from the customer location back into a
warehouse location or the scrap location. Writes against one order run one at a time (its row is
locked), so two deliveries cannot both take the same open quantity.

Functions other packages may call (stable):

- ``get_sales_order(session, ctx, order_id) -> SalesOrder`` (with its lines)
- ``get_order_line(session, ctx, line_id) -> SalesOrderLine``
- ``list_sales_orders(session, ctx, *, filters=None, offset=0, limit=50) -> (list[SalesOrder], total)``
- ``shipped_lines(session, ctx, *, since: date | None, until: date | None) -> list[ShippedLine]``:
  one row per order line shipped at least once whose last shipment falls within [since, until]
  (UTC dates, both inclusive, either open), with the order, customer, item, ordered base quantity,
  due date, the order's ``confirmed_at``, first and last ``shipped_at`` and the quantity shipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from hexmill.core import audit
from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.i18n import N_
from hexmill.core.lookup import lookup, page_of
from hexmill.core.pagination import MAX_LIMIT
from hexmill.factory import documents
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.sales import delivering
from hexmill.factory.sales.filters import DELIVERY_FILTERS, ORDER_FILTERS, QUOTATION_FILTERS
from hexmill.factory.sales.models import (
    Delivery,
    DeliveryLine,
    Quotation,
    QuotationLine,
    SalesOrder,
    SalesOrderLine,
    SalesReturn,
    SalesReturnLine,
)

VIEW: Final = "sales.view"
EDIT: Final = "sales.edit"
MOVE: Final = inventory.MOVE
REFERENCE_TYPE: Final = "sales_order"
STEP: Final = Decimal("0.000001")
# Numeric(18, 6) holds values below 10**12.
MAX_QUANTITY: Final = Decimal(10) ** 12
ORDER_LINE_FIELDS: Final = ("item_id", "quantity", "uom_id", "unit_price", "due_date", "options")
QUOTATION_LINE_FIELDS: Final = ("item_id", "quantity", "uom_id", "unit_price", "requested_date", "options")
# Where returned goods may go besides a warehouse location.
RETURN_KINDS: Final = ("internal", "scrap")


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


def _renamed(exc: InvalidInput, field: str) -> InvalidInput:
    for err in exc.errors:
        err.field = field
    exc.field = field
    return exc


def _audit(session: Session, ctx: Context, action: str, obj: SalesOrder | Quotation, **detail: Any) -> None:
    kind = "quotation" if isinstance(obj, Quotation) else "sales_order"
    audit.record(
        session,
        ctx,
        f"sales.{kind}.{action}",
        object_type=kind,
        object_id=obj.id,
        detail={
            "number": obj.number,
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


def _q(value: Decimal) -> Decimal:
    """Return a value at the column's scale, as the database gives it back (so every answer reads alike)."""
    return Decimal(value).quantize(STEP, rounding=ROUND_HALF_EVEN)


def _show(value: Decimal) -> str:
    """Return a quantity without trailing zeros and never in exponent notation."""
    return format(Decimal(value).normalize(), "f")


def _customer(session: Session, ctx: Context, customer_id: int) -> None:
    """Check that a party of the enterprise exists, is a customer and is active."""
    try:
        party = masterdata.get_party(session, ctx, customer_id)
    except NotFound as exc:
        raise _invalid(N_("Party %(id)s not found."), "customer_id", id=customer_id) from exc
    if not party.is_customer:
        raise _invalid(N_("Party %(code)s is not a customer."), "customer_id", code=party.code)
    if not party.active:
        raise _invalid(N_("Party %(code)s is inactive."), "customer_id", code=party.code)


def check_options(session: Session, ctx: Context, item_id: int, options: Sequence[int], field: str) -> list[int]:
    """Check the option values chosen for an item; return them in the order of their groups.

    A configurable item needs exactly one value of each of its option groups, and only its own
    values; an item that is not configurable takes none. Errors name ``field``.
    """
    item = masterdata.get_item(session, ctx, item_id)
    chosen = list(options)
    if not item.configurable:
        if chosen:
            raise _invalid(N_("Item %(code)s is not configurable: choose no options."), field, code=item.code)
        return []
    groups = masterdata.item_options(session, ctx, item.id)
    group_of = {value.id: group for group in groups for value in group.values}
    by_group: dict[int, int] = {}
    for value_id in chosen:
        group = group_of.get(value_id)
        if group is None:
            raise _invalid(
                N_("Option value %(id)s is not an option of item %(code)s."), field, id=value_id, code=item.code
            )
        if group.id in by_group:
            raise _invalid(N_("Option %(group)s is chosen more than once."), field, group=group.code)
        by_group[group.id] = value_id
    missing = [group.code for group in groups if group.id not in by_group]
    if missing:
        raise _invalid(
            N_("Item %(code)s needs a choice for option %(group)s."), field, code=item.code, group=", ".join(missing)
        )
    return [by_group[group.id] for group in groups]


def _line_fields(
    session: Session, ctx: Context, fields: Mapping[str, Any], names: tuple[str, ...], prefix: str
) -> dict[str, Any]:
    """Check a line's item, unit and options; return its fields with the quantity in the item's base unit."""
    out = {k: v for k, v in fields.items() if k in names}
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
        raise _renamed(exc, prefix + "uom_id") from None
    out["base_quantity"] = _base(converted, prefix + "quantity")
    out["quantity"] = _q(fields["quantity"])
    out["unit_price"] = _q(fields.get("unit_price") or Decimal(0))
    out["options"] = check_options(session, ctx, item.id, fields.get("options") or [], prefix + "options")
    return out


def _lock(session: Session, ctx: Context, model: type[SalesOrder] | type[Quotation], obj_id: int) -> None:
    """Lock a row until commit (SELECT ... FOR UPDATE on PostgreSQL, the write lock on SQLite)."""
    tenant_id = ctx.require_tenant()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write that changes nothing takes the database's write lock now.
        session.execute(
            update(model)
            .where(model.tenant_id == tenant_id, model.id == obj_id)
            .values(id=model.id)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(select(model.id).where(model.id == obj_id).with_for_update())


# ---------------------------------------------------------------------------------------------
# Quotations
# ---------------------------------------------------------------------------------------------


def list_quotations(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Quotation], int]:
    """Return one page of quotations, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(Quotation).order_by(Quotation.id.desc())
    return page_of(session, stmt, QUOTATION_FILTERS, filters=filters, offset=offset, limit=limit)


def get_quotation(session: Session, ctx: Context, quotation_id: int, *, lock: bool = False) -> Quotation:
    """Return one quotation with its lines, or raise NotFound."""
    ctx.require(VIEW)
    if lock:
        _lock(session, ctx, Quotation, quotation_id)
    quotation = session.scalar(
        select(Quotation)
        .options(selectinload(Quotation.lines))
        .where(Quotation.id == quotation_id)
        .execution_options(populate_existing=lock)
    )
    if quotation is None:
        raise NotFound(N_("Quotation %(id)s not found."), id=quotation_id)
    return quotation


def quotation_order(session: Session, ctx: Context, quotation_id: int) -> SalesOrder | None:
    """Return the sales order a quotation was converted into, if any."""
    ctx.require(VIEW)
    return session.scalar(select(SalesOrder).where(SalesOrder.quotation_id == quotation_id))


def _quotation_in(session: Session, ctx: Context, quotation_id: int, states: tuple[str, ...]) -> Quotation:
    quotation = get_quotation(session, ctx, quotation_id, lock=True)
    if quotation.status not in states:
        raise Conflict(
            N_("Quotation %(number)s is %(status)s."), field="status", number=quotation.number, status=quotation.status
        )
    return quotation


QUOTATION_TAKEN: Final = N_("The quotation number %(number)s is already taken.")
ORDER_TAKEN: Final = N_("The order number %(number)s is already taken.")


def _unique_quotation(session: Session, number: str, exclude: int | None) -> None:
    documents.check_number_free(session, Quotation, number, exclude, QUOTATION_TAKEN)


def _check_validity(quote_date: date, valid_until: date | None) -> None:
    if valid_until is not None and valid_until < quote_date:
        raise _invalid(
            N_("The quotation cannot be valid until before its date (%(date)s)."), "valid_until", date=str(quote_date)
        )


def _add_quotation_line(
    session: Session, ctx: Context, quotation: Quotation, fields: Mapping[str, Any], prefix: str
) -> QuotationLine:
    values = _line_fields(session, ctx, fields, QUOTATION_LINE_FIELDS, prefix)
    position = max((line.position for line in quotation.lines), default=0) + 10
    line = QuotationLine(tenant_id=quotation.tenant_id, quotation_id=quotation.id, position=position, **values)
    quotation.lines.append(line)
    return line


def create_quotation(
    session: Session,
    ctx: Context,
    *,
    number: str,
    customer_id: int,
    quote_date: date | None = None,
    valid_until: date | None = None,
    note: str = "",
    lines: Sequence[Mapping[str, Any]] = (),
) -> Quotation:
    """Create a draft quotation to a customer, with its lines (errors name "lines.N.<field>")."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    quote_date = quote_date or utcnow().date()
    _unique_quotation(session, number, None)
    _customer(session, ctx, customer_id)
    _check_validity(quote_date, valid_until)
    quotation = Quotation(
        tenant_id=tenant_id,
        number=number,
        customer_id=customer_id,
        quote_date=quote_date,
        valid_until=valid_until,
        note=note,
        status="draft",
        username=ctx.username,
        lines=[],
    )
    session.add(quotation)
    documents.flush_numbered(session, number, QUOTATION_TAKEN)
    for n, line in enumerate(lines):
        _add_quotation_line(session, ctx, quotation, line, f"lines.{n}.")
    session.flush()
    _audit(session, ctx, "create", quotation, customer_id=customer_id, lines=len(lines))
    return quotation


def update_quotation(session: Session, ctx: Context, quotation_id: int, **fields: Any) -> Quotation:
    """Change a draft quotation's header: number, customer, dates, note."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("draft",))
    changes = {k: v for k, v in fields.items() if v is not None}
    if "number" in changes:
        _unique_quotation(session, changes["number"], quotation.id)
    if "customer_id" in changes:
        _customer(session, ctx, changes["customer_id"])
    _check_validity(changes.get("quote_date", quotation.quote_date), changes.get("valid_until", quotation.valid_until))
    for key, value in changes.items():
        setattr(quotation, key, value)
    documents.flush_numbered(session, quotation.number, QUOTATION_TAKEN)
    _audit(session, ctx, "update", quotation, **changes)
    return quotation


def delete_quotation(session: Session, ctx: Context, quotation_id: int) -> None:
    """Delete a draft quotation and its lines."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("draft",))
    session.delete(quotation)
    session.flush()
    _audit(session, ctx, "delete", quotation)


def _quotation_line(quotation: Quotation, line_id: int) -> QuotationLine:
    missing = N_("Line %(id)s of quotation %(number)s not found.")
    return documents.line_of(quotation.lines, line_id, missing, quotation.number)


def add_quotation_line(session: Session, ctx: Context, quotation_id: int, **fields: Any) -> QuotationLine:
    """Add a line to a draft quotation; its quantity is converted to the item's base unit."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("draft",))
    line = _add_quotation_line(session, ctx, quotation, fields, "")
    session.flush()
    _audit(session, ctx, "add_line", quotation, line=line.position, item_id=line.item_id, quantity=line.quantity)
    return line


def update_quotation_line(
    session: Session, ctx: Context, quotation_id: int, line_id: int, **fields: Any
) -> QuotationLine:
    """Change a line of a draft quotation (item, quantity, unit, price, requested date, options)."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("draft",))
    line = _quotation_line(quotation, line_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    merged = {key: getattr(line, key) for key in QUOTATION_LINE_FIELDS} | changes
    if "item_id" in changes:
        # A new item is quoted in its own base unit and with its own options unless told otherwise.
        merged["uom_id"] = changes.get("uom_id")
        merged["options"] = changes.get("options", [])
    for key, value in _line_fields(session, ctx, merged, QUOTATION_LINE_FIELDS, "").items():
        setattr(line, key, value)
    session.flush()
    _audit(session, ctx, "update_line", quotation, line=line.position, **changes)
    return line


def delete_quotation_line(session: Session, ctx: Context, quotation_id: int, line_id: int) -> None:
    """Remove a line from a draft quotation."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("draft",))
    line = _quotation_line(quotation, line_id)
    quotation.lines.remove(line)
    session.flush()
    _audit(session, ctx, "delete_line", quotation, line=line.position)


def send_quotation(session: Session, ctx: Context, quotation_id: int) -> Quotation:
    """Mark a draft quotation with at least one line as sent to the customer; it is fixed from then on."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("draft",))
    if not quotation.lines:
        raise _invalid(N_("Quotation %(number)s has no lines to send."), "lines", number=quotation.number)
    quotation.status, quotation.sent_at = "sent", utcnow()
    session.flush()
    _audit(session, ctx, "send", quotation)
    return quotation


def accept_quotation(session: Session, ctx: Context, quotation_id: int, *, today: date | None = None) -> Quotation:
    """Record that the customer accepted a sent quotation; refused once it is past its validity."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("sent",))
    today = today or utcnow().date()
    if quotation.valid_until is not None and quotation.valid_until < today:
        raise Conflict(
            N_("Quotation %(number)s was valid until %(date)s; mark it expired and quote again."),
            field="valid_until",
            number=quotation.number,
            date=str(quotation.valid_until),
        )
    quotation.status, quotation.decided_at = "accepted", utcnow()
    session.flush()
    _audit(session, ctx, "accept", quotation)
    return quotation


def reject_quotation(session: Session, ctx: Context, quotation_id: int) -> Quotation:
    """Record that the customer rejected a sent quotation."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("sent",))
    quotation.status, quotation.decided_at = "rejected", utcnow()
    session.flush()
    _audit(session, ctx, "reject", quotation)
    return quotation


def expire_quotation(session: Session, ctx: Context, quotation_id: int) -> Quotation:
    """Mark a sent quotation expired: the customer did not answer in time."""
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("sent",))
    quotation.status, quotation.decided_at = "expired", utcnow()
    session.flush()
    _audit(session, ctx, "expire", quotation)
    return quotation


def convert_quotation(
    session: Session, ctx: Context, quotation_id: int, *, number: str | None = None, order_date: date | None = None
) -> SalesOrder:
    """Turn an accepted quotation into a draft sales order with the same lines; a quotation converts once.

    The order takes the quotation's number unless another is given; a line's requested date becomes its due date.
    """
    ctx.require(EDIT)
    quotation = _quotation_in(session, ctx, quotation_id, ("accepted",))
    existing = quotation_order(session, ctx, quotation.id)
    if existing is not None:
        raise Conflict(
            N_("Quotation %(number)s has already been converted into sales order %(order)s."),
            field="status",
            number=quotation.number,
            order=existing.number,
        )
    order = create_sales_order(
        session,
        ctx,
        number=number or quotation.number,
        customer_id=quotation.customer_id,
        order_date=order_date,
        note=quotation.note,
        lines=[
            {
                "item_id": line.item_id,
                "quantity": line.quantity,
                "uom_id": line.uom_id,
                "unit_price": line.unit_price,
                "due_date": line.requested_date,
                "options": list(line.options),
            }
            for line in quotation.lines
        ],
    )
    order.quotation_id = quotation.id
    session.flush()
    _audit(session, ctx, "convert", quotation, order_id=order.id)
    return order


# ---------------------------------------------------------------------------------------------
# Sales orders
# ---------------------------------------------------------------------------------------------


def list_sales_orders(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[SalesOrder], int]:
    """Return one page of sales orders, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(SalesOrder).order_by(SalesOrder.id.desc())
    return page_of(session, stmt, ORDER_FILTERS, filters=filters, offset=offset, limit=limit)


def get_sales_order(session: Session, ctx: Context, order_id: int, *, lock: bool = False) -> SalesOrder:
    """Return one sales order with its lines, or raise NotFound; ``lock`` holds its row until commit."""
    ctx.require(VIEW)
    if lock:
        _lock(session, ctx, SalesOrder, order_id)
    order = session.scalar(
        select(SalesOrder)
        .options(selectinload(SalesOrder.lines))
        .where(SalesOrder.id == order_id)
        .execution_options(populate_existing=lock)
    )
    if order is None:
        raise NotFound(N_("Sales order %(id)s not found."), id=order_id)
    return order


def get_order_line(session: Session, ctx: Context, line_id: int) -> SalesOrderLine:
    """Return one sales order line, or raise NotFound."""
    ctx.require(VIEW)
    line: SalesOrderLine = lookup(session, SalesOrderLine, line_id, N_("Sales order line %(id)s not found."))
    return line


def _order_in(session: Session, ctx: Context, order_id: int, states: tuple[str, ...]) -> SalesOrder:
    order = get_sales_order(session, ctx, order_id, lock=True)
    if order.status not in states:
        raise Conflict(
            N_("Sales order %(number)s is %(status)s."), field="status", number=order.number, status=order.status
        )
    return order


def _unique_order(session: Session, number: str, exclude: int | None) -> None:
    documents.check_number_free(session, SalesOrder, number, exclude, ORDER_TAKEN)


def _check_due(order_date: date, due_date: date | None, field: str) -> None:
    if due_date is not None and due_date < order_date:
        raise _invalid(N_("The due date cannot be before the order date (%(date)s)."), field, date=str(order_date))


def _add_order_line(
    session: Session, ctx: Context, order: SalesOrder, fields: Mapping[str, Any], prefix: str
) -> SalesOrderLine:
    values = _line_fields(session, ctx, fields, ORDER_LINE_FIELDS, prefix)
    _check_due(order.order_date, values.get("due_date"), prefix + "due_date")
    position = max((line.position for line in order.lines), default=0) + 10
    line = SalesOrderLine(
        tenant_id=order.tenant_id,
        order_id=order.id,
        position=position,
        delivered_quantity=_q(Decimal(0)),
        returned_quantity=_q(Decimal(0)),
        **values,
    )
    order.lines.append(line)
    return line


def create_sales_order(
    session: Session,
    ctx: Context,
    *,
    number: str,
    customer_id: int,
    order_date: date | None = None,
    customer_reference: str = "",
    note: str = "",
    lines: Sequence[Mapping[str, Any]] = (),
) -> SalesOrder:
    """Create a draft sales order from a customer, with its lines (errors name "lines.N.<field>")."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    order_date = order_date or utcnow().date()
    _unique_order(session, number, None)
    _customer(session, ctx, customer_id)
    order = SalesOrder(
        tenant_id=tenant_id,
        number=number,
        customer_id=customer_id,
        order_date=order_date,
        customer_reference=customer_reference,
        note=note,
        status="draft",
        username=ctx.username,
        lines=[],
    )
    session.add(order)
    documents.flush_numbered(session, number, ORDER_TAKEN)
    for n, line in enumerate(lines):
        _add_order_line(session, ctx, order, line, f"lines.{n}.")
    session.flush()
    _audit(session, ctx, "create", order, customer_id=customer_id, lines=len(lines))
    return order


def update_sales_order(session: Session, ctx: Context, order_id: int, **fields: Any) -> SalesOrder:
    """Change a draft order's header: number, customer, order date, customer reference, note."""
    ctx.require(EDIT)
    order = _order_in(session, ctx, order_id, ("draft",))
    changes = {k: v for k, v in fields.items() if v is not None}
    if "number" in changes:
        _unique_order(session, changes["number"], order.id)
    if "customer_id" in changes:
        _customer(session, ctx, changes["customer_id"])
    if "order_date" in changes:
        for n, line in enumerate(order.lines):
            _check_due(changes["order_date"], line.due_date, f"lines.{n}.due_date")
    for key, value in changes.items():
        setattr(order, key, value)
    documents.flush_numbered(session, order.number, ORDER_TAKEN)
    _audit(session, ctx, "update", order, **changes)
    return order


def delete_sales_order(session: Session, ctx: Context, order_id: int) -> None:
    """Delete a draft order and its lines."""
    ctx.require(EDIT)
    order = _order_in(session, ctx, order_id, ("draft",))
    session.delete(order)
    session.flush()
    _audit(session, ctx, "delete", order)


def _order_line(order: SalesOrder, line_id: int) -> SalesOrderLine:
    missing = N_("Line %(id)s of sales order %(number)s not found.")
    return documents.line_of(order.lines, line_id, missing, order.number)


def add_order_line(session: Session, ctx: Context, order_id: int, **fields: Any) -> SalesOrderLine:
    """Add a line to a draft order; its quantity is converted to the item's base unit."""
    ctx.require(EDIT)
    order = _order_in(session, ctx, order_id, ("draft",))
    line = _add_order_line(session, ctx, order, fields, "")
    session.flush()
    _audit(session, ctx, "add_line", order, line=line.position, item_id=line.item_id, quantity=line.quantity)
    return line


def update_order_line(session: Session, ctx: Context, order_id: int, line_id: int, **fields: Any) -> SalesOrderLine:
    """Change a line of a draft order (item, quantity, unit, price, due date, options)."""
    ctx.require(EDIT)
    order = _order_in(session, ctx, order_id, ("draft",))
    line = _order_line(order, line_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    merged = {key: getattr(line, key) for key in ORDER_LINE_FIELDS} | changes
    if "item_id" in changes:
        # A new item is ordered in its own base unit and with its own options unless told otherwise.
        merged["uom_id"] = changes.get("uom_id")
        merged["options"] = changes.get("options", [])
    values = _line_fields(session, ctx, merged, ORDER_LINE_FIELDS, "")
    _check_due(order.order_date, values.get("due_date"), "due_date")
    for key, value in values.items():
        setattr(line, key, value)
    session.flush()
    _audit(session, ctx, "update_line", order, line=line.position, **changes)
    return line


def delete_order_line(session: Session, ctx: Context, order_id: int, line_id: int) -> None:
    """Remove a line from a draft order."""
    ctx.require(EDIT)
    order = _order_in(session, ctx, order_id, ("draft",))
    line = _order_line(order, line_id)
    order.lines.remove(line)
    session.flush()
    _audit(session, ctx, "delete_line", order, line=line.position)


def _states(order: SalesOrder) -> list[delivering.LineState]:
    return [
        delivering.LineState(line.base_quantity, line.delivered_quantity, line.returned_quantity)
        for line in order.lines
    ]


def confirm_sales_order(session: Session, ctx: Context, order_id: int) -> SalesOrder:
    """Confirm a draft order with at least one line: it is fixed, and goods may be delivered."""
    ctx.require(EDIT)
    order = _order_in(session, ctx, order_id, ("draft",))
    if not order.lines:
        raise _invalid(N_("Sales order %(number)s has no lines to confirm."), "lines", number=order.number)
    order.status, order.confirmed_at = "confirmed", utcnow()
    session.flush()
    _audit(session, ctx, "confirm", order)
    return order


def cancel_sales_order(session: Session, ctx: Context, order_id: int) -> SalesOrder:
    """Cancel a draft or confirmed order; refused once anything has been shipped against it.

    Deliveries not yet shipped are cancelled with it and the stock they reserved is released.
    """
    ctx.require(EDIT)
    order = get_sales_order(session, ctx, order_id, lock=True)
    if any(line.delivered_quantity > 0 for line in order.lines) or order.status in ("partially_delivered", "delivered"):
        raise Conflict(
            N_("Sales order %(number)s has shipments and cannot be cancelled."), field="status", number=order.number
        )
    if order.status not in ("draft", "confirmed"):
        raise Conflict(
            N_("Sales order %(number)s is %(status)s and cannot be cancelled."),
            field="status",
            number=order.number,
            status=order.status,
        )
    pending = session.scalars(
        select(Delivery)
        .options(selectinload(Delivery.lines))
        .where(Delivery.order_id == order.id, Delivery.status.in_(("draft", "picked")))
    )
    for delivery in pending:
        _release(session, ctx, delivery)
        delivery.status = "cancelled"
    order.status, order.cancelled_at = "cancelled", utcnow()
    session.flush()
    _audit(session, ctx, "cancel", order)
    return order


# ---------------------------------------------------------------------------------------------
# Deliveries
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryLineSpec:
    """A quantity of one order line (in the item's base unit) to take from a warehouse location and lot."""

    order_line_id: int
    quantity: Decimal
    location_id: int
    lot_id: int | None = None


def list_deliveries(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Delivery], int]:
    """Return one page of deliveries with their lines, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(Delivery).options(selectinload(Delivery.lines)).order_by(Delivery.id.desc())
    return page_of(session, stmt, DELIVERY_FILTERS, filters=filters, offset=offset, limit=limit)


def get_delivery(session: Session, ctx: Context, delivery_id: int) -> Delivery:
    """Return one delivery with its lines, or raise NotFound."""
    ctx.require(VIEW)
    delivery = session.scalar(
        select(Delivery)
        .options(selectinload(Delivery.lines))
        .where(Delivery.id == delivery_id)
        .execution_options(populate_existing=True)
    )
    if delivery is None:
        raise NotFound(N_("Delivery %(id)s not found."), id=delivery_id)
    return delivery


def _pending(session: Session, order: SalesOrder, exclude: int | None) -> dict[int, Decimal]:
    """Return, per order line, what deliveries not yet shipped (other than ``exclude``) hold."""
    stmt = (
        select(DeliveryLine.order_line_id, func.sum(DeliveryLine.quantity))
        .join(Delivery, Delivery.id == DeliveryLine.delivery_id)
        .where(Delivery.order_id == order.id, Delivery.status.in_(("draft", "picked")))
        .group_by(DeliveryLine.order_line_id)
    )
    if exclude is not None:
        stmt = stmt.where(Delivery.id != exclude)
    return {int(row[0]): Decimal(row[1]) for row in session.execute(stmt)}


def _over_shipment(line: SalesOrderLine, item_code: str, exc: delivering.OverShipment, field: str) -> InvalidInput:
    return _invalid(
        N_(
            "Line %(line)s (%(item)s): shipping %(quantity)s is more than the %(open)s still open "
            "(%(ordered)s ordered, %(delivered)s delivered, the rest held by other deliveries)."
        ),
        field,
        line=line.position,
        item=item_code,
        quantity=_show(exc.quantity),
        open=_show(exc.available),
        ordered=_show(line.base_quantity),
        delivered=_show(line.delivered_quantity),
    )


def _check_delivery_lines(
    session: Session,
    ctx: Context,
    order: SalesOrder,
    specs: Sequence[DeliveryLineSpec],
    *,
    exclude: int | None,
) -> None:
    """Check every line of a delivery: its order line, quantity within the open quantity, location and lot."""
    held = _pending(session, order, exclude)
    for n, spec in enumerate(specs):
        prefix = f"lines.{n}."
        line = next((ln for ln in order.lines if ln.id == spec.order_line_id), None)
        if line is None:
            raise _invalid(
                N_("Line %(id)s is not a line of sales order %(number)s."),
                prefix + "order_line_id",
                id=spec.order_line_id,
                number=order.number,
            )
        item = masterdata.get_item(session, ctx, line.item_id)
        state = delivering.LineState(line.base_quantity, line.delivered_quantity, line.returned_quantity)
        try:
            delivering.check_shipment(state, spec.quantity, pending=held.get(line.id, Decimal(0)))
        except delivering.OverShipment as exc:
            raise _over_shipment(line, item.code, exc, prefix + "quantity") from exc
        held[line.id] = held.get(line.id, Decimal(0)) + spec.quantity
        try:
            location = inventory.get_location(session, ctx, spec.location_id)
        except NotFound as exc:
            raise _invalid(N_("Location %(id)s not found."), prefix + "location_id", id=spec.location_id) from exc
        if location.kind != "internal":
            raise _invalid(N_("Goods are shipped from a warehouse location."), prefix + "location_id")
        _check_lot(session, ctx, item, spec.lot_id, prefix + "lot_id")


def _check_lot(session: Session, ctx: Context, item: Any, lot_id: int | None, field: str) -> None:
    if item.tracking == "none":
        if lot_id is not None:
            raise _invalid(N_("Item %(code)s is not tracked: leave the lot empty."), field, code=item.code)
        return
    if lot_id is None:
        raise _invalid(N_("Item %(code)s is tracked: name its lot or serial number."), field, code=item.code)
    try:
        lot = inventory.get_lot(session, ctx, lot_id)
    except NotFound as exc:
        raise _invalid(N_("Lot %(id)s not found."), field, id=lot_id) from exc
    if lot.item_id != item.id:
        raise _invalid(N_("Lot %(number)s belongs to another item."), field, number=lot.number)


def create_delivery(
    session: Session, ctx: Context, order_id: int, *, lines: Sequence[DeliveryLineSpec], note: str = ""
) -> Delivery:
    """Plan a delivery against a confirmed order: which lines, how much, from where (errors name "lines.N.<field>").

    A delivery may not take more of a line than is still open, counting other deliveries not yet shipped.
    """
    ctx.require(EDIT)
    if not lines:
        raise _invalid(N_("A delivery needs at least one line."), "lines")
    order = _order_in(session, ctx, order_id, delivering.OPEN_STATES)
    _check_delivery_lines(session, ctx, order, lines, exclude=None)
    delivery = Delivery(
        tenant_id=order.tenant_id,
        order_id=order.id,
        status="draft",
        note=note,
        user_id=ctx.user_id,
        username=ctx.username,
        lines=[
            DeliveryLine(
                tenant_id=order.tenant_id,
                order_line_id=spec.order_line_id,
                quantity=_q(spec.quantity),
                location_id=spec.location_id,
                lot_id=spec.lot_id,
            )
            for spec in lines
        ],
    )
    session.add(delivery)
    session.flush()
    _audit(session, ctx, "deliver", order, delivery_id=delivery.id, lines=len(lines))
    return delivery


def _delivery_in(
    session: Session, ctx: Context, delivery_id: int, states: tuple[str, ...]
) -> tuple[Delivery, SalesOrder]:
    """Return a delivery in one of ``states`` and its order, the order's row locked."""
    found = get_delivery(session, ctx, delivery_id)
    order = get_sales_order(session, ctx, found.order_id, lock=True)
    delivery = get_delivery(session, ctx, delivery_id)  # afresh, now that the order is locked
    if delivery.status not in states:
        raise Conflict(N_("Delivery %(id)s is %(status)s."), field="status", id=delivery.id, status=delivery.status)
    return delivery, order


def pick_delivery(session: Session, ctx: Context, delivery_id: int) -> Delivery:
    """Pick a draft delivery: reserve each line's stock at its location (and lot) for the order."""
    ctx.require(EDIT)
    ctx.require(MOVE)
    delivery, order = _delivery_in(session, ctx, delivery_id, ("draft",))
    if order.status not in delivering.OPEN_STATES:
        raise Conflict(
            N_("Sales order %(number)s is %(status)s."), field="status", number=order.number, status=order.status
        )
    by_id = {line.id: line for line in order.lines}
    for n, dline in enumerate(delivery.lines):
        try:
            reservation = inventory.create_reservation(
                session,
                ctx,
                item_id=by_id[dline.order_line_id].item_id,
                location_id=dline.location_id,
                quantity=dline.quantity,
                reference_type=REFERENCE_TYPE,
                reference_id=str(order.id),
                lot_id=dline.lot_id,
            )
        except InvalidInput as exc:
            raise _prefixed(exc, f"lines.{n}.") from None
        dline.reservation_id = reservation.id
    delivery.status, delivery.picked_at = "picked", utcnow()
    session.flush()
    _audit(session, ctx, "pick", order, delivery_id=delivery.id)
    return delivery


def ship_delivery(session: Session, ctx: Context, delivery_id: int) -> Delivery:
    """Ship a delivery: one stock move per line from its location to the customer location.

    A picked delivery consumes its reservations; a draft one posts its moves directly. Shipping
    more than a line still has open is refused naming the line ("lines.N.quantity").
    """
    ctx.require(EDIT)
    ctx.require(MOVE)
    delivery, order = _delivery_in(session, ctx, delivery_id, ("draft", "picked"))
    if order.status not in delivering.OPEN_STATES:
        raise Conflict(
            N_("Sales order %(number)s is %(status)s."), field="status", number=order.number, status=order.status
        )
    customer = inventory.virtual_locations(session, ctx)["customer"].id
    by_id = {line.id: line for line in order.lines}
    for n, dline in enumerate(delivery.lines):
        prefix = f"lines.{n}."
        line = by_id[dline.order_line_id]
        state = delivering.LineState(line.base_quantity, line.delivered_quantity, line.returned_quantity)
        try:
            after = delivering.check_shipment(state, dline.quantity)
        except delivering.OverShipment as exc:
            item = masterdata.get_item(session, ctx, line.item_id)
            raise _over_shipment(line, item.code, exc, prefix + "quantity") from exc
        try:
            if dline.reservation_id is not None:
                reservation = inventory.consume_reservation(session, ctx, dline.reservation_id, to_location_id=customer)
                dline.move_id = reservation.move_id
            else:
                dline.move_id = inventory.post_move(
                    session,
                    ctx,
                    item_id=line.item_id,
                    quantity=dline.quantity,
                    from_location_id=dline.location_id,
                    to_location_id=customer,
                    lot_id=dline.lot_id,
                    reference_type=REFERENCE_TYPE,
                    reference_id=str(order.id),
                    reason=f"{order.number} / {line.position}"[:200],
                ).id
        except InvalidInput as exc:
            raise _prefixed(exc, prefix) from None
        line.delivered_quantity = _q(after.delivered)
    delivery.status, delivery.shipped_at = "shipped", utcnow()
    order.status = delivering.order_status(order.status, _states(order))
    session.flush()
    _audit(session, ctx, "ship", order, delivery_id=delivery.id, status=order.status)
    return delivery


def _release(session: Session, ctx: Context, delivery: Delivery) -> None:
    for dline in delivery.lines:
        if dline.reservation_id is not None:
            reservation = inventory.get_reservation(session, ctx, dline.reservation_id)
            if reservation.status == "open":
                inventory.release_reservation(session, ctx, reservation.id)


def cancel_delivery(session: Session, ctx: Context, delivery_id: int) -> Delivery:
    """Cancel a delivery not yet shipped; the stock it reserved is available again."""
    ctx.require(EDIT)
    delivery, order = _delivery_in(session, ctx, delivery_id, ("draft", "picked"))
    if delivery.status == "picked":
        ctx.require(MOVE)
    _release(session, ctx, delivery)
    delivery.status = "cancelled"
    session.flush()
    _audit(session, ctx, "cancel_delivery", order, delivery_id=delivery.id)
    return delivery


# ---------------------------------------------------------------------------------------------
# Returns
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReturnLineSpec:
    """A quantity of one shipped order line (item's base unit) taken back into a location, with its lot."""

    order_line_id: int
    quantity: Decimal
    location_id: int
    lot_id: int | None = None


def list_returns(session: Session, ctx: Context, order_id: int) -> list[SalesReturn]:
    """Return an order's returns with their lines, oldest first."""
    order = get_sales_order(session, ctx, order_id)
    stmt = select(SalesReturn).options(selectinload(SalesReturn.lines)).where(SalesReturn.order_id == order.id)
    return list(session.scalars(stmt.order_by(SalesReturn.id)))


def _lot_balance(session: Session, line_id: int, lot_id: int | None) -> Decimal:
    """Return what of an order line's lot has been shipped and not yet returned."""
    shipped = session.scalar(
        select(func.coalesce(func.sum(DeliveryLine.quantity), 0))
        .join(Delivery, Delivery.id == DeliveryLine.delivery_id)
        .where(DeliveryLine.order_line_id == line_id, DeliveryLine.lot_id == lot_id, Delivery.status == "shipped")
    )
    returned = session.scalar(
        select(func.coalesce(func.sum(SalesReturnLine.quantity), 0)).where(
            SalesReturnLine.order_line_id == line_id, SalesReturnLine.lot_id == lot_id
        )
    )
    return Decimal(shipped or 0) - Decimal(returned or 0)


def create_return(
    session: Session,
    ctx: Context,
    order_id: int,
    *,
    lines: Sequence[ReturnLineSpec],
    reason: str,
    note: str = "",
) -> SalesReturn:
    """Take goods back against shipped order lines: one stock move per line from the customer location.

    A line may take back at most what was shipped and not yet returned (of that lot, for tracked
    items), into a warehouse location or the scrap location (errors name "lines.N.<field>").
    """
    ctx.require(EDIT)
    ctx.require(MOVE)
    if not lines:
        raise _invalid(N_("A return needs at least one line."), "lines")
    order = _order_in(session, ctx, order_id, delivering.RETURNABLE_STATES)
    customer = inventory.virtual_locations(session, ctx)["customer"].id
    taken = SalesReturn(
        tenant_id=order.tenant_id,
        order_id=order.id,
        reason=reason,
        note=note,
        user_id=ctx.user_id,
        username=ctx.username,
        lines=[],
    )
    session.add(taken)
    session.flush()
    for n, spec in enumerate(lines):
        prefix = f"lines.{n}."
        line = next((ln for ln in order.lines if ln.id == spec.order_line_id), None)
        if line is None:
            raise _invalid(
                N_("Line %(id)s is not a line of sales order %(number)s."),
                prefix + "order_line_id",
                id=spec.order_line_id,
                number=order.number,
            )
        item = masterdata.get_item(session, ctx, line.item_id)
        state = delivering.LineState(line.base_quantity, line.delivered_quantity, line.returned_quantity)
        try:
            after = delivering.check_return(state, spec.quantity)
        except delivering.OverReturn as exc:
            raise _invalid(
                N_(
                    "Line %(line)s (%(item)s): returning %(quantity)s is more than the %(available)s "
                    "shipped and not yet returned."
                ),
                prefix + "quantity",
                line=line.position,
                item=item.code,
                quantity=_show(exc.quantity),
                available=_show(exc.available),
            ) from exc
        _check_lot(session, ctx, item, spec.lot_id, prefix + "lot_id")
        if spec.lot_id is not None:
            session.flush()
            of_lot = _lot_balance(session, line.id, spec.lot_id)
            if spec.quantity > of_lot:
                raise _invalid(
                    N_("Line %(line)s: only %(available)s of this lot was shipped and not yet returned."),
                    prefix + "lot_id",
                    line=line.position,
                    available=_show(max(of_lot, Decimal(0))),
                )
        try:
            location = inventory.get_location(session, ctx, spec.location_id)
        except NotFound as exc:
            raise _invalid(N_("Location %(id)s not found."), prefix + "location_id", id=spec.location_id) from exc
        if location.kind not in RETURN_KINDS:
            raise _invalid(
                N_("Returned goods go to a warehouse location or the scrap location."), prefix + "location_id"
            )
        try:
            move = inventory.post_move(
                session,
                ctx,
                item_id=line.item_id,
                quantity=_q(spec.quantity),
                from_location_id=customer,
                to_location_id=location.id,
                lot_id=spec.lot_id,
                reference_type=REFERENCE_TYPE,
                reference_id=str(order.id),
                reason=f"{order.number} / {line.position}: {reason}"[:200],
            )
        except InvalidInput as exc:
            raise _prefixed(exc, prefix) from None
        line.returned_quantity = _q(after.returned)
        taken.lines.append(
            SalesReturnLine(
                tenant_id=order.tenant_id,
                return_id=taken.id,
                order_line_id=line.id,
                quantity=_q(spec.quantity),
                location_id=location.id,
                lot_id=spec.lot_id,
                move_id=move.id,
            )
        )
        session.flush()
    _audit(session, ctx, "return", order, return_id=taken.id, lines=len(lines), reason=reason)
    return taken


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShippedLine:
    """One order line that has been shipped: what was ordered, when it was due, when it left and how much."""

    order_id: int
    order_number: str
    line_id: int
    customer_id: int
    item_id: int
    ordered_quantity: Decimal
    due_date: date | None
    confirmed_at: datetime | None
    first_shipped_at: datetime
    last_shipped_at: datetime
    shipped_quantity: Decimal


def shipped_lines(session: Session, ctx: Context, *, since: date | None, until: date | None) -> list[ShippedLine]:
    """Return the order lines shipped at least once whose last shipment falls within [since, until].

    Dates are UTC and both inclusive; either may be None (open). Quantities are in the item's base
    unit; ``shipped_quantity`` counts every shipped delivery of the line (returns not deducted).
    """
    ctx.require(VIEW)
    ctx.require_tenant()
    first = func.min(Delivery.shipped_at)
    last = func.max(Delivery.shipped_at)
    stmt = (
        select(
            SalesOrder.id,
            SalesOrder.number,
            SalesOrderLine.id,
            SalesOrder.customer_id,
            SalesOrderLine.item_id,
            SalesOrderLine.base_quantity,
            SalesOrderLine.due_date,
            SalesOrder.confirmed_at,
            first,
            last,
            func.sum(DeliveryLine.quantity),
        )
        .select_from(DeliveryLine)
        .join(Delivery, Delivery.id == DeliveryLine.delivery_id)
        .join(SalesOrderLine, SalesOrderLine.id == DeliveryLine.order_line_id)
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .where(Delivery.status == "shipped")
        .group_by(
            SalesOrder.id,
            SalesOrder.number,
            SalesOrderLine.id,
            SalesOrder.customer_id,
            SalesOrderLine.item_id,
            SalesOrderLine.base_quantity,
            SalesOrderLine.due_date,
            SalesOrder.confirmed_at,
        )
        .order_by(SalesOrder.id, SalesOrderLine.position)
    )
    if since is not None:
        stmt = stmt.having(last >= datetime.combine(since, time.min, tzinfo=UTC))
    if until is not None:
        stmt = stmt.having(last < datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC))
    return [
        ShippedLine(
            order_id=row[0],
            order_number=row[1],
            line_id=row[2],
            customer_id=row[3],
            item_id=row[4],
            ordered_quantity=_q(Decimal(row[5])),
            due_date=row[6],
            confirmed_at=_aware(row[7]),
            first_shipped_at=_aware(row[8]),
            last_shipped_at=_aware(row[9]),
            shipped_quantity=_q(Decimal(row[10])),
        )
        for row in session.execute(stmt)
    ]


def _aware(value: Any) -> Any:
    """Return a timestamp as an aware UTC datetime (an aggregate skips the column type's conversion)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# ---------------------------------------------------------------------------------------------
# Console helpers
# ---------------------------------------------------------------------------------------------


def choices(session: Session, ctx: Context) -> dict[str, list[tuple[int, str]]]:
    """Return (id, label) of customers, active items, units, option values and locations for the console's forms."""
    ctx.require(VIEW)
    customers, _ = masterdata.list_parties(session, ctx, filters={"is_customer": True}, limit=MAX_LIMIT)
    items, _ = masterdata.list_items(session, ctx, filters={"active": True}, limit=MAX_LIMIT)
    uoms, _ = masterdata.list_uoms(session, ctx, limit=MAX_LIMIT)
    options: list[tuple[int, str]] = []
    for item in items:
        if item.configurable:
            for group in masterdata.item_options(session, ctx, item.id):
                options += [(v.id, f"{item.code} · {group.code}={v.code}") for v in group.values]
    locations: list[tuple[int, str]] = []
    return_locations: list[tuple[int, str]] = []
    if ctx.can(inventory.VIEW):
        locs, _ = inventory.list_locations(session, ctx, limit=MAX_LIMIT)
        locations = [(loc.id, f"{loc.code} · {loc.name}") for loc in locs if loc.kind == "internal"]
        return_locations = [(loc.id, f"{loc.code} · {loc.name}") for loc in locs if loc.kind in RETURN_KINDS]
    return {
        "customers": [(p.id, f"{p.code} · {p.name}") for p in customers if p.active],
        "customer_names": [(p.id, f"{p.code} · {p.name}") for p in customers],
        "items": [(i.id, f"{i.code} · {i.name}") for i in items],
        "uoms": [(u.id, u.code) for u in uoms],
        "options": options,
        "locations": locations,
        "return_locations": return_locations,
    }


def lot_choices(session: Session, ctx: Context, item_ids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """Return (id, number) of the lots of each tracked item named, for the delivery and return forms."""
    ctx.require(VIEW)
    out: dict[int, list[tuple[int, str]]] = {}
    if not ctx.can(inventory.VIEW):
        return out
    for item_id in sorted(set(item_ids)):
        lots, _ = inventory.list_lots(session, ctx, filters={"item_id": item_id}, limit=MAX_LIMIT)
        if lots:
            out[item_id] = [(lot.id, lot.number) for lot in lots]
    return out
