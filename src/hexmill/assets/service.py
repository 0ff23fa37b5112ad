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
from hexmill.assets.io import Record
from hexmill.assets.models import Area, Equipment, EquipmentType, Line, Site, Tag
from hexmill.core import audit
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.filters import FilterSet
from hexmill.core.i18n import N_
from hexmill.core.lookup import lookup, page_of, reference

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
    return page_of(session, stmt, flt, filters=filters, offset=offset, limit=limit)


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
    return lookup(session, Site, site_id, N_("Site %(id)s not found."))


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
    site = lookup(session, Site, site_id, N_("Site %(id)s not found."))
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
    site = lookup(session, Site, site_id, N_("Site %(id)s not found."))
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
    return lookup(session, Area, area_id, N_("Area %(id)s not found."))


def create_area(session: Session, ctx: Context, *, site_id: int, name: str, description: str = "") -> Area:
    """Create an area in a site."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    site = reference(session, Site, site_id, "site_id", N_("Site %(id)s does not exist."))
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
    area = lookup(session, Area, area_id, N_("Area %(id)s not found."))
    fields = _clean(fields)
    site_id = fields.get("site_id", area.site_id)
    if "site_id" in fields:
        reference(session, Site, site_id, "site_id", N_("Site %(id)s does not exist."))
    _unique(session, Area, fields.get("name", area.name), Area.site_id == site_id, area.id)
    _apply(area, fields)
    _flush(session, fields.get("name"))
    audit.record(session, ctx, "assets.area.update", object_type="area", object_id=area.id, detail=fields)
    return area


def delete_area(session: Session, ctx: Context, area_id: int) -> None:
    """Delete an area that has no lines or work centres left."""
    ctx.require(EDIT)
    area = lookup(session, Area, area_id, N_("Area %(id)s not found."))
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
    return lookup(session, Line, line_id, N_("Line %(id)s not found."))


def create_line(
    session: Session, ctx: Context, *, area_id: int, name: str, kind: str = "line", description: str = ""
) -> Line:
    """Create a production line or a work centre (``kind``) in an area."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    area = reference(session, Area, area_id, "area_id", N_("Area %(id)s does not exist."))
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
    line = lookup(session, Line, line_id, N_("Line %(id)s not found."))
    fields = _clean(fields)
    area_id = fields.get("area_id", line.area_id)
    if "area_id" in fields:
        reference(session, Area, area_id, "area_id", N_("Area %(id)s does not exist."))
    _unique(session, Line, fields.get("name", line.name), Line.area_id == area_id, line.id)
    _apply(line, fields)
    _flush(session, fields.get("name"))
    audit.record(session, ctx, "assets.line.update", object_type="line", object_id=line.id, detail=fields)
    return line


def delete_line(session: Session, ctx: Context, line_id: int) -> None:
    """Delete a line or work centre that has no equipment left."""
    ctx.require(EDIT)
    line = lookup(session, Line, line_id, N_("Line %(id)s not found."))
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
    return lookup(session, EquipmentType, equipment_type_id, N_("Equipment type %(id)s not found."))


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
    etype = lookup(session, EquipmentType, equipment_type_id, N_("Equipment type %(id)s not found."))
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
    etype = lookup(session, EquipmentType, equipment_type_id, N_("Equipment type %(id)s not found."))
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
    return lookup(session, Equipment, equipment_id, N_("Equipment %(id)s not found."))


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
    line = reference(session, Line, line_id, "line_id", N_("Line %(id)s does not exist."))
    etype = None
    if equipment_type_id is not None:
        etype = reference(
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
    equipment = lookup(session, Equipment, equipment_id, N_("Equipment %(id)s not found."))
    fields = _clean(fields)
    line_id = fields.get("line_id", equipment.line_id)
    if "line_id" in fields:
        reference(session, Line, line_id, "line_id", N_("Line %(id)s does not exist."))
    _unique(session, Equipment, fields.get("name", equipment.name), Equipment.line_id == line_id, equipment.id)
    _apply(equipment, fields)
    _flush(session, fields.get("name"))
    audit.record(
        session, ctx, "assets.equipment.update", object_type="equipment", object_id=equipment.id, detail=fields
    )
    return equipment


def delete_equipment(session: Session, ctx: Context, equipment_id: int) -> None:
    """Delete equipment and its tags; refused while records of other domains still refer to it.

    Other domains keep their own history of a machine (maintenance orders, say) with foreign keys
    that restrict its deletion; assets does not know them, so the database's refusal is the check.
    """
    ctx.require(EDIT)
    equipment = lookup(session, Equipment, equipment_id, N_("Equipment %(id)s not found."))
    try:
        with session.begin_nested():
            session.delete(equipment)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            N_("Equipment %(name)s cannot be deleted: records such as maintenance orders still refer to it."),
            name=equipment.name,
        ) from exc
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
    return lookup(session, Tag, tag_id, N_("Tag %(id)s not found."))


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
        owner: Equipment | EquipmentType = reference(
            session, Equipment, equipment_id, "equipment_id", N_("Equipment %(id)s does not exist.")
        )
        _unique(session, Tag, name, Tag.equipment_id == owner.id, None)
    else:
        assert equipment_type_id is not None  # noqa: S101 - narrowed by the check above
        owner = reference(
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


def ensure_tag(
    session: Session, ctx: Context, *, equipment_id: int, name: str, data_type: str = "float", unit: str = ""
) -> Tag:
    """Return the equipment's tag called ``name``, creating it first if there is none (device births)."""
    tag = session.scalar(select(Tag).where(Tag.equipment_id == equipment_id, Tag.name == name))
    if tag is not None:
        return tag
    return create_tag(session, ctx, name=name, equipment_id=equipment_id, data_type=data_type, unit=unit)


def update_tag(session: Session, ctx: Context, tag_id: int, **fields: Any) -> Tag:
    """Change a tag's name, unit, data type or description."""
    ctx.require(EDIT)
    tag = lookup(session, Tag, tag_id, N_("Tag %(id)s not found."))
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
    tag = lookup(session, Tag, tag_id, N_("Tag %(id)s not found."))
    session.delete(tag)
    session.flush()
    audit.record(session, ctx, "assets.tag.delete", object_type="tag", object_id=tag_id, detail={"name": tag.name})


# ---------------------------------------------------------------------------------------------
# The tree
# ---------------------------------------------------------------------------------------------


def get_tree(session: Session, ctx: Context, *, include_tags: bool = False) -> list[Site]:
    """Return the sites with their areas, lines and equipment loaded (four queries; five with tags)."""
    ctx.require(VIEW)
    equipment = selectinload(Site.areas).selectinload(Area.lines).selectinload(Line.equipment)
    if include_tags:
        equipment = equipment.selectinload(Equipment.tags)
    stmt = select(Site).options(equipment).order_by(Site.name)
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


# ---------------------------------------------------------------------------------------------
# Import and export of the whole hierarchy
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """How many objects an import created, and how many existing ones it changed."""

    created: int
    updated: int


def export_records(session: Session, ctx: Context) -> list[Record]:
    """Return the enterprise's whole hierarchy as records: types first, then site by site, depth first."""
    ctx.require(VIEW)
    types = list(
        session.scalars(select(EquipmentType).options(selectinload(EquipmentType.tags)).order_by(EquipmentType.name))
    )
    sites = session.scalars(
        select(Site)
        .options(
            selectinload(Site.areas).selectinload(Area.lines).selectinload(Line.equipment).selectinload(Equipment.tags)
        )
        .order_by(Site.name)
    )
    type_names = {t.id: t.name for t in types}
    out: list[Record] = []

    def tag_fields(tag: Tag) -> dict[str, str]:
        return {"unit": tag.unit, "data_type": tag.data_type, "description": tag.description}

    for etype in types:
        fields = {"manufacturer": etype.manufacturer, "model": etype.model, "description": etype.description}
        out.append(Record("equipment_type", (etype.name,), fields))
        out.extend(Record("type_tag", (etype.name, t.name), tag_fields(t)) for t in etype.tags)
    for site in sites:
        out.append(Record("site", (site.name,), {"description": site.description}))
        for area in site.areas:
            out.append(Record("area", (site.name, area.name), {"description": area.description}))
            for line in area.lines:
                path = (site.name, area.name, line.name)
                out.append(Record("line", path, {"line_kind": line.kind, "description": line.description}))
                for eq in line.equipment:
                    fields = {
                        "equipment_type": type_names.get(eq.equipment_type_id, "") if eq.equipment_type_id else "",
                        "manufacturer": eq.manufacturer,
                        "model": eq.model,
                        "serial_number": eq.serial_number,
                        "description": eq.description,
                    }
                    out.append(Record("equipment", (*path, eq.name), fields))
                    out.extend(Record("tag", (*path, eq.name, t.name), tag_fields(t)) for t in eq.tags)
    return out


class _Existing:
    """The enterprise's assets keyed by their paths of names, loaded in one query per table."""

    def __init__(self, session: Session) -> None:
        self.objects: dict[tuple[str, tuple[str, ...]], Any] = {}
        sites = {s.id: s for s in session.scalars(select(Site))}
        areas = {a.id: a for a in session.scalars(select(Area))}
        lines = {li.id: li for li in session.scalars(select(Line))}
        types = {t.id: t for t in session.scalars(select(EquipmentType))}
        equipment = {e.id: e for e in session.scalars(select(Equipment))}
        paths: dict[tuple[str, int], tuple[str, ...]] = {}
        for kind, table, parent_kind, parent_attr in (
            ("site", sites, None, None),
            ("area", areas, "site", "site_id"),
            ("line", lines, "area", "area_id"),
            ("equipment", equipment, "line", "line_id"),
            ("equipment_type", types, None, None),
        ):
            for obj in table.values():
                prefix = paths[parent_kind, getattr(obj, parent_attr)] if parent_kind and parent_attr else ()
                path = (*prefix, obj.name)
                paths[kind, obj.id] = path
                self.objects[kind, path] = obj
        for tag in session.scalars(select(Tag)):
            if tag.equipment_id is not None:
                self.objects["tag", (*paths["equipment", tag.equipment_id], tag.name)] = tag
            elif tag.equipment_type_id is not None:
                self.objects["type_tag", (*paths["equipment_type", tag.equipment_type_id], tag.name)] = tag


_PARENT: dict[str, tuple[str, str, str]] = {
    # kind: (parent kind, column naming the parent, msgid when it is nowhere)
    "area": ("site", "site", N_("No site %(name)s in the file or the enterprise.")),
    "line": ("area", "area", N_("No area %(name)s in the file or the enterprise.")),
    "equipment": ("line", "line", N_("No line %(name)s in the file or the enterprise.")),
    "tag": ("equipment", "equipment", N_("No equipment %(name)s in the file or the enterprise.")),
    "type_tag": ("equipment_type", "equipment_type", N_("No equipment type %(name)s in the file or the enterprise.")),
}
_MODEL_FIELDS: dict[str, dict[str, str]] = {
    # record field -> model attribute, per kind (the equipment type reference is resolved apart)
    "site": {"description": "description"},
    "area": {"description": "description"},
    "line": {"line_kind": "kind", "description": "description"},
    "equipment": {
        "manufacturer": "manufacturer",
        "model": "model",
        "serial_number": "serial_number",
        "description": "description",
    },
    "equipment_type": {"manufacturer": "manufacturer", "model": "model", "description": "description"},
    "type_tag": {"unit": "unit", "data_type": "data_type", "description": "description"},
    "tag": {"unit": "unit", "data_type": "data_type", "description": "description"},
}
_MODELS: dict[str, type[Any]] = {
    "site": Site, "area": Area, "line": Line, "equipment": Equipment, "equipment_type": EquipmentType,
    "type_tag": Tag, "tag": Tag,
}  # fmt: skip
_PARENT_ATTR = {"area": "site", "line": "area", "equipment": "line", "tag": "equipment", "type_tag": "equipment_type"}


def import_records(
    session: Session, ctx: Context, records: Sequence[Record], *, errors: Sequence[FieldError] = ()
) -> ImportCounts:
    """Create or update the hierarchy the records describe: all of it, or nothing.

    Objects are matched by their path of names: one that exists is updated with the record's
    fields, one that does not is created; nothing is deleted. Every parent and equipment type
    a record names must be in the records or already in the enterprise; if any is missing,
    InvalidInput lists each such record (by row and column) and nothing is written. ``errors``
    are those the parser found (``io.read_csv``); they are reported together with these, so one
    answer lists everything wrong with the file. Equipment imported from a type does not get the
    type's tag templates: the file lists its tags.
    """
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    existing = _Existing(session)
    known = set(existing.objects) | {(r.kind, r.path) for r in records}
    problems: list[FieldError] = list(errors)
    for rec in records:
        if rec.kind in _PARENT:
            parent_kind, column, message = _PARENT[rec.kind]
            if (parent_kind, rec.path[:-1]) not in known:
                problems.append(rec.error(column, message, name=rec.path[-2]))
        type_name = rec.fields.get("equipment_type", "") if rec.kind == "equipment" else ""
        if type_name and ("equipment_type", (type_name,)) not in known:
            problems.append(
                rec.error(
                    "equipment_type", N_("No equipment type %(name)s in the file or the enterprise."), name=type_name
                )
            )
    if problems:
        problems.sort(key=lambda e: (e.row or 0, e.field or ""))
        raise InvalidInput(N_("The file has %(n)s errors; nothing was imported."), errors=problems, n=len(problems))

    objects = dict(existing.objects)
    created = updated = 0
    order = {
        kind: index
        for index, kind in enumerate(("equipment_type", "type_tag", "site", "area", "line", "equipment", "tag"))
    }
    for rec in sorted(records, key=lambda r: order[r.kind]):
        values: dict[str, Any] = {attr: rec.fields[key] for key, attr in _MODEL_FIELDS[rec.kind].items()}
        if rec.kind == "equipment":
            type_name = rec.fields.get("equipment_type", "")
            values["equipment_type"] = objects["equipment_type", (type_name,)] if type_name else None
        obj = objects.get((rec.kind, rec.path))
        if obj is None:
            obj = _MODELS[rec.kind](tenant_id=tenant_id, name=rec.name, **values)
            if rec.kind in _PARENT_ATTR:
                parent_kind = _PARENT[rec.kind][0]
                setattr(obj, _PARENT_ATTR[rec.kind], objects[parent_kind, rec.path[:-1]])
            session.add(obj)
            objects[rec.kind, rec.path] = obj
            created += 1
        elif any(getattr(obj, attr) != value for attr, value in values.items()):
            _apply(obj, values)
            updated += 1
    session.flush()
    audit.record(session, ctx, "assets.import", object_type="assets", detail={"created": created, "updated": updated})
    return ImportCounts(created=created, updated=updated)
