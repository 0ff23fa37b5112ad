"""Console pages of maintenance: orders, preventive plans, usage readings, failure codes, reliability.

Orders have a list (open first), a new-order form and a page with edit, start, complete and
cancel; plans a list with when each falls due, a form and a page; the reliability page draws MTBF
and MTTR per machine as a bar chart.

The console shows times in UTC (as the ``dt`` filter does), so a time typed into a form without an
offset is taken as UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hexmill.core.clock import utcnow
from hexmill.core.deps import DbSession
from hexmill.core.errors import FieldError, HexmillError, InvalidInput
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT
from hexmill.core.params import MAX_ID
from hexmill.factory.maintenance import service
from hexmill.factory.maintenance.filters import ORDER_FILTERS, PLAN_FILTERS, READING_FILTERS
from hexmill.factory.maintenance.schemas import (
    FailureCodeCreate,
    OrderComplete,
    OrderCreate,
    OrderUpdate,
    PlanCreate,
    PlanUpdate,
    ReadingCreate,
)
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
DEFAULT_DAYS = 30
TIME_FIELDS = ("failure_at", "repair_start_at", "repair_end_at", "read_at")
BOOL_FIELDS = ("equipment_down", "is_reset", "active")
ORDER_FIELDS = (
    "number",
    "equipment_id",
    "kind",
    "priority",
    "failure_code_id",
    "failure_at",
    "repair_start_at",
    "repair_end_at",
    "equipment_down",
    "due_date",
    "description",
    "action_taken",
    "labour_hours",
)
EDIT_FIELDS = tuple(f for f in ORDER_FIELDS if f not in ("equipment_id", "kind"))
COMPLETE_FIELDS = ("repair_end_at", "action_taken", "labour_hours", "failure_code_id")
PLAN_FIELDS = (
    "equipment_id",
    "name",
    "trigger_type",
    "interval_days",
    "start_date",
    "counter",
    "interval_units",
    "start_reading",
    "tasks",
    "active",
)
PLAN_EDIT_FIELDS = ("name", "interval_days", "start_date", "counter", "interval_units", "tasks", "active")
READING_FIELDS = ("equipment_id", "counter", "value", "read_at", "is_reset", "note")
STATUS_LABELS = {
    "open": N_("Open"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}
KIND_LABELS = {"corrective": N_("Corrective"), "preventive": N_("Preventive")}
PRIORITY_LABELS = {"low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent")}
TRIGGER_LABELS = {
    "calendar": N_("Calendar (every N days)"),
    "usage": N_("Usage counter (every N units)"),
}


def _num(value: Decimal | None) -> str:
    """Return a number without trailing zeros and never in exponent notation (500, not 5E+2)."""
    return "" if value is None else format(Decimal(value).normalize(), "f")


LABELS: dict[str, Any] = {
    "num": _num,
    "status_labels": STATUS_LABELS,
    "kind_labels": KIND_LABELS,
    "priority_labels": PRIORITY_LABELS,
    "trigger_labels": TRIGGER_LABELS,
}


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), MAX_ID) if raw.isdigit() else 0


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _form_values(form: Any, names: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the raw fields (to show again) and the data to validate: times as UTC, ticks as booleans."""
    names = tuple(names)
    raw = values(form, [n for n in names if n not in BOOL_FIELDS])
    data = dict(raw)
    for name in TIME_FIELDS:
        text = data.get(name)
        if isinstance(text, str) and "T" in text and not any(c in text[10:] for c in "+-Z"):
            data[name] = text + "+00:00"
    for name in BOOL_FIELDS:
        if name in names:
            raw[name] = data[name] = form.get(name) in ("on", "true", "1", "yes")
    return raw, data


def _local(value: datetime | None) -> str:
    """Return a UTC time as a datetime-local field shows it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if value is not None else ""


def _order_form(order: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ORDER_FIELDS:
        value = getattr(order, name)
        if name in TIME_FIELDS:
            out[name] = _local(value)
        elif value is not None:
            out[name] = value
    return out


def _action(request: Request, db: Session, back: str, action: Callable[[], Any], done: str) -> Response:
    try:
        action()
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(back), exc.detail, "error", **exc.params)
    return flash(request, redirect(back), done)


# ---------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------


@router.get("/maintenance")
def list_page(request: Request, db: DbSession, page: Console) -> Response:
    """List maintenance orders, open ones first, with the API's filters and a CSV link."""
    filters = ORDER_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_maintenance_orders(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "maintenance/list.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        choices=choices,
        equipment=dict(choices["equipment"]),
        csv_query=str(request.url.query),
        can_edit=page.ctx.can(service.EDIT),
        **LABELS,
    )


def _new_form(
    request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    return render(
        request,
        "maintenance/order_form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        choices=service.choices(db, page.ctx),
        **LABELS,
    )


@router.get("/maintenance/orders/new")
def new_order_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form of a new maintenance order."""
    page.ctx.require(service.EDIT)
    kind = request.query_params.get("kind", "corrective")
    form: dict[str, Any] = {"kind": kind if kind in KIND_LABELS else "corrective", "priority": "normal"}
    if form["kind"] == "corrective":
        form.update(failure_at=_local(utcnow()), equipment_down=True)
    return _new_form(request, db, page, form, None)


@router.post("/maintenance/orders/new")
def create_order_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Open a maintenance order; errors come back inline on the field they concern."""
    raw, data = _form_values(form, ORDER_FIELDS)
    if data.get("kind") != "corrective" and not raw.get("equipment_down"):
        data.pop("equipment_down", None)
    try:
        body = validate(OrderCreate, data)
        order = attempt(db, lambda: service.create_maintenance_order(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _new_form(request, db, page, raw, exc.errors)
    return flash(
        request,
        redirect(f"/maintenance/orders/{order.id}"),
        N_("Maintenance order %(number)s opened."),
        number=order.number,
    )


def _order_page(
    request: Request,
    db: Session,
    page: Console,
    order_id: int,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    done_form: dict[str, Any] | None = None,
    done_errors: FormErrors | None = None,
) -> Response:
    order = service.get_maintenance_order(db, page.ctx, _id(order_id))
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "maintenance/order.html",
        status_code=422 if errors or done_errors else 200,
        order=order,
        choices=choices,
        equipment=dict(choices["equipment"]),
        failure_codes=dict(choices["failure_code_names"]),
        plans=dict(choices["plans"]),
        form=form if form is not None else _order_form(order),
        errors=errors or FormErrors(),
        done_form=done_form if done_form is not None else {"repair_end_at": _local(utcnow())},
        done_errors=done_errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        **LABELS,
    )


@router.get("/maintenance/orders/{order_id}")
def order_page(request: Request, order_id: int, db: DbSession, page: Console) -> Response:
    """Show a maintenance order with its times, cause and work, and the forms to change and close it."""
    return _order_page(request, db, page, order_id)


@router.post("/maintenance/orders/{order_id}/edit")
def edit_order_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Change an open or in-progress order; errors come back inline."""
    raw, data = _form_values(form, EDIT_FIELDS)
    if form.get("has_equipment_down") is None:
        # Only a corrective order's form shows the tick box; an absent box changes nothing.
        data.pop("equipment_down", None)
    try:
        body = validate(OrderUpdate, data)
        attempt(db, lambda: service.update_maintenance_order(db, page.ctx, _id(order_id), **body.model_dump()))
    except FormInvalid as exc:
        return _order_page(request, db, page, order_id, form=raw, errors=exc.errors)
    return flash(request, redirect(f"/maintenance/orders/{_id(order_id)}"), N_("Maintenance order saved."))


@router.post("/maintenance/orders/{order_id}/start")
def start_order_page(request: Request, order_id: int, db: DbSession, page: Console) -> Response:
    """Start work on an open order now."""
    return _action(
        request,
        db,
        f"/maintenance/orders/{_id(order_id)}",
        lambda: service.start_maintenance_order(db, page.ctx, _id(order_id)),
        N_("Work started."),
    )


@router.post("/maintenance/orders/{order_id}/complete")
def complete_order_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Close an order as done, with the repair end, the action taken and the labour."""
    raw, data = _form_values(form, COMPLETE_FIELDS)
    try:
        body = validate(OrderComplete, data)
        attempt(db, lambda: service.complete_maintenance_order(db, page.ctx, _id(order_id), **body.model_dump()))
    except FormInvalid as exc:
        return _order_page(request, db, page, order_id, done_form=raw, done_errors=exc.errors)
    return flash(request, redirect(f"/maintenance/orders/{_id(order_id)}"), N_("Maintenance order done."))


@router.post("/maintenance/orders/{order_id}/cancel")
def cancel_order_page(request: Request, order_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Cancel an open or in-progress order, after confirmation."""
    back = f"/maintenance/orders/{_id(order_id)}"
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Cancel maintenance order %(id)s?"),
            params={"id": order_id},
            action=f"{back}/cancel",
            back=back,
        )
    return _action(
        request,
        db,
        back,
        lambda: service.cancel_maintenance_order(db, page.ctx, _id(order_id)),
        N_("Maintenance order cancelled."),
    )


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


@router.get("/maintenance/plans")
def plans_page(request: Request, db: DbSession, page: Console) -> Response:
    """List preventive plans with when each falls due next, and the button that opens due orders."""
    filters = PLAN_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_plans(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "maintenance/plans.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        choices=choices,
        equipment=dict(choices["equipment"]),
        due=service.due_states(db, page.ctx, rows, utcnow()),
        csv_query=str(request.url.query),
        can_edit=page.ctx.can(service.EDIT),
        **LABELS,
    )


@router.post("/maintenance/plans/generate-due")
def generate_due_page(request: Request, db: DbSession, page: Console) -> Response:
    """Open one preventive order for every active plan that is due and has no open order."""
    try:
        created = service.generate_due_orders(db, page.ctx)
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect("/maintenance/plans"), exc.detail, "error", **exc.params)
    if not created:
        return flash(request, redirect("/maintenance"), N_("No plan is due: no order opened."))
    return flash(
        request,
        redirect("/maintenance"),
        N_("Preventive orders opened: %(numbers)s."),
        numbers=", ".join(o.number for o in created),
    )


def _plan_form(
    request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    return render(
        request,
        "maintenance/plan_form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        choices=service.choices(db, page.ctx),
        **LABELS,
    )


@router.get("/maintenance/plans/new")
def new_plan_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form of a new preventive plan."""
    page.ctx.require(service.EDIT)
    return _plan_form(request, db, page, {"trigger_type": "calendar", "active": True}, None)


def _plan_data(data: dict[str, Any]) -> dict[str, Any]:
    """Drop the other trigger's fields, so a calendar plan's stray counter does not refuse the form."""
    if data.get("trigger_type") == "calendar":
        for name in ("counter", "interval_units", "start_reading"):
            data.pop(name, None)
    elif data.get("trigger_type") == "usage":
        data.pop("interval_days", None)
    return data


@router.post("/maintenance/plans/new")
def create_plan_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create a preventive plan; errors come back inline."""
    raw, data = _form_values(form, PLAN_FIELDS)
    try:
        body = validate(PlanCreate, _plan_data(data))
        plan = attempt(db, lambda: service.create_plan(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _plan_form(request, db, page, raw, exc.errors)
    return flash(request, redirect(f"/maintenance/plans/{plan.id}"), N_("Plan %(name)s created."), name=plan.name)


def _plan_page(
    request: Request,
    db: Session,
    page: Console,
    plan_id: int,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    plan = service.get_plan(db, page.ctx, _id(plan_id))
    due = service.due_states(db, page.ctx, [plan], utcnow())[plan.id]
    orders, _ = service.list_maintenance_orders(db, page.ctx, filters={"plan_id": plan.id}, limit=PAGE)
    current = {name: getattr(plan, name) for name in PLAN_EDIT_FIELDS if getattr(plan, name) is not None}
    return render(
        request,
        "maintenance/plan.html",
        status_code=422 if errors else 200,
        plan=plan,
        due=due,
        orders=orders,
        equipment=dict(service.choices(db, page.ctx)["equipment"]),
        form=form if form is not None else current,
        errors=errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        **LABELS,
    )


@router.get("/maintenance/plans/{plan_id}")
def plan_page(request: Request, plan_id: int, db: DbSession, page: Console) -> Response:
    """Show a plan: its trigger, when it falls due next, its orders and the form to change it."""
    return _plan_page(request, db, page, plan_id)


@router.post("/maintenance/plans/{plan_id}/edit")
def edit_plan_page(request: Request, plan_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Change a plan; errors come back inline."""
    raw, data = _form_values(form, PLAN_EDIT_FIELDS)
    try:
        body = validate(PlanUpdate, data)
        attempt(db, lambda: service.update_plan(db, page.ctx, _id(plan_id), **body.model_dump()))
    except FormInvalid as exc:
        return _plan_page(request, db, page, plan_id, form=raw, errors=exc.errors)
    return flash(request, redirect(f"/maintenance/plans/{_id(plan_id)}"), N_("Plan saved."))


# ---------------------------------------------------------------------------------------------
# Usage readings
# ---------------------------------------------------------------------------------------------


def _readings_page(
    request: Request, db: Session, page: Console, form: dict[str, Any] | None, errors: FormErrors | None
) -> Response:
    filters = READING_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_readings(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    choices = service.choices(db, page.ctx)
    return render(
        request,
        "maintenance/readings.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        choices=choices,
        equipment=dict(choices["equipment"]),
        counters=service.counters(db, page.ctx),
        csv_query=str(request.url.query),
        form=form or {"read_at": _local(utcnow())},
        errors=errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        **LABELS,
    )


@router.get("/maintenance/readings")
def readings_page(request: Request, db: DbSession, page: Console) -> Response:
    """List usage counter readings and show the form to record one."""
    return _readings_page(request, db, page, None, None)


@router.post("/maintenance/readings")
def record_reading_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Record a counter reading; a lower value without the reset tick comes back on the value field."""
    raw, data = _form_values(form, READING_FIELDS)
    try:
        body = validate(ReadingCreate, data)
        attempt(db, lambda: service.record_reading(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _readings_page(request, db, page, raw, exc.errors)
    return flash(request, redirect("/maintenance/readings"), N_("Reading recorded."))


# ---------------------------------------------------------------------------------------------
# Failure codes
# ---------------------------------------------------------------------------------------------


def _codes_page(
    request: Request, db: Session, page: Console, form: dict[str, Any] | None, errors: FormErrors | None
) -> Response:
    rows, total = service.list_failure_codes(db, page.ctx, limit=MAX_LIMIT)
    return render(
        request,
        "maintenance/failure_codes.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        form=form or {"active": True},
        errors=errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
    )


@router.get("/maintenance/failure-codes")
def failure_codes_page(request: Request, db: DbSession, page: Console) -> Response:
    """List the cause and failure code catalogue, with the form to add one."""
    return _codes_page(request, db, page, None, None)


@router.post("/maintenance/failure-codes")
def create_failure_code_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Add a failure code; errors come back inline."""
    raw, data = _form_values(form, ("code", "name", "description", "active"))
    try:
        body = validate(FailureCodeCreate, data)
        attempt(db, lambda: service.create_failure_code(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _codes_page(request, db, page, raw, exc.errors)
    return flash(request, redirect("/maintenance/failure-codes"), N_("Failure code added."))


@router.post("/maintenance/failure-codes/{code_id}/toggle")
def toggle_failure_code_page(request: Request, code_id: int, db: DbSession, page: Console) -> Response:
    """Make a failure code inactive (no longer offered) or active again."""

    def toggle() -> None:
        code = service.get_failure_code(db, page.ctx, _id(code_id))
        service.update_failure_code(db, page.ctx, code.id, active=not code.active)

    return _action(request, db, "/maintenance/failure-codes", toggle, N_("Failure code saved."))


@router.post("/maintenance/failure-codes/{code_id}/delete")
def delete_failure_code_page(request: Request, code_id: int, db: DbSession, page: Console) -> Response:
    """Delete a failure code no order uses."""
    return _action(
        request,
        db,
        "/maintenance/failure-codes",
        lambda: service.delete_failure_code(db, page.ctx, _id(code_id)),
        N_("Failure code deleted."),
    )


# ---------------------------------------------------------------------------------------------
# Reliability
# ---------------------------------------------------------------------------------------------


def _day(raw: str | None, field: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = N_("Not a valid date.")
        raise InvalidInput(message, field=field, errors=[FieldError(message, field=field)]) from None


@router.get("/maintenance/reliability")
def reliability_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show MTBF, MTTR and availability of every machine over a period, as a table and a bar chart."""
    today = utcnow().date()
    errors = FormErrors()
    try:
        since = _day(request.query_params.get("start"), "start") or today - timedelta(days=DEFAULT_DAYS)
        until = _day(request.query_params.get("end"), "end") or today
    except InvalidInput as exc:
        errors = FormErrors(fields={exc.field or "start": str(exc)})
        since, until = today - timedelta(days=DEFAULT_DAYS), today
    start = datetime.combine(since, time(), UTC)
    # The end day is included: the period runs to the midnight after it.
    end = datetime.combine(until + timedelta(days=1), time(), UTC)
    rows: list[service.ReliabilityRow] = []
    try:
        rows = service.reliability_table(db, page.ctx, start=start, end=end)
    except InvalidInput as exc:
        errors = FormErrors(fields={"end": str(exc)})
    chart = {
        "names": [r.equipment_name for r in rows],
        "mtbf": [None if r.mtbf_hours is None else float(r.mtbf_hours) for r in rows],
        "mttr": [None if r.mttr_hours is None else float(r.mttr_hours) for r in rows],
    }
    return render(
        request,
        "maintenance/reliability.html",
        status_code=422 if errors else 200,
        rows=rows,
        chart=chart,
        form={"start": since.isoformat(), "end": until.isoformat()},
        errors=errors,
        csv_query=f"start={start.isoformat().replace('+', '%2B')}&end={end.isoformat().replace('+', '%2B')}",
        **LABELS,
    )
