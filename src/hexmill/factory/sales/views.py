"""Console pages of sales: orders, their deliveries and returns, and quotations.

The order list, the new-order form, an order's page with its deliveries (pick, ship) and return
form, and the quotation list, new-quotation form and quotation page with its convert button.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT
from hexmill.core.params import MAX_ID
from hexmill.factory.sales import service
from hexmill.factory.sales.filters import ORDER_FILTERS, QUOTATION_FILTERS
from hexmill.factory.sales.schemas import (
    DeliveryCreate,
    OrderCreate,
    OrderLineCreate,
    QuotationConvert,
    QuotationCreate,
    QuotationLineCreate,
    ReturnCreate,
)
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
NEW_LINES = 5
ORDER_HEADER = ("number", "customer_id", "order_date", "customer_reference", "note")
QUOTATION_HEADER = ("number", "customer_id", "quote_date", "valid_until", "note")
ORDER_LINE = ("item_id", "quantity", "uom_id", "unit_price", "due_date")
QUOTATION_LINE = ("item_id", "quantity", "uom_id", "unit_price", "requested_date")
MOVE_LINE = ("order_line_id", "quantity", "location_id", "lot_id")
# Rows the delivery form offers per order line of a tracked item (one serial or lot per row).
ROWS_PER_LINE = 5
STATUS_LABELS = {
    "draft": N_("Draft"),
    "confirmed": N_("Confirmed"),
    "partially_delivered": N_("Partially delivered"),
    "delivered": N_("Delivered"),
    "cancelled": N_("Cancelled"),
}
QUOTATION_LABELS = {
    "draft": N_("Draft"),
    "sent": N_("Sent"),
    "accepted": N_("Accepted"),
    "rejected": N_("Rejected"),
    "expired": N_("Expired"),
}
DELIVERY_LABELS = {
    "draft": N_("Draft"),
    "picked": N_("Picked"),
    "shipped": N_("Shipped"),
    "cancelled": N_("Cancelled"),
}


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), MAX_ID) if raw.isdigit() else 0


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _rows(
    form: Any, count: int, names: tuple[str, ...], *, lists: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read the numbered rows of a form ("lines.0.quantity"); rows left blank are dropped.

    Returns the raw fields (to show the form again) and the filled rows, keeping their numbers
    so that errors ("lines.3.quantity") land on the row they are about.
    """
    raw: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for n in range(count):
        row = values(form, [f"lines.{n}.{name}" for name in names], lists=[f"lines.{n}.{name}" for name in lists])
        raw.update(row)
        filled = {key.rsplit(".", 1)[1]: value for key, value in row.items()}
        # A row counts once it names an item or a quantity: a location or unit chosen alone is no line.
        if filled.keys() & {"item_id", "quantity"}:
            rows.append({"n": n, **filled})
    return raw, rows


def _renumber(errors: FormErrors, numbers: list[int]) -> FormErrors:
    """Map "lines.<i>.x" of the i-th filled row back to the form row it came from."""
    fields: dict[str, str] = {}
    for name, message in errors.fields.items():
        parts = name.split(".", 2)
        if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(numbers):
            fields[f"lines.{numbers[int(parts[1])]}.{parts[2]}"] = message
        else:
            fields[name] = message
    return FormErrors(fields=fields, summary=errors.summary)


def _numbered(numbers: list[int], action: Callable[[], Any]) -> Any:
    """Run a validation or a write whose errors name filled rows; name the form's rows instead."""
    try:
        return action()
    except FormInvalid as exc:
        raise FormInvalid(_renumber(exc.errors, numbers)) from exc


def _action(request: Request, db: Session, back: str, action: Callable[[], Any], done: str) -> Response:
    try:
        action()
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(back), exc.detail, "error", **exc.params)
    return flash(request, redirect(back), done)


def _lookups(choices: dict[str, list[tuple[int, str]]]) -> dict[str, Any]:
    return {
        "items": dict(choices["items"]),
        "uoms": dict(choices["uoms"]),
        "customers": dict(choices["customer_names"]),
        "option_names": dict(choices["options"]),
        "locations": dict(choices["locations"] + choices["return_locations"]),
    }


# ---------------------------------------------------------------------------------------------
# Quotations (before /sales/{order_id}, so "quotations" is never read as an order id)
# ---------------------------------------------------------------------------------------------


@router.get("/sales/quotations")
def quotations_page(request: Request, db: DbSession, page: Console) -> Response:
    """List quotations with the API's filters and a CSV link."""
    filters = QUOTATION_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_quotations(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "sales/quotations.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        customers=dict(choices["customer_names"]),
        choices=choices,
        status_labels=QUOTATION_LABELS,
        csv_query=str(request.url.query),
        can_edit=page.ctx.can(service.EDIT),
    )


def _quotation_form(
    request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    return render(
        request,
        "sales/quotation_form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        choices=service.choices(db, page.ctx),
        line_numbers=range(NEW_LINES),
    )


@router.get("/sales/quotations/new")
def new_quotation_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form of a new quotation: header and up to five lines."""
    page.ctx.require(service.EDIT)
    return _quotation_form(request, db, page, {}, None)


@router.post("/sales/quotations/new")
def create_quotation_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create a draft quotation; errors come back inline on the field and line they concern."""
    header = values(form, QUOTATION_HEADER)
    raw, rows = _rows(form, NEW_LINES, QUOTATION_LINE, lists=("options",))
    numbers = [row.pop("n") for row in rows]
    try:
        body = _numbered(numbers, lambda: validate(QuotationCreate, {**header, "lines": rows}))
        quotation = _numbered(
            numbers, lambda: attempt(db, lambda: service.create_quotation(db, page.ctx, **body.model_dump()))
        )
    except FormInvalid as exc:
        return _quotation_form(request, db, page, {**header, **raw}, exc.errors)
    return flash(
        request,
        redirect(f"/sales/quotations/{quotation.id}"),
        N_("Quotation %(number)s created."),
        number=quotation.number,
    )


def _quotation_page(
    request: Request,
    db: Session,
    page: Console,
    quotation_id: int,
    *,
    line_form: dict[str, Any] | None = None,
    line_errors: FormErrors | None = None,
) -> Response:
    quotation = service.get_quotation(db, page.ctx, _id(quotation_id))
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "sales/quotation.html",
        status_code=422 if line_errors else 200,
        quotation=quotation,
        order=service.quotation_order(db, page.ctx, quotation.id),
        choices=choices,
        status_labels=QUOTATION_LABELS,
        line_form=line_form or {},
        line_errors=line_errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        **_lookups(choices),
    )


@router.get("/sales/quotations/{quotation_id}")
def quotation_page(request: Request, quotation_id: int, db: DbSession, page: Console) -> Response:
    """Show a quotation: its lines, its state actions and, once accepted, the convert button."""
    return _quotation_page(request, db, page, quotation_id)


@router.post("/sales/quotations/{quotation_id}/lines")
def add_quotation_line_page(request: Request, quotation_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Add a line to a draft quotation."""
    data = values(form, QUOTATION_LINE, lists=("options",))
    try:
        body = validate(QuotationLineCreate, data)
        attempt(db, lambda: service.add_quotation_line(db, page.ctx, _id(quotation_id), **body.model_dump()))
    except FormInvalid as exc:
        return _quotation_page(request, db, page, quotation_id, line_form=data, line_errors=exc.errors)
    return flash(request, redirect(f"/sales/quotations/{_id(quotation_id)}"), N_("Line added."))


@router.post("/sales/quotations/{quotation_id}/lines/{line_id}/delete")
def delete_quotation_line_page(
    request: Request, quotation_id: int, line_id: int, db: DbSession, page: Console
) -> Response:
    """Remove a line from a draft quotation."""
    return _action(
        request,
        db,
        f"/sales/quotations/{_id(quotation_id)}",
        lambda: service.delete_quotation_line(db, page.ctx, _id(quotation_id), _id(line_id)),
        N_("Line removed."),
    )


@router.post("/sales/quotations/{quotation_id}/convert")
def convert_quotation_page(request: Request, quotation_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Convert an accepted quotation into a draft sales order and open it."""
    back = f"/sales/quotations/{_id(quotation_id)}"
    try:
        body = validate(QuotationConvert, values(form, ("number", "order_date")))
        order = attempt(db, lambda: service.convert_quotation(db, page.ctx, _id(quotation_id), **body.model_dump()))
    except FormInvalid as exc:
        message = exc.errors.summary or next(iter(exc.errors.fields.values()), N_("Please correct the marked fields."))
        return flash(request, redirect(back), message, "error")
    return flash(request, redirect(f"/sales/{order.id}"), N_("Sales order %(number)s created."), number=order.number)


_QUOTATION_ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "send": (service.send_quotation, N_("Quotation sent.")),
    "accept": (service.accept_quotation, N_("Quotation accepted.")),
    "reject": (service.reject_quotation, N_("Quotation rejected.")),
    "expire": (service.expire_quotation, N_("Quotation marked expired.")),
}


@router.post("/sales/quotations/{quotation_id}/{action}")
def quotation_action_page(request: Request, quotation_id: int, action: str, db: DbSession, page: Console) -> Response:
    """Send, accept, reject or expire a quotation."""
    back = f"/sales/quotations/{_id(quotation_id)}"
    if action not in _QUOTATION_ACTIONS:
        return flash(request, redirect(back), N_("Unknown action."), "error")
    call, done = _QUOTATION_ACTIONS[action]
    return _action(request, db, back, lambda: call(db, page.ctx, _id(quotation_id)), done)


# ---------------------------------------------------------------------------------------------
# Deliveries (their buttons post here and return to the order)
# ---------------------------------------------------------------------------------------------


_DELIVERY_ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "pick": (service.pick_delivery, N_("Delivery picked: the stock is reserved.")),
    "ship": (service.ship_delivery, N_("Delivery shipped.")),
    "cancel": (service.cancel_delivery, N_("Delivery cancelled.")),
}


@router.post("/sales/deliveries/{delivery_id}/{action}")
def delivery_action_page(request: Request, delivery_id: int, action: str, db: DbSession, page: Console) -> Response:
    """Pick, ship or cancel a delivery, then show its order again."""
    delivery = service.get_delivery(db, page.ctx, _id(delivery_id))
    back = f"/sales/{delivery.order_id}"
    if action not in _DELIVERY_ACTIONS:
        return flash(request, redirect(back), N_("Unknown action."), "error")
    call, done = _DELIVERY_ACTIONS[action]
    return _action(request, db, back, lambda: call(db, page.ctx, delivery.id), done)


# ---------------------------------------------------------------------------------------------
# Sales orders
# ---------------------------------------------------------------------------------------------


@router.get("/sales")
def list_page(request: Request, db: DbSession, page: Console) -> Response:
    """List sales orders with the API's filters, a CSV link and a link to the quotations."""
    filters = ORDER_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_sales_orders(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "sales/list.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        customers=dict(choices["customer_names"]),
        choices=choices,
        status_labels=STATUS_LABELS,
        csv_query=str(request.url.query),
        can_edit=page.ctx.can(service.EDIT),
    )


def _form(request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None) -> Response:
    return render(
        request,
        "sales/form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        choices=service.choices(db, page.ctx),
        line_numbers=range(NEW_LINES),
    )


@router.get("/sales/new")
def new_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form of a new sales order: header and up to five lines."""
    page.ctx.require(service.EDIT)
    return _form(request, db, page, {}, None)


@router.post("/sales/new")
def create_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create a draft sales order; errors come back inline on the field and line they concern."""
    header = values(form, ORDER_HEADER)
    raw, rows = _rows(form, NEW_LINES, ORDER_LINE, lists=("options",))
    numbers = [row.pop("n") for row in rows]
    try:
        body = _numbered(numbers, lambda: validate(OrderCreate, {**header, "lines": rows}))
        order = _numbered(
            numbers, lambda: attempt(db, lambda: service.create_sales_order(db, page.ctx, **body.model_dump()))
        )
    except FormInvalid as exc:
        return _form(request, db, page, {**header, **raw}, exc.errors)
    return flash(request, redirect(f"/sales/{order.id}"), N_("Sales order %(number)s created."), number=order.number)


def _delivery_rows(lines: Sequence[Any], *, tracked: set[int]) -> list[tuple[int, Any]]:
    """Return the delivery form's numbered rows: one per open line, more for a tracked item's lots.

    A serial item ships one serial per row, so its line gets a row per open unit (up to
    ``ROWS_PER_LINE``); a lot item gets ``ROWS_PER_LINE`` rows to take from several lots.
    """
    rows: list[tuple[int, Any]] = []
    for line in lines:
        open_quantity = line.base_quantity - line.delivered_quantity
        if open_quantity <= 0:
            continue
        count = min(ROWS_PER_LINE, math.ceil(open_quantity)) if line.item_id in tracked else 1
        start = len(rows)
        rows.extend((start + k, line) for k in range(count))
    return rows


def _order_page(
    request: Request,
    db: Session,
    page: Console,
    order_id: int,
    *,
    delivery_form: dict[str, Any] | None = None,
    delivery_errors: FormErrors | None = None,
    return_form: dict[str, Any] | None = None,
    return_errors: FormErrors | None = None,
    line_form: dict[str, Any] | None = None,
    line_errors: FormErrors | None = None,
) -> Response:
    order = service.get_sales_order(db, page.ctx, _id(order_id))
    deliveries, _ = service.list_deliveries(db, page.ctx, filters={"order_id": order.id}, limit=MAX_LIMIT)
    choices = service.choices(db, page.ctx)
    lots = service.lot_choices(db, page.ctx, [line.item_id for line in order.lines])
    return render(
        request,
        "sales/order.html",
        status_code=422 if delivery_errors or return_errors or line_errors else 200,
        order=order,
        deliveries=list(reversed(deliveries)),
        returns=service.list_returns(db, page.ctx, order.id),
        lots=lots,
        delivery_rows=_delivery_rows(order.lines, tracked=set(lots)),
        choices=choices,
        status_labels=STATUS_LABELS,
        delivery_labels=DELIVERY_LABELS,
        delivery_form=delivery_form or {},
        delivery_errors=delivery_errors or FormErrors(),
        return_form=return_form or {},
        return_errors=return_errors or FormErrors(),
        line_form=line_form or {},
        line_errors=line_errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        can_move=page.ctx.can(service.EDIT) and page.ctx.can(service.MOVE),
        **_lookups(choices),
    )


@router.get("/sales/{order_id}")
def order_page(request: Request, order_id: int, db: DbSession, page: Console) -> Response:
    """Show a sales order: its lines with what was delivered and returned, its deliveries and the forms."""
    return _order_page(request, db, page, order_id)


@router.post("/sales/{order_id}/lines")
def add_line_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Add a line to a draft order."""
    data = values(form, ORDER_LINE, lists=("options",))
    try:
        body = validate(OrderLineCreate, data)
        attempt(db, lambda: service.add_order_line(db, page.ctx, _id(order_id), **body.model_dump()))
    except FormInvalid as exc:
        return _order_page(request, db, page, order_id, line_form=data, line_errors=exc.errors)
    return flash(request, redirect(f"/sales/{_id(order_id)}"), N_("Line added."))


@router.post("/sales/{order_id}/lines/{line_id}/delete")
def delete_line_page(request: Request, order_id: int, line_id: int, db: DbSession, page: Console) -> Response:
    """Remove a line from a draft order."""
    return _action(
        request,
        db,
        f"/sales/{_id(order_id)}",
        lambda: service.delete_order_line(db, page.ctx, _id(order_id), _id(line_id)),
        N_("Line removed."),
    )


@router.post("/sales/{order_id}/confirm")
def confirm_page(request: Request, order_id: int, db: DbSession, page: Console) -> Response:
    """Confirm a draft order."""
    return _action(
        request,
        db,
        f"/sales/{_id(order_id)}",
        lambda: service.confirm_sales_order(db, page.ctx, _id(order_id)),
        N_("Sales order confirmed."),
    )


@router.post("/sales/{order_id}/cancel")
def cancel_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Cancel an order after confirmation."""
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Cancel sales order %(id)s?"),
            params={"id": order_id},
            action=f"/sales/{_id(order_id)}/cancel",
            back=f"/sales/{_id(order_id)}",
        )
    return _action(
        request,
        db,
        f"/sales/{_id(order_id)}",
        lambda: service.cancel_sales_order(db, page.ctx, _id(order_id)),
        N_("Sales order cancelled."),
    )


@router.post("/sales/{order_id}/deliveries")
def create_delivery_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Plan a delivery; an over-shipment comes back inline on the line it concerns."""
    order = service.get_sales_order(db, page.ctx, _id(order_id))
    raw, rows = _rows(form, len(order.lines) * ROWS_PER_LINE, MOVE_LINE)
    numbers = [row.pop("n") for row in rows]
    note = values(form, ("note",))
    try:
        body = _numbered(numbers, lambda: validate(DeliveryCreate, {"lines": rows, **note}))
        specs = [service.DeliveryLineSpec(**line.model_dump()) for line in body.lines]
        _numbered(
            numbers,
            lambda: attempt(db, lambda: service.create_delivery(db, page.ctx, order.id, lines=specs, note=body.note)),
        )
    except FormInvalid as exc:
        return _order_page(request, db, page, order.id, delivery_form={**raw, **note}, delivery_errors=exc.errors)
    return flash(request, redirect(f"/sales/{order.id}"), N_("Delivery planned."))


@router.post("/sales/{order_id}/returns")
def create_return_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Take goods back against the order; errors come back inline on the line they concern."""
    order = service.get_sales_order(db, page.ctx, _id(order_id))
    raw, rows = _rows(form, len(order.lines), MOVE_LINE)
    numbers = [row.pop("n") for row in rows]
    header = values(form, ("reason", "note"))
    try:
        body = _numbered(numbers, lambda: validate(ReturnCreate, {"lines": rows, **header}))
        specs = [service.ReturnLineSpec(**line.model_dump()) for line in body.lines]
        _numbered(
            numbers,
            lambda: attempt(
                db,
                lambda: service.create_return(db, page.ctx, order.id, lines=specs, reason=body.reason, note=body.note),
            ),
        )
    except FormInvalid as exc:
        return _order_page(request, db, page, order.id, return_form={**raw, **header}, return_errors=exc.errors)
    return flash(request, redirect(f"/sales/{order.id}"), N_("Return posted."))
