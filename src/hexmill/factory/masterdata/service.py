"""Factory master data logic: scoped lookups and audited writes over units, items and the rest.

The rest being parties, bills of materials, routings and work centres.

Every read needs ``factory.view`` and every write ``factory.edit``; lookups answer NotFound for
objects that are missing and for those of another enterprise alike (the tenant guard scopes every
query). Codes are unique within the enterprise.

Default units: a tenant gets the units of ``DEFAULT_UOMS`` (and the conversions between them) the
first time it lists its units or opens an item form, if it has no unit at all; see
``ensure_default_uoms``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hexmill.core import audit
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.filters import FilterSet
from hexmill.core.i18n import N_
from hexmill.core.pagination import count_of
from hexmill.factory.masterdata.filters import (
    CONVERSION_FILTERS,
    ITEM_FILTERS,
    UOM_FILTERS,
)
from hexmill.factory.masterdata.models import (
    Bom,
    BomLine,
    Item,
    ItemOptionGroup,
    ItemOptionValue,
    Operation,
    Party,
    Uom,
    UomConversion,
    WorkCentre,
)

VIEW = "factory.view"
EDIT = "factory.edit"

M = TypeVar("M", Uom, UomConversion, Item, ItemOptionGroup, ItemOptionValue, Party, Bom, BomLine, WorkCentre, Operation)

# (code, name, category) of the units every enterprise starts with, and the factors between them.
DEFAULT_UOMS: Final = (
    ("pcs", N_("Piece"), "count"),
    ("kg", N_("Kilogram"), "mass"),
    ("g", N_("Gram"), "mass"),
    ("t", N_("Tonne"), "mass"),
    ("m", N_("Metre"), "length"),
    ("cm", N_("Centimetre"), "length"),
    ("mm", N_("Millimetre"), "length"),
    ("m2", N_("Square metre"), "area"),
    ("l", N_("Litre"), "volume"),
    ("ml", N_("Millilitre"), "volume"),
    ("m3", N_("Cubic metre"), "volume"),
    ("h", N_("Hour"), "time"),
    ("min", N_("Minute"), "time"),
    ("s", N_("Second"), "time"),
)
DEFAULT_CONVERSIONS: Final = (
    ("kg", "g", Decimal(1000)),
    ("t", "kg", Decimal(1000)),
    ("m", "cm", Decimal(100)),
    ("m", "mm", Decimal(1000)),
    ("cm", "mm", Decimal(10)),
    ("l", "ml", Decimal(1000)),
    ("m3", "l", Decimal(1000)),
    ("h", "min", Decimal(60)),
    ("min", "s", Decimal(60)),
)


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
    """Return the object an input names, or InvalidInput on that field (also for another tenant's)."""
    obj = session.scalar(select(model).where(model.id == obj_id))
    if obj is None:
        raise _invalid(message, field, id=obj_id)
    return obj


def _invalid(message: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(message, field=field, params=params)], **params)


def _unique_code(session: Session, model: Any, code: str, exclude: int | None) -> None:
    """Raise Conflict on ``code`` if another object of the enterprise already holds it."""
    stmt = select(model.id).where(model.code == code)
    if exclude is not None:
        stmt = stmt.where(model.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(N_("The code %(code)s is already taken."), field="code", code=code)


def _flush(session: Session, field: str, value: object) -> None:
    """Flush; a unique violation that slipped past the check (a concurrent write) is a Conflict too."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("The value %(value)s of %(field)s is already taken."), field=field, value=value) from exc


def _refuse_if_used(session: Session, condition: Any, message: str, field: str, name: str) -> None:
    if session.scalar(select(exists().where(condition))):
        raise Conflict(message, field=field, name=name)


def _apply(obj: object, fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        setattr(obj, key, value)


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values: a partial update leaves fields it does not name (or names as null) alone."""
    return {k: v for k, v in fields.items() if v is not None}


def _audit(
    session: Session, ctx: Context, action: str, obj_type: str, *, obj_id: int | None, detail: Mapping[str, Any]
) -> None:
    audit.record(
        session,
        ctx,
        f"factory.{obj_type}.{action}",
        object_type=obj_type,
        object_id=obj_id,
        detail={k: str(v) if isinstance(v, Decimal | date | time) else v for k, v in detail.items()},
    )


# ---------------------------------------------------------------------------------------------
# Units of measure and conversions
# ---------------------------------------------------------------------------------------------


def ensure_default_uoms(session: Session, ctx: Context) -> bool:
    """Give the enterprise the default units and conversions if it has no unit yet; True if it did."""
    tenant_id = ctx.require_tenant()
    if session.scalar(select(exists().where(Uom.tenant_id == tenant_id))):
        return False
    by_code: dict[str, Uom] = {}
    for code, name, category in DEFAULT_UOMS:
        by_code[code] = Uom(tenant_id=tenant_id, code=code, name=name, category=category)
        session.add(by_code[code])
    session.flush()
    for src, dst, factor in DEFAULT_CONVERSIONS:
        session.add(
            UomConversion(tenant_id=tenant_id, from_uom_id=by_code[src].id, to_uom_id=by_code[dst].id, factor=factor)
        )
    session.flush()
    audit.record(session, ctx, "factory.uom.seed", object_type="uom", detail={"units": len(DEFAULT_UOMS)})
    return True


def list_uoms(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Uom], int]:
    """Return one page of the enterprise's units (seeding the defaults on first use), and their total."""
    ctx.require(VIEW)
    if ctx.tenant_id is not None:
        ensure_default_uoms(session, ctx)
    stmt = select(Uom).order_by(Uom.category, Uom.code, Uom.id)
    return _page(session, ctx, stmt, UOM_FILTERS, filters=filters, offset=offset, limit=limit)


def get_uom(session: Session, ctx: Context, uom_id: int) -> Uom:
    """Return one unit of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, Uom, uom_id, N_("Unit %(id)s not found."))


def create_uom(session: Session, ctx: Context, *, code: str, name: str, category: str) -> Uom:
    """Create a unit of measure."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_code(session, Uom, code, None)
    uom = Uom(tenant_id=tenant_id, code=code, name=name, category=category)
    session.add(uom)
    _flush(session, "code", code)
    _audit(session, ctx, "create", "uom", obj_id=uom.id, detail={"code": code, "category": category})
    return uom


def update_uom(session: Session, ctx: Context, uom_id: int, **fields: Any) -> Uom:
    """Change a unit's code, name or category."""
    ctx.require(EDIT)
    uom = _lookup(session, Uom, uom_id, N_("Unit %(id)s not found."))
    fields = _clean(fields)
    if "code" in fields:
        _unique_code(session, Uom, fields["code"], uom.id)
    _apply(uom, fields)
    _flush(session, "code", fields.get("code"))
    _audit(session, ctx, "update", "uom", obj_id=uom.id, detail=fields)
    return uom


def delete_uom(session: Session, ctx: Context, uom_id: int) -> None:
    """Delete a unit that no item or BOM line uses."""
    ctx.require(EDIT)
    uom = _lookup(session, Uom, uom_id, N_("Unit %(id)s not found."))
    _refuse_if_used(
        session,
        or_(
            select(Item.id).where(Item.uom_id == uom.id).exists(),
            select(BomLine.id).where(BomLine.uom_id == uom.id).exists(),
        ),
        N_("Unit %(name)s is still used by items or BOM lines."),
        "uom_id",
        uom.code,
    )
    session.delete(uom)
    session.flush()
    _audit(session, ctx, "delete", "uom", obj_id=uom_id, detail={"code": uom.code})


def list_conversions(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[UomConversion], int]:
    """Return one page of the enterprise's unit conversions, and their total."""
    stmt = (
        select(UomConversion)
        .options(selectinload(UomConversion.from_uom), selectinload(UomConversion.to_uom))
        .order_by(UomConversion.item_id.is_not(None), UomConversion.item_id, UomConversion.id)
    )
    return _page(session, ctx, stmt, CONVERSION_FILTERS, filters=filters, offset=offset, limit=limit)


def get_conversion(session: Session, ctx: Context, conversion_id: int) -> UomConversion:
    """Return one conversion of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return _lookup(session, UomConversion, conversion_id, N_("Conversion %(id)s not found."))


def create_conversion(
    session: Session,
    ctx: Context,
    *,
    from_uom_id: int,
    to_uom_id: int,
    factor: Decimal,
    item_id: int | None = None,
) -> UomConversion:
    """Define that one ``from`` unit is ``factor`` ``to`` units, for every item or only for one."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    src = _reference(session, Uom, from_uom_id, "from_uom_id", N_("Unit %(id)s does not exist."))
    dst = _reference(session, Uom, to_uom_id, "to_uom_id", N_("Unit %(id)s does not exist."))
    if src.id == dst.id:
        raise _invalid(N_("A unit converts to itself; choose two different units."), "to_uom_id")
    if factor <= 0:
        raise _invalid(N_("The factor must be greater than zero."), "factor")
    if item_id is not None:
        _reference(session, Item, item_id, "item_id", N_("Item %(id)s does not exist."))
    elif src.category != dst.category:
        raise _invalid(
            N_("%(from_unit)s and %(to_unit)s measure different things; convert them for one item only."),
            "item_id",
            from_unit=src.code,
            to_unit=dst.code,
        )
    pair = or_(
        (UomConversion.from_uom_id == src.id) & (UomConversion.to_uom_id == dst.id),
        (UomConversion.from_uom_id == dst.id) & (UomConversion.to_uom_id == src.id),
    )
    same_scope = UomConversion.item_id == item_id if item_id is not None else UomConversion.item_id.is_(None)
    if session.scalar(select(exists().where(pair, same_scope))):
        raise Conflict(
            N_("A conversion between %(from_unit)s and %(to_unit)s is already defined."),
            field="to_uom_id",
            from_unit=src.code,
            to_unit=dst.code,
        )
    conv = UomConversion(tenant_id=tenant_id, item_id=item_id, from_uom_id=src.id, to_uom_id=dst.id, factor=factor)
    session.add(conv)
    _flush(session, "to_uom_id", dst.code)
    _audit(
        session,
        ctx,
        "create",
        "conversion",
        obj_id=conv.id,
        detail={"from": src.code, "to": dst.code, "factor": factor, "item_id": item_id},
    )
    return conv


def update_conversion(session: Session, ctx: Context, conversion_id: int, *, factor: Decimal) -> UomConversion:
    """Change a conversion's factor."""
    ctx.require(EDIT)
    conv = _lookup(session, UomConversion, conversion_id, N_("Conversion %(id)s not found."))
    if factor <= 0:
        raise _invalid(N_("The factor must be greater than zero."), "factor")
    conv.factor = factor
    session.flush()
    _audit(session, ctx, "update", "conversion", obj_id=conv.id, detail={"factor": factor})
    return conv


def delete_conversion(session: Session, ctx: Context, conversion_id: int) -> None:
    """Delete a conversion."""
    ctx.require(EDIT)
    conv = _lookup(session, UomConversion, conversion_id, N_("Conversion %(id)s not found."))
    session.delete(conv)
    session.flush()
    _audit(session, ctx, "delete", "conversion", obj_id=conversion_id, detail={})


def _conversion_factor(session: Session, item_id: int | None, src: int, dst: int) -> Decimal | None:
    """Return how many ``dst`` units one ``src`` unit is, for the item, or None if no chain of factors says.

    Item-specific conversions win over general ones between the same pair of units; chains
    (box → pcs → dozen) are followed breadth-first, so the shortest chain decides.
    """
    if src == dst:
        return Decimal(1)
    scope: ColumnElement[bool] = UomConversion.item_id.is_(None)
    if item_id is not None:
        scope = or_(scope, UomConversion.item_id == item_id)
    edges: dict[int, dict[int, Decimal]] = {}
    rows = session.execute(
        select(UomConversion.from_uom_id, UomConversion.to_uom_id, UomConversion.factor, UomConversion.item_id)
        .where(scope)
        .order_by(UomConversion.item_id.is_not(None))
    )
    # General rows come first, item rows overwrite them.
    for a, b, factor, _item in rows:
        edges.setdefault(a, {})[b] = Decimal(factor)
        edges.setdefault(b, {})[a] = Decimal(1) / Decimal(factor)
    seen = {src: Decimal(1)}
    queue = deque([src])
    while queue:
        node = queue.popleft()
        for nxt, factor in edges.get(node, {}).items():
            if nxt not in seen:
                seen[nxt] = seen[node] * factor
                if nxt == dst:
                    return seen[nxt]
                queue.append(nxt)
    return None


def convert_quantity(
    session: Session, ctx: Context, *, item_id: int, quantity: Decimal, from_uom_id: int, to_uom_id: int
) -> Decimal:
    """Convert a quantity of an item between two units.

    Args:
        session: The tenant-scoped session.
        ctx: The acting context (needs ``factory.view``).
        item_id: The item whose item-specific conversions (1 box = 12 pcs) apply.
        quantity: The quantity in ``from_uom_id``.
        from_uom_id: The unit the quantity is in.
        to_uom_id: The unit wanted.

    Returns:
        The quantity in ``to_uom_id``, exact where the factors are (no float step).

    Raises:
        NotFound: The item does not exist in the tenant.
        InvalidInput: A unit does not exist, or no factor connects the two units (the message names both).
    """
    item = get_item(session, ctx, item_id)
    src = _reference(session, Uom, from_uom_id, "from_uom_id", N_("Unit %(id)s does not exist."))
    dst = _reference(session, Uom, to_uom_id, "to_uom_id", N_("Unit %(id)s does not exist."))
    factor = _conversion_factor(session, item.id, src.id, dst.id)
    if factor is None:
        raise _invalid(
            N_("No conversion from %(from_unit)s to %(to_unit)s is defined for item %(item)s."),
            "uom_id",
            from_unit=src.code,
            to_unit=dst.code,
            item=item.code,
        )
    return Decimal(quantity) * factor


# ---------------------------------------------------------------------------------------------
# Items and their options
# ---------------------------------------------------------------------------------------------


def list_items(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Item], int]:
    """Return one page of the enterprise's items, and their total."""
    stmt = select(Item).options(selectinload(Item.uom)).order_by(Item.code, Item.id)
    return _page(session, ctx, stmt, ITEM_FILTERS, filters=filters, offset=offset, limit=limit)


def get_item(session: Session, ctx: Context, item_id: int) -> Item:
    """Return one item of the enterprise.

    Args:
        session: The tenant-scoped session.
        ctx: The acting context (needs ``factory.view``).
        item_id: The item's id.

    Returns:
        The item, with its base unit loaded.

    Raises:
        NotFound: The item is missing or belongs to another enterprise (the same answer for both).
    """
    ctx.require(VIEW)
    item = session.scalar(select(Item).options(selectinload(Item.uom)).where(Item.id == item_id))
    if item is None:
        raise NotFound(N_("Item %(id)s not found."), id=item_id)
    return item


def get_item_by_code(session: Session, ctx: Context, code: str) -> Item:
    """Return the enterprise's item with ``code``, or raise NotFound."""
    ctx.require(VIEW)
    item = session.scalar(select(Item).where(Item.code == code))
    if item is None:
        raise NotFound(N_("Item %(code)s not found."), code=code)
    return item


def create_item(
    session: Session,
    ctx: Context,
    *,
    code: str,
    name: str,
    kind: str,
    uom_id: int,
    tracking: str = "none",
    allow_negative: bool = False,
    configurable: bool = False,
    active: bool = True,
    description: str = "",
) -> Item:
    """Create an item with its base unit."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_code(session, Item, code, None)
    _reference(session, Uom, uom_id, "uom_id", N_("Unit %(id)s does not exist."))
    item = Item(
        tenant_id=tenant_id,
        code=code,
        name=name,
        kind=kind,
        uom_id=uom_id,
        tracking=tracking,
        allow_negative=allow_negative,
        configurable=configurable,
        active=active,
        description=description,
    )
    session.add(item)
    _flush(session, "code", code)
    _audit(session, ctx, "create", "item", obj_id=item.id, detail={"code": code, "kind": kind})
    return item


def update_item(session: Session, ctx: Context, item_id: int, **fields: Any) -> Item:
    """Change an item; its base unit only while no BOM line or conversion depends on it."""
    ctx.require(EDIT)
    item = get_item(session, ctx, item_id)
    fields = _clean(fields)
    if "code" in fields:
        _unique_code(session, Item, fields["code"], item.id)
    if "uom_id" in fields and fields["uom_id"] != item.uom_id:
        _reference(session, Uom, fields["uom_id"], "uom_id", N_("Unit %(id)s does not exist."))
        _refuse_if_used(
            session,
            select(BomLine.id).where(BomLine.component_id == item.id).exists(),
            N_("Item %(name)s is a component of a BOM; its base unit cannot change."),
            "uom_id",
            item.code,
        )
    if fields.get("configurable") is False and item.option_groups:
        raise _invalid(N_("Remove the item's option groups before making it not configurable."), "configurable")
    _apply(item, fields)
    _flush(session, "code", fields.get("code"))
    _audit(session, ctx, "update", "item", obj_id=item.id, detail=fields)
    return item


def delete_item(session: Session, ctx: Context, item_id: int) -> None:
    """Delete an item that no BOM uses as a component."""
    ctx.require(EDIT)
    item = get_item(session, ctx, item_id)
    _refuse_if_used(
        session,
        select(BomLine.id).where(BomLine.component_id == item.id).exists(),
        N_("Item %(name)s is a component of a BOM; remove it there first."),
        "item_id",
        item.code,
    )
    session.delete(item)
    _flush(session, "item_id", item.code)
    _audit(session, ctx, "delete", "item", obj_id=item_id, detail={"code": item.code})


@dataclass(frozen=True, slots=True)
class OptionGroupSpec:
    """An option group to set on a configurable item, with its values as (code, name) pairs."""

    code: str
    name: str
    values: Sequence[tuple[str, str]]


def set_item_options(session: Session, ctx: Context, item_id: int, groups: Sequence[OptionGroupSpec]) -> Item:
    """Replace a configurable item's option groups and values; values used by BOM lines must stay."""
    ctx.require(EDIT)
    item = get_item(session, ctx, item_id)
    if groups and not item.configurable:
        raise _invalid(N_("Only a configurable item has options."), "groups")
    wanted = {(g.code, v[0]) for g in groups for v in g.values}
    existing = {g.code: g for g in item.option_groups}
    for group in item.option_groups:
        for value in group.values:
            used = session.scalar(select(exists().where(BomLine.option_value_id == value.id)))
            if used and (group.code, value.code) not in wanted:
                raise Conflict(
                    N_("Option %(name)s is a condition of a BOM line; it cannot be removed."),
                    field="groups",
                    name=f"{group.code}={value.code}",
                )
    codes = [g.code for g in groups]
    if len(set(codes)) != len(codes):
        raise _invalid(N_("Option group codes must be unique."), "groups")
    for code, group in existing.items():
        if code not in codes:
            item.option_groups.remove(group)
    for spec in groups:
        found = existing.get(spec.code)
        if found is None:
            found = ItemOptionGroup(tenant_id=item.tenant_id, code=spec.code, name=spec.name)
            item.option_groups.append(found)
        _set_group_values(found, spec)
    session.flush()
    _audit(session, ctx, "options", "item", obj_id=item.id, detail={"groups": codes})
    return item


def _set_group_values(group: ItemOptionGroup, spec: OptionGroupSpec) -> None:
    group.name = spec.name
    value_codes = [v[0] for v in spec.values]
    if len(set(value_codes)) != len(value_codes):
        raise _invalid(N_("Option value codes must be unique within their group."), "groups")
    current = {v.code: v for v in group.values}
    for code, value in current.items():
        if code not in value_codes:
            group.values.remove(value)
    for code, name in spec.values:
        if code in current:
            current[code].name = name
        else:
            group.values.append(ItemOptionValue(tenant_id=group.tenant_id, code=code, name=name))


def item_options(session: Session, ctx: Context, item_id: int) -> list[ItemOptionGroup]:
    """Return an item's option groups with their values."""
    get_item(session, ctx, item_id)
    return list(
        session.scalars(
            select(ItemOptionGroup)
            .options(selectinload(ItemOptionGroup.values))
            .where(ItemOptionGroup.item_id == item_id)
            .order_by(ItemOptionGroup.code)
        )
    )
