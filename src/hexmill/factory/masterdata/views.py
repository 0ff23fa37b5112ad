"""Console pages of factory master data: lists and forms of items, parties, units and work centres.

An item's page also shows its BOM (a multi-level tree, lines to add and remove) and its routing;
a work centre's page its shift calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError, NotFound
from hexmill.core.filters import FilterSet
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT
from hexmill.core.params import MAX_ID
from hexmill.factory.masterdata import service
from hexmill.factory.masterdata.filters import ITEM_FILTERS, PARTY_FILTERS, UOM_FILTERS, WORK_CENTRE_FILTERS
from hexmill.factory.masterdata.models import Bom, Item
from hexmill.factory.masterdata.schemas import (
    BomCreate,
    BomLineCreate,
    CalendarIn,
    ItemCreate,
    ItemUpdate,
    OperationCreate,
    PartyCreate,
    PartyUpdate,
    UomCreate,
    UomUpdate,
    WorkCentreCreate,
    WorkCentreUpdate,
)
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
# Blank shift rows the calendar form offers below the existing ones.
SPARE_SHIFTS = 3

KIND_LABELS = {
    "raw": N_("Raw material"),
    "semi_finished": N_("Semi-finished"),
    "finished": N_("Finished product"),
    "tool": N_("Tool"),
}
TRACKING_LABELS = {"none": N_("Not tracked"), "lot": N_("By lot"), "serial": N_("By serial number")}
CATEGORY_LABELS = {
    "count": N_("Count"),
    "mass": N_("Mass"),
    "length": N_("Length"),
    "area": N_("Area"),
    "volume": N_("Volume"),
    "time": N_("Time"),
}
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input of a master-data form: its name, label msgid and widget."""

    name: str
    label: str
    widget: str = "text"  # text | textarea | select | checkbox
    options: Callable[[Session, Context], list[tuple[str, str]]] | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a list page: the attribute shown and its heading msgid."""

    attr: str
    label: str
    labels: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of master data and the service functions and schemas that serve its pages."""

    slug: str
    title: str
    plural: str
    new_title: str
    api: str
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    listing: Callable[..., tuple[list[Any], int]]
    get: Callable[..., Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    fields: tuple[FieldSpec, ...]
    columns: tuple[Column, ...]
    filters: FilterSet
    filter_fields: tuple[FieldSpec, ...]


def _labels(mapping: dict[str, str]) -> Callable[[Session, Context], list[tuple[str, str]]]:
    return lambda _db, _ctx: list(mapping.items())


def _uoms(db: Session, ctx: Context) -> list[tuple[str, str]]:
    units, _total = service.list_uoms(db, ctx, limit=MAX_LIMIT)
    return [(str(u.id), f"{u.code} — {u.name}") for u in units]


def _yes_no(_db: Session, _ctx: Context) -> list[tuple[str, str]]:
    return [("true", N_("Yes")), ("false", N_("No"))]


CODE = FieldSpec("code", N_("Code"), required=True)
NAME = FieldSpec("name", N_("Name"), required=True)
ACTIVE = FieldSpec("active", N_("Active"), "checkbox")

KINDS: dict[str, Kind] = {
    "items": Kind(
        "items",
        N_("Item"),
        N_("Items"),
        N_("New item"),
        "items",
        ItemCreate,
        ItemUpdate,
        service.list_items,
        service.get_item,
        service.create_item,
        service.update_item,
        service.delete_item,
        (
            CODE,
            NAME,
            FieldSpec("kind", N_("Kind"), "select", _labels(KIND_LABELS), required=True),
            FieldSpec("uom_id", N_("Base unit"), "select", _uoms, required=True),
            FieldSpec("tracking", N_("Tracking"), "select", _labels(TRACKING_LABELS), required=True),
            FieldSpec("allow_negative", N_("Stock may go negative"), "checkbox"),
            FieldSpec("configurable", N_("Configurable (has options)"), "checkbox"),
            ACTIVE,
            FieldSpec("description", N_("Description"), "textarea"),
        ),
        (
            Column("code", N_("Code")),
            Column("name", N_("Name")),
            Column("kind", N_("Kind"), KIND_LABELS),
            Column("uom.code", N_("Base unit")),
            Column("tracking", N_("Tracking"), TRACKING_LABELS),
        ),
        ITEM_FILTERS,
        (
            FieldSpec("code", N_("Code")),
            FieldSpec("name", N_("Name")),
            FieldSpec("kind", N_("Kind"), "select", _labels(KIND_LABELS)),
        ),
    ),
    "parties": Kind(
        "parties",
        N_("Party"),
        N_("Customers and suppliers"),
        N_("New customer or supplier"),
        "parties",
        PartyCreate,
        PartyUpdate,
        service.list_parties,
        service.get_party,
        service.create_party,
        service.update_party,
        service.delete_party,
        (
            CODE,
            NAME,
            FieldSpec("is_customer", N_("Customer"), "checkbox"),
            FieldSpec("is_supplier", N_("Supplier"), "checkbox"),
            FieldSpec("contact_name", N_("Contact person")),
            FieldSpec("email", N_("Email")),
            FieldSpec("phone", N_("Phone")),
            FieldSpec("address", N_("Address"), "textarea"),
            FieldSpec("partner_tenant_id", N_("Enterprise on the platform (id)")),
            ACTIVE,
        ),
        (
            Column("code", N_("Code")),
            Column("name", N_("Name")),
            Column("is_customer", N_("Customer")),
            Column("is_supplier", N_("Supplier")),
            Column("contact_name", N_("Contact person")),
        ),
        PARTY_FILTERS,
        (
            FieldSpec("name", N_("Name")),
            FieldSpec("is_customer", N_("Customer"), "select", _yes_no),
            FieldSpec("is_supplier", N_("Supplier"), "select", _yes_no),
        ),
    ),
    "uoms": Kind(
        "uoms",
        N_("Unit of measure"),
        N_("Units of measure"),
        N_("New unit of measure"),
        "uoms",
        UomCreate,
        UomUpdate,
        service.list_uoms,
        service.get_uom,
        service.create_uom,
        service.update_uom,
        service.delete_uom,
        (CODE, NAME, FieldSpec("category", N_("Category"), "select", _labels(CATEGORY_LABELS), required=True)),
        (Column("code", N_("Code")), Column("name", N_("Name")), Column("category", N_("Category"), CATEGORY_LABELS)),
        UOM_FILTERS,
        (FieldSpec("category", N_("Category"), "select", _labels(CATEGORY_LABELS)), FieldSpec("name", N_("Name"))),
    ),
    "work-centres": Kind(
        "work-centres",
        N_("Work centre"),
        N_("Work centres"),
        N_("New work centre"),
        "work-centres",
        WorkCentreCreate,
        WorkCentreUpdate,
        service.list_work_centres,
        service.get_work_centre,
        service.create_work_centre,
        service.update_work_centre,
        service.delete_work_centre,
        (
            CODE,
            NAME,
            FieldSpec("parallel_capacity", N_("Parallel capacity"), required=True),
            FieldSpec("efficiency_pct", N_("Efficiency (percent)"), required=True),
            FieldSpec("timezone", N_("Time zone (IANA)"), required=True),
            FieldSpec("asset_line_id", N_("Assets line or work centre (id)")),
            FieldSpec("asset_equipment_id", N_("Assets equipment (id)")),
            ACTIVE,
        ),
        (
            Column("code", N_("Code")),
            Column("name", N_("Name")),
            Column("parallel_capacity", N_("Parallel capacity")),
            Column("efficiency_pct", N_("Efficiency (percent)")),
            Column("timezone", N_("Time zone (IANA)")),
        ),
        WORK_CENTRE_FILTERS,
        (FieldSpec("code", N_("Code")), FieldSpec("name", N_("Name"))),
    ),
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "items": {"kind": "raw", "tracking": "none", "active": True},
    "parties": {"is_customer": True, "active": True},
    "uoms": {"category": "count"},
    "work-centres": {"parallel_capacity": 1, "efficiency_pct": 100, "timezone": "Asia/Shanghai", "active": True},
}


def _kind(slug: str) -> Kind:
    kind = KINDS.get(slug)
    if kind is None:
        raise NotFound(N_("Not found"))
    return kind


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _cell(obj: Any, column: Column) -> Any:
    value: Any = obj
    for part in column.attr.split("."):
        value = getattr(value, part)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


# -- overview and lists -----------------------------------------------------------------------


@router.get("/factory")
def factory_home(request: Request, page: Console) -> Response:
    """Show the factory master data sections."""
    page.ctx.require_tenant()
    page.ctx.require(service.VIEW)
    return render(request, "factory/home.html", kinds=list(KINDS.values()))


@router.get("/factory/{slug}")
def list_page(request: Request, slug: str, db: DbSession, page: Console, offset: int = 0) -> Response:
    """List one kind of master data, filtered by the same filters as the API list."""
    kind = _kind(slug)
    page.ctx.require_tenant()
    raw = {f.name: request.query_params.get(f.name, "") for f in kind.filter_fields}
    filters = kind.filters.parse(raw)
    offset = _id(offset)
    rows, total = kind.listing(db, page.ctx, filters=filters, offset=offset, limit=PAGE_SIZE)
    return render(
        request,
        "factory/list.html",
        kind=kind,
        rows=[[_cell(r, c) for c in kind.columns] + [r.id] for r in rows],
        total=total,
        offset=offset,
        limit=PAGE_SIZE,
        form=raw,
        options={f.name: f.options(db, page.ctx) for f in kind.filter_fields if f.options is not None},
        can_edit=page.ctx.can(service.EDIT),
    )


# -- forms ------------------------------------------------------------------------------------


def _form_data(kind: Kind, form: Any, *, partial: bool) -> dict[str, Any]:
    """Read a form: checkboxes as booleans, blanks dropped on create, sent as None on update."""
    texts = [f.name for f in kind.fields if f.widget != "checkbox"]
    data = values(form, texts)
    if partial:
        # Every text field is sent, blanks included, so a description can be cleared.
        data = {name: str(form.get(name) or "") for name in texts}
        for f in kind.fields:
            if f.widget != "textarea" and data.get(f.name) == "" and f.widget != "checkbox":
                data[f.name] = None
    for f in kind.fields:
        if f.widget == "checkbox":
            data[f.name] = form.get(f.name) in {"on", "true", "1"}
    return data


def _form_page(
    request: Request,
    db: Session,
    page: Console,
    kind: Kind,
    *,
    obj: Any = None,
    form: dict[str, Any],
    errors: FormErrors | None = None,
    extras: dict[str, Any] | None = None,
) -> Response:
    options = {f.name: f.options(db, page.ctx) for f in kind.fields if f.options is not None}
    return render(
        request,
        "factory/form.html",
        status_code=422 if errors else 200,
        kind=kind,
        obj=obj,
        fields=kind.fields,
        options=options,
        form=form,
        errors=errors or FormErrors(),
        can_edit=page.ctx.can(service.EDIT),
        **(extras or {}),
    )


@router.get("/factory/{slug}/new")
def new_page(request: Request, slug: str, db: DbSession, page: Console) -> Response:
    """Show the form for a new item, party, unit or work centre."""
    kind = _kind(slug)
    page.ctx.require(service.EDIT)
    if kind.slug == "items":
        service.ensure_default_uoms(db, page.ctx)
    return _form_page(request, db, page, kind, form=dict(DEFAULTS[kind.slug]))


@router.post("/factory/{slug}/new")
def create_page(request: Request, slug: str, db: DbSession, page: Console, form: Form) -> Response:
    """Create master data; invalid input comes back inline, next to the field."""
    kind = _kind(slug)
    page.ctx.require(service.EDIT)
    data = _form_data(kind, form, partial=False)
    try:
        body = validate(kind.create_schema, data)
        obj = attempt(db, lambda: kind.create(db, page.ctx, **body.model_dump(exclude_unset=True)))
    except FormInvalid as exc:
        return _form_page(request, db, page, kind, form=data, errors=exc.errors)
    return flash(request, redirect(f"/factory/{kind.slug}/{obj.id}"), N_("%(name)s created."), name=obj.name)


def _extras(db: Session, ctx: Context, kind: Kind, obj: Any, request: Request) -> dict[str, Any]:
    if kind.slug == "items":
        return _item_extras(db, ctx, obj, request.query_params.get("bom", ""))
    if kind.slug == "work-centres":
        return _calendar_extras(obj)
    return {}


@router.get("/factory/{slug}/{obj_id}")
def edit_page(request: Request, slug: str, obj_id: int, db: DbSession, page: Console) -> Response:
    """Show the form of one object, filled in; an item also shows its BOM and routing."""
    kind = _kind(slug)
    obj = kind.get(db, page.ctx, _id(obj_id))
    form = {f.name: getattr(obj, f.name) for f in kind.fields}
    extras = _extras(db, page.ctx, kind, obj, request)
    return _form_page(request, db, page, kind, obj=obj, form=form, extras=extras)


@router.post("/factory/{slug}/{obj_id}")
def update_page(request: Request, *, slug: str, obj_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Save changes; invalid input comes back inline, next to the field."""
    kind = _kind(slug)
    obj = kind.get(db, page.ctx, _id(obj_id))
    page.ctx.require(service.EDIT)
    data = _form_data(kind, form, partial=True)
    clear = {}
    if kind.slug == "parties" and data.get("partner_tenant_id") is None:
        clear["clear_partner"] = True
    if kind.slug == "work-centres" and data.get("asset_line_id") is None and data.get("asset_equipment_id") is None:
        clear["clear_links"] = True
    try:
        body = validate(kind.update_schema, data)
        attempt(db, lambda: kind.update(db, page.ctx, obj.id, **clear, **body.model_dump(exclude_unset=True)))
    except FormInvalid as exc:
        fresh = kind.get(db, page.ctx, obj.id)
        extras = _extras(db, page.ctx, kind, fresh, request)
        return _form_page(request, db, page, kind, obj=fresh, form=data, errors=exc.errors, extras=extras)
    return flash(request, redirect(f"/factory/{kind.slug}/{obj.id}"), N_("%(name)s saved."), name=obj.name)


@router.post("/factory/{slug}/{obj_id}/delete")
def delete_page(request: Request, *, slug: str, obj_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Delete after confirmation; an object still in use is refused."""
    kind = _kind(slug)
    obj = kind.get(db, page.ctx, _id(obj_id))
    name = obj.name
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Delete %(name)s?"),
            params={"name": name},
            action=f"/factory/{slug}/{obj.id}/delete",
            back=f"/factory/{slug}/{obj.id}",
        )
    try:
        kind.delete(db, page.ctx, obj.id)
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(f"/factory/{slug}/{obj.id}"), exc.detail, "error", **exc.params)
    return flash(request, redirect(f"/factory/{slug}"), N_("%(name)s deleted."), name=name)


# -- an item's BOM and routing ----------------------------------------------------------------


def _item_extras(db: Session, ctx: Context, item: Item, chosen: str) -> dict[str, Any]:
    boms, _total = service.list_boms(db, ctx, filters={"item_id": item.id}, limit=MAX_LIMIT)
    bom: Bom | None = None
    if chosen.isdigit():
        bom = next((b for b in boms if b.id == int(chosen)), None)
    if bom is None:
        bom = next((b for b in boms if b.is_default), boms[0] if boms else None)
    items, _total = service.list_items(db, ctx, limit=MAX_LIMIT)
    centres, _total = service.list_work_centres(db, ctx, limit=MAX_LIMIT)
    operations, _total = service.list_operations(db, ctx, filters={"item_id": item.id}, limit=MAX_LIMIT)
    groups = service.item_options(db, ctx, item.id) if item.configurable else []
    try:
        tree = service.bom_tree(db, ctx, item.id, on=utcnow().date())
        tree_error = ""
    except HexmillError as exc:  # pragma: no cover - saving refuses cycles, so none can be stored
        tree, tree_error = [], exc.detail
    return {
        "boms": boms,
        "bom": bom,
        "tree": tree,
        "tree_error": tree_error,
        "today": utcnow().date(),
        "components": [(str(i.id), f"{i.code} — {i.name}") for i in items if i.id != item.id],
        "units": _uoms(db, ctx),
        "centres": [(str(c.id), f"{c.code} — {c.name}") for c in centres],
        "operations": operations,
        "option_values": [(str(v.id), f"{g.name}: {v.name}") for g in groups for v in g.values],
        "fmt": lambda d: format(Decimal(d).normalize(), "f"),
    }


def _sub_form(request: Request, db: Session, back: str, action: Callable[[], Any], done: str) -> Response:
    """Run a write from a small form on an object's page; errors come back as a message on the page."""
    try:
        attempt(db, action)
    except FormInvalid as exc:
        message = exc.errors.summary or "; ".join(f"{k}: {v}" for k, v in exc.errors.fields.items())
        return flash(request, redirect(back), message, "error")
    return flash(request, redirect(back), done)


@router.post("/factory/items/{item_id}/boms")
def add_bom_page(request: Request, *, item_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Create a BOM version of the item."""
    item = service.get_item(db, page.ctx, _id(item_id))
    data = values(form, ["version", "effective_from", "effective_to", "description"])
    data.update(item_id=item.id, is_default=form.get("is_default") in {"on", "true"})
    back = f"/factory/items/{item.id}"

    def create() -> Any:
        return service.create_bom(db, page.ctx, **validate(BomCreate, data).model_dump())

    return _sub_form(request, db, back, create, N_("BOM version saved."))


@router.post("/factory/items/{item_id}/boms/{bom_id}/lines")
def add_line_page(request: Request, *, item_id: int, bom_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Add a component to one of the item's BOM versions; a cycle is refused with its items named."""
    item = service.get_item(db, page.ctx, _id(item_id))
    bom = service.get_bom(db, page.ctx, _id(bom_id))
    if bom.item_id != item.id:
        raise NotFound(N_("BOM %(id)s not found."), id=bom_id)
    data = values(form, ["component_id", "quantity", "uom_id", "scrap_factor", "option_value_id", "position"])
    back = f"/factory/items/{item.id}?bom={bom.id}"

    def add() -> Any:
        return service.add_bom_line(db, page.ctx, bom.id, **validate(BomLineCreate, data).model_dump())

    return _sub_form(request, db, back, add, N_("Line added."))


@router.post("/factory/items/{item_id}/boms/{bom_id}/lines/{line_id}/delete")
def remove_line_page(
    request: Request, *, item_id: int, bom_id: int, line_id: int, db: DbSession, page: Console
) -> Response:
    """Remove a line from one of the item's BOM versions."""
    item = service.get_item(db, page.ctx, _id(item_id))
    bom = service.get_bom(db, page.ctx, _id(bom_id))
    if bom.item_id != item.id:
        raise NotFound(N_("BOM %(id)s not found."), id=bom_id)
    back = f"/factory/items/{item.id}?bom={bom.id}"
    return _sub_form(
        request, db, back, lambda: service.delete_bom_line(db, page.ctx, bom.id, _id(line_id)), N_("Line removed.")
    )


@router.post("/factory/items/{item_id}/operations")
def add_operation_page(request: Request, *, item_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Add an operation to the item's routing."""
    item = service.get_item(db, page.ctx, _id(item_id))
    data = values(form, ["sequence", "name", "work_centre_id", "setup_minutes", "run_minutes", "transfer_batch"])
    data["item_id"] = item.id

    def add() -> Any:
        return service.create_operation(db, page.ctx, **validate(OperationCreate, data).model_dump())

    return _sub_form(request, db, f"/factory/items/{item.id}", add, N_("Operation added."))


@router.post("/factory/items/{item_id}/operations/{operation_id}/delete")
def remove_operation_page(
    request: Request, *, item_id: int, operation_id: int, db: DbSession, page: Console
) -> Response:
    """Remove an operation from the item's routing."""
    item = service.get_item(db, page.ctx, _id(item_id))
    op = service.get_operation(db, page.ctx, _id(operation_id))
    if op.item_id != item.id:
        raise NotFound(N_("Operation %(id)s not found."), id=operation_id)
    back = f"/factory/items/{item.id}"
    return _sub_form(request, db, back, lambda: service.delete_operation(db, page.ctx, op.id), N_("Operation removed."))


# -- a work centre's calendar -----------------------------------------------------------------


def _calendar_extras(wc: Any) -> dict[str, Any]:
    rows = [
        {"weekday": str(s.weekday), "start": s.start.strftime("%H:%M"), "end": s.end.strftime("%H:%M"), "name": s.name}
        for s in wc.shifts
    ]
    rows += [{"weekday": "0", "start": "", "end": "", "name": ""} for _ in range(SPARE_SHIFTS)]
    holidays = "\n".join(f"{h.day.isoformat()} {h.name}".rstrip() for h in wc.holidays)
    return {
        "shift_rows": rows,
        "holidays_text": holidays,
        "weekdays": [(str(i), name) for i, name in enumerate(WEEKDAYS)],
    }


def _parse_holidays(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        day, _, name = line.partition(" ")
        try:
            parsed = date.fromisoformat(day)
        except ValueError as exc:
            raise FormInvalid(
                FormErrors(
                    fields={"holidays": f"{number}: {day}"}, summary=N_("Write each holiday as YYYY-MM-DD and a name.")
                )
            ) from exc
        out.append({"day": parsed, "name": name.strip()})
    return out


@router.post("/factory/work-centres/{wc_id}/calendar")
def calendar_page(request: Request, *, wc_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Replace the work centre's calendar: time zone, weekly shifts and holidays."""
    wc = service.get_work_centre(db, page.ctx, _id(wc_id))
    page.ctx.require(service.EDIT)
    shifts = []
    index = 0
    while f"start_{index}" in form:
        start, end = str(form.get(f"start_{index}") or ""), str(form.get(f"end_{index}") or "")
        if start or end:
            shifts.append(
                {
                    "weekday": form.get(f"weekday_{index}"),
                    "start": start,
                    "end": end,
                    "name": str(form.get(f"name_{index}") or ""),
                }
            )
        index += 1
    back = f"/factory/work-centres/{wc.id}"

    def save() -> Any:
        data = {
            "timezone": str(form.get("timezone") or ""),
            "shifts": shifts,
            "holidays": _parse_holidays(str(form.get("holidays") or "")),
        }
        body = validate(CalendarIn, data)
        return service.set_calendar(
            db,
            page.ctx,
            wc.id,
            timezone=body.timezone,
            shifts=[(s.weekday, s.start, s.end, s.name) for s in body.shifts],
            holidays=[(h.day, h.name) for h in body.holidays],
        )

    return _sub_form(request, db, back, save, N_("Calendar saved."))
