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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hexmill.assets import service as assets_service
from hexmill.core import audit, identity
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.filters import FilterSet
from hexmill.core.i18n import N_
from hexmill.core.lookup import lookup, page_of, reference
from hexmill.factory.masterdata import bom as bom_algo
from hexmill.factory.masterdata import calendar as cal
from hexmill.factory.masterdata.bom import find_cycle
from hexmill.factory.masterdata.filters import (
    BOM_FILTERS,
    CONVERSION_FILTERS,
    ITEM_FILTERS,
    OPERATION_FILTERS,
    PARTY_FILTERS,
    UOM_FILTERS,
    WORK_CENTRE_FILTERS,
)
from hexmill.factory.masterdata.models import (
    Bom,
    BomLine,
    Holiday,
    Item,
    ItemOptionGroup,
    ItemOptionValue,
    Operation,
    Party,
    Shift,
    Uom,
    UomConversion,
    WorkCentre,
)

VIEW = "factory.view"
EDIT = "factory.edit"


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
    return page_of(session, stmt, flt, filters=filters, offset=offset, limit=limit)


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
        raise Conflict(N_("%(value)s is already taken."), field=field, value=value) from exc


def _refuse_if_used(session: Session, condition: ColumnElement[bool], message: str, field: str, name: str) -> None:
    """Raise Conflict if ``condition`` (an EXISTS clause) holds."""
    if session.scalar(select(condition)):
        raise Conflict(message, field=field, name=name)


def _delete_unless_referenced(session: Session, obj: object, message: str, field: str, name: str) -> None:
    """Delete ``obj``, or raise Conflict(message) if other records still refer to it.

    Orders, stock moves and lots of other parts point at master data without master data knowing
    them: their foreign keys refuse the delete, and the user hears why rather than a crash. The
    savepoint leaves the transaction usable after a refusal.
    """
    try:
        with session.begin_nested():
            session.delete(obj)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(message, field=field, name=name) from exc


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
    return lookup(session, Uom, uom_id, N_("Unit %(id)s not found."))


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
    uom = lookup(session, Uom, uom_id, N_("Unit %(id)s not found."))
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
    uom = lookup(session, Uom, uom_id, N_("Unit %(id)s not found."))
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
    _delete_unless_referenced(
        session, uom, N_("Unit %(name)s is still used by orders or stock records."), "uom_id", uom.code
    )
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
    return lookup(session, UomConversion, conversion_id, N_("Conversion %(id)s not found."))


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
    src = reference(session, Uom, from_uom_id, "from_uom_id", N_("Unit %(id)s does not exist."))
    dst = reference(session, Uom, to_uom_id, "to_uom_id", N_("Unit %(id)s does not exist."))
    if src.id == dst.id:
        raise _invalid(N_("A unit converts to itself; choose two different units."), "to_uom_id")
    if factor <= 0:
        raise _invalid(N_("The factor must be greater than zero."), "factor")
    if item_id is not None:
        reference(session, Item, item_id, "item_id", N_("Item %(id)s does not exist."))
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
    conv = lookup(session, UomConversion, conversion_id, N_("Conversion %(id)s not found."))
    if factor <= 0:
        raise _invalid(N_("The factor must be greater than zero."), "factor")
    conv.factor = factor
    session.flush()
    _audit(session, ctx, "update", "conversion", obj_id=conv.id, detail={"factor": factor})
    return conv


def delete_conversion(session: Session, ctx: Context, conversion_id: int) -> None:
    """Delete a conversion."""
    ctx.require(EDIT)
    conv = lookup(session, UomConversion, conversion_id, N_("Conversion %(id)s not found."))
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
    src = reference(session, Uom, from_uom_id, "from_uom_id", N_("Unit %(id)s does not exist."))
    dst = reference(session, Uom, to_uom_id, "to_uom_id", N_("Unit %(id)s does not exist."))
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
    reference(session, Uom, uom_id, "uom_id", N_("Unit %(id)s does not exist."))
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
        reference(session, Uom, fields["uom_id"], "uom_id", N_("Unit %(id)s does not exist."))
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
    _delete_unless_referenced(
        session,
        item,
        N_("Item %(name)s has stock history or other records; make it inactive instead."),
        "item_id",
        item.code,
    )
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


# ---------------------------------------------------------------------------------------------
# Parties
# ---------------------------------------------------------------------------------------------


def list_parties(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Party], int]:
    """Return one page of the enterprise's customers and suppliers, and their total."""
    stmt = select(Party).order_by(Party.code, Party.id)
    return _page(session, ctx, stmt, PARTY_FILTERS, filters=filters, offset=offset, limit=limit)


def get_party(session: Session, ctx: Context, party_id: int) -> Party:
    """Return one party of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return lookup(session, Party, party_id, N_("Party %(id)s not found."))


def _check_party(session: Session, ctx: Context, fields: Mapping[str, Any], current: Party | None) -> None:
    customer = fields.get("is_customer", current.is_customer if current else False)
    supplier = fields.get("is_supplier", current.is_supplier if current else False)
    if not (customer or supplier):
        raise _invalid(N_("A party is a customer, a supplier or both."), "is_customer")
    partner = fields.get("partner_tenant_id")
    if partner is not None:
        try:
            identity.get_partner_tenant(session, ctx, partner)
        except NotFound as exc:
            raise _invalid(N_("Enterprise %(id)s is not on the platform."), "partner_tenant_id", id=partner) from exc


def create_party(session: Session, ctx: Context, *, code: str, name: str, **fields: Any) -> Party:
    """Create a customer and/or supplier."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_code(session, Party, code, None)
    _check_party(session, ctx, fields, None)
    party = Party(tenant_id=tenant_id, code=code, name=name, **fields)
    session.add(party)
    _flush(session, "code", code)
    _audit(session, ctx, "create", "party", obj_id=party.id, detail={"code": code})
    return party


def update_party(session: Session, ctx: Context, party_id: int, *, clear_partner: bool = False, **fields: Any) -> Party:
    """Change a party; ``clear_partner`` unlinks it from the platform enterprise it named."""
    ctx.require(EDIT)
    party = get_party(session, ctx, party_id)
    fields = _clean(fields)
    if "code" in fields:
        _unique_code(session, Party, fields["code"], party.id)
    _check_party(session, ctx, fields, party)
    _apply(party, fields)
    if clear_partner:
        party.partner_tenant_id = None
    _flush(session, "code", fields.get("code"))
    _audit(session, ctx, "update", "party", obj_id=party.id, detail=fields)
    return party


def delete_party(session: Session, ctx: Context, party_id: int) -> None:
    """Delete a party."""
    ctx.require(EDIT)
    party = get_party(session, ctx, party_id)
    session.delete(party)
    session.flush()
    _audit(session, ctx, "delete", "party", obj_id=party_id, detail={"code": party.code})


# ---------------------------------------------------------------------------------------------
# Bills of materials
# ---------------------------------------------------------------------------------------------


def list_boms(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Bom], int]:
    """Return one page of BOM versions (with their lines), and their total."""
    stmt = (
        select(Bom)
        .options(selectinload(Bom.item), selectinload(Bom.lines).selectinload(BomLine.component))
        .order_by(Bom.item_id, Bom.version, Bom.id)
    )
    return _page(session, ctx, stmt, BOM_FILTERS, filters=filters, offset=offset, limit=limit)


def get_bom(session: Session, ctx: Context, bom_id: int) -> Bom:
    """Return one BOM version with its lines, or raise NotFound."""
    ctx.require(VIEW)
    bom = session.scalar(
        select(Bom)
        .options(
            selectinload(Bom.lines).selectinload(BomLine.component), selectinload(Bom.lines).selectinload(BomLine.uom)
        )
        .where(Bom.id == bom_id)
    )
    if bom is None:
        raise NotFound(N_("BOM %(id)s not found."), id=bom_id)
    return bom


def _check_dates(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end <= start:
        raise _invalid(N_("The end date must be after the start date."), "effective_to")


def _unset_other_defaults(session: Session, bom: Bom) -> None:
    for other in session.scalars(select(Bom).where(Bom.item_id == bom.item_id, Bom.id != bom.id, Bom.is_default)):
        other.is_default = False


def create_bom(
    session: Session,
    ctx: Context,
    *,
    item_id: int,
    version: str,
    effective_from: date | None = None,
    effective_to: date | None = None,
    is_default: bool = False,
    description: str = "",
) -> Bom:
    """Create an empty BOM version of an item; a default version takes the flag from the others."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    item = reference(session, Item, item_id, "item_id", N_("Item %(id)s does not exist."))
    _check_dates(effective_from, effective_to)
    if session.scalar(select(Bom.id).where(Bom.item_id == item.id, Bom.version == version)) is not None:
        raise Conflict(N_("Version %(version)s of this BOM already exists."), field="version", version=version)
    bom = Bom(
        tenant_id=tenant_id,
        item_id=item.id,
        version=version,
        effective_from=effective_from,
        effective_to=effective_to,
        is_default=is_default,
        description=description,
    )
    session.add(bom)
    _flush(session, "version", version)
    if is_default:
        _unset_other_defaults(session, bom)
    _audit(session, ctx, "create", "bom", obj_id=bom.id, detail={"item": item.code, "version": version})
    return bom


def update_bom(session: Session, ctx: Context, bom_id: int, *, clear_dates: bool = False, **fields: Any) -> Bom:
    """Change a BOM version's header; ``clear_dates`` makes it valid without limits."""
    ctx.require(EDIT)
    bom = get_bom(session, ctx, bom_id)
    fields = _clean(fields)
    if clear_dates:
        fields.update(effective_from=None, effective_to=None)
    _check_dates(fields.get("effective_from", bom.effective_from), fields.get("effective_to", bom.effective_to))
    if "version" in fields:
        clash = select(Bom.id).where(Bom.item_id == bom.item_id, Bom.version == fields["version"], Bom.id != bom.id)
        if session.scalar(clash) is not None:
            raise Conflict(
                N_("Version %(version)s of this BOM already exists."), field="version", version=fields["version"]
            )
    _apply(bom, fields)
    if fields.get("is_default"):
        _unset_other_defaults(session, bom)
    _flush(session, "version", fields.get("version"))
    _audit(session, ctx, "update", "bom", obj_id=bom.id, detail=fields)
    return bom


def delete_bom(session: Session, ctx: Context, bom_id: int) -> None:
    """Delete a BOM version with its lines."""
    ctx.require(EDIT)
    bom = get_bom(session, ctx, bom_id)
    session.delete(bom)
    session.flush()
    _audit(session, ctx, "delete", "bom", obj_id=bom_id, detail={"version": bom.version})


def _structure(session: Session) -> dict[int, set[int]]:
    """Return the enterprise's parent → components graph over every BOM version."""
    edges: dict[int, set[int]] = {}
    for parent, component in session.execute(select(Bom.item_id, BomLine.component_id).join(BomLine.bom)):
        edges.setdefault(parent, set()).add(component)
    return edges


def _refuse_cycle(session: Session, parent_id: int, component_id: int) -> None:
    """Raise InvalidInput naming the cycle (by item codes) that a new parent → component edge would close."""
    edges = _structure(session)
    edges.setdefault(parent_id, set()).add(component_id)
    cycle = find_cycle({k: sorted(v) for k, v in edges.items()})
    if cycle is None:
        return
    # Name it from the BOM being changed: "A → B → C → A" when the line is added to A.
    if parent_id in cycle:
        start = cycle.index(parent_id)
        cycle = [*cycle[start:-1], *cycle[:start], parent_id]
    codes = {row.id: row.code for row in session.execute(select(Item.id, Item.code).where(Item.id.in_(cycle)))}
    named = " → ".join(codes[i] for i in cycle)
    raise _invalid(N_("This line would make a cycle: %(cycle)s."), "component_id", cycle=named)


def _line_fields(session: Session, ctx: Context, bom: Bom, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check a line's references and compute its quantity in the component's base unit."""
    out = dict(fields)
    component = reference(session, Item, fields["component_id"], "component_id", N_("Item %(id)s does not exist."))
    uom_id = fields.get("uom_id") or component.uom_id
    out["uom_id"] = uom_id
    scrap = fields.get("scrap_factor", Decimal(0))
    if not Decimal(0) <= scrap < Decimal(1):
        raise _invalid(N_("The scrap factor must be at least 0 and below 1."), "scrap_factor")
    if fields["quantity"] <= 0:
        raise _invalid(N_("The quantity must be greater than zero."), "quantity")
    option_value_id = fields.get("option_value_id")
    if option_value_id is not None:
        value = reference(
            session, ItemOptionValue, option_value_id, "option_value_id", N_("Option value %(id)s does not exist.")
        )
        if value.group.item_id != bom.item_id:
            raise _invalid(N_("The option must be one of the parent item's options."), "option_value_id")
    out["base_quantity"] = convert_quantity(
        session, ctx, item_id=component.id, quantity=fields["quantity"], from_uom_id=uom_id, to_uom_id=component.uom_id
    )
    _refuse_cycle(session, bom.item_id, component.id)
    return out


def add_bom_line(
    session: Session,
    ctx: Context,
    bom_id: int,
    *,
    component_id: int,
    quantity: Decimal,
    uom_id: int | None = None,
    scrap_factor: Decimal = Decimal(0),
    option_value_id: int | None = None,
    position: int | None = None,
) -> BomLine:
    """Add a component to a BOM version; refused if it closes a cycle at any level."""
    ctx.require(EDIT)
    bom = get_bom(session, ctx, bom_id)
    fields = _line_fields(
        session,
        ctx,
        bom,
        {
            "component_id": component_id,
            "quantity": quantity,
            "uom_id": uom_id,
            "scrap_factor": scrap_factor,
            "option_value_id": option_value_id,
        },
    )
    if position is None:
        position = max((line.position for line in bom.lines), default=0) + 10
    line = BomLine(tenant_id=bom.tenant_id, bom_id=bom.id, position=position, **fields)
    session.add(line)
    session.flush()
    _audit(session, ctx, "add_line", "bom", obj_id=bom.id, detail={"component_id": component_id, "quantity": quantity})
    return line


def get_bom_line(session: Session, ctx: Context, bom_id: int, line_id: int) -> BomLine:
    """Return one line of a BOM version, or raise NotFound."""
    ctx.require(VIEW)
    line = session.scalar(select(BomLine).where(BomLine.id == line_id, BomLine.bom_id == bom_id))
    if line is None:
        raise NotFound(N_("BOM line %(id)s not found."), id=line_id)
    return line


def update_bom_line(session: Session, ctx: Context, bom_id: int, line_id: int, **fields: Any) -> BomLine:
    """Change a BOM line; its base quantity is computed again, and cycles are refused."""
    ctx.require(EDIT)
    bom = get_bom(session, ctx, bom_id)
    line = get_bom_line(session, ctx, bom_id, line_id)
    clear_option = fields.pop("clear_option", False)
    fields = _clean(fields)
    merged = {
        "component_id": fields.get("component_id", line.component_id),
        "quantity": fields.get("quantity", line.quantity),
        "uom_id": fields.get("uom_id", line.uom_id if "component_id" not in fields else None),
        "scrap_factor": fields.get("scrap_factor", line.scrap_factor),
        "option_value_id": None if clear_option else fields.get("option_value_id", line.option_value_id),
    }
    # The line's own edge must not count while checking the new one for cycles.
    old_component = line.component_id
    line.component_id = merged["component_id"]
    session.flush()
    try:
        checked = _line_fields(session, ctx, bom, merged)
    except InvalidInput:
        line.component_id = old_component
        session.flush()
        raise
    _apply(line, checked)
    if "position" in fields:
        line.position = fields["position"]
    session.flush()
    _audit(session, ctx, "update_line", "bom", obj_id=bom.id, detail={"line_id": line_id, **fields})
    return line


def delete_bom_line(session: Session, ctx: Context, bom_id: int, line_id: int) -> None:
    """Remove a line from a BOM version."""
    ctx.require(EDIT)
    line = get_bom_line(session, ctx, bom_id, line_id)
    session.delete(line)
    session.flush()
    _audit(session, ctx, "delete_line", "bom", obj_id=bom_id, detail={"line_id": line_id})


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One row of an item's exploded BOM, for the API and the console tree."""

    level: int
    parent: Item
    component: Item
    quantity: Decimal
    line_id: int | None


def bom_tree(
    session: Session,
    ctx: Context,
    item_id: int,
    *,
    on: date,
    quantity: Decimal = Decimal(1),
    options: frozenset[int] = frozenset(),
) -> list[TreeRow]:
    """Return the multi-level explosion of an item on a date, in its components' base units."""
    item = get_item(session, ctx, item_id)
    boms = session.scalars(select(Bom).options(selectinload(Bom.lines)))
    versions: dict[int, list[bom_algo.Version[int]]] = {}
    for bom in boms:
        lines = tuple(
            bom_algo.Line(
                line.component_id,
                Decimal(line.base_quantity),
                Decimal(line.scrap_factor),
                line.option_value_id,
                line.id,
            )
            for line in bom.lines
        )
        versions.setdefault(bom.item_id, []).append(
            bom_algo.Version(lines, bom.effective_from, bom.effective_to, bom.is_default, bom.version)
        )
    needs = bom_algo.explode(versions, item.id, quantity, on=on, options=frozenset(options))
    ids = {item.id} | {n.component for n in needs}
    items = {i.id: i for i in session.scalars(select(Item).options(selectinload(Item.uom)).where(Item.id.in_(ids)))}
    return [
        TreeRow(n.level, items[n.parent], items[n.component], n.quantity, n.ref if isinstance(n.ref, int) else None)
        for n in needs
    ]


def low_level_codes(session: Session, ctx: Context) -> dict[int, int]:
    """Return the low-level code of every item that appears in a BOM (for MRP's level-by-level netting)."""
    ctx.require(VIEW)
    return bom_algo.low_level_codes({k: sorted(v) for k, v in _structure(session).items()})


# ---------------------------------------------------------------------------------------------
# Work centres and their calendars
# ---------------------------------------------------------------------------------------------


def list_work_centres(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[WorkCentre], int]:
    """Return one page of the enterprise's work centres, and their total."""
    stmt = (
        select(WorkCentre)
        .options(selectinload(WorkCentre.shifts), selectinload(WorkCentre.holidays))
        .order_by(WorkCentre.code, WorkCentre.id)
    )
    return _page(session, ctx, stmt, WORK_CENTRE_FILTERS, filters=filters, offset=offset, limit=limit)


def get_work_centre(session: Session, ctx: Context, work_centre_id: int) -> WorkCentre:
    """Return one work centre with its calendar, or raise NotFound."""
    ctx.require(VIEW)
    wc = session.scalar(
        select(WorkCentre)
        .options(selectinload(WorkCentre.shifts), selectinload(WorkCentre.holidays))
        .where(WorkCentre.id == work_centre_id)
    )
    if wc is None:
        raise NotFound(N_("Work centre %(id)s not found."), id=work_centre_id)
    return wc


def check_timezone(name: str, field: str = "timezone") -> ZoneInfo:
    """Return the IANA zone ``name``, or InvalidInput on ``field``."""
    if name not in available_timezones() and name != "UTC":
        raise _invalid(N_("%(zone)s is not an IANA time zone."), field, zone=name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _invalid(N_("%(zone)s is not an IANA time zone."), field, zone=name) from exc


def _check_asset_links(session: Session, ctx: Context, fields: Mapping[str, Any]) -> None:
    """Check the assets line and equipment a work centre names, through the assets service."""
    line_id = fields.get("asset_line_id")
    if line_id is not None:
        try:
            assets_service.get_line(session, ctx, line_id)
        except NotFound as exc:
            raise _invalid(N_("Line %(id)s does not exist."), "asset_line_id", id=line_id) from exc
    equipment_id = fields.get("asset_equipment_id")
    if equipment_id is not None:
        try:
            assets_service.get_equipment(session, ctx, equipment_id)
        except NotFound as exc:
            raise _invalid(N_("Equipment %(id)s does not exist."), "asset_equipment_id", id=equipment_id) from exc


def create_work_centre(session: Session, ctx: Context, *, code: str, name: str, **fields: Any) -> WorkCentre:
    """Create a work centre (its calendar starts empty: no shifts means no capacity)."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_code(session, WorkCentre, code, None)
    if "timezone" in fields:
        check_timezone(fields["timezone"])
    _check_asset_links(session, ctx, fields)
    wc = WorkCentre(tenant_id=tenant_id, code=code, name=name, **fields)
    session.add(wc)
    _flush(session, "code", code)
    _audit(session, ctx, "create", "work_centre", obj_id=wc.id, detail={"code": code})
    return wc


def update_work_centre(
    session: Session, ctx: Context, work_centre_id: int, *, clear_links: bool = False, **fields: Any
) -> WorkCentre:
    """Change a work centre; ``clear_links`` unlinks it from assets."""
    ctx.require(EDIT)
    wc = get_work_centre(session, ctx, work_centre_id)
    fields = _clean(fields)
    if "code" in fields:
        _unique_code(session, WorkCentre, fields["code"], wc.id)
    if "timezone" in fields:
        check_timezone(fields["timezone"])
    _check_asset_links(session, ctx, fields)
    if clear_links:
        fields.update(asset_line_id=None, asset_equipment_id=None)
    _apply(wc, fields)
    _flush(session, "code", fields.get("code"))
    _audit(session, ctx, "update", "work_centre", obj_id=wc.id, detail=fields)
    return wc


def delete_work_centre(session: Session, ctx: Context, work_centre_id: int) -> None:
    """Delete a work centre that no routing operation uses."""
    ctx.require(EDIT)
    wc = get_work_centre(session, ctx, work_centre_id)
    _refuse_if_used(
        session,
        select(Operation.id).where(Operation.work_centre_id == wc.id).exists(),
        N_("Work centre %(name)s is used by routing operations."),
        "work_centre_id",
        wc.code,
    )
    _delete_unless_referenced(
        session, wc, N_("Work centre %(name)s is still named by work orders."), "work_centre_id", wc.code
    )
    _audit(session, ctx, "delete", "work_centre", obj_id=work_centre_id, detail={"code": wc.code})


def set_calendar(
    session: Session,
    ctx: Context,
    work_centre_id: int,
    *,
    timezone: str,
    shifts: Sequence[tuple[int, time, time, str]],
    holidays: Sequence[tuple[date, str]],
) -> WorkCentre:
    """Replace a work centre's calendar: its time zone, weekly shifts (weekday, start, end, name) and holidays."""
    ctx.require(EDIT)
    wc = get_work_centre(session, ctx, work_centre_id)
    check_timezone(timezone)
    for index, (weekday, _start, _end, _name) in enumerate(shifts):
        if not 0 <= weekday <= 6:
            raise _invalid(N_("The weekday must be 0 (Monday) to 6 (Sunday)."), f"shifts.{index}.weekday")
    days = [d for d, _ in holidays]
    if len(set(days)) != len(days):
        raise _invalid(N_("A holiday date is listed twice."), "holidays")
    wc.timezone = timezone
    wc.shifts.clear()
    wc.holidays.clear()
    session.flush()
    for weekday, start, end, name in shifts:
        wc.shifts.append(Shift(tenant_id=wc.tenant_id, weekday=weekday, start=start, end=end, name=name))
    for day, name in holidays:
        wc.holidays.append(Holiday(tenant_id=wc.tenant_id, day=day, name=name))
    session.flush()
    _audit(
        session,
        ctx,
        "calendar",
        "work_centre",
        obj_id=wc.id,
        detail={"timezone": timezone, "shifts": len(shifts), "holidays": len(holidays)},
    )
    return wc


def work_centre_intervals(
    session: Session, ctx: Context, work_centre_id: int, *, start: datetime, end: datetime
) -> list[cal.Interval]:
    """Return a work centre's working intervals between two aware instants (at most 366 days apart)."""
    wc = get_work_centre(session, ctx, work_centre_id)
    if start.tzinfo is None:
        raise _invalid(N_("Give the time with its time zone."), "start")
    if end.tzinfo is None:
        raise _invalid(N_("Give the time with its time zone."), "end")
    if end - start > timedelta(days=366):
        raise _invalid(N_("The window may span at most 366 days."), "end")
    shifts = [cal.WeeklyShift(s.weekday, s.start, s.end) for s in wc.shifts]
    return cal.working_intervals(shifts, {h.day for h in wc.holidays}, wc.timezone, start, end)


# ---------------------------------------------------------------------------------------------
# Routings
# ---------------------------------------------------------------------------------------------


def list_operations(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Operation], int]:
    """Return one page of routing operations (of one item with the ``item_id`` filter), and their total."""
    stmt = (
        select(Operation).options(selectinload(Operation.work_centre)).order_by(Operation.item_id, Operation.sequence)
    )
    return _page(session, ctx, stmt, OPERATION_FILTERS, filters=filters, offset=offset, limit=limit)


def get_operation(session: Session, ctx: Context, operation_id: int) -> Operation:
    """Return one routing operation, or raise NotFound."""
    ctx.require(VIEW)
    return lookup(session, Operation, operation_id, N_("Operation %(id)s not found."))


def _unique_sequence(session: Session, item_id: int, sequence: int, exclude: int | None) -> None:
    stmt = select(Operation.id).where(Operation.item_id == item_id, Operation.sequence == sequence)
    if exclude is not None:
        stmt = stmt.where(Operation.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict(N_("The routing already has an operation %(sequence)s."), field="sequence", sequence=sequence)


def create_operation(
    session: Session, ctx: Context, *, item_id: int, sequence: int, name: str, work_centre_id: int, **fields: Any
) -> Operation:
    """Add an operation to an item's routing."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    reference(session, Item, item_id, "item_id", N_("Item %(id)s does not exist."))
    reference(session, WorkCentre, work_centre_id, "work_centre_id", N_("Work centre %(id)s does not exist."))
    _unique_sequence(session, item_id, sequence, None)
    op = Operation(
        tenant_id=tenant_id, item_id=item_id, sequence=sequence, name=name, work_centre_id=work_centre_id, **fields
    )
    session.add(op)
    _flush(session, "sequence", sequence)
    _audit(session, ctx, "create", "operation", obj_id=op.id, detail={"item_id": item_id, "sequence": sequence})
    return op


def update_operation(
    session: Session, ctx: Context, operation_id: int, *, clear_transfer_batch: bool = False, **fields: Any
) -> Operation:
    """Change a routing operation."""
    ctx.require(EDIT)
    op = get_operation(session, ctx, operation_id)
    fields = _clean(fields)
    if "work_centre_id" in fields:
        reference(
            session, WorkCentre, fields["work_centre_id"], "work_centre_id", N_("Work centre %(id)s does not exist.")
        )
    if "sequence" in fields:
        _unique_sequence(session, op.item_id, fields["sequence"], op.id)
    _apply(op, fields)
    if clear_transfer_batch:
        op.transfer_batch = None
    _flush(session, "sequence", fields.get("sequence"))
    _audit(session, ctx, "update", "operation", obj_id=op.id, detail=fields)
    return op


def delete_operation(session: Session, ctx: Context, operation_id: int) -> None:
    """Remove an operation from its routing."""
    ctx.require(EDIT)
    op = get_operation(session, ctx, operation_id)
    session.delete(op)
    session.flush()
    _audit(session, ctx, "delete", "operation", obj_id=operation_id, detail={"sequence": op.sequence})


def labels(
    session: Session, ctx: Context, *, item_ids: Iterable[int] = (), party_ids: Iterable[int] = ()
) -> dict[str, dict[int, tuple[str, str]]]:
    """Return (code, name) of the given items and parties by id, in one query each."""
    ctx.require(VIEW)
    items, parties = set(item_ids), set(party_ids)
    out: dict[str, dict[int, tuple[str, str]]] = {"items": {}, "parties": {}}
    if items:
        rows = session.execute(select(Item.id, Item.code, Item.name).where(Item.id.in_(items)))
        out["items"] = {r.id: (r.code, r.name) for r in rows}
    if parties:
        rows = session.execute(select(Party.id, Party.code, Party.name).where(Party.id.in_(parties)))
        out["parties"] = {r.id: (r.code, r.name) for r in rows}
    return out
