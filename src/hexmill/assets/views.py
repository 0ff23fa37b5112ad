"""Console pages of the asset hierarchy: the tree, and forms for sites, areas, lines, equipment and tags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from hexmill.assets import service
from hexmill.assets.schemas import (
    AreaCreate,
    AreaUpdate,
    EquipmentCreate,
    EquipmentTypeCreate,
    EquipmentTypeUpdate,
    EquipmentUpdate,
    LineCreate,
    LineUpdate,
    SiteCreate,
    SiteUpdate,
    TagCreate,
    TagUpdate,
)
from hexmill.core.context import Context
from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError, NotFound
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT
from hexmill.core.params import MAX_ID
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

LINE_KIND_LABELS = {"line": N_("Production line"), "work_centre": N_("Work centre")}
DATA_TYPE_LABELS = {
    "float": N_("Decimal"),
    "integer": N_("Whole number"),
    "boolean": N_("On/off"),
    "string": N_("Text"),
}
# The tree shows each machine's tags; one query fetches them all, up to this many.


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input of an asset form: its name, label msgid and widget."""

    name: str
    label: str
    widget: str = "text"  # text | textarea | select
    options: Callable[[Session, Context], list[tuple[str, str]]] | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Level:
    """One level of the hierarchy and the service functions and schemas that serve it."""

    slug: str
    title: str
    new_title: str
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    get: Callable[..., Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    fields: tuple[FieldSpec, ...]
    parent: str | None = None  # the create schema's parent id field
    parent_level: str | None = None
    create_only: frozenset[str] = field(default_factory=frozenset)


def _kinds(_db: Session, _ctx: Context) -> list[tuple[str, str]]:
    return list(LINE_KIND_LABELS.items())


def _data_types(_db: Session, _ctx: Context) -> list[tuple[str, str]]:
    return list(DATA_TYPE_LABELS.items())


def _equipment_types(db: Session, ctx: Context) -> list[tuple[str, str]]:
    types, _total = service.list_equipment_types(db, ctx, limit=MAX_LIMIT)
    return [(str(t.id), t.name) for t in types]


NAME = FieldSpec("name", N_("Name"), required=True)
DESCRIPTION = FieldSpec("description", N_("Description"), "textarea")

LEVELS: dict[str, Level] = {
    "sites": Level(
        "sites",
        N_("Site"),
        N_("New site"),
        SiteCreate,
        SiteUpdate,
        service.get_site,
        service.create_site,
        service.update_site,
        service.delete_site,
        (NAME, DESCRIPTION),
    ),
    "areas": Level(
        "areas",
        N_("Area"),
        N_("New area"),
        AreaCreate,
        AreaUpdate,
        service.get_area,
        service.create_area,
        service.update_area,
        service.delete_area,
        (NAME, DESCRIPTION),
        parent="site_id",
        parent_level="sites",
    ),
    "lines": Level(
        "lines",
        N_("Line or work centre"),
        N_("New line or work centre"),
        LineCreate,
        LineUpdate,
        service.get_line,
        service.create_line,
        service.update_line,
        service.delete_line,
        (NAME, FieldSpec("kind", N_("Kind"), "select", _kinds, required=True), DESCRIPTION),
        parent="area_id",
        parent_level="areas",
    ),
    "equipment": Level(
        "equipment",
        N_("Equipment"),
        N_("New equipment"),
        EquipmentCreate,
        EquipmentUpdate,
        service.get_equipment,
        service.create_equipment,
        service.update_equipment,
        service.delete_equipment,
        (
            NAME,
            FieldSpec("equipment_type_id", N_("Equipment type"), "select", _equipment_types),
            FieldSpec("manufacturer", N_("Manufacturer")),
            FieldSpec("model", N_("Model")),
            FieldSpec("serial_number", N_("Serial number")),
            DESCRIPTION,
        ),
        parent="line_id",
        parent_level="lines",
        create_only=frozenset({"equipment_type_id"}),
    ),
    "tags": Level(
        "tags",
        N_("Tag"),
        N_("New tag"),
        TagCreate,
        TagUpdate,
        service.get_tag,
        service.create_tag,
        service.update_tag,
        service.delete_tag,
        (
            FieldSpec("name", N_("Name"), required=True),
            FieldSpec("unit", N_("Unit")),
            FieldSpec("data_type", N_("Data type"), "select", _data_types, required=True),
            DESCRIPTION,
        ),
        parent="equipment_id",
        parent_level="equipment",
    ),
    "types": Level(
        "types",
        N_("Equipment type"),
        N_("New equipment type"),
        EquipmentTypeCreate,
        EquipmentTypeUpdate,
        service.get_equipment_type,
        service.create_equipment_type,
        service.update_equipment_type,
        service.delete_equipment_type,
        (NAME, FieldSpec("manufacturer", N_("Manufacturer")), FieldSpec("model", N_("Model")), DESCRIPTION),
    ),
}


def _level(slug: str) -> Level:
    level = LEVELS.get(slug)
    if level is None:
        raise NotFound(N_("Not found"))
    return level


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _crumbs(obj: Any) -> list[tuple[str, str]]:
    """Return (label, url) of the ancestors of an asset, from the site down."""
    chain: list[tuple[str, str]] = []
    node = obj
    for attr, parent_slug in (("equipment", "equipment"), ("line", "lines"), ("area", "areas"), ("site", "sites")):
        parent = getattr(node, attr, None)
        if parent is not None and not isinstance(parent, list):
            chain.append((parent.name, f"/assets/{parent_slug}/{parent.id}"))
            node = parent
    return list(reversed(chain))


# -- the tree ---------------------------------------------------------------------------------


@router.get("/assets")
def asset_tree(request: Request, db: DbSession, page: Console) -> Response:
    """Show the asset tree: sites, areas, lines and work centres, equipment and its tags."""
    page.ctx.require_tenant()
    sites = service.get_tree(db, page.ctx, include_tags=True)
    types, _total = service.list_equipment_types(db, page.ctx, limit=MAX_LIMIT)
    return render(
        request,
        "assets/tree.html",
        sites=sites,
        types=types,
        can_edit=page.ctx.can(service.EDIT),
        kind_labels=LINE_KIND_LABELS,
        data_type_labels=DATA_TYPE_LABELS,
    )


# -- forms ------------------------------------------------------------------------------------


def _form_page(
    request: Request,
    db: Session,
    page: Console,
    level: Level,
    *,
    obj: Any = None,
    parent: Any = None,
    form: dict[str, Any],
    errors: FormErrors | None = None,
) -> Response:
    fields = [f for f in level.fields if obj is None or f.name not in level.create_only]
    options = {f.name: f.options(db, page.ctx) for f in fields if f.options is not None}
    crumbs = _crumbs(obj) if obj is not None else ([*_crumbs(parent), (parent.name, "")] if parent else [])
    return render(
        request,
        "assets/form.html",
        status_code=422 if errors else 200,
        level=level,
        obj=obj,
        parent=parent,
        fields=fields,
        options=options,
        form=form,
        errors=errors or FormErrors(),
        crumbs=crumbs,
    )


def _parent(db: Session, ctx: Context, level: Level, raw: Any) -> Any:
    if level.parent_level is None:
        return None
    text = str(raw or "")
    if not text.isdigit():
        raise NotFound(N_("Not found"))
    return LEVELS[level.parent_level].get(db, ctx, _id(int(text)))


@router.get("/assets/{slug}/new")
def new_asset(request: Request, slug: str, db: DbSession, page: Console, parent: str = "") -> Response:
    """Show the form for a new site, area, line, equipment, tag or equipment type."""
    level = _level(slug)
    page.ctx.require(service.EDIT)
    owner = _parent(db, page.ctx, level, parent)
    form: dict[str, Any] = {"kind": "line", "data_type": "float"}
    if level.parent is not None:
        form[level.parent] = owner.id
    return _form_page(request, db, page, level, parent=owner, form=form)


@router.post("/assets/{slug}/new")
def create_asset(request: Request, slug: str, db: DbSession, page: Console, form: Form) -> Response:
    """Create an asset under its parent; invalid input comes back inline, next to the field."""
    level = _level(slug)
    names = [f.name for f in level.fields] + ([level.parent] if level.parent else [])
    data = values(form, names)
    owner = _parent(db, page.ctx, level, data.get(level.parent)) if level.parent else None
    try:
        body = validate(level.create_schema, data)
        obj = attempt(db, lambda: level.create(db, page.ctx, **body.model_dump(exclude_unset=True)))
    except FormInvalid as exc:
        return _form_page(request, db, page, level, parent=owner, form=data, errors=exc.errors)
    response = redirect(f"/assets#{level.slug}-{obj.id}")
    return flash(request, response, N_("%(name)s created."), name=obj.name)


@router.get("/assets/{slug}/{obj_id}")
def edit_asset(request: Request, slug: str, obj_id: int, db: DbSession, page: Console) -> Response:
    """Show an asset's form, filled in."""
    level = _level(slug)
    obj = level.get(db, page.ctx, _id(obj_id))
    form = {f.name: getattr(obj, f.name, "") for f in level.fields}
    return _form_page(request, db, page, level, obj=obj, form=form)


@router.post("/assets/{slug}/{obj_id}")
def update_asset(request: Request, *, slug: str, obj_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Change an asset; invalid input comes back inline, next to the field."""
    level = _level(slug)
    obj = level.get(db, page.ctx, _id(obj_id))
    names = [f.name for f in level.fields if f.name not in level.create_only]
    # Every field is sent, blanks included, so that a description can be cleared.
    data = {name: str(form.get(name) or "") for name in names}
    try:
        body = validate(level.update_schema, data)
        attempt(db, lambda: level.update(db, page.ctx, obj.id, **body.model_dump(exclude_unset=True)))
    except FormInvalid as exc:
        return _form_page(request, db, page, level, obj=level.get(db, page.ctx, obj.id), form=data, errors=exc.errors)
    response = redirect(f"/assets#{level.slug}-{obj.id}")
    return flash(request, response, N_("%(name)s saved."), name=data.get("name") or obj.name)


@router.post("/assets/{slug}/{obj_id}/delete")
def delete_asset(request: Request, *, slug: str, obj_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Delete an asset after confirmation; one that still has children is refused."""
    level = _level(slug)
    obj = level.get(db, page.ctx, _id(obj_id))
    name = obj.name
    if form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            question=N_("Delete %(name)s?"),
            params={"name": name},
            action=f"/assets/{slug}/{obj.id}/delete",
            back="/assets",
        )
    try:
        level.delete(db, page.ctx, obj.id)
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect("/assets"), exc.detail, "error", **exc.params)
    return flash(request, redirect("/assets"), N_("%(name)s deleted."), name=name)
