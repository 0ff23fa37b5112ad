"""Console pages of production: the work order list, the new-order form, a work order's page, the shop floor.

The shop-floor page is made for a tablet at the machine: choose a work centre, then each queued or
running operation is a large card with big Start / Pause / Resume / Finish buttons and good, scrap
and reason inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError
from hexmill.core.i18n import N_
from hexmill.core.params import MAX_ID
from hexmill.factory.inventory import service as inventory
from hexmill.factory.production import service, shopfloor
from hexmill.factory.production.filters import WORK_ORDER_FILTERS
from hexmill.factory.production.schemas import (
    IssueCreate,
    ReceiptCreate,
    ReportCreate,
    ScrapReasonCreate,
    WorkOrderCreate,
    WorkOrderUpdate,
)
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
# Receipt form fields naming the lot to backflush of one component: component_lots.<component id>.
COMPONENT_LOT = "component_lots."
PAGE: Final = 50
ORDER_FIELDS: Final = ("number", "item_id", "quantity", "start_date", "due_date", "note")
ISSUE_FIELDS: Final = ("component_id", "quantity", "location_id", "lot_id")
RECEIPT_FIELDS: Final = ("quantity", "location_id", "lot_number", "serial_numbers", "backflush_location_id", "note")
REPORT_FIELDS: Final = ("good_quantity", "scrap_quantity", "scrap_reason_id", "labour_minutes", "note")
KINDS: Final = ("start", "pause", "resume", "finish", "report")
STATUS_LABELS: Final = {
    "draft": N_("Draft"),
    "released": N_("Released"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}
OPERATION_LABELS: Final = {
    "pending": N_("Pending"),
    "running": N_("Running"),
    "paused": N_("Paused"),
    "finished": N_("Finished"),
}
KIND_LABELS: Final = {
    "start": N_("Start"),
    "pause": N_("Pause"),
    "resume": N_("Resume"),
    "finish": N_("Finish"),
    "report": N_("Report quantities"),
}


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), MAX_ID) if raw.isdigit() else 0


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _labels(db: Session, page: Console) -> dict[str, Any]:
    choices = service.choices(db, page.ctx)
    return {
        "choices": choices,
        "items": dict(choices["items"]),
        "units": dict(choices["item_units"]),
        "uoms": dict(choices["uoms"]),
        "centres": dict(choices["work_centres"]),
        "locations": dict(choices["locations"]),
        "reasons": dict(choices["reasons"]),
        "status_labels": STATUS_LABELS,
        "operation_labels": OPERATION_LABELS,
        "kind_labels": KIND_LABELS,
    }


@router.get("/production")
def list_page(request: Request, db: DbSession, page: Console) -> Response:
    """List work orders with the API's filters and a CSV link."""
    filters = WORK_ORDER_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_work_orders(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    return render(
        request,
        "production/list.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        csv_query=str(request.url.query),
        can_edit=page.ctx.can(service.EDIT),
        **_labels(db, page),
    )


def _form(request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None) -> Response:
    return render(
        request,
        "production/form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        **_labels(db, page),
    )


@router.get("/production/new")
def new_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form of a new work order."""
    page.ctx.require(service.EDIT)
    return _form(request, db, page, {}, None)


@router.post("/production/new")
def create_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create a draft work order; errors come back inline on their field."""
    data = values(form, ORDER_FIELDS)
    try:
        body = validate(WorkOrderCreate, data)
        wo = attempt(db, lambda: service.create_work_order(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _form(request, db, page, data, exc.errors)
    return flash(request, redirect(f"/production/{wo.id}"), N_("Work order %(number)s created."), number=wo.number)


# ---------------------------------------------------------------------------------------------
# Shop floor (before /production/{id}, which would take "shop-floor" for an id)
# ---------------------------------------------------------------------------------------------


def _centre(request: Request) -> int | None:
    raw = request.query_params.get("work_centre_id", "")
    return _id(int(raw)) if raw.isdigit() else None


@router.get("/production/shop-floor")
def shop_floor_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show a work centre's queued and running operations as large cards with big buttons."""
    centre = _centre(request)
    labels = _labels(db, page)
    queue = service.shop_floor_queue(db, page.ctx, centre) if centre else []
    return render(
        request,
        "production/shop_floor.html",
        centre=centre,
        queue=[(op, wo, shopfloor.allowed(op.status)) for op, wo in queue],
        can_report=page.ctx.can(service.REPORT),
        **labels,
    )


@router.post("/production/shop-floor/operations/{operation_id}/{kind}")
def shop_floor_report(
    request: Request, *, operation_id: int, kind: str, db: DbSession, page: Console, form: Form
) -> Response:
    """Report an event from a shop-floor card; the answer comes back as a message at the top."""
    back = "/production/shop-floor"
    centre = values(form, ("work_centre_id",)).get("work_centre_id")
    if centre and str(centre).isdigit():
        back += f"?work_centre_id={_id(int(centre))}"
    return _report(request, db, page, form, operation_id=_id(operation_id), kind=kind, back=back)


def _report(
    request: Request, db: Session, page: Console, form: Any, *, operation_id: int, kind: str, back: str
) -> Response:
    if kind not in KINDS:
        return flash(request, redirect(back), N_("Unknown report kind %(kind)s."), "error", kind=kind)
    data = values(form, REPORT_FIELDS if kind in shopfloor.COUNTING else ())
    try:
        body = validate(ReportCreate, data)
    except FormInvalid as exc:
        detail = next(iter(exc.errors.fields.values()), "")
        return flash(request, redirect(back), N_("The report is not valid: %(detail)s"), "error", detail=detail)
    try:
        service.report_operation(
            db,
            page.ctx,
            operation_id,
            kind=kind,
            good=body.good_quantity,
            scrap=body.scrap_quantity,
            scrap_reason_id=body.scrap_reason_id,
            labour_minutes=body.labour_minutes,
            note=body.note,
        )
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(back), exc.detail, "error", **exc.params)
    return flash(request, redirect(back), N_("Report recorded."))


# ---------------------------------------------------------------------------------------------
# Scrap reasons
# ---------------------------------------------------------------------------------------------


def _reasons_page(
    request: Request, db: Session, page: Console, form: dict[str, Any] | None = None, errors: FormErrors | None = None
) -> Response:
    rows, total = service.list_scrap_reasons(db, page.ctx, limit=500)
    return render(
        request,
        "production/reasons.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        form=form or {},
        errors=errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
    )


@router.get("/production/scrap-reasons")
def reasons_page(request: Request, db: DbSession, page: Console) -> Response:
    """List the scrap reasons with a form to add one."""
    return _reasons_page(request, db, page)


@router.post("/production/scrap-reasons")
def create_reason_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Add a scrap reason."""
    data = values(form, ("code", "name"))
    try:
        body = validate(ScrapReasonCreate, data)
        attempt(db, lambda: service.create_scrap_reason(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _reasons_page(request, db, page, data, exc.errors)
    return flash(request, redirect("/production/scrap-reasons"), N_("Scrap reason added."))


def _action(request: Request, db: Session, back: str, action: Callable[[], Any], done: str) -> Response:
    try:
        action()
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(back), exc.detail, "error", **exc.params)
    return flash(request, redirect(back), done)


@router.post("/production/scrap-reasons/{reason_id}/toggle")
def toggle_reason_page(request: Request, reason_id: int, db: DbSession, page: Console) -> Response:
    """Make a scrap reason inactive, or active again."""

    def toggle() -> None:
        reason = service.get_scrap_reason(db, page.ctx, _id(reason_id))
        service.update_scrap_reason(db, page.ctx, reason.id, active=not reason.active)

    return _action(request, db, "/production/scrap-reasons", toggle, N_("Scrap reason changed."))


@router.post("/production/scrap-reasons/{reason_id}/delete")
def delete_reason_page(request: Request, reason_id: int, db: DbSession, page: Console) -> Response:
    """Delete a scrap reason no report names."""
    return _action(
        request,
        db,
        "/production/scrap-reasons",
        lambda: service.delete_scrap_reason(db, page.ctx, _id(reason_id)),
        N_("Scrap reason deleted."),
    )


# ---------------------------------------------------------------------------------------------
# A work order's page
# ---------------------------------------------------------------------------------------------


def _fields_of(wo: Any) -> dict[str, Any]:
    """Return a work order's editable fields as the edit form shows them (quantities without trailing zeros)."""
    out: dict[str, Any] = {}
    for name in ORDER_FIELDS:
        value = getattr(wo, name)
        if value not in (None, ""):
            out[name] = format(value.normalize(), "f") if isinstance(value, Decimal) else value
    return out


def _order_page(
    request: Request,
    db: Session,
    page: Console,
    work_order_id: int,
    *,
    issue_form: dict[str, Any] | None = None,
    issue_errors: FormErrors | None = None,
    receipt_form: dict[str, Any] | None = None,
    receipt_errors: FormErrors | None = None,
    edit_form: dict[str, Any] | None = None,
    edit_errors: FormErrors | None = None,
) -> Response:
    wo = service.get_work_order(db, page.ctx, _id(work_order_id))
    reports = service.list_reports(db, page.ctx, work_order_id=wo.id)
    issues = service.list_issues(db, page.ctx, wo.id)
    receipts = service.list_receipts(db, page.ctx, wo.id)
    lot_ids = {i.lot_id for i in issues if i.lot_id} | {o.lot_id for r in receipts for o in r.outputs if o.lot_id}
    lots: dict[int, str] = {}
    if page.ctx.can(inventory.VIEW) and lot_ids:
        lots = inventory.describe(db, page.ctx, item_ids=(), lot_ids=lot_ids)["lots"]
    can_move = page.ctx.can(service.REPORT) and page.ctx.can(service.MOVE)
    labels = _labels(db, page)
    component_choices = [(c.id, f"{c.position} · {labels['items'].get(c.item_id, c.item_id)}") for c in wo.components]
    lot_choices: list[tuple[int, str]] = []
    item_lots: dict[int, list[tuple[int, str]]] = {}
    if can_move and page.ctx.can(inventory.VIEW):
        for item_id in sorted({c.item_id for c in wo.components}):
            found, _ = inventory.list_lots(db, page.ctx, filters={"item_id": item_id}, limit=200)
            code = labels["items"].get(item_id, item_id)
            lot_choices += [(lot.id, f"{code} · {lot.number}") for lot in found]
            if found:
                item_lots[item_id] = [(lot.id, lot.number) for lot in found]
    # The receipt form's backflush lot per tracked component ("component_lots.<component id>").
    backflush_lots = [
        (c, labels["items"].get(c.item_id, c.item_id), item_lots[c.item_id])
        for c in wo.components
        if c.item_id in item_lots
    ]
    return render(
        request,
        "production/order.html",
        status_code=422 if issue_errors or receipt_errors or edit_errors else 200,
        wo=wo,
        reports=reports,
        issues=issues,
        receipts=receipts,
        lots=lots,
        backflush_lots=backflush_lots,
        sequences={op.id: op.sequence for op in wo.operations},
        positions={c.id: c.position for c in wo.components},
        issue_form=issue_form or {},
        issue_errors=issue_errors or FormErrors(),
        receipt_form=receipt_form or {"backflush": "on"},
        receipt_errors=receipt_errors or FormErrors(),
        edit_form=edit_form or _fields_of(wo),
        edit_errors=edit_errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        can_report=page.ctx.can(service.REPORT),
        can_move=can_move and wo.status in service.RUNNING_STATES,
        component_choices=component_choices,
        lot_choices=lot_choices,
        **labels,
    )


@router.get("/production/{work_order_id}")
def order_page(request: Request, work_order_id: int, db: DbSession, page: Console) -> Response:
    """Show a work order: components, operations with progress, reports, issues, receipts and forms."""
    return _order_page(request, db, page, work_order_id)


def _order_action(request: Request, db: Session, work_order_id: int, action: Callable[[], Any], done: str) -> Response:
    return _action(request, db, f"/production/{_id(work_order_id)}", action, done)


@router.post("/production/{work_order_id}/edit")
def edit_page(request: Request, work_order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Change a draft work order; errors come back inline on their field."""
    data = values(form, ORDER_FIELDS)
    try:
        body = validate(WorkOrderUpdate, data)
        attempt(
            db,
            lambda: service.update_work_order(db, page.ctx, _id(work_order_id), **body.model_dump(exclude_unset=True)),
        )
    except FormInvalid as exc:
        return _order_page(request, db, page, work_order_id, edit_form=data, edit_errors=exc.errors)
    return flash(request, redirect(f"/production/{_id(work_order_id)}"), N_("Work order saved."))


@router.post("/production/{work_order_id}/release")
def release_page(request: Request, work_order_id: int, db: DbSession, page: Console) -> Response:
    """Release a draft work order (snapshots of BOM and routing)."""
    return _order_action(
        request,
        db,
        work_order_id,
        lambda: service.release_work_order(db, page.ctx, _id(work_order_id)),
        N_("Work order released."),
    )


@router.post("/production/{work_order_id}/close")
def close_page(request: Request, work_order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Close a work order after confirmation."""
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Close work order %(id)s?"),
            params={"id": work_order_id},
            action=f"/production/{_id(work_order_id)}/close",
            back=f"/production/{_id(work_order_id)}",
        )
    return _order_action(
        request,
        db,
        work_order_id,
        lambda: service.close_work_order(db, page.ctx, _id(work_order_id)),
        N_("Work order closed."),
    )


@router.post("/production/{work_order_id}/cancel")
def cancel_page(request: Request, work_order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Cancel a work order after confirmation."""
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Cancel work order %(id)s?"),
            params={"id": work_order_id},
            action=f"/production/{_id(work_order_id)}/cancel",
            back=f"/production/{_id(work_order_id)}",
        )
    return _order_action(
        request,
        db,
        work_order_id,
        lambda: service.cancel_work_order(db, page.ctx, _id(work_order_id)),
        N_("Work order cancelled."),
    )


@router.post("/production/{work_order_id}/delete")
def delete_page(request: Request, work_order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Delete a draft work order after confirmation."""
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Delete work order %(id)s?"),
            params={"id": work_order_id},
            action=f"/production/{_id(work_order_id)}/delete",
            back=f"/production/{_id(work_order_id)}",
        )
    back = f"/production/{_id(work_order_id)}"
    try:
        service.delete_work_order(db, page.ctx, _id(work_order_id))
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(back), exc.detail, "error", **exc.params)
    return flash(request, redirect("/production"), N_("Work order deleted."))


@router.post("/production/{work_order_id}/operations/{operation_id}/{kind}")
def report_page(
    request: Request, *, work_order_id: int, operation_id: int, kind: str, db: DbSession, page: Console, form: Form
) -> Response:
    """Report an event on an operation from the work order's page."""
    back = f"/production/{_id(work_order_id)}"
    return _report(request, db, page, form, operation_id=_id(operation_id), kind=kind, back=back)


@router.post("/production/{work_order_id}/issues")
def issue_page(request: Request, work_order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Issue one component to the work order; errors come back inline."""
    data = values(form, ISSUE_FIELDS)
    try:
        body = validate(IssueCreate, {"lines": [data]})
        specs = [service.IssueSpec(**line.model_dump()) for line in body.lines]
        attempt(db, lambda: service.issue_material(db, page.ctx, _id(work_order_id), lines=specs))
    except FormInvalid as exc:
        fields = {name.removeprefix("lines.0."): message for name, message in exc.errors.fields.items()}
        errors = FormErrors(fields=fields, summary=exc.errors.summary)
        return _order_page(request, db, page, work_order_id, issue_form=data, issue_errors=errors)
    return flash(request, redirect(f"/production/{_id(work_order_id)}"), N_("Material issued."))


@router.post("/production/{work_order_id}/receipts")
def receipt_page(request: Request, work_order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Receive finished goods (serial numbers one per line), backflushing the components if ticked."""
    data = values(form, RECEIPT_FIELDS)
    backflush = form.get("backflush") == "on"
    serials = [s.strip() for s in str(data.pop("serial_numbers", "") or "").splitlines() if s.strip()]
    chosen = {key: str(value) for key, value in form.items() if key.startswith(COMPONENT_LOT) and value}
    picks = [{"component_id": key.removeprefix(COMPONENT_LOT), "lot_id": value} for key, value in chosen.items()]
    try:
        body = validate(
            ReceiptCreate, {**data, "serial_numbers": serials, "backflush": backflush, "component_lots": picks}
        )
        payload = body.model_dump()
        payload["component_lots"] = {pick["component_id"]: pick["lot_id"] for pick in payload["component_lots"]}
        attempt(db, lambda: service.receive_work_order(db, page.ctx, _id(work_order_id), **payload))
    except FormInvalid as exc:
        fields: dict[str, str] = {}
        for name, message in exc.errors.fields.items():
            # One textarea holds the serial numbers: "serial_numbers.2" lands on it.
            key = "serial_numbers" if name.startswith("serial_numbers") else name
            fields.setdefault(key, message)
        errors = FormErrors(fields=fields, summary=exc.errors.summary)
        shown = {**data, **chosen, "serial_numbers": "\n".join(serials), "backflush": "on" if backflush else ""}
        return _order_page(request, db, page, work_order_id, receipt_form=shown, receipt_errors=errors)
    return flash(request, redirect(f"/production/{_id(work_order_id)}"), N_("Goods received."))
