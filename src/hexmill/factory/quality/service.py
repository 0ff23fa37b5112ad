"""Quality logic: inspection plans, defect codes, inspections that open nonconformances, dispositions.

Reads need ``quality.view`` and writes ``quality.edit``; a disposition that moves stock (scrap,
return to supplier, rework) needs ``inventory.move`` as well. Items and parties are read through
the master-data service and locations, lots and stock moves through the inventory service
(ADR 0011); every disposition move has reference type ``nonconformance`` and the NC's id.

Rules decided here:

- **Plans in use keep their characteristics.** Once an inspection has used a plan, its
  characteristics can no longer be replaced (409 on ``characteristics``) and the plan cannot be
  deleted; its name, note and active flag may still change. A changed check is a new plan (and
  the old one is deactivated), so every recorded result stays tied to the limits it was judged by.
- **The active plan for an item and stage** is the newest active plan of that stage naming the
  item, else the newest active plan of that stage for any item.
- **Samples.** A characteristic takes ``sample_size`` samples, or ``sample_pct`` % of the
  inspected quantity rounded up (at least one). An inspection records at least one result per
  characteristic and never more samples than that.
- **Nonconformances** go open -> dispositioned (once dispositions cover the whole affected
  quantity; several may be posted, never more than the quantity in all) -> closed.

Lookups answer NotFound for missing rows and for those of another enterprise alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from sqlalchemy import case, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hexmill.core import audit
from hexmill.core.clock import as_utc, utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.i18n import N_
from hexmill.core.lookup import lookup, page_of, reference
from hexmill.core.pagination import MAX_LIMIT
from hexmill.factory import documents
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.quality import spc
from hexmill.factory.quality.filters import DEFECT_FILTERS, INSPECTION_FILTERS, NC_FILTERS, PLAN_FILTERS
from hexmill.factory.quality.models import (
    Characteristic,
    DefectCode,
    Disposition,
    Inspection,
    InspectionPlan,
    InspectionResult,
    Nonconformance,
)

VIEW: Final = "quality.view"
EDIT: Final = "quality.edit"
MOVE: Final = inventory.MOVE
REFERENCE_TYPE: Final = "nonconformance"
STEP: Final = Decimal("0.000001")
INDEX_STEP: Final = Decimal("0.0001")
HUNDRED: Final = Decimal(100)
MAX_QUANTITY: Final = Decimal(10) ** 12
CHARACTERISTIC_FIELDS: Final = (
    "name",
    "kind",
    "unit",
    "nominal",
    "lsl",
    "usl",
    "sample_size",
    "sample_pct",
    "defect_code_id",
)
MOVING_KINDS: Final = ("scrap", "return", "rework")


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _invalid(message: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(message, field=field, params=params)], **params)


def _prefixed(exc: InvalidInput, prefix: str) -> InvalidInput:
    """Name the line an error is about: "lines.2.quantity" rather than "quantity"."""
    for err in exc.errors:
        err.field = prefix + (err.field or "")
    exc.field = prefix + (exc.field or "")
    return exc


def _q(value: Decimal, step: Decimal = STEP) -> Decimal:
    """Return a value at the column's scale, as the database gives it back."""
    return Decimal(value).quantize(step, rounding=ROUND_HALF_EVEN)


def _show(value: Decimal) -> str:
    """Return a quantity without trailing zeros and never in exponent notation."""
    return format(Decimal(value).normalize(), "f")


def _audit(session: Session, ctx: Context, action: str, object_type: str, object_id: int, **detail: Any) -> None:
    audit.record(
        session,
        ctx,
        f"quality.{action}",
        object_type=object_type,
        object_id=object_id,
        detail={k: str(v) if isinstance(v, Decimal | datetime) else v for k, v in detail.items()},
    )


def _flush_unique(session: Session, message: str, field: str, **params: Any) -> None:
    """Flush; a concurrent write that took the same code first hits the unique constraint, a Conflict too."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message, field=field, **params) from exc


def required_samples(sample_size: int | None, sample_pct: Decimal | None, quantity: Decimal) -> int:
    """Return how many samples a characteristic takes of ``quantity``: fixed, or a percentage rounded up (>= 1)."""
    if sample_size is not None:
        return sample_size
    pct = sample_pct or HUNDRED
    return max(1, int((quantity * pct / HUNDRED).to_integral_value(rounding=ROUND_CEILING)))


# ---------------------------------------------------------------------------------------------
# Defect codes
# ---------------------------------------------------------------------------------------------


def list_defect_codes(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[DefectCode], int]:
    """Return one page of the defect code catalogue by code, and its total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(DefectCode).order_by(DefectCode.code, DefectCode.id)
    return page_of(session, stmt, DEFECT_FILTERS, filters=filters, offset=offset, limit=limit)


def get_defect_code(session: Session, ctx: Context, defect_code_id: int) -> DefectCode:
    """Return one defect code, or raise NotFound."""
    ctx.require(VIEW)
    return lookup(session, DefectCode, defect_code_id, N_("Defect code %(id)s not found."))


def _unique_defect_code(session: Session, code: str, exclude: int | None) -> None:
    taken = N_("The defect code %(code)s is already taken.")
    documents.check_unique(session, DefectCode, "code", code, exclude=exclude, taken=taken)


def create_defect_code(
    session: Session, ctx: Context, *, code: str, name: str, category: str = "", active: bool = True
) -> DefectCode:
    """Add a defect code to the enterprise's catalogue."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_defect_code(session, code, None)
    row = DefectCode(tenant_id=tenant_id, code=code, name=name, category=category, active=active)
    session.add(row)
    _flush_unique(session, N_("The defect code %(code)s is already taken."), "code", code=code)
    _audit(session, ctx, "defect_code.create", "defect_code", row.id, code=code)
    return row


def update_defect_code(session: Session, ctx: Context, defect_code_id: int, **fields: Any) -> DefectCode:
    """Change a defect code's code, name, category or active flag."""
    ctx.require(EDIT)
    row = get_defect_code(session, ctx, defect_code_id)
    changes = {k: v for k, v in fields.items() if v is not None and k in ("code", "name", "category", "active")}
    if "code" in changes:
        _unique_defect_code(session, changes["code"], row.id)
    for key, value in changes.items():
        setattr(row, key, value)
    _flush_unique(session, N_("The defect code %(code)s is already taken."), "code", code=row.code)
    _audit(session, ctx, "defect_code.update", "defect_code", row.id, **changes)
    return row


def delete_defect_code(session: Session, ctx: Context, defect_code_id: int) -> None:
    """Delete a defect code no nonconformance names (deactivate it otherwise)."""
    ctx.require(EDIT)
    row = get_defect_code(session, ctx, defect_code_id)
    if session.scalar(select(exists().where(Nonconformance.defect_code_id == row.id))):
        raise Conflict(
            N_("Defect code %(code)s is used by nonconformances; deactivate it instead."), field="code", code=row.code
        )
    session.delete(row)
    session.flush()
    _audit(session, ctx, "defect_code.delete", "defect_code", row.id, code=row.code)


# ---------------------------------------------------------------------------------------------
# Inspection plans
# ---------------------------------------------------------------------------------------------


def list_inspection_plans(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[InspectionPlan], int]:
    """Return one page of inspection plans by code, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(InspectionPlan).order_by(InspectionPlan.code, InspectionPlan.id)
    return page_of(session, stmt, PLAN_FILTERS, filters=filters, offset=offset, limit=limit)


def get_inspection_plan(session: Session, ctx: Context, plan_id: int) -> InspectionPlan:
    """Return one inspection plan with its characteristics, or raise NotFound."""
    ctx.require(VIEW)
    plan = session.scalar(
        select(InspectionPlan).options(selectinload(InspectionPlan.characteristics)).where(InspectionPlan.id == plan_id)
    )
    if plan is None:
        raise NotFound(N_("Inspection plan %(id)s not found."), id=plan_id)
    return plan


def plan_in_use(session: Session, ctx: Context, plan_id: int) -> bool:
    """Return whether any inspection has used the plan (its characteristics are then fixed)."""
    ctx.require(VIEW)
    return bool(session.scalar(select(exists().where(Inspection.plan_id == plan_id))))


def _check_item(session: Session, ctx: Context, item_id: int, field: str) -> Any:
    try:
        return masterdata.get_item(session, ctx, item_id)
    except NotFound as exc:
        raise _invalid(N_("Item %(id)s not found."), field, id=item_id) from exc


def _sampling(out: Mapping[str, Any], prefix: str) -> None:
    if out["sample_size"] is None and out["sample_pct"] is None:
        raise _invalid(N_("Give a sample size or a sample percentage."), prefix + "sample_size")
    if out["sample_size"] is not None and out["sample_pct"] is not None:
        raise _invalid(N_("Give a sample size or a sample percentage, not both."), prefix + "sample_pct")


def _characteristic(session: Session, data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Check one characteristic's limits and sampling; return its fields at the columns' scale."""
    out: dict[str, Any] = {k: data.get(k) for k in CHARACTERISTIC_FIELDS}
    out["unit"] = out["unit"] or ""
    lsl, usl, nominal = out["lsl"], out["usl"], out["nominal"]
    if out["kind"] == "variable":
        if lsl is None and usl is None:
            raise _invalid(N_("A measured characteristic needs at least one limit (LSL or USL)."), prefix + "lsl")
        if lsl is not None and usl is not None and lsl >= usl:
            raise _invalid(N_("The USL must be above the LSL (%(lsl)s)."), prefix + "usl", lsl=_show(lsl))
        if nominal is not None and not spc.in_tolerance(nominal, lsl, usl):
            raise _invalid(N_("The nominal value must lie between the limits."), prefix + "nominal")
    else:
        for key in ("nominal", "lsl", "usl"):
            if out[key] is not None:
                raise _invalid(N_("A pass/fail characteristic has no nominal value or limits."), prefix + key)
    _sampling(out, prefix)
    for key in ("nominal", "lsl", "usl"):
        if out[key] is not None:
            out[key] = _q(out[key])
    if out["sample_pct"] is not None:
        out["sample_pct"] = _q(out["sample_pct"], Decimal("0.01"))
    if out["defect_code_id"] is not None:
        reference(
            session, DefectCode, out["defect_code_id"], prefix + "defect_code_id", N_("Defect code %(id)s not found.")
        )
    return out


def _set_characteristics(session: Session, plan: InspectionPlan, characteristics: Sequence[Mapping[str, Any]]) -> None:
    if not characteristics:
        raise _invalid(N_("A plan needs at least one characteristic."), "characteristics")
    rows = [_characteristic(session, c, f"characteristics.{n}.") for n, c in enumerate(characteristics)]
    plan.characteristics.clear()
    session.flush()
    for n, values in enumerate(rows):
        plan.characteristics.append(
            Characteristic(tenant_id=plan.tenant_id, plan_id=plan.id, position=(n + 1) * 10, **values)
        )


def _unique_plan_code(session: Session, code: str) -> None:
    with session.no_autoflush:
        taken = session.scalar(select(InspectionPlan.id).where(InspectionPlan.code == code)) is not None
    if taken:
        raise Conflict(N_("The plan code %(code)s is already taken."), field="code", code=code)


def create_inspection_plan(
    session: Session,
    ctx: Context,
    *,
    code: str,
    name: str,
    stage: str,
    item_id: int | None = None,
    active: bool = True,
    note: str = "",
    characteristics: Sequence[Mapping[str, Any]] = (),
) -> InspectionPlan:
    """Create an inspection plan with its characteristics (errors name "characteristics.N.<field>")."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_plan_code(session, code)
    if item_id is not None:
        _check_item(session, ctx, item_id, "item_id")
    plan = InspectionPlan(
        tenant_id=tenant_id,
        code=code,
        name=name,
        stage=stage,
        item_id=item_id,
        active=active,
        note=note,
        characteristics=[],
    )
    session.add(plan)
    _flush_unique(session, N_("The plan code %(code)s is already taken."), "code", code=code)
    _set_characteristics(session, plan, characteristics)
    session.flush()
    _audit(session, ctx, "plan.create", "inspection_plan", plan.id, code=code, characteristics=len(characteristics))
    return plan


def update_inspection_plan(
    session: Session,
    ctx: Context,
    plan_id: int,
    *,
    name: str | None = None,
    active: bool | None = None,
    note: str | None = None,
    characteristics: Sequence[Mapping[str, Any]] | None = None,
) -> InspectionPlan:
    """Change a plan's name, note or active flag; replace its characteristics while no inspection used it."""
    ctx.require(EDIT)
    plan = get_inspection_plan(session, ctx, plan_id)
    if characteristics is not None:
        if plan_in_use(session, ctx, plan.id):
            raise Conflict(
                N_("Plan %(code)s has been used by inspections: its characteristics are fixed. Make a new plan."),
                field="characteristics",
                code=plan.code,
            )
        _set_characteristics(session, plan, characteristics)
    changes = {k: v for k, v in (("name", name), ("active", active), ("note", note)) if v is not None}
    for key, value in changes.items():
        setattr(plan, key, value)
    session.flush()
    _audit(session, ctx, "plan.update", "inspection_plan", plan.id, **changes, replaced=characteristics is not None)
    return plan


def delete_inspection_plan(session: Session, ctx: Context, plan_id: int) -> None:
    """Delete a plan no inspection has used (deactivate it otherwise)."""
    ctx.require(EDIT)
    plan = get_inspection_plan(session, ctx, plan_id)
    if plan_in_use(session, ctx, plan.id):
        raise Conflict(
            N_("Plan %(code)s has been used by inspections; deactivate it instead."), field="code", code=plan.code
        )
    session.delete(plan)
    session.flush()
    _audit(session, ctx, "plan.delete", "inspection_plan", plan.id, code=plan.code)


def active_plan(session: Session, ctx: Context, *, item_id: int, stage: str) -> InspectionPlan | None:
    """Return the active plan for an item at a stage: the newest naming the item, else the newest for any item."""
    ctx.require(VIEW)
    stmt = (
        select(InspectionPlan)
        .options(selectinload(InspectionPlan.characteristics))
        .where(
            InspectionPlan.active.is_(True),
            InspectionPlan.stage == stage,
            (InspectionPlan.item_id == item_id) | InspectionPlan.item_id.is_(None),
        )
        .order_by(InspectionPlan.item_id.is_(None), InspectionPlan.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


# ---------------------------------------------------------------------------------------------
# Inspections
# ---------------------------------------------------------------------------------------------


def list_inspections(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Inspection], int]:
    """Return one page of inspections, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = (
        select(Inspection)
        .options(selectinload(Inspection.nonconformances))
        .order_by(Inspection.inspected_at.desc(), Inspection.id.desc())
    )
    return page_of(session, stmt, INSPECTION_FILTERS, filters=filters, offset=offset, limit=limit)


def get_inspection(session: Session, ctx: Context, inspection_id: int) -> Inspection:
    """Return one inspection with its results and the nonconformances it opened, or raise NotFound."""
    ctx.require(VIEW)
    row = session.scalar(
        select(Inspection)
        .options(selectinload(Inspection.results), selectinload(Inspection.nonconformances))
        .where(Inspection.id == inspection_id)
    )
    if row is None:
        raise NotFound(N_("Inspection %(id)s not found."), id=inspection_id)
    return row


def _goods(
    session: Session,
    ctx: Context,
    *,
    item_id: int,
    location_id: int,
    lot_id: int | None,
    supplier_id: int | None,
) -> Any:
    """Check the item, its location, its lot and the supplier named by an inspection or a nonconformance."""
    item = _check_item(session, ctx, item_id, "item_id")
    try:
        location = inventory.get_location(session, ctx, location_id)
    except NotFound as exc:
        raise _invalid(N_("Location %(id)s not found."), "location_id", id=location_id) from exc
    if location.kind != "internal":
        raise _invalid(N_("Goods are inspected in a warehouse location."), "location_id")
    if lot_id is not None:
        try:
            lot = inventory.get_lot(session, ctx, lot_id)
        except NotFound as exc:
            raise _invalid(N_("Lot %(id)s not found."), "lot_id", id=lot_id) from exc
        if lot.item_id != item.id:
            raise _invalid(
                N_("Lot %(number)s is not a lot of item %(code)s."), "lot_id", number=lot.number, code=item.code
            )
    if item.tracking != "none" and lot_id is None:
        raise _invalid(N_("Item %(code)s is tracked: name its lot or serial number."), "lot_id", code=item.code)
    if item.tracking == "none" and lot_id is not None:
        raise _invalid(N_("Item %(code)s is not tracked: leave the lot empty."), "lot_id", code=item.code)
    if supplier_id is not None:
        _supplier(session, ctx, supplier_id, "supplier_id")
    return item


def _supplier(session: Session, ctx: Context, supplier_id: int, field: str) -> None:
    try:
        party = masterdata.get_party(session, ctx, supplier_id)
    except NotFound as exc:
        raise _invalid(N_("Party %(id)s not found."), field, id=supplier_id) from exc
    if not party.is_supplier:
        raise _invalid(N_("Party %(code)s is not a supplier."), field, code=party.code)


def _plan_for(session: Session, ctx: Context, *, plan_id: int | None, item: Any, source_type: str) -> InspectionPlan:
    if plan_id is None:
        if source_type == "other":
            raise _invalid(N_("Choose the inspection plan."), "plan_id")
        found = active_plan(session, ctx, item_id=item.id, stage=source_type)
        if found is None:
            raise _invalid(
                N_("No active inspection plan for item %(code)s at stage %(stage)s."),
                "plan_id",
                code=item.code,
                stage=source_type,
            )
        return found
    plan = reference(session, InspectionPlan, plan_id, "plan_id", N_("Inspection plan %(id)s not found."))
    if not plan.active:
        raise _invalid(N_("Plan %(code)s is inactive."), "plan_id", code=plan.code)
    if plan.item_id is not None and plan.item_id != item.id:
        raise _invalid(N_("Plan %(code)s is for another item."), "plan_id", code=plan.code)
    if source_type not in ("other", plan.stage):
        raise _invalid(N_("Plan %(code)s is for stage %(stage)s."), "plan_id", code=plan.code, stage=plan.stage)
    return plan


def _results(
    plan: InspectionPlan, quantity: Decimal, results: Sequence[Mapping[str, Any]]
) -> list[tuple[Characteristic, int, Decimal | None, bool | None, bool]]:
    """Check every result against the plan; return (characteristic, sample, value, passed, in tolerance)."""
    by_id = {c.id: c for c in plan.characteristics}
    seen: set[tuple[int, int]] = set()
    out: list[tuple[Characteristic, int, Decimal | None, bool | None, bool]] = []
    for n, raw in enumerate(results):
        prefix = f"results.{n}."
        char = by_id.get(raw["characteristic_id"])
        if char is None:
            raise _invalid(
                N_("Characteristic %(id)s is not part of plan %(code)s."),
                prefix + "characteristic_id",
                id=raw["characteristic_id"],
                code=plan.code,
            )
        sample = int(raw.get("sample") or 1)
        limit = required_samples(char.sample_size, char.sample_pct, quantity)
        if sample > limit:
            raise _invalid(
                N_("%(name)s takes at most %(count)s samples."), prefix + "sample", name=char.name, count=limit
            )
        if (char.id, sample) in seen:
            raise _invalid(
                N_("Sample %(sample)s of %(name)s is recorded twice."), prefix + "sample", sample=sample, name=char.name
            )
        seen.add((char.id, sample))
        value, passed = raw.get("value"), raw.get("passed")
        if char.kind == "variable":
            if value is None or passed is not None:
                raise _invalid(N_("%(name)s needs a measured value."), prefix + "value", name=char.name)
            value = _q(value)
            out.append((char, sample, value, None, spc.in_tolerance(value, char.lsl, char.usl)))
        else:
            if passed is None or value is not None:
                raise _invalid(N_("%(name)s needs pass or fail."), prefix + "passed", name=char.name)
            out.append((char, sample, None, bool(passed), bool(passed)))
    recorded = {char.id for char, *_ in out}
    for char in plan.characteristics:
        if char.id not in recorded:
            raise _invalid(N_("No result for %(name)s."), "results", name=char.name)
    return out


def create_inspection(
    session: Session,
    ctx: Context,
    *,
    source_type: str,
    item_id: int,
    location_id: int,
    quantity: Decimal,
    results: Sequence[Mapping[str, Any]],
    source_id: str = "",
    lot_id: int | None = None,
    plan_id: int | None = None,
    supplier_id: int | None = None,
    affected_quantity: Decimal | None = None,
    defect_code_id: int | None = None,
    note: str = "",
    inspected_at: datetime | None = None,
) -> Inspection:
    """Record an inspection and its results; open a nonconformance if any result is out of tolerance.

    Args:
        session: the request's session (the caller commits).
        ctx: the caller; needs ``quality.edit``.
        source_type: "receipt" (a purchase receipt line), "operation" (a work-order operation),
            "final" (a work order's finished goods) or "other".
        item_id: the item inspected.
        location_id: the warehouse location the goods are in.
        quantity: the quantity inspected, in the item's base unit.
        results: mappings of ``characteristic_id``, ``sample`` (from 1), and ``value`` (a measured
            ``Decimal``, variables) or ``passed`` (bool, attributes).
        source_id: what was inspected, e.g. the receipt line or work-order operation id.
        lot_id: the lot, required for lot- or serial-tracked items.
        plan_id: the plan; by default the active plan for the item and the stage ``source_type``.
        supplier_id: the supplier of received goods (kept on the nonconformance for returns).
        affected_quantity: the nonconforming quantity when a result fails (default: ``quantity``).
        defect_code_id: the NC's defect code (default: that of the first failing characteristic).
        note: free text, also the NC's description.
        inspected_at: when (default: now).

    Returns:
        The inspection; ``result`` is "pass" or "fail" and ``nonconformances`` holds the NC it opened.

    Raises:
        InvalidInput: naming the field ("results.3.value", "plan_id", "affected_quantity", ...).
        PermissionDenied: without ``quality.edit``.
    """
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    item = _goods(session, ctx, item_id=item_id, location_id=location_id, lot_id=lot_id, supplier_id=supplier_id)
    quantity = _q(quantity)
    if quantity <= 0 or quantity >= MAX_QUANTITY:
        raise _invalid(N_("The quantity must be positive and below 10^12."), "quantity")
    if affected_quantity is not None and _q(affected_quantity) > quantity:
        raise _invalid(
            N_("The affected quantity cannot exceed the inspected quantity (%(quantity)s)."),
            "affected_quantity",
            quantity=_show(quantity),
        )
    if defect_code_id is not None:
        reference(session, DefectCode, defect_code_id, "defect_code_id", N_("Defect code %(id)s not found."))
    plan = _plan_for(session, ctx, plan_id=plan_id, item=item, source_type=source_type)
    checked = _results(plan, quantity, results)
    failing = sorted({char.position: char for char, *_rest, ok in checked if not ok}.items())
    inspection = Inspection(
        tenant_id=tenant_id,
        plan_id=plan.id,
        source_type=source_type,
        source_id=source_id,
        item_id=item.id,
        lot_id=lot_id,
        location_id=location_id,
        supplier_id=supplier_id,
        quantity=quantity,
        result="fail" if failing else "pass",
        note=note,
        username=ctx.username,
        inspected_at=inspected_at or utcnow(),
        results=[
            InspectionResult(
                tenant_id=tenant_id,
                characteristic_id=char.id,
                sample=sample,
                value=value,
                passed=passed,
                in_tolerance=ok,
            )
            for char, sample, value, passed, ok in checked
        ],
    )
    session.add(inspection)
    session.flush()
    _audit(session, ctx, "inspection.create", "inspection", inspection.id, plan=plan.code, result=inspection.result)
    if failing:
        chars = [char for _, char in failing]
        code = defect_code_id or next((c.defect_code_id for c in chars if c.defect_code_id is not None), None)
        _open_nonconformance(
            session,
            ctx,
            inspection_id=inspection.id,
            stage=source_type,
            source_id=source_id,
            item_id=item.id,
            lot_id=lot_id,
            location_id=location_id,
            supplier_id=supplier_id,
            defect_code_id=code,
            quantity=_q(affected_quantity) if affected_quantity is not None else quantity,
            characteristics=", ".join(c.name for c in chars),
            description=note,
        )
    session.refresh(inspection, ["nonconformances"])
    return inspection


# ---------------------------------------------------------------------------------------------
# Nonconformances
# ---------------------------------------------------------------------------------------------

_STATUS_ORDER = case(
    (Nonconformance.status == "open", 0),
    (Nonconformance.status == "dispositioned", 1),
    else_=2,
)


def list_nonconformances(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Nonconformance], int]:
    """Return one page of nonconformances, open first then dispositioned then closed, newest first in each.

    Args:
        session: the request's session.
        ctx: the caller; needs ``quality.view``.
        filters: by ``status``, ``stage``, ``item_id``, ``defect_code_id``, ``inspection_id``,
            ``since`` and ``until`` (creation time), as ``NC_FILTERS`` parses them.
        offset: rows to skip.
        limit: rows to return.

    Returns:
        The page's nonconformances and the total matching the filters.
    """
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(Nonconformance).order_by(_STATUS_ORDER, Nonconformance.id.desc())
    return page_of(session, stmt, NC_FILTERS, filters=filters, offset=offset, limit=limit)


def get_nonconformance(session: Session, ctx: Context, nc_id: int) -> Nonconformance:
    """Return one nonconformance with its dispositions, or raise NotFound."""
    ctx.require(VIEW)
    row = session.scalar(
        select(Nonconformance).options(selectinload(Nonconformance.dispositions)).where(Nonconformance.id == nc_id)
    )
    if row is None:
        raise NotFound(N_("Nonconformance %(id)s not found."), id=nc_id)
    return row


def _open_nonconformance(session: Session, ctx: Context, **fields: Any) -> Nonconformance:
    nc = Nonconformance(
        tenant_id=ctx.require_tenant(),
        status="open",
        dispositioned_quantity=_q(Decimal(0)),
        username=ctx.username,
        dispositions=[],
        **fields,
    )
    session.add(nc)
    session.flush()
    _audit(
        session,
        ctx,
        "nonconformance.open",
        "nonconformance",
        nc.id,
        item_id=nc.item_id,
        quantity=nc.quantity,
        inspection_id=nc.inspection_id,
    )
    return nc


def create_nonconformance(
    session: Session,
    ctx: Context,
    *,
    item_id: int,
    location_id: int,
    quantity: Decimal,
    stage: str = "other",
    source_id: str = "",
    lot_id: int | None = None,
    supplier_id: int | None = None,
    defect_code_id: int | None = None,
    description: str = "",
) -> Nonconformance:
    """Raise a nonconformance by hand: a quantity of an item (and lot) at a location found not to conform."""
    ctx.require(EDIT)
    _goods(session, ctx, item_id=item_id, location_id=location_id, lot_id=lot_id, supplier_id=supplier_id)
    quantity = _q(quantity)
    if quantity <= 0 or quantity >= MAX_QUANTITY:
        raise _invalid(N_("The quantity must be positive and below 10^12."), "quantity")
    if defect_code_id is not None:
        reference(session, DefectCode, defect_code_id, "defect_code_id", N_("Defect code %(id)s not found."))
    return _open_nonconformance(
        session,
        ctx,
        inspection_id=None,
        stage=stage,
        source_id=source_id,
        item_id=item_id,
        lot_id=lot_id,
        location_id=location_id,
        supplier_id=supplier_id,
        defect_code_id=defect_code_id,
        quantity=quantity,
        characteristics="",
        description=description,
    )


def _lock_nonconformance(session: Session, ctx: Context, nc_id: int) -> Nonconformance:
    """Lock an NC's row until commit, then read it afresh (dispositions of one NC run one at a time)."""
    ctx.require(VIEW)
    tenant_id = ctx.require_tenant()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write that changes nothing takes the database's write lock now.
        session.execute(
            update(Nonconformance)
            .where(Nonconformance.tenant_id == tenant_id, Nonconformance.id == nc_id)
            .values(id=Nonconformance.id)
            .execution_options(synchronize_session=False)
        )
        stmt = select(Nonconformance)
    else:
        stmt = select(Nonconformance).with_for_update(of=Nonconformance)
    nc = session.scalar(
        stmt.options(selectinload(Nonconformance.dispositions))
        .where(Nonconformance.id == nc_id)
        .execution_options(populate_existing=True)
    )
    if nc is None:
        raise NotFound(N_("Nonconformance %(id)s not found."), id=nc_id)
    return nc


@dataclass(frozen=True, slots=True)
class DispositionSpec:
    """Part of an NC's quantity and what to do with it.

    ``kind`` is "scrap", "return" (to the supplier), "rework" (to ``to_location_id``) or
    "use_as_is" (no move; ``approver`` defaults to the current user).
    """

    kind: str
    quantity: Decimal
    to_location_id: int | None = None
    supplier_id: int | None = None
    approver: str = ""
    note: str = ""


def _target(
    session: Session,
    ctx: Context,
    nc: Nonconformance,
    spec: DispositionSpec,
    *,
    virtual: Mapping[str, Any],
    prefix: str,
) -> tuple[int | None, int | None, str]:
    """Return the location a disposition line moves to (None: no move), its supplier and approver."""
    if spec.kind != "rework" and spec.to_location_id is not None:
        raise _invalid(N_("Only rework names a location."), prefix + "to_location_id")
    if spec.kind != "return" and spec.supplier_id is not None:
        raise _invalid(N_("Only a return names a supplier."), prefix + "supplier_id")
    if spec.kind == "scrap":
        return virtual["scrap"].id, None, ""
    if spec.kind == "return":
        if nc.stage != "receipt":
            raise _invalid(N_("Only goods found at receipt go back to the supplier."), prefix + "kind")
        supplier_id = spec.supplier_id or nc.supplier_id
        if supplier_id is None:
            raise _invalid(N_("Name the supplier the goods go back to."), prefix + "supplier_id")
        _supplier(session, ctx, supplier_id, prefix + "supplier_id")
        return virtual["supplier"].id, supplier_id, ""
    if spec.kind == "rework":
        if spec.to_location_id is None:
            raise _invalid(N_("Name the rework or hold location."), prefix + "to_location_id")
        try:
            location = inventory.get_location(session, ctx, spec.to_location_id)
        except NotFound as exc:
            raise _invalid(N_("Location %(id)s not found."), prefix + "to_location_id", id=spec.to_location_id) from exc
        if location.kind != "internal":
            raise _invalid(N_("Rework goes to a warehouse location."), prefix + "to_location_id")
        if location.id == nc.location_id:
            raise _invalid(N_("Rework goes to another location than where the goods are."), prefix + "to_location_id")
        return location.id, None, ""
    approver = spec.approver or ctx.username or ""
    if not approver:
        raise _invalid(N_("Name who approved using the goods as they are."), prefix + "approver")
    return None, None, approver


def disposition(session: Session, ctx: Context, nc_id: int, *, lines: Sequence[DispositionSpec]) -> Nonconformance:
    """Decide what happens to (part of) a nonconformance's quantity, posting the stock moves it needs.

    Each line is one kind: scrap (to the virtual scrap location), return (to the virtual supplier
    location; receipt-stage NCs only), rework (to an internal location) or use as is (no move).
    Moves go from the NC's location and lot, with reference type ``nonconformance`` and the NC's id.
    The NC becomes "dispositioned" once its dispositions cover the whole affected quantity.

    Args:
        session: the request's session (the caller commits).
        ctx: the caller; needs ``quality.edit``, and ``inventory.move`` for lines that move stock.
        nc_id: the nonconformance.
        lines: the disposition lines.

    Returns:
        The nonconformance with its dispositions.

    Raises:
        InvalidInput: naming the line's field ("lines.1.quantity" when the sum would exceed the
            affected quantity, "lines.0.to_location_id", ...), or the stock a move lacks.
        Conflict: when the NC is closed or already fully dispositioned.
    """
    ctx.require(EDIT)
    if not lines:
        raise _invalid(N_("A disposition needs at least one line."), "lines")
    if any(line.kind in MOVING_KINDS for line in lines):
        ctx.require(MOVE)
    nc = _lock_nonconformance(session, ctx, nc_id)
    if nc.status != "open":
        raise Conflict(
            N_("Nonconformance %(id)s is %(status)s: nothing is left to disposition."),
            field="status",
            id=nc.id,
            status=nc.status,
        )
    virtual = inventory.virtual_locations(session, ctx)
    # Check every line before posting any move, so a refused line leaves the stock untouched.
    total = nc.dispositioned_quantity
    planned: list[tuple[DispositionSpec, Decimal, int | None, int | None, str]] = []
    for n, spec in enumerate(lines):
        prefix = f"lines.{n}."
        quantity = _q(spec.quantity)
        if quantity <= 0:
            raise _invalid(N_("The quantity must be positive."), prefix + "quantity")
        total += quantity
        if total > nc.quantity:
            raise _invalid(
                N_(
                    "Dispositions would reach %(total)s, more than the affected quantity of %(quantity)s "
                    "(%(left)s left)."
                ),
                prefix + "quantity",
                total=_show(total),
                quantity=_show(nc.quantity),
                left=_show(nc.quantity - total + quantity),
            )
        planned.append((spec, quantity, *_target(session, ctx, nc, spec, virtual=virtual, prefix=prefix)))
    for n, (spec, quantity, to_location, supplier_id, approver) in enumerate(planned):
        move_id: int | None = None
        if to_location is not None:
            try:
                move = inventory.post_move(
                    session,
                    ctx,
                    item_id=nc.item_id,
                    quantity=quantity,
                    from_location_id=nc.location_id,
                    to_location_id=to_location,
                    lot_id=nc.lot_id,
                    reference_type=REFERENCE_TYPE,
                    reference_id=str(nc.id),
                    reason=f"NC {nc.id}: {spec.kind}",
                )
            except InvalidInput as exc:
                raise _prefixed(exc, f"lines.{n}.") from None
            move_id = move.id
        if supplier_id is not None and nc.supplier_id is None:
            nc.supplier_id = supplier_id
        nc.dispositions.append(
            Disposition(
                tenant_id=nc.tenant_id,
                nonconformance_id=nc.id,
                kind=spec.kind,
                quantity=quantity,
                to_location_id=to_location if spec.kind == "rework" else None,
                supplier_id=supplier_id,
                move_id=move_id,
                approver=approver,
                note=spec.note,
                username=ctx.username,
            )
        )
    nc.dispositioned_quantity = _q(total)
    if nc.dispositioned_quantity == nc.quantity:
        nc.status = "dispositioned"
    session.flush()
    _audit(
        session,
        ctx,
        "nonconformance.disposition",
        "nonconformance",
        nc.id,
        lines=[f"{line.kind}:{_show(line.quantity)}" for line in lines],
        status=nc.status,
    )
    return nc


def close_nonconformance(session: Session, ctx: Context, nc_id: int) -> Nonconformance:
    """Close a fully dispositioned nonconformance."""
    ctx.require(EDIT)
    nc = _lock_nonconformance(session, ctx, nc_id)
    if nc.status != "dispositioned":
        raise Conflict(
            N_("Nonconformance %(id)s is %(status)s: only a fully dispositioned one can be closed."),
            field="status",
            id=nc.id,
            status=nc.status,
        )
    nc.status, nc.closed_at = "closed", utcnow()
    session.flush()
    _audit(session, ctx, "nonconformance.close", "nonconformance", nc.id)
    return nc


# ---------------------------------------------------------------------------------------------
# Capability, Pareto and the defect rate
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapabilityReport:
    """A characteristic's capability over a period, with a histogram of its values (limits included)."""

    characteristic_id: int
    name: str
    unit: str
    nominal: Decimal | None
    lsl: Decimal | None
    usl: Decimal | None
    n: int
    mean: Decimal | None
    sigma: Decimal | None
    cp: Decimal | None
    cpk: Decimal | None
    cpu: Decimal | None
    cpl: Decimal | None
    bins: list[spc.Bin]


def get_characteristic(session: Session, ctx: Context, characteristic_id: int) -> Characteristic:
    """Return one characteristic of a plan, or raise NotFound."""
    ctx.require(VIEW)
    return lookup(session, Characteristic, characteristic_id, N_("Characteristic %(id)s not found."))


def _round(value: Decimal | None, step: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(step, rounding=ROUND_HALF_EVEN)


def capability(
    session: Session,
    ctx: Context,
    characteristic_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> CapabilityReport:
    """Return Cp/Cpk of a measured characteristic from the results of inspections in [since, until).

    Args:
        session: the request's session.
        ctx: the caller; needs ``quality.view``.
        characteristic_id: a variable characteristic of a plan.
        since: first inspection time included (default: all).
        until: first inspection time excluded (default: all).

    Returns:
        The indices (None with fewer than two values or no spread), rounded to 4 places, the mean
        and sigma to 6, and a histogram spanning the values and the limits.
    """
    char = get_characteristic(session, ctx, characteristic_id)
    if char.kind != "variable":
        raise _invalid(N_("Capability is computed for measured characteristics only."), "characteristic_id")
    stmt = (
        select(InspectionResult.value)
        .join(Inspection, Inspection.id == InspectionResult.inspection_id)
        .where(InspectionResult.characteristic_id == char.id, InspectionResult.value.is_not(None))
    )
    if since is not None:
        stmt = stmt.where(Inspection.inspected_at >= since)
    if until is not None:
        stmt = stmt.where(Inspection.inspected_at < until)
    values = [_q(v) for v in session.scalars(stmt) if v is not None]
    cap = spc.capability(values, char.lsl, char.usl)
    marks = [v for v in (char.lsl, char.usl) if v is not None]
    bins = spc.histogram(values, low=min([*values, *marks]), high=max([*values, *marks])) if values else []
    return CapabilityReport(
        characteristic_id=char.id,
        name=char.name,
        unit=char.unit,
        nominal=char.nominal,
        lsl=char.lsl,
        usl=char.usl,
        n=cap.n,
        mean=_round(cap.mean, STEP),
        sigma=_round(cap.sigma, STEP),
        cp=_round(cap.cp, INDEX_STEP),
        cpk=_round(cap.cpk, INDEX_STEP),
        cpu=_round(cap.cpu, INDEX_STEP),
        cpl=_round(cap.cpl, INDEX_STEP),
        bins=[spc.Bin(_q(b.low), _q(b.high), b.count) for b in bins],
    )


@dataclass(frozen=True, slots=True)
class ParetoReport:
    """Nonconformances of a period by defect code, largest first, with the cumulative percentage."""

    by: str
    total_count: int
    total_quantity: Decimal
    bars: list[spc.ParetoBar]
    codes: dict[int, DefectCode]


def pareto(
    session: Session,
    ctx: Context,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str = "count",
) -> ParetoReport:
    """Return the defect Pareto of the nonconformances raised in [since, until), by count or by quantity.

    NCs without a defect code form one bar of their own (key None).
    """
    ctx.require(VIEW)
    ctx.require_tenant()
    if by not in ("count", "quantity"):
        raise _invalid(N_("Sort by count or by quantity."), "by")
    stmt = select(Nonconformance.defect_code_id, Nonconformance.quantity)
    if since is not None:
        stmt = stmt.where(Nonconformance.created_at >= since)
    if until is not None:
        stmt = stmt.where(Nonconformance.created_at < until)
    counts: dict[int | None, int] = defaultdict(int)
    quantities: dict[int | None, Decimal] = defaultdict(Decimal)
    # Summed in Python, exactly: SQLite's NUMERIC sums are floats.
    for code_id, quantity in session.execute(stmt):
        counts[code_id] += 1
        quantities[code_id] += _q(quantity)
    ids = [k for k in counts if k is not None]
    codes = {c.id: c for c in session.scalars(select(DefectCode).where(DefectCode.id.in_(ids)))} if ids else {}
    rows = [
        spc.ParetoInput(key, codes[key].code if key is not None else "", counts[key], quantities[key]) for key in counts
    ]
    bars = [
        spc.ParetoBar(b.key, b.label, b.count, _q(b.quantity), b.cumulative_pct.quantize(Decimal("0.01")))
        for b in spc.pareto(rows, by=by)
    ]
    return ParetoReport(
        by=by,
        total_count=sum(counts.values()),
        total_quantity=_q(sum(quantities.values(), Decimal(0))),
        bars=bars,
        codes=codes,
    )


@dataclass(frozen=True, slots=True)
class ItemDefects:
    """How much of an item was inspected in a period and how much was found nonconforming."""

    item_id: int
    inspected_quantity: Decimal
    nonconforming_quantity: Decimal


def defect_summary(session: Session, ctx: Context, *, since: datetime, until: datetime) -> list[ItemDefects]:
    """Return, per item, the quantity inspected and the quantity nonconforming in [since, until).

    The defect rate of an item is ``nonconforming_quantity / inspected_quantity``. Nonconforming
    counts every nonconformance raised in the period (from inspections or by hand); inspected
    counts the inspections of the period. Items appear if they have either; sorted by item id.

    Args:
        session: the caller's session.
        ctx: the caller; needs ``quality.view``.
        since: first instant included.
        until: first instant excluded.

    Returns:
        One ``ItemDefects`` per item.
    """
    inspected: dict[int, Decimal] = defaultdict(Decimal)
    nonconforming: dict[int, Decimal] = defaultdict(Decimal)
    for event in defect_events(session, ctx, since=since, until=until):
        inspected[event.item_id] += event.inspected
        nonconforming[event.item_id] += event.nonconforming
    return [
        ItemDefects(item_id, _q(inspected.get(item_id, Decimal(0))), _q(nonconforming.get(item_id, Decimal(0))))
        for item_id in sorted(inspected.keys() | nonconforming.keys())
    ]


@dataclass(frozen=True, slots=True)
class DefectEvent:
    """An inspection (the quantity inspected) or a nonconformance (the quantity found bad), with its time."""

    item_id: int
    at: datetime
    inspected: Decimal
    nonconforming: Decimal


def defect_events(session: Session, ctx: Context, *, since: datetime, until: datetime) -> list[DefectEvent]:
    """Return every inspection and every nonconformance timed in [since, until), oldest first.

    The rows a defect rate per day, week or month is summed from: ``defect_summary`` folds them per
    item; the factory KPIs per period. Needs ``quality.view``.
    """
    ctx.require(VIEW)
    ctx.require_tenant()
    zero = Decimal(0)
    inspections = session.execute(
        select(Inspection.item_id, Inspection.inspected_at, Inspection.quantity).where(
            Inspection.inspected_at >= since, Inspection.inspected_at < until
        )
    )
    events = [DefectEvent(item_id, as_utc(at), _q(quantity), zero) for item_id, at, quantity in inspections]
    ncs = session.execute(
        select(Nonconformance.item_id, Nonconformance.created_at, Nonconformance.quantity).where(
            Nonconformance.created_at >= since, Nonconformance.created_at < until
        )
    )
    events += [DefectEvent(item_id, as_utc(at), zero, _q(quantity)) for item_id, at, quantity in ncs]
    events.sort(key=lambda e: e.at)
    return events


# ---------------------------------------------------------------------------------------------
# Console helpers
# ---------------------------------------------------------------------------------------------


def choices(session: Session, ctx: Context) -> dict[str, list[tuple[int, str]]]:
    """Return (id, label) of items, warehouse locations, suppliers, defect codes and plans for the console's forms."""
    ctx.require(VIEW)
    items: list[tuple[int, str]] = []
    suppliers: list[tuple[int, str]] = []
    if ctx.can(masterdata.VIEW):
        rows, _ = masterdata.list_items(session, ctx, limit=MAX_LIMIT)
        items = [(i.id, f"{i.code} · {i.name}") for i in rows]
        parties, _ = masterdata.list_parties(session, ctx, filters={"is_supplier": True}, limit=MAX_LIMIT)
        suppliers = [(p.id, f"{p.code} · {p.name}") for p in parties]
    locations: list[tuple[int, str]] = []
    lots: list[tuple[int, str]] = []
    if ctx.can(inventory.VIEW):
        locs, _ = inventory.list_locations(session, ctx, filters={"kind": "internal"}, limit=MAX_LIMIT)
        locations = [(loc.id, f"{loc.code} · {loc.name}") for loc in locs]
        found, _ = inventory.list_lots(session, ctx, limit=MAX_LIMIT)
        lots = [(lot.id, lot.number) for lot in found]
    codes, _ = list_defect_codes(session, ctx, limit=MAX_LIMIT)
    plans, _ = list_inspection_plans(session, ctx, filters={"active": True}, limit=MAX_LIMIT)
    return {
        "items": items,
        "locations": locations,
        "lots": lots,
        "suppliers": suppliers,
        "defect_codes": [(c.id, f"{c.code} · {c.name}") for c in codes],
        "plans": [(p.id, f"{p.code} · {p.name}") for p in plans],
    }
