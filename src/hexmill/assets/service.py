"""The asset domain's logic: scoped lookups and audited writes over the ISA-95 hierarchy.

Every read needs ``assets.view`` and every write ``assets.edit``; lookups answer NotFound for
objects that are missing and for those of another enterprise alike (the tenant guard scopes
every query, so another tenant's rows are simply not there). Names are unique within their
parent (sites and equipment types within the enterprise, tags within their equipment or type).

Deleting a site, area or line that still has children is refused with a Conflict naming the
children, rather than cascading: an accidental click must not wipe a plant. Equipment takes its
own tags with it; an equipment type takes its tag templates with it but is refused while
equipment still refers to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hexmill.assets.filters import (
    AREA_FILTERS,
    EQUIPMENT_FILTERS,
    EQUIPMENT_TYPE_FILTERS,
    LINE_FILTERS,
    SITE_FILTERS,
    TAG_FILTERS,
)
from hexmill.assets.models import Area, Equipment, EquipmentType, Line, Site, Tag
from hexmill.core import audit
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.filters import FilterSet
from hexmill.core.i18n import N_
from hexmill.core.pagination import count_of

VIEW = "assets.view"
EDIT = "assets.edit"

M = TypeVar("M", Site, Area, Line, Equipment, EquipmentType, Tag)


@dataclass(frozen=True, slots=True)
class TagSpec:
    """The fields of one tag to create with a piece of equipment."""

    name: str
    unit: str = ""
    data_type: str = "float"
    description: str = ""


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


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
    stmt = flt.apply(stmt, filters or {})
    total = count_of(session, stmt)
    return list(session.scalars(stmt.offset(offset).limit(limit))), total


def _lookup(session: Session, model: type[M], obj_id: int, message: str) -> M:
    obj = session.scalar(select(model).where(model.id == obj_id))
    if obj is None:
        raise NotFound(message, id=obj_id)
    return obj


def _reference(session: Session, model: type[M], obj_id: int, field: str, message: str) -> M:
    """Return the parent an input names, or InvalidInput on that field (also for another tenant's)."""
    obj = session.scalar(select(model).where(model.id == obj_id))
    if obj is None:
        errors = [FieldError(message, field=field, params={"id": obj_id})]
        raise InvalidInput(message, field=field, id=obj_id, errors=errors)
    return obj


def _unique(session: Session, model: type[M], name: str, where: ColumnElement[bool], exclude: int | None) -> None:
    """Raise Conflict on ``name`` if a sibling of the same parent already holds it."""
    stmt = select(model.id).where(model.name == name, where)
    if exclude is not None:
        stmt = stmt.where(model.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(N_("The name %(name)s is already taken here."), field="name", name=name)


def _flush(session: Session, name: object) -> None:
    """Flush; a unique violation that slipped past the check (a concurrent write) is a Conflict too."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("The name %(name)s is already taken here."), field="name", name=name) from exc


def _refuse_if(session: Session, condition: ColumnElement[bool], message: str, field: str, name: str) -> None:
    if session.scalar(select(exists().where(condition))):
        raise Conflict(message, field=field, name=name)


def _apply(obj: object, fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        setattr(obj, key, value)


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values: a partial update leaves fields it does not name (or names as null) alone."""
    return {k: v for k, v in fields.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# Sites
# ---------------------------------------------------------------------------------------------


def list_sites(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Site], int]:
    """Return one page of the enterprise's sites, and their total."""
    return _page(
        session,
        ctx,
        select(Site).order_by(Site.name, Site.id),
        SITE_FILTERS,
        filters=filters,
        offset=offset,
        limit=limit,
    )


def get_site(session: Session, ctx: Context, site_id: int) -> Site:
    """Return one site of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, Site, site_id, N_("Site %(id)s not found."))


def create_site(session: Session, ctx: Context, *, name: str, description: str = "") -> Site:
    """Create a site."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique(session, Site, name, Site.tenant_id == tenant_id, None)
    site = Site(tenant_id=tenant_id, name=name, description=description)
    session.add(site)
    _flush(session, name)
    audit.record(session, ctx, "assets.site.create", object_type="site", object_id=site.id, detail={"name": name})
    return site


def update_site(session: Session, ctx: Context, site_id: int, **fields: Any) -> Site:
    """Change a site's name or description."""
    ctx.require(EDIT)
    site = _lookup(session, Site, site_id, N_("Site %(id)s not found."))
    fields = _clean(fields)
    if "name" in fields:
        _unique(session, Site, fields["name"], Site.tenant_id == site.tenant_id, site.id)
    _apply(site, fields)
    _flush(session, fields.get("name"))
    audit.record(session, ctx, "assets.site.update", object_type="site", object_id=site.id, detail=fields)
    return site


def delete_site(session: Session, ctx: Context, site_id: int) -> None:
    """Delete a site that has no areas left."""
    ctx.require(EDIT)
    site = _lookup(session, Site, site_id, N_("Site %(id)s not found."))
    _refuse_if(
        session,
        Area.site_id == site.id,
        N_("Site %(name)s still has areas; delete or move them first."),
        "areas",
        site.name,
    )
    session.delete(site)
    session.flush()
    audit.record(session, ctx, "assets.site.delete", object_type="site", object_id=site_id, detail={"name": site.name})


# ---------------------------------------------------------------------------------------------
# Areas
# ---------------------------------------------------------------------------------------------


def list_areas(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Area], int]:
    """Return one page of the enterprise's areas, and their total."""
    return _page(
        session,
        ctx,
        select(Area).order_by(Area.name, Area.id),
        AREA_FILTERS,
        filters=filters,
        offset=offset,
        limit=limit,
    )


def get_area(session: Session, ctx: Context, area_id: int) -> Area:
    """Return one area of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, Area, area_id, N_("Area %(id)s not found."))


def create_area(session: Session, ctx: Context, *, site_id: int, name: str, description: str = "") -> Area:
    """Create an area in a site."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    site = _reference(session, Site, site_id, "site_id", N_("Site %(id)s does not exist."))
    _unique(session, Area, name, Area.site_id == site.id, None)
    area = Area(tenant_id=tenant_id, site_id=site.id, name=name, description=description)
    session.add(area)
    _flush(session, name)
    audit.record(
        session,
        ctx,
        "assets.area.create",
        object_type="area",
        object_id=area.id,
        detail={"name": name, "site_id": site_id},
    )
    return area


def update_area(session: Session, ctx: Context, area_id: int, **fields: Any) -> Area:
    """Change an area, or move it to another site."""
    ctx.require(EDIT)
    area = _lookup(session, Area, area_id, N_("Area %(id)s not found."))
    fields = _clean(fields)
    site_id = fields.get("site_id", area.site_id)
    if "site_id" in fields:
        _reference(session, Site, site_id, "site_id", N_("Site %(id)s does not exist."))
    _unique(session, Area, fields.get("name", area.name), Area.site_id == site_id, area.id)
    _apply(area, fields)
    _flush(session, fields.get("name"))
    audit.record(session, ctx, "assets.area.update", object_type="area", object_id=area.id, detail=fields)
    return area


def delete_area(session: Session, ctx: Context, area_id: int) -> None:
    """Delete an area that has no lines or work centres left."""
    ctx.require(EDIT)
    area = _lookup(session, Area, area_id, N_("Area %(id)s not found."))
    _refuse_if(
        session,
        Line.area_id == area.id,
        N_("Area %(name)s still has lines or work centres; delete or move them first."),
        "lines",
        area.name,
    )
    session.delete(area)
    session.flush()
    audit.record(session, ctx, "assets.area.delete", object_type="area", object_id=area_id, detail={"name": area.name})


# ---------------------------------------------------------------------------------------------
# Lines and work centres
# ---------------------------------------------------------------------------------------------


def list_lines(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Line], int]:
    """Return one page of the enterprise's lines and work centres, and their total."""
    return _page(
        session,
        ctx,
        select(Line).order_by(Line.name, Line.id),
        LINE_FILTERS,
        filters=filters,
        offset=offset,
        limit=limit,
    )


def get_line(session: Session, ctx: Context, line_id: int) -> Line:
    """Return one line or work centre of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, Line, line_id, N_("Line %(id)s not found."))


def create_line(
    session: Session, ctx: Context, *, area_id: int, name: str, kind: str = "line", description: str = ""
) -> Line:
    """Create a production line or a work centre (``kind``) in an area."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    area = _reference(session, Area, area_id, "area_id", N_("Area %(id)s does not exist."))
    _unique(session, Line, name, Line.area_id == area.id, None)
    line = Line(tenant_id=tenant_id, area_id=area.id, name=name, kind=kind, description=description)
    session.add(line)
    _flush(session, name)
    audit.record(
        session,
        ctx,
        "assets.line.create",
        object_type="line",
        object_id=line.id,
        detail={"name": name, "area_id": area_id, "kind": kind},
    )
    return line


def update_line(session: Session, ctx: Context, line_id: int, **fields: Any) -> Line:
    """Change a line or work centre, or move it to another area."""
    ctx.require(EDIT)
    line = _lookup(session, Line, line_id, N_("Line %(id)s not found."))
    fields = _clean(fields)
    area_id = fields.get("area_id", line.area_id)
    if "area_id" in fields:
        _reference(session, Area, area_id, "area_id", N_("Area %(id)s does not exist."))
    _unique(session, Line, fields.get("name", line.name), Line.area_id == area_id, line.id)
    _apply(line, fields)
    _flush(session, fields.get("name"))
    audit.record(session, ctx, "assets.line.update", object_type="line", object_id=line.id, detail=fields)
    return line


def delete_line(session: Session, ctx: Context, line_id: int) -> None:
    """Delete a line or work centre that has no equipment left."""
    ctx.require(EDIT)
    line = _lookup(session, Line, line_id, N_("Line %(id)s not found."))
    _refuse_if(
        session,
        Equipment.line_id == line.id,
        N_("Line %(name)s still has equipment; delete or move it first."),
        "equipment",
        line.name,
    )
    session.delete(line)
    session.flush()
    audit.record(session, ctx, "assets.line.delete", object_type="line", object_id=line_id, detail={"name": line.name})


# ---------------------------------------------------------------------------------------------
# Equipment types
# ---------------------------------------------------------------------------------------------


def list_equipment_types(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[EquipmentType], int]:
    """Return one page of the enterprise's equipment types, and their total."""
    stmt = select(EquipmentType).order_by(EquipmentType.name, EquipmentType.id)
    return _page(session, ctx, stmt, EQUIPMENT_TYPE_FILTERS, filters=filters, offset=offset, limit=limit)


def get_equipment_type(session: Session, ctx: Context, equipment_type_id: int) -> EquipmentType:
    """Return one equipment type of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, EquipmentType, equipment_type_id, N_("Equipment type %(id)s not found."))


def create_equipment_type(
    session: Session, ctx: Context, *, name: str, manufacturer: str = "", model: str = "", description: str = ""
) -> EquipmentType:
    """Create an equipment type (add its tag templates with ``create_tag``)."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique(session, EquipmentType, name, EquipmentType.tenant_id == tenant_id, None)
    etype = EquipmentType(
        tenant_id=tenant_id, name=name, manufacturer=manufacturer, model=model, description=description
    )
    session.add(etype)
    _flush(session, name)
    audit.record(
        session,
        ctx,
        "assets.equipment_type.create",
        object_type="equipment_type",
        object_id=etype.id,
        detail={"name": name},
    )
    return etype


def update_equipment_type(session: Session, ctx: Context, equipment_type_id: int, **fields: Any) -> EquipmentType:
    """Change an equipment type; equipment made from it keeps its own copies of the tags."""
    ctx.require(EDIT)
    etype = _lookup(session, EquipmentType, equipment_type_id, N_("Equipment type %(id)s not found."))
    fields = _clean(fields)
    if "name" in fields:
        _unique(session, EquipmentType, fields["name"], EquipmentType.tenant_id == etype.tenant_id, etype.id)
    _apply(etype, fields)
    _flush(session, fields.get("name"))
    audit.record(
        session,
        ctx,
        "assets.equipment_type.update",
        object_type="equipment_type",
        object_id=etype.id,
        detail=fields,
    )
    return etype


def delete_equipment_type(session: Session, ctx: Context, equipment_type_id: int) -> None:
    """Delete an equipment type and its tag templates, unless equipment still refers to it."""
    ctx.require(EDIT)
    etype = _lookup(session, EquipmentType, equipment_type_id, N_("Equipment type %(id)s not found."))
    _refuse_if(
        session,
        Equipment.equipment_type_id == etype.id,
        N_("Equipment type %(name)s is still used by equipment."),
        "equipment",
        etype.name,
    )
    session.delete(etype)
    session.flush()
    audit.record(
        session,
        ctx,
        "assets.equipment_type.delete",
        object_type="equipment_type",
        object_id=equipment_type_id,
        detail={"name": etype.name},
    )


# ---------------------------------------------------------------------------------------------
# Equipment
# ---------------------------------------------------------------------------------------------


def list_equipment(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Equipment], int]:
    """Return one page of the enterprise's equipment, and its total."""
    stmt = select(Equipment).order_by(Equipment.name, Equipment.id)
    return _page(session, ctx, stmt, EQUIPMENT_FILTERS, filters=filters, offset=offset, limit=limit)


def get_equipment(session: Session, ctx: Context, equipment_id: int) -> Equipment:
    """Return one piece of equipment of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, Equipment, equipment_id, N_("Equipment %(id)s not found."))


def create_equipment(
    session: Session,
    ctx: Context,
    *,
    line_id: int,
    name: str,
    equipment_type_id: int | None = None,
    manufacturer: str | None = None,
    model: str | None = None,
    serial_number: str = "",
    description: str = "",
    tags: Sequence[TagSpec] | None = None,
) -> Equipment:
    """Create equipment on a line; from a type, it gets copies of the type's tag templates.

    ``tags``, if given, are created instead of the type's templates (imports bring their own).
    Manufacturer and model default to the type's.
    """
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    line = _reference(session, Line, line_id, "line_id", N_("Line %(id)s does not exist."))
    etype = None
    if equipment_type_id is not None:
        etype = _reference(
            session, EquipmentType, equipment_type_id, "equipment_type_id", N_("Equipment type %(id)s does not exist.")
        )
    _unique(session, Equipment, name, Equipment.line_id == line.id, None)
    equipment = Equipment(
        tenant_id=tenant_id,
        line_id=line.id,
        equipment_type_id=equipment_type_id,
        name=name,
        manufacturer=manufacturer if manufacturer is not None else (etype.manufacturer if etype else ""),
        model=model if model is not None else (etype.model if etype else ""),
        serial_number=serial_number,
        description=description,
    )
    if tags is None and etype is not None:
        tags = [TagSpec(t.name, t.unit, t.data_type, t.description) for t in etype.tags]
    seen: set[str] = set()
    for spec in tags or ():
        if spec.name in seen:
            raise Conflict(N_("The name %(name)s is already taken here."), field="tags", name=spec.name)
        seen.add(spec.name)
        equipment.tags.append(
            Tag(
                tenant_id=tenant_id,
                name=spec.name,
                unit=spec.unit,
                data_type=spec.data_type,
                description=spec.description,
            )
        )
    session.add(equipment)
    _flush(session, name)
    audit.record(
        session,
        ctx,
        "assets.equipment.create",
        object_type="equipment",
        object_id=equipment.id,
        detail={"name": name, "line_id": line_id, "equipment_type_id": equipment_type_id, "tags": len(seen)},
    )
    return equipment


def update_equipment(session: Session, ctx: Context, equipment_id: int, **fields: Any) -> Equipment:
    """Change equipment, or move it to another line."""
    ctx.require(EDIT)
    equipment = _lookup(session, Equipment, equipment_id, N_("Equipment %(id)s not found."))
    fields = _clean(fields)
    line_id = fields.get("line_id", equipment.line_id)
    if "line_id" in fields:
        _reference(session, Line, line_id, "line_id", N_("Line %(id)s does not exist."))
    _unique(session, Equipment, fields.get("name", equipment.name), Equipment.line_id == line_id, equipment.id)
    _apply(equipment, fields)
    _flush(session, fields.get("name"))
    audit.record(
        session, ctx, "assets.equipment.update", object_type="equipment", object_id=equipment.id, detail=fields
    )
    return equipment


def delete_equipment(session: Session, ctx: Context, equipment_id: int) -> None:
    """Delete equipment and its tags."""
    ctx.require(EDIT)
    equipment = _lookup(session, Equipment, equipment_id, N_("Equipment %(id)s not found."))
    session.delete(equipment)
    session.flush()
    audit.record(
        session,
        ctx,
        "assets.equipment.delete",
        object_type="equipment",
        object_id=equipment_id,
        detail={"name": equipment.name},
    )


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------


def list_tags(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Tag], int]:
    """Return one page of the enterprise's tags and tag templates, and their total."""
    return _page(
        session, ctx, select(Tag).order_by(Tag.name, Tag.id), TAG_FILTERS, filters=filters, offset=offset, limit=limit
    )


def get_tag(session: Session, ctx: Context, tag_id: int) -> Tag:
    """Return one tag of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, Tag, tag_id, N_("Tag %(id)s not found."))


def create_tag(
    session: Session,
    ctx: Context,
    *,
    name: str,
    equipment_id: int | None = None,
    equipment_type_id: int | None = None,
    unit: str = "",
    data_type: str = "float",
    description: str = "",
) -> Tag:
    """Create a tag of a machine, or a tag template of an equipment type (exactly one of the two)."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    if (equipment_id is None) == (equipment_type_id is None):
        raise InvalidInput(
            N_("Give exactly one of equipment_id and equipment_type_id."),
            field="equipment_id",
            errors=[FieldError(N_("Give exactly one of equipment_id and equipment_type_id."), field="equipment_id")],
        )
    if equipment_id is not None:
        owner: Equipment | EquipmentType = _reference(
            session, Equipment, equipment_id, "equipment_id", N_("Equipment %(id)s does not exist.")
        )
        _unique(session, Tag, name, Tag.equipment_id == owner.id, None)
    else:
        assert equipment_type_id is not None  # noqa: S101 - narrowed by the check above
        owner = _reference(
            session, EquipmentType, equipment_type_id, "equipment_type_id", N_("Equipment type %(id)s does not exist.")
        )
        _unique(session, Tag, name, Tag.equipment_type_id == owner.id, None)
    tag = Tag(
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        equipment_type_id=equipment_type_id,
        name=name,
        unit=unit,
        data_type=data_type,
        description=description,
    )
    session.add(tag)
    _flush(session, name)
    audit.record(
        session,
        ctx,
        "assets.tag.create",
        object_type="tag",
        object_id=tag.id,
        detail={"name": name, "equipment_id": equipment_id, "equipment_type_id": equipment_type_id},
    )
    return tag


def update_tag(session: Session, ctx: Context, tag_id: int, **fields: Any) -> Tag:
    """Change a tag's name, unit, data type or description."""
    ctx.require(EDIT)
    tag = _lookup(session, Tag, tag_id, N_("Tag %(id)s not found."))
    fields = _clean(fields)
    if "name" in fields:
        where = (
            Tag.equipment_id == tag.equipment_id
            if tag.equipment_id is not None
            else Tag.equipment_type_id == tag.equipment_type_id
        )
        _unique(session, Tag, fields["name"], where, tag.id)
    _apply(tag, fields)
    _flush(session, fields.get("name"))
    audit.record(session, ctx, "assets.tag.update", object_type="tag", object_id=tag.id, detail=fields)
    return tag


def delete_tag(session: Session, ctx: Context, tag_id: int) -> None:
    """Delete a tag or tag template."""
    ctx.require(EDIT)
    tag = _lookup(session, Tag, tag_id, N_("Tag %(id)s not found."))
    session.delete(tag)
    session.flush()
    audit.record(session, ctx, "assets.tag.delete", object_type="tag", object_id=tag_id, detail={"name": tag.name})


# ---------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------


def get_tree(session: Session, ctx: Context) -> list[Site]:
    """Return the sites with their areas, lines and equipment loaded (four queries in all)."""
    ctx.require(VIEW)
    stmt = (
        select(Site)
        .options(selectinload(Site.areas).selectinload(Area.lines).selectinload(Line.equipment))
        .order_by(Site.name)
    )
    return list(session.scalars(stmt))


def get_equipment_with_tags(session: Session, ctx: Context, equipment_id: int) -> Equipment:
    """Return one piece of equipment with its tags and type loaded, or raise NotFound."""
    ctx.require(VIEW)
    stmt = (
        select(Equipment)
        .where(Equipment.id == equipment_id)
        .options(selectinload(Equipment.tags), selectinload(Equipment.equipment_type))
    )
    equipment = session.scalar(stmt)
    if equipment is None:
        raise NotFound(N_("Equipment %(id)s not found."), id=equipment_id)
    return equipment
