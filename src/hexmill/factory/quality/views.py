"""Console pages of quality: nonconformances, plans, inspections, defect codes, capability and Pareto.

Nonconformances have a list (open first), a page with the disposition form and a form to raise one
by hand; an inspection is recorded through a results grid of characteristic x sample.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hexmill.core.clock import utcnow
from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError, NotFound
from hexmill.core.i18n import N_
from hexmill.core.params import MAX_ID
from hexmill.factory.quality import service
from hexmill.factory.quality.filters import INSPECTION_FILTERS, NC_FILTERS, PLAN_FILTERS
from hexmill.factory.quality.schemas import (
    DefectCodeCreate,
    DispositionCreate,
    InspectionCreate,
    NonconformanceCreate,
    PlanCreate,
)
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
NEW_CHARACTERISTICS = 5
DISPOSITION_ROWS = 4
MAX_GRID_SAMPLES = 50
PLAN_FIELDS = ("code", "name", "stage", "item_id", "note")
CHARACTERISTIC_FIELDS = ("name", "kind", "unit", "nominal", "lsl", "usl", "sample_size", "sample_pct", "defect_code_id")
DISPOSITION_FIELDS = ("kind", "quantity", "to_location_id", "supplier_id", "approver", "note")
INSPECTION_FIELDS = (
    "source_type",
    "source_id",
    "item_id",
    "lot_id",
    "location_id",
    "quantity",
    "supplier_id",
    "affected_quantity",
    "defect_code_id",
    "note",
)
NC_FIELDS = (
    "stage",
    "source_id",
    "item_id",
    "lot_id",
    "location_id",
    "quantity",
    "supplier_id",
    "defect_code_id",
    "description",
)
STATUS_LABELS = {"open": N_("Open"), "dispositioned": N_("Dispositioned"), "closed": N_("Closed")}
STAGE_LABELS = {
    "receipt": N_("Receipt"),
    "operation": N_("Operation"),
    "final": N_("Final"),
    "other": N_("Other"),
}
KIND_LABELS = {"variable": N_("Measured (variable)"), "attribute": N_("Pass/fail (attribute)")}
DISPOSITION_LABELS = {
    "scrap": N_("Scrap"),
    "return": N_("Return to supplier"),
    "rework": N_("Rework"),
    "use_as_is": N_("Use as is"),
}
RESULT_LABELS = {"pass": N_("Pass"), "fail": N_("Fail")}


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), MAX_ID) if raw.isdigit() else 0


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _rows(
    form: Any, prefix: str, count: int, names: tuple[str, ...], keys: set[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read the numbered rows of a form ("lines.0.quantity"); rows naming none of ``keys`` are dropped."""
    raw: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for n in range(count):
        row = values(form, [f"{prefix}.{n}.{name}" for name in names])
        raw.update(row)
        filled = {key.rsplit(".", 1)[1]: value for key, value in row.items()}
        if filled.keys() & keys:
            rows.append({"n": n, **filled})
    return raw, rows


def _renumber(errors: FormErrors, prefix: str, names: list[str]) -> FormErrors:
    """Map "<prefix>.<i>.x" of the i-th submitted row back to the form field ``names[i]`` (+ ".x" if given)."""
    fields: dict[str, str] = {}
    for name, message in errors.fields.items():
        parts = name.split(".", 2)
        if parts[0] == prefix and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(names):
            target = names[int(parts[1])]
            fields[target if target.count(".") == 2 or len(parts) == 2 else f"{target}.{parts[2]}"] = message
        else:
            fields[name] = message
    return FormErrors(fields=fields, summary=errors.summary)


def _period(request: Request) -> tuple[datetime, datetime, dict[str, str]]:
    """Return the period of a chart page from its "since"/"until" dates (default: the last 90 days)."""
    today = utcnow().date()
    raw = {k: request.query_params.get(k, "") for k in ("since", "until")}
    try:
        since = datetime.fromisoformat(raw["since"]).date() if raw["since"] else today - timedelta(days=90)
        until = datetime.fromisoformat(raw["until"]).date() if raw["until"] else today
    except ValueError:
        since, until = today - timedelta(days=90), today
    form = {"since": since.isoformat(), "until": until.isoformat()}
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    return start, end, form


def _labels(db: Session, page: Console) -> dict[str, Any]:
    choices = service.choices(db, page.ctx)
    return {
        "choices": choices,
        "items": dict(choices["items"]),
        "locations": dict(choices["locations"]),
        "lots": dict(choices["lots"]),
        "suppliers": dict(choices["suppliers"]),
        "codes": dict(choices["defect_codes"]),
        "status_labels": STATUS_LABELS,
        "stage_labels": STAGE_LABELS,
        "kind_labels": KIND_LABELS,
        "disposition_labels": DISPOSITION_LABELS,
        "result_labels": RESULT_LABELS,
        "can_edit": page.ctx.can(service.EDIT),
    }


# ---------------------------------------------------------------------------------------------
# Nonconformances
# ---------------------------------------------------------------------------------------------


@router.get("/quality")
def list_page(request: Request, db: DbSession, page: Console) -> Response:
    """List nonconformances, open first, with the API's filters and a CSV link."""
    filters = NC_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_nonconformances(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    return render(
        request,
        "quality/list.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        csv_query=str(request.url.query),
        **_labels(db, page),
    )


def _nc_form(request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None) -> Response:
    return render(
        request,
        "quality/nc_form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        **_labels(db, page),
    )


@router.get("/quality/nonconformances/new")
def new_nc_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form that raises a nonconformance by hand."""
    page.ctx.require(service.EDIT)
    return _nc_form(request, db, page, {"stage": "other"}, None)


@router.post("/quality/nonconformances/new")
def create_nc_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Raise a nonconformance; errors come back inline."""
    data = values(form, NC_FIELDS)
    try:
        body = validate(NonconformanceCreate, data)
        nc = attempt(db, lambda: service.create_nonconformance(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _nc_form(request, db, page, data, exc.errors)
    return flash(request, redirect(f"/quality/nonconformances/{nc.id}"), N_("Nonconformance %(id)s raised."), id=nc.id)


def _nc_page(
    request: Request,
    db: Session,
    page: Console,
    nc_id: int,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    nc = service.get_nonconformance(db, page.ctx, _id(nc_id))
    return render(
        request,
        "quality/nonconformance.html",
        status_code=422 if errors else 200,
        nc=nc,
        form=form or {},
        errors=errors or FormErrors(),
        rows=range(DISPOSITION_ROWS),
        can_move=page.ctx.can(service.MOVE),
        **_labels(db, page),
    )


@router.get("/quality/nonconformances/{nc_id}")
def nc_page(request: Request, nc_id: int, db: DbSession, page: Console) -> Response:
    """Show a nonconformance, its dispositions and the disposition form."""
    return _nc_page(request, db, page, nc_id)


@router.post("/quality/nonconformances/{nc_id}/disposition")
def disposition_page(request: Request, nc_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Disposition the NC's quantity across up to four rows; errors land on the row they concern."""
    raw, rows = _rows(form, "lines", DISPOSITION_ROWS, DISPOSITION_FIELDS, {"kind", "quantity"})
    names = [f"lines.{row.pop('n')}" for row in rows]
    try:
        try:
            body = validate(DispositionCreate, {"lines": rows})
            specs = [service.DispositionSpec(**line.model_dump()) for line in body.lines]
            attempt(db, lambda: service.disposition(db, page.ctx, _id(nc_id), lines=specs))
        except FormInvalid as exc:
            raise FormInvalid(_renumber(exc.errors, "lines", names)) from exc
    except FormInvalid as exc:
        return _nc_page(request, db, page, nc_id, form=raw, errors=exc.errors)
    return flash(request, redirect(f"/quality/nonconformances/{_id(nc_id)}"), N_("Disposition recorded."))


@router.post("/quality/nonconformances/{nc_id}/close")
def close_nc_page(request: Request, nc_id: int, db: DbSession, page: Console) -> Response:
    """Close a fully dispositioned nonconformance."""
    back = f"/quality/nonconformances/{_id(nc_id)}"
    try:
        service.close_nonconformance(db, page.ctx, _id(nc_id))
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(back), exc.detail, "error", **exc.params)
    return flash(request, redirect(back), N_("Nonconformance closed."))


# ---------------------------------------------------------------------------------------------
# Inspection plans
# ---------------------------------------------------------------------------------------------


@router.get("/quality/plans")
def plans_page(request: Request, db: DbSession, page: Console) -> Response:
    """List inspection plans with the API's filters and a CSV link."""
    filters = PLAN_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_inspection_plans(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    return render(
        request,
        "quality/plans.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        csv_query=str(request.url.query),
        **_labels(db, page),
    )


def _plan_form(
    request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    return render(
        request,
        "quality/plan_form.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        rows=range(NEW_CHARACTERISTICS),
        **_labels(db, page),
    )


@router.get("/quality/plans/new")
def new_plan_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the form of a new inspection plan with up to five characteristics."""
    page.ctx.require(service.EDIT)
    return _plan_form(request, db, page, {}, None)


@router.post("/quality/plans/new")
def create_plan_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create an inspection plan; errors come back on the characteristic row they concern."""
    header = values(form, PLAN_FIELDS)
    raw, rows = _rows(form, "characteristics", NEW_CHARACTERISTICS, CHARACTERISTIC_FIELDS, {"name"})
    names = [f"characteristics.{row.pop('n')}" for row in rows]
    try:
        try:
            body = validate(PlanCreate, {**header, "characteristics": rows})
            plan = attempt(db, lambda: service.create_inspection_plan(db, page.ctx, **body.model_dump()))
        except FormInvalid as exc:
            raise FormInvalid(_renumber(exc.errors, "characteristics", names)) from exc
    except FormInvalid as exc:
        return _plan_form(request, db, page, {**header, **raw}, exc.errors)
    return flash(
        request, redirect(f"/quality/plans/{plan.id}"), N_("Inspection plan %(code)s created."), code=plan.code
    )


@router.get("/quality/plans/{plan_id}")
def plan_page(request: Request, plan_id: int, db: DbSession, page: Console) -> Response:
    """Show a plan: its characteristics, links to their capability, and whether it has been used."""
    plan = service.get_inspection_plan(db, page.ctx, _id(plan_id))
    return render(
        request,
        "quality/plan.html",
        plan=plan,
        in_use=service.plan_in_use(db, page.ctx, plan.id),
        **_labels(db, page),
    )


@router.post("/quality/plans/{plan_id}/active")
def toggle_plan_page(request: Request, plan_id: int, db: DbSession, page: Console) -> Response:
    """Activate or deactivate a plan."""
    plan = service.get_inspection_plan(db, page.ctx, _id(plan_id))
    service.update_inspection_plan(db, page.ctx, plan.id, active=not plan.active)
    message = N_("Plan activated.") if plan.active else N_("Plan deactivated.")
    return flash(request, redirect(f"/quality/plans/{plan.id}"), message)


# ---------------------------------------------------------------------------------------------
# Inspections
# ---------------------------------------------------------------------------------------------


@router.get("/quality/inspections")
def inspections_page(request: Request, db: DbSession, page: Console) -> Response:
    """List inspections, newest first, with the API's filters and a CSV link."""
    filters = INSPECTION_FILTERS.parse(request.query_params)
    offset = _offset(request)
    rows, total = service.list_inspections(db, page.ctx, filters=filters, offset=offset, limit=PAGE)
    plans, _ = service.list_inspection_plans(db, page.ctx, limit=500)
    return render(
        request,
        "quality/inspections.html",
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE,
        filters=filters,
        plans={p.id: p.code for p in plans},
        csv_query=str(request.url.query),
        **_labels(db, page),
    )


def _grid(plan: Any, quantity: Decimal) -> list[tuple[Any, int]]:
    """Return each characteristic with the number of sample cells its grid row shows."""
    return [
        (c, min(service.required_samples(c.sample_size, c.sample_pct, quantity), MAX_GRID_SAMPLES))
        for c in plan.characteristics
    ]


def _quantity(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return Decimal(1)
    return value if value.is_finite() and Decimal(0) < value < Decimal(10) ** 12 else Decimal(1)


def _inspection_form(
    request: Request,
    db: Session,
    page: Console,
    plan_id: int | None,
    *,
    form: dict[str, Any],
    errors: FormErrors | None,
) -> Response:
    plan = None
    if plan_id is not None:
        try:
            plan = service.get_inspection_plan(db, page.ctx, _id(plan_id))
        except NotFound:
            plan = None
    labels = _labels(db, page)
    return render(
        request,
        "quality/inspection_form.html",
        status_code=422 if errors else 200,
        plan=plan,
        grid=_grid(plan, _quantity(form.get("quantity", "1"))) if plan else [],
        form=form,
        errors=errors or FormErrors(),
        **labels,
    )


@router.get("/quality/inspections/new")
def new_inspection_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the inspection form: choose a plan, then enter results per characteristic and sample."""
    page.ctx.require(service.EDIT)
    raw = request.query_params.get("plan_id", "")
    form: dict[str, Any] = {"quantity": request.query_params.get("quantity", "1")}
    plan_id = int(raw) if raw.isdigit() else None
    if plan_id is not None:
        try:
            plan = service.get_inspection_plan(db, page.ctx, _id(plan_id))
            form["source_type"] = plan.stage
            if plan.item_id:
                form["item_id"] = plan.item_id
        except NotFound:
            plan_id = None
    return _inspection_form(request, db, page, plan_id, form=form, errors=None)


@router.post("/quality/inspections/new")
def create_inspection_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Record an inspection from the results grid; a failing result opens a nonconformance."""
    raw_plan = str(form.get("plan_id") or "")
    plan_id = _id(int(raw_plan)) if raw_plan.isdigit() else None
    data = values(form, INSPECTION_FIELDS)
    plan = service.get_inspection_plan(db, page.ctx, plan_id) if plan_id else None
    results: list[dict[str, Any]] = []
    cells: list[str] = []
    grid_raw: dict[str, Any] = {}
    for char, samples in _grid(plan, _quantity(data.get("quantity", "1"))) if plan else []:
        for sample in range(1, samples + 1):
            name = f"r.{char.id}.{sample}"
            value = form.get(name)
            if not isinstance(value, str) or not value.strip():
                continue
            grid_raw[name] = value
            cells.append(name)
            key = "value" if char.kind == "variable" else "passed"
            results.append({"characteristic_id": char.id, "sample": sample, key: value.strip()})
    try:
        try:
            body = validate(InspectionCreate, {**data, "plan_id": plan_id, "results": results})
            row = attempt(db, lambda: service.create_inspection(db, page.ctx, **body.model_dump()))
        except FormInvalid as exc:
            raise FormInvalid(_renumber(exc.errors, "results", cells)) from exc
    except FormInvalid as exc:
        return _inspection_form(request, db, page, plan_id, form={**data, **grid_raw}, errors=exc.errors)
    if row.result == "fail":
        return flash(
            request,
            redirect(f"/quality/inspections/{row.id}"),
            N_("Inspection recorded: out of tolerance, nonconformance %(id)s opened."),
            "error",
            id=row.nonconformance_ids[0],
        )
    return flash(request, redirect(f"/quality/inspections/{row.id}"), N_("Inspection recorded: passed."))


@router.get("/quality/inspections/{inspection_id}")
def inspection_page(request: Request, inspection_id: int, db: DbSession, page: Console) -> Response:
    """Show an inspection's results against the plan's limits and the nonconformance it opened."""
    row = service.get_inspection(db, page.ctx, _id(inspection_id))
    plan = service.get_inspection_plan(db, page.ctx, row.plan_id)
    return render(
        request,
        "quality/inspection.html",
        inspection=row,
        plan=plan,
        characteristics={c.id: c for c in plan.characteristics},
        **_labels(db, page),
    )


# ---------------------------------------------------------------------------------------------
# Defect codes
# ---------------------------------------------------------------------------------------------


def _codes_page(
    request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None
) -> Response:
    rows, total = service.list_defect_codes(db, page.ctx, limit=500)
    return render(
        request,
        "quality/defect_codes.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        form=form,
        errors=errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
    )


@router.get("/quality/defect-codes")
def defect_codes_page(request: Request, db: DbSession, page: Console) -> Response:
    """List the defect code catalogue with a form to add one."""
    return _codes_page(request, db, page, {}, None)


@router.post("/quality/defect-codes")
def create_defect_code_page(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Add a defect code; errors come back inline."""
    data = values(form, ("code", "name", "category"))
    try:
        body = validate(DefectCodeCreate, data)
        attempt(db, lambda: service.create_defect_code(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _codes_page(request, db, page, data, exc.errors)
    return flash(request, redirect("/quality/defect-codes"), N_("Defect code %(code)s added."), code=body.code)


@router.post("/quality/defect-codes/{defect_code_id}/delete")
def delete_defect_code_page(request: Request, defect_code_id: int, db: DbSession, page: Console) -> Response:
    """Delete a defect code no nonconformance names."""
    try:
        service.delete_defect_code(db, page.ctx, _id(defect_code_id))
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect("/quality/defect-codes"), exc.detail, "error", **exc.params)
    return flash(request, redirect("/quality/defect-codes"), N_("Defect code deleted."))


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


@router.get("/quality/capability/{characteristic_id}")
def capability_page(request: Request, characteristic_id: int, db: DbSession, page: Console) -> Response:
    """Show a characteristic's Cp/Cpk over a period with a histogram and its LSL/USL/nominal marks."""
    since, until, period = _period(request)
    report = service.capability(db, page.ctx, _id(characteristic_id), since, until)
    char = service.get_characteristic(db, page.ctx, report.characteristic_id)
    chart = {
        "bins": [[str(b.low), str(b.high), b.count] for b in report.bins],
        "lsl": None if report.lsl is None else str(report.lsl),
        "usl": None if report.usl is None else str(report.usl),
        "nominal": None if report.nominal is None else str(report.nominal),
    }
    return render(request, "quality/capability.html", report=report, plan_id=char.plan_id, period=period, chart=chart)


@router.get("/quality/pareto")
def pareto_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show nonconformances by defect code for a period as a Pareto chart (bars and cumulative line)."""
    since, until, period = _period(request)
    by = request.query_params.get("by", "count")
    report = service.pareto(db, page.ctx, since=since, until=until, by=by if by in ("count", "quantity") else "count")
    chart = {
        "labels": [b.label for b in report.bars],
        "values": [str(b.count) if report.by == "count" else str(b.quantity) for b in report.bars],
        "cumulative": [str(b.cumulative_pct) for b in report.bars],
    }
    return render(request, "quality/pareto.html", report=report, period=period, chart=chart)
