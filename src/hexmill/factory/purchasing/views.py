"""Console pages of purchasing: the purchase order list, the new-order form (header and lines), an order's page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError
from hexmill.core.i18n import N_
from hexmill.core.params import MAX_ID
from hexmill.factory.purchasing import service
from hexmill.factory.purchasing.filters import ORDER_FILTERS
from hexmill.factory.purchasing.schemas import OrderCreate, OrderLineCreate, ReceiptCreate
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
NEW_LINES = 5
HEADER_FIELDS = ("number", "supplier_id", "order_date", "expected_date", "note")
LINE_FIELDS = ("item_id", "quantity", "uom_id", "unit_price", "expected_date", "tolerance_pct")
RECEIPT_FIELDS = ("order_line_id", "quantity", "location_id", "lot_number")
STATUS_LABELS = {
    "draft": N_("Draft"),
    "confirmed": N_("Confirmed"),
    "partially_received": N_("Partially received"),
    "received": N_("Received"),
    "cancelled": N_("Cancelled"),
}


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), MAX_ID) if raw.isdigit() else 0


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _rows(form: Any, count: int, names: tuple[str, ...]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read the numbered rows of a form ("lines.0.quantity"); rows left blank are dropped.

    Returns the raw fields (to show the form again) and the filled rows, keeping their numbers
    so that errors ("lines.3.quantity") land on the row they are about.
    """
    raw: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for n in range(count):
        row = values(form, [f"lines.{n}.{name}" for name in names])
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


@router.get("/purchasing")
def list_page(request: Request, db: DbSession, page: Console) -> Response:
    """List purchase orders with the API's filters and a CSV link."""
    filters = ORDER_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_purchase_orders(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "purchasing/list.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        suppliers=dict(choices["supplier_names"]),
        choices=choices,
        status_labels=STATUS_LABELS,
        csv_query=str(request.url.query),
        can_edit=page.ctx.can(service.EDIT),
    )


def _form(request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None) -> Response:
    return render(
        request,
        "purchasing/form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        choices=service.choices(db, page.ctx),
        line_numbers=range(NEW_LINES),
    )


@router.get("/purchasing/new")
def new_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form of a new purchase order: header and up to five lines."""
    page.ctx.require(service.EDIT)
    return _form(request, db, page, {}, None)


@router.post("/purchasing/new")
def create_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create a draft purchase order; errors come back inline on the field and line they concern."""
    header = values(form, HEADER_FIELDS)
    raw, rows = _rows(form, NEW_LINES, LINE_FIELDS)
    numbers = [row.pop("n") for row in rows]
    try:
        try:
            body = validate(OrderCreate, {**header, "lines": rows})
        except FormInvalid as exc:
            raise FormInvalid(_renumber(exc.errors, numbers)) from exc
        try:
            order = attempt(db, lambda: service.create_purchase_order(db, page.ctx, **body.model_dump()))
        except FormInvalid as exc:
            raise FormInvalid(_renumber(exc.errors, numbers)) from exc
    except FormInvalid as exc:
        return _form(request, db, page, {**header, **raw}, exc.errors)
    return flash(
        request, redirect(f"/purchasing/{order.id}"), N_("Purchase order %(number)s created."), number=order.number
    )


def _order_page(
    request: Request,
    db: Session,
    page: Console,
    order_id: int,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    line_form: dict[str, Any] | None = None,
    line_errors: FormErrors | None = None,
) -> Response:
    order = service.get_purchase_order(db, page.ctx, _id(order_id))
    receipts = service.list_receipts(db, page.ctx, order.id)
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "purchasing/order.html",
        status_code=422 if errors or line_errors else 200,
        order=order,
        receipts=receipts,
        choices=choices,
        items=dict(choices["items"]),
        uoms=dict(choices["uoms"]),
        locations=dict(choices["locations"]),
        suppliers=dict(choices["supplier_names"]),
        status_labels=STATUS_LABELS,
        form=form or {},
        errors=errors or FormErrors(),
        line_form=line_form or {},
        line_errors=line_errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        can_receive=page.ctx.can(service.EDIT) and page.ctx.can(service.MOVE),
    )


@router.get("/purchasing/{order_id}")
def order_page(request: Request, order_id: int, db: DbSession, page: Console) -> Response:
    """Show a purchase order: its lines, what has been received, its receipts and the receive form."""
    return _order_page(request, db, page, order_id)


@router.post("/purchasing/{order_id}/receive")
def receive_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Receive goods against the order; an over-receipt comes back inline on the line it concerns."""
    order = service.get_purchase_order(db, page.ctx, _id(order_id))
    raw, rows = _rows(form, len(order.lines), RECEIPT_FIELDS)
    numbers = [row.pop("n") for row in rows]
    note = values(form, ("note",))
    try:
        try:
            body = validate(ReceiptCreate, {"lines": rows, **note})
            specs = [service.ReceiptLineSpec(**line.model_dump()) for line in body.lines]
            attempt(db, lambda: service.receive_purchase_order(db, page.ctx, order.id, lines=specs, note=body.note))
        except FormInvalid as exc:
            raise FormInvalid(_renumber(exc.errors, numbers)) from exc
    except FormInvalid as exc:
        return _order_page(request, db, page, order.id, form={**raw, **note}, errors=exc.errors)
    return flash(request, redirect(f"/purchasing/{order.id}"), N_("Receipt posted."))


@router.post("/purchasing/{order_id}/lines")
def add_line_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Add a line to a draft order."""
    data = values(form, LINE_FIELDS)
    try:
        body = validate(OrderLineCreate, data)
        attempt(db, lambda: service.add_order_line(db, page.ctx, _id(order_id), **body.model_dump()))
    except FormInvalid as exc:
        return _order_page(request, db, page, order_id, line_form=data, line_errors=exc.errors)
    return flash(request, redirect(f"/purchasing/{_id(order_id)}"), N_("Line added."))


def _action(request: Request, db: Session, order_id: int, action: Callable[[], Any], done: str) -> Response:
    back = f"/purchasing/{_id(order_id)}"
    try:
        action()
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(back), exc.detail, "error", **exc.params)
    return flash(request, redirect(back), done)


@router.post("/purchasing/{order_id}/lines/{line_id}/delete")
def delete_line_page(request: Request, order_id: int, line_id: int, db: DbSession, page: Console) -> Response:
    """Remove a line from a draft order."""
    return _action(
        request,
        db,
        order_id,
        lambda: service.delete_order_line(db, page.ctx, _id(order_id), _id(line_id)),
        N_("Line removed."),
    )


@router.post("/purchasing/{order_id}/lines/{line_id}/close")
def close_line_page(request: Request, order_id: int, line_id: int, db: DbSession, page: Console) -> Response:
    """Close a line short."""
    return _action(
        request,
        db,
        order_id,
        lambda: service.close_order_line(db, page.ctx, _id(order_id), _id(line_id)),
        N_("Line closed short."),
    )


@router.post("/purchasing/{order_id}/confirm")
def confirm_page(request: Request, order_id: int, db: DbSession, page: Console) -> Response:
    """Confirm a draft order."""
    return _action(
        request,
        db,
        order_id,
        lambda: service.confirm_purchase_order(db, page.ctx, _id(order_id)),
        N_("Purchase order confirmed."),
    )


@router.post("/purchasing/{order_id}/cancel")
def cancel_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Cancel an order after confirmation."""
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Cancel purchase order %(id)s?"),
            params={"id": order_id},
            action=f"/purchasing/{_id(order_id)}/cancel",
            back=f"/purchasing/{_id(order_id)}",
        )
    return _action(
        request,
        db,
        order_id,
        lambda: service.cancel_purchase_order(db, page.ctx, _id(order_id)),
        N_("Purchase order cancelled."),
    )
