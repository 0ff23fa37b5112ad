"""Maintenance logic: failure codes, maintenance orders, preventive plans, usage readings, reliability.

Reads need ``maintenance.view`` and writes ``maintenance.edit``. Equipment belongs to the assets
domain and is read through ``hexmill.assets.service`` inside the caller's tenant (so naming a
machine also needs ``assets.view``). Lookups answer NotFound for missing objects and for those of
another enterprise alike.

An order goes open -> in_progress -> done, or is cancelled while not done. A preventive plan has
at most one open (or in-progress) order at a time: ``generate_due_orders`` locks the active
plans' rows before it looks for open orders (``SELECT ... FOR UPDATE`` on PostgreSQL, the write
lock on SQLite), and a partial unique index on the orders' ``plan_id`` settles any race that
gets past the check. Completing a preventive order moves its plan's base to the completion (and,
for a usage plan, to the counter's reading then).

Usage counters only go up: a reading below the one before it (or above a later one) is refused
unless it is marked as a counter reset; readings of one counter are checked one at a time (an
advisory lock on PostgreSQL, the write lock on SQLite). ``record_reading`` is the entry point for
readings from elsewhere (telemetry); the API and console call it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hexmill.assets import service as assets
from hexmill.core import audit
from hexmill.core.clock import as_utc, utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.i18n import N_
from hexmill.core.lookup import lookup, page_of
from hexmill.core.pagination import MAX_LIMIT
from hexmill.factory import documents
from hexmill.factory.maintenance import reliability as rel
from hexmill.factory.maintenance import schedule
from hexmill.factory.maintenance.filters import (
    FAILURE_CODE_FILTERS,
    ORDER_FILTERS,
    PLAN_FILTERS,
    READING_FILTERS,
)
from hexmill.factory.maintenance.models import (
    OPEN_STATES,
    FailureCode,
    MaintenanceOrder,
    MaintenancePlan,
    UsageReading,
)

VIEW: Final = "maintenance.view"
EDIT: Final = "maintenance.edit"
STEP: Final = Decimal("0.000001")
HOURS_STEP: Final = Decimal("0.01")
# A reading may be a little ahead of the server's clock (a device's clock), not more.
CLOCK_SKEW: Final = timedelta(minutes=5)
SOURCES: Final = ("manual", "telemetry")
ORDER_FIELDS: Final = (
    "number",
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


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _invalid(message: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(message, field=field, params=params)], **params)


def _q(value: Decimal, step: Decimal = STEP) -> Decimal:
    """Return a value at the column's scale, as the database gives it back."""
    return Decimal(value).quantize(step, rounding=ROUND_HALF_EVEN)


def _show(value: Decimal) -> str:
    """Return a number without trailing zeros and never in exponent notation."""
    return format(Decimal(value).normalize(), "f")


def _stamp(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _detail(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal | date) else v for k, v in fields.items()}


def _audit(session: Session, ctx: Context, action: str, object_type: str, obj_id: int | None, **detail: Any) -> None:
    audit.record(
        session, ctx, f"maintenance.{action}", object_type=object_type, object_id=obj_id, detail=_detail(detail)
    )


def _equipment(session: Session, ctx: Context, equipment_id: int, field: str = "equipment_id") -> str:
    """Check that a machine of the enterprise exists (through the assets service); return its name."""
    try:
        return assets.get_equipment(session, ctx, equipment_id).name
    except NotFound as exc:
        raise _invalid(N_("Equipment %(id)s not found."), field, id=equipment_id) from exc


def equipment_names(session: Session, ctx: Context) -> dict[int, str]:
    """Return the names of the enterprise's machines by id (empty without ``assets.view``)."""
    if not ctx.can(assets.VIEW):
        return {}
    names: dict[int, str] = {}
    offset = 0
    while True:
        rows, total = assets.list_equipment(session, ctx, offset=offset, limit=MAX_LIMIT)
        names.update((e.id, e.name) for e in rows)
        offset += len(rows)
        if not rows or offset >= total:
            return names


def _lock_rows(session: Session, ctx: Context, stmt: Select[Any], model: Any) -> Select[Any]:
    """Return ``stmt`` locking its rows until commit (SQLite: take the database's write lock now)."""
    tenant_id = ctx.require_tenant()
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a write that changes nothing takes the database's write lock now.
        session.execute(
            update(model)
            .where(model.tenant_id == tenant_id)
            .values(id=model.id)
            .execution_options(synchronize_session=False)
        )
        return stmt.execution_options(populate_existing=True)
    return stmt.with_for_update(of=model).execution_options(populate_existing=True)


# ---------------------------------------------------------------------------------------------
# Failure codes
# ---------------------------------------------------------------------------------------------


def list_failure_codes(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[FailureCode], int]:
    """Return one page of the failure code catalogue, by code, and its total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(FailureCode).order_by(FailureCode.code, FailureCode.id)
    return page_of(session, stmt, FAILURE_CODE_FILTERS, filters=filters, offset=offset, limit=limit)


def get_failure_code(session: Session, ctx: Context, code_id: int) -> FailureCode:
    """Return one failure code of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    return lookup(session, FailureCode, code_id, N_("Failure code %(id)s not found."))


def _unique_code(session: Session, code: str, exclude: int | None) -> None:
    taken = N_("The failure code %(code)s is already taken.")
    documents.check_unique(session, FailureCode, "code", code, exclude=exclude, taken=taken)


def _flush_unique(session: Session, message: str, field: str, **params: Any) -> None:
    """Flush; a concurrent write that took the same key first hits the unique constraint, a Conflict too."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(message, field=field, **params) from exc


def create_failure_code(
    session: Session, ctx: Context, *, code: str, name: str, description: str = "", active: bool = True
) -> FailureCode:
    """Add a cause or failure code to the enterprise's catalogue."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _unique_code(session, code, None)
    row = FailureCode(tenant_id=tenant_id, code=code, name=name, description=description, active=active)
    session.add(row)
    _flush_unique(session, N_("The failure code %(code)s is already taken."), "code", code=code)
    _audit(session, ctx, "failure_code.create", "failure_code", row.id, code=code, name=name)
    return row


def update_failure_code(session: Session, ctx: Context, code_id: int, **fields: Any) -> FailureCode:
    """Change a failure code (its code, name, description, or whether it may still be chosen)."""
    ctx.require(EDIT)
    row = lookup(session, FailureCode, code_id, N_("Failure code %(id)s not found."))
    changes = {k: v for k, v in fields.items() if v is not None}
    if "code" in changes:
        _unique_code(session, changes["code"], row.id)
    for key, value in changes.items():
        setattr(row, key, value)
    _flush_unique(session, N_("The failure code %(code)s is already taken."), "code", code=row.code)
    _audit(session, ctx, "failure_code.update", "failure_code", row.id, **changes)
    return row


def delete_failure_code(session: Session, ctx: Context, code_id: int) -> None:
    """Delete a failure code no order uses; one in use is refused (make it inactive instead)."""
    ctx.require(EDIT)
    row = lookup(session, FailureCode, code_id, N_("Failure code %(id)s not found."))
    if session.scalar(select(exists().where(MaintenanceOrder.failure_code_id == row.id))):
        raise Conflict(
            N_("Failure code %(code)s is used by maintenance orders; make it inactive instead."),
            field="id",
            code=row.code,
        )
    session.delete(row)
    session.flush()
    _audit(session, ctx, "failure_code.delete", "failure_code", code_id, code=row.code)


def _failure_code(session: Session, ctx: Context, code_id: int | None) -> None:
    if code_id is None:
        return
    row = session.scalar(select(FailureCode).where(FailureCode.id == code_id))
    if row is None:
        raise _invalid(N_("Failure code %(id)s not found."), "failure_code_id", id=code_id)
    if not row.active:
        raise _invalid(N_("Failure code %(code)s is inactive."), "failure_code_id", code=row.code)


# ---------------------------------------------------------------------------------------------
# Maintenance orders
# ---------------------------------------------------------------------------------------------


def list_maintenance_orders(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[MaintenanceOrder], int]:
    """Return one page of maintenance orders, open and in-progress first, newest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    still_open = MaintenanceOrder.status.in_(OPEN_STATES)
    stmt = select(MaintenanceOrder).order_by(still_open.desc(), MaintenanceOrder.id.desc())
    return page_of(session, stmt, ORDER_FILTERS, filters=filters, offset=offset, limit=limit)


def get_maintenance_order(session: Session, ctx: Context, order_id: int) -> MaintenanceOrder:
    """Return one maintenance order, or raise NotFound."""
    ctx.require(VIEW)
    return lookup(session, MaintenanceOrder, order_id, N_("Maintenance order %(id)s not found."))


def _check_times(order: MaintenanceOrder) -> None:
    """Refuse a repair that starts before the breakdown or ends before it starts (naming the field)."""
    failure, start, end = order.failure_at, order.repair_start_at, order.repair_end_at
    if failure is not None and start is not None and start < failure:
        raise _invalid(
            N_("The repair cannot start before the breakdown (%(at)s)."), "repair_start_at", at=_stamp(failure)
        )
    if start is not None and end is not None and end < start:
        raise _invalid(N_("The repair cannot end before it starts (%(at)s)."), "repair_end_at", at=_stamp(start))
    if failure is not None and end is not None and end < failure:
        raise _invalid(N_("The repair cannot end before the breakdown (%(at)s)."), "repair_end_at", at=_stamp(failure))


def _check_kind(order: MaintenanceOrder) -> None:
    if order.kind == "corrective" and order.failure_at is None:
        raise _invalid(N_("A corrective order needs the time the equipment broke down."), "failure_at")
    if order.failure_at is not None and as_utc(order.failure_at) > utcnow() + CLOCK_SKEW:
        raise _invalid(N_("A breakdown cannot lie in the future."), "failure_at")
    if order.kind == "preventive" and order.failure_at is not None:
        raise _invalid(N_("Only a corrective order records a breakdown."), "failure_at")


def _number_taken(number: str) -> Conflict:
    return Conflict(N_("The order number %(number)s is already taken."), field="number", number=number)


def _unique_number(session: Session, number: str, exclude: int | None) -> None:
    stmt = select(MaintenanceOrder.id).where(MaintenanceOrder.number == number)
    if exclude is not None:
        stmt = stmt.where(MaintenanceOrder.id != exclude)
    with session.no_autoflush:
        if session.scalar(stmt) is not None:
            raise _number_taken(number)


def _open_order_of(session: Session, plan_id: int) -> int | None:
    with session.no_autoflush:
        return session.scalar(
            select(MaintenanceOrder.id).where(
                MaintenanceOrder.plan_id == plan_id, MaintenanceOrder.status.in_(OPEN_STATES)
            )
        )


def _insert_order(session: Session, order: MaintenanceOrder, number: str | None) -> None:
    """Add an order and flush it; without a number it is numbered MO-<id> once it has an id."""
    order.number = number or f"~{uuid.uuid4().hex}"
    session.add(order)
    try:
        session.flush()
        if number is None:
            order.number = f"MO-{order.id:06d}"
            session.flush()
    except IntegrityError as exc:
        if order.plan_id is not None and _open_order_of(session, order.plan_id) is not None:
            raise Conflict(
                N_("Plan %(id)s already has an open maintenance order."), field="plan_id", id=order.plan_id
            ) from exc
        raise _number_taken(order.number) from exc


def create_maintenance_order(
    session: Session,
    ctx: Context,
    *,
    equipment_id: int,
    kind: str,
    number: str | None = None,
    priority: str = "normal",
    plan_id: int | None = None,
    failure_code_id: int | None = None,
    failure_at: datetime | None = None,
    repair_start_at: datetime | None = None,
    repair_end_at: datetime | None = None,
    equipment_down: bool | None = None,
    due_date: date | None = None,
    description: str = "",
    action_taken: str = "",
    labour_hours: Decimal = Decimal(0),
) -> MaintenanceOrder:
    """Open a maintenance order on a machine: a repair (corrective, with its breakdown time) or planned care."""
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _equipment(session, ctx, equipment_id)
    if number is not None:
        _unique_number(session, number, None)
    if plan_id is not None:
        if kind != "preventive":
            raise _invalid(N_("Only a preventive order carries out a plan."), "plan_id")
        plan = session.scalar(select(MaintenancePlan).where(MaintenancePlan.id == plan_id))
        if plan is None:
            raise _invalid(N_("Plan %(id)s not found."), "plan_id", id=plan_id)
        if plan.equipment_id != equipment_id:
            raise _invalid(N_("Plan %(name)s is for other equipment."), "plan_id", name=plan.name)
        if _open_order_of(session, plan_id) is not None:
            raise Conflict(N_("Plan %(id)s already has an open maintenance order."), field="plan_id", id=plan_id)
    _failure_code(session, ctx, failure_code_id)
    order = MaintenanceOrder(
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        kind=kind,
        priority=priority,
        status="open",
        plan_id=plan_id,
        failure_code_id=failure_code_id,
        failure_at=failure_at,
        repair_start_at=repair_start_at,
        repair_end_at=repair_end_at,
        equipment_down=(kind == "corrective") if equipment_down is None else equipment_down,
        due_date=due_date,
        description=description,
        action_taken=action_taken,
        labour_hours=_q(labour_hours, HOURS_STEP),
        username=ctx.username,
    )
    _check_kind(order)
    _check_times(order)
    _insert_order(session, order, number)
    _audit(session, ctx, "order.create", "maintenance_order", order.id, number=order.number, kind=kind)
    return order


def _editable(session: Session, ctx: Context, order_id: int) -> MaintenanceOrder:
    order = lookup(session, MaintenanceOrder, order_id, N_("Maintenance order %(id)s not found."))
    if order.status not in OPEN_STATES:
        raise Conflict(
            N_("Maintenance order %(number)s is %(status)s and cannot be changed."),
            field="status",
            number=order.number,
            status=order.status,
        )
    return order


def update_maintenance_order(session: Session, ctx: Context, order_id: int, **fields: Any) -> MaintenanceOrder:
    """Change an open or in-progress order: times, cause, description, action taken, labour."""
    ctx.require(EDIT)
    order = _editable(session, ctx, order_id)
    changes = {k: v for k, v in fields.items() if v is not None and k in ORDER_FIELDS}
    if "number" in changes:
        _unique_number(session, changes["number"], order.id)
    if "failure_code_id" in changes:
        _failure_code(session, ctx, changes["failure_code_id"])
    if "labour_hours" in changes:
        changes["labour_hours"] = _q(changes["labour_hours"], HOURS_STEP)
    with session.no_autoflush:
        for key, value in changes.items():
            setattr(order, key, value)
        _check_kind(order)
        _check_times(order)
    _flush_unique(session, N_("The order number %(number)s is already taken."), "number", number=order.number)
    _audit(session, ctx, "order.update", "maintenance_order", order.id, **changes)
    return order


def delete_maintenance_order(session: Session, ctx: Context, order_id: int) -> None:
    """Delete an order that has not started; one in progress or finished is kept (cancel it instead)."""
    ctx.require(EDIT)
    order = lookup(session, MaintenanceOrder, order_id, N_("Maintenance order %(id)s not found."))
    if order.status != "open":
        raise Conflict(
            N_("Maintenance order %(number)s is %(status)s and cannot be deleted."),
            field="status",
            number=order.number,
            status=order.status,
        )
    session.delete(order)
    session.flush()
    _audit(session, ctx, "order.delete", "maintenance_order", order_id, number=order.number)


def start_maintenance_order(
    session: Session, ctx: Context, order_id: int, *, repair_start_at: datetime | None = None
) -> MaintenanceOrder:
    """Start work on an open order; the repair start is now unless given (or already recorded)."""
    ctx.require(EDIT)
    order = _editable(session, ctx, order_id)
    if order.status != "open":
        raise Conflict(N_("Maintenance order %(number)s has already started."), field="status", number=order.number)
    with session.no_autoflush:
        order.repair_start_at = repair_start_at or order.repair_start_at or utcnow()
        _check_times(order)
        order.status = "in_progress"
    session.flush()
    _audit(session, ctx, "order.start", "maintenance_order", order.id, repair_start_at=str(order.repair_start_at))
    return order


def complete_maintenance_order(
    session: Session,
    ctx: Context,
    order_id: int,
    *,
    repair_end_at: datetime | None = None,
    action_taken: str | None = None,
    labour_hours: Decimal | None = None,
    failure_code_id: int | None = None,
) -> MaintenanceOrder:
    """Close an order as done; the repair end is now unless given. A plan's order moves the plan's base on."""
    ctx.require(EDIT)
    order = _editable(session, ctx, order_id)
    _failure_code(session, ctx, failure_code_id)
    now = utcnow()
    with session.no_autoflush:
        order.repair_end_at = repair_end_at or order.repair_end_at or now
        if order.repair_start_at is None:
            order.repair_start_at = order.failure_at or order.repair_end_at
        if action_taken is not None:
            order.action_taken = action_taken
        if labour_hours is not None:
            order.labour_hours = _q(labour_hours, HOURS_STEP)
        if failure_code_id is not None:
            order.failure_code_id = failure_code_id
        _check_times(order)
        order.status, order.completed_at = "done", now
    if order.plan_id is not None:
        plan = session.scalar(select(MaintenancePlan).where(MaintenancePlan.id == order.plan_id))
        if plan is not None:
            _mark_done(session, plan, order.repair_end_at)
    session.flush()
    _audit(session, ctx, "order.complete", "maintenance_order", order.id, repair_end_at=str(order.repair_end_at))
    return order


def cancel_maintenance_order(session: Session, ctx: Context, order_id: int) -> MaintenanceOrder:
    """Cancel an open or in-progress order (its plan may then open a new one when due)."""
    ctx.require(EDIT)
    order = _editable(session, ctx, order_id)
    order.status = "cancelled"
    session.flush()
    _audit(session, ctx, "order.cancel", "maintenance_order", order.id, number=order.number)
    return order


# ---------------------------------------------------------------------------------------------
# Usage readings
# ---------------------------------------------------------------------------------------------


def list_readings(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[UsageReading], int]:
    """Return one page of usage readings, latest first, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(UsageReading).order_by(UsageReading.read_at.desc(), UsageReading.id.desc())
    return page_of(session, stmt, READING_FILTERS, filters=filters, offset=offset, limit=limit)


def _neighbours(
    session: Session, equipment_id: int, counter: str, at: datetime
) -> tuple[UsageReading | None, UsageReading | None]:
    """Return the counter's reading just before (or at) ``at`` and the one just after it."""
    same = select(UsageReading).where(UsageReading.equipment_id == equipment_id, UsageReading.counter == counter)
    before = session.scalar(
        same.where(UsageReading.read_at <= at).order_by(UsageReading.read_at.desc(), UsageReading.id.desc()).limit(1)
    )
    after = session.scalar(
        same.where(UsageReading.read_at > at).order_by(UsageReading.read_at, UsageReading.id).limit(1)
    )
    return before, after


def _serialise_counter(session: Session, tenant_id: int, equipment_id: int, counter: str) -> None:
    """Hold a lock on one machine's counter until commit, so two readings are checked one after the other.

    PostgreSQL: a transaction-scoped advisory lock keyed by tenant, machine and counter. SQLite: a
    write that changes nothing takes the database's write lock now.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(UsageReading)
            .where(UsageReading.tenant_id == tenant_id, UsageReading.id == -1)
            .values(id=UsageReading.id)
            .execution_options(synchronize_session=False)
        )
        return
    key = f"maintenance.counter:{tenant_id}:{equipment_id}:{counter}"
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def record_reading(
    session: Session,
    ctx: Context,
    *,
    equipment_id: int,
    counter: str,
    value: Decimal,
    read_at: datetime | None = None,
    is_reset: bool = False,
    source: str = "manual",
    note: str = "",
) -> UsageReading:
    """Record a reading of a machine's usage counter (a person's, or telemetry's with ``source="telemetry"``).

    Args:
        session: the caller's session, scoped to the tenant.
        ctx: who records it; needs ``maintenance.edit`` (and ``assets.view`` to name the machine).
        equipment_id: the machine, in the caller's enterprise.
        counter: the counter's name, such as ``runtime_hours`` or ``cycles``.
        value: the counter's value, not negative.
        read_at: when it was read (aware); now if None. Not more than five minutes ahead.
        is_reset: the counter started again from zero, so it may read lower than before.
        source: ``manual`` or ``telemetry``.
        note: free text.

    Returns:
        The reading, flushed.

    Raises:
        InvalidInput: naming ``value`` when the counter would go down without a reset (or above a later
            reading), ``read_at`` when in the future, ``equipment_id`` when the machine is unknown.
    """
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    if source not in SOURCES:
        raise _invalid(N_("A reading comes from %(sources)s."), "source", sources=", ".join(SOURCES))
    _equipment(session, ctx, equipment_id)
    now = utcnow()
    at = as_utc(read_at) if read_at is not None else now
    if at > now + CLOCK_SKEW:
        raise _invalid(N_("A reading cannot be taken in the future."), "read_at")
    if value < 0:
        raise _invalid(N_("A counter cannot read below zero."), "value")
    value = _q(value)
    _serialise_counter(session, tenant_id, equipment_id, counter)
    before, after = _neighbours(session, equipment_id, counter, at)
    if before is not None and not is_reset and value < before.value:
        raise _invalid(
            N_(
                "The counter %(counter)s read %(previous)s at %(at)s; it only goes up unless the reading "
                "is marked as a counter reset."
            ),
            "value",
            counter=counter,
            previous=_show(before.value),
            at=_stamp(before.read_at),
        )
    if after is not None and not after.is_reset and after.value < value:
        raise _invalid(
            N_("A later reading of %(counter)s is lower (%(next)s at %(at)s); counters only go up."),
            "value",
            counter=counter,
            next=_show(after.value),
            at=_stamp(after.read_at),
        )
    reading = UsageReading(
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        counter=counter,
        value=value,
        read_at=at,
        is_reset=is_reset,
        source=source,
        note=note,
        username=ctx.username,
    )
    session.add(reading)
    session.flush()
    _audit(session, ctx, "reading.create", "usage_reading", reading.id, counter=counter, value=value, reset=is_reset)
    return reading


def counters(session: Session, ctx: Context, equipment_id: int | None = None) -> list[str]:
    """Return the names of the counters read so far (of one machine, or of all), sorted."""
    ctx.require(VIEW)
    stmt = select(UsageReading.counter).distinct().order_by(UsageReading.counter)
    if equipment_id is not None:
        stmt = stmt.where(UsageReading.equipment_id == equipment_id)
    return list(session.scalars(stmt))


def _latest_value(session: Session, equipment_id: int, counter: str, at: datetime | None = None) -> Decimal | None:
    stmt = select(UsageReading.value).where(UsageReading.equipment_id == equipment_id, UsageReading.counter == counter)
    if at is not None:
        stmt = stmt.where(UsageReading.read_at <= at)
    return session.scalar(stmt.order_by(UsageReading.read_at.desc(), UsageReading.id.desc()).limit(1))


# ---------------------------------------------------------------------------------------------
# Preventive plans
# ---------------------------------------------------------------------------------------------


def list_plans(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[MaintenancePlan], int]:
    """Return one page of preventive plans, by name, and their total."""
    ctx.require(VIEW)
    ctx.require_tenant()
    stmt = select(MaintenancePlan).order_by(MaintenancePlan.name, MaintenancePlan.id)
    return page_of(session, stmt, PLAN_FILTERS, filters=filters, offset=offset, limit=limit)


def get_plan(session: Session, ctx: Context, plan_id: int) -> MaintenancePlan:
    """Return one preventive plan, or raise NotFound."""
    ctx.require(VIEW)
    return lookup(session, MaintenancePlan, plan_id, N_("Plan %(id)s not found."))


def _check_trigger(plan: MaintenancePlan) -> None:
    """Refuse a plan without the interval its trigger needs, or with the other trigger's fields."""
    if plan.trigger_type == "calendar":
        if plan.interval_days is None:
            raise _invalid(N_("A calendar plan needs an interval in days."), "interval_days")
        if plan.counter is not None or plan.interval_units is not None:
            field = "counter" if plan.counter is not None else "interval_units"
            raise _invalid(N_("A calendar plan has no counter; leave it empty."), field)
        return
    if plan.counter is None:
        raise _invalid(N_("A usage plan needs the counter it follows."), "counter")
    if plan.interval_units is None:
        raise _invalid(N_("A usage plan needs an interval in counter units."), "interval_units")
    if plan.interval_days is not None:
        raise _invalid(N_("A usage plan has no interval in days; leave it empty."), "interval_days")


def _plan_name_taken(name: str) -> Conflict:
    return Conflict(N_("The plan name %(name)s is already taken for this equipment."), field="name", name=name)


def _unique_plan_name(session: Session, equipment_id: int, name: str, exclude: int | None) -> None:
    stmt = select(MaintenancePlan.id).where(MaintenancePlan.equipment_id == equipment_id, MaintenancePlan.name == name)
    if exclude is not None:
        stmt = stmt.where(MaintenancePlan.id != exclude)
    with session.no_autoflush:
        if session.scalar(stmt) is not None:
            raise _plan_name_taken(name)


def create_plan(
    session: Session,
    ctx: Context,
    *,
    equipment_id: int,
    name: str,
    trigger_type: str,
    interval_days: int | None = None,
    start_date: date | None = None,
    counter: str | None = None,
    interval_units: Decimal | None = None,
    start_reading: Decimal | None = None,
    tasks: str = "",
    active: bool = True,
) -> MaintenancePlan:
    """Create a preventive plan for a machine, by calendar (every N days) or by usage (every N counter units).

    A usage plan counts from ``start_reading``, by default the counter's latest reading (or 0).
    """
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    _equipment(session, ctx, equipment_id)
    _unique_plan_name(session, equipment_id, name, None)
    if trigger_type == "usage" and counter is not None and start_reading is None:
        start_reading = _latest_value(session, equipment_id, counter) or Decimal(0)
    plan = MaintenancePlan(
        tenant_id=tenant_id,
        equipment_id=equipment_id,
        name=name,
        trigger_type=trigger_type,
        interval_days=interval_days,
        start_date=start_date or utcnow().date(),
        counter=counter,
        interval_units=None if interval_units is None else _q(interval_units),
        start_reading=None if trigger_type != "usage" or start_reading is None else _q(start_reading),
        tasks=tasks,
        active=active,
    )
    _check_trigger(plan)
    session.add(plan)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _plan_name_taken(name) from exc
    _audit(session, ctx, "plan.create", "maintenance_plan", plan.id, name=name, trigger_type=trigger_type)
    return plan


def update_plan(session: Session, ctx: Context, plan_id: int, **fields: Any) -> MaintenancePlan:
    """Change a plan: its name, interval, start date, counter, tasks, or whether it is active."""
    ctx.require(EDIT)
    plan = lookup(session, MaintenancePlan, plan_id, N_("Plan %(id)s not found."))
    changes = {k: v for k, v in fields.items() if v is not None}
    if "name" in changes:
        _unique_plan_name(session, plan.equipment_id, changes["name"], plan.id)
    if "interval_units" in changes:
        changes["interval_units"] = _q(changes["interval_units"])
    with session.no_autoflush:
        for key, value in changes.items():
            setattr(plan, key, value)
        _check_trigger(plan)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _plan_name_taken(plan.name) from exc
    _audit(session, ctx, "plan.update", "maintenance_plan", plan.id, **changes)
    return plan


def delete_plan(session: Session, ctx: Context, plan_id: int) -> None:
    """Delete a plan; the orders it opened stay, no longer linked to it."""
    ctx.require(EDIT)
    plan = lookup(session, MaintenancePlan, plan_id, N_("Plan %(id)s not found."))
    session.execute(
        update(MaintenanceOrder)
        .where(MaintenanceOrder.plan_id == plan.id)
        .values(plan_id=None)
        .execution_options(synchronize_session="fetch")
    )
    session.delete(plan)
    session.flush()
    _audit(session, ctx, "plan.delete", "maintenance_plan", plan_id, name=plan.name)


def _base_at(plan: MaintenancePlan) -> datetime:
    """Return the instant a usage plan counts from: its last completion, else its creation."""
    return as_utc(plan.last_done_at or plan.created_at)


def _state(plan: MaintenancePlan) -> schedule.PlanState:
    base_date = as_utc(plan.last_done_at).date() if plan.last_done_at is not None else plan.start_date
    base_reading = plan.last_done_reading if plan.last_done_at is not None else plan.start_reading
    return schedule.PlanState(
        trigger="calendar" if plan.trigger_type == "calendar" else "usage",
        base_date=base_date,
        interval_days=plan.interval_days,
        interval_units=plan.interval_units,
        base_reading=base_reading if base_reading is not None else Decimal(0),
    )


def _readings_after(session: Session, plans: Sequence[MaintenancePlan]) -> dict[int, list[schedule.Reading]]:
    """Return, per usage plan, its counter's readings after the plan's base, oldest first (one query)."""
    usage = [p for p in plans if p.trigger_type == "usage" and p.counter is not None]
    if not usage:
        return {}
    since = min(_base_at(p) for p in usage)
    stmt = (
        select(UsageReading)
        .where(
            UsageReading.equipment_id.in_({p.equipment_id for p in usage}),
            UsageReading.counter.in_({p.counter for p in usage}),
            UsageReading.read_at > since,
        )
        .order_by(UsageReading.read_at, UsageReading.id)
    )
    rows = list(session.scalars(stmt))
    out: dict[int, list[schedule.Reading]] = {}
    for plan in usage:
        base = _base_at(plan)
        out[plan.id] = [
            schedule.Reading(as_utc(r.read_at), r.value, r.is_reset)
            for r in rows
            if r.equipment_id == plan.equipment_id and r.counter == plan.counter and as_utc(r.read_at) > base
        ]
    return out


@dataclass(frozen=True, slots=True)
class PlanDueRow:
    """When a plan falls due, whether it is due now, and its open order if it has one."""

    plan_id: int
    due: bool
    due_date: date | None
    used: Decimal | None
    due_value: Decimal | None
    current: Decimal | None
    open_order_id: int | None


def due_states(
    session: Session, ctx: Context, plans: Sequence[MaintenancePlan], now: datetime
) -> dict[int, PlanDueRow]:
    """Return, per plan, when it falls due and whether it is due at ``now`` (two queries for any number of plans)."""
    ctx.require(VIEW)
    readings = _readings_after(session, plans)
    ids = [p.id for p in plans]
    open_orders: dict[int, int] = {}
    if ids:
        stmt = select(MaintenanceOrder.plan_id, MaintenanceOrder.id).where(
            MaintenanceOrder.plan_id.in_(ids), MaintenanceOrder.status.in_(OPEN_STATES)
        )
        open_orders = {plan_id: order_id for plan_id, order_id in session.execute(stmt) if plan_id is not None}
    today = as_utc(now).date()
    out: dict[int, PlanDueRow] = {}
    for plan in plans:
        state = schedule.due_state(_state(plan), today=today, readings=readings.get(plan.id, ()))
        out[plan.id] = PlanDueRow(
            plan_id=plan.id,
            due=state.due,
            due_date=state.due_date,
            used=state.used,
            due_value=state.due_value,
            current=state.current,
            open_order_id=open_orders.get(plan.id),
        )
    return out


def plan_due(session: Session, ctx: Context, plan_id: int, now: datetime | None = None) -> PlanDueRow:
    """Return when one plan falls due and whether it is due now."""
    plan = get_plan(session, ctx, plan_id)
    return due_states(session, ctx, [plan], now or utcnow())[plan.id]


def _mark_done(session: Session, plan: MaintenancePlan, at: datetime) -> None:
    """Move a plan's base to a completion: the time, and for a usage plan the counter's reading then."""
    state = _state(plan)
    plan.last_done_at = at
    if plan.trigger_type == "usage" and plan.counter is not None:
        rows = [
            schedule.Reading(as_utc(r.read_at), r.value, r.is_reset)
            for r in session.scalars(
                select(UsageReading)
                .where(
                    UsageReading.equipment_id == plan.equipment_id,
                    UsageReading.counter == plan.counter,
                    UsageReading.read_at <= at,
                )
                .order_by(UsageReading.read_at.desc(), UsageReading.id.desc())
                .limit(1)
            )
        ]
        plan.last_done_reading = rows[0].value if rows else state.base_reading


def generate_due_orders(session: Session, ctx: Context, now: datetime | None = None) -> list[MaintenanceOrder]:
    """Open one preventive order for every active plan due at ``now`` that has no open order yet.

    The active plans' rows are locked first, so two runs at once cannot both open an order for
    the same plan; a second run finds the first one's orders and opens nothing more.
    """
    ctx.require(EDIT)
    tenant_id = ctx.require_tenant()
    now = as_utc(now) if now is not None else utcnow()
    stmt = _lock_rows(
        session,
        ctx,
        select(MaintenancePlan).where(MaintenancePlan.active.is_(True)).order_by(MaintenancePlan.id),
        MaintenancePlan,
    )
    plans = list(session.scalars(stmt))
    states = due_states(session, ctx, plans, now)
    created: list[MaintenanceOrder] = []
    for plan in plans:
        state = states[plan.id]
        if not state.due or state.open_order_id is not None:
            continue
        order = MaintenanceOrder(
            tenant_id=tenant_id,
            equipment_id=plan.equipment_id,
            kind="preventive",
            priority="normal",
            status="open",
            plan_id=plan.id,
            equipment_down=False,
            due_date=state.due_date or now.date(),
            description=f"{plan.name}\n{plan.tasks}".strip(),
            action_taken="",
            labour_hours=_q(Decimal(0), HOURS_STEP),
            username=ctx.username,
        )
        _insert_order(session, order, None)
        created.append(order)
    _audit(session, ctx, "plan.generate_due", "maintenance_plan", None, created=[o.number for o in created])
    return created


# ---------------------------------------------------------------------------------------------
# Reliability
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReliabilityRow:
    """The reliability figures of one machine over a period, durations in hours."""

    equipment_id: int
    equipment_name: str
    start: datetime
    end: datetime
    failures: int
    downtime_hours: Decimal
    mttr_hours: Decimal | None
    mtbf_hours: Decimal | None
    availability: Decimal


def _period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise _invalid(N_("The period must end after it starts (%(at)s)."), "end", at=_stamp(start))
    return start, end


def _failures(
    session: Session, start: datetime, end: datetime, equipment_id: int | None = None
) -> dict[int, list[rel.Failure]]:
    """Return the breakdowns with downtime starting inside the period, per machine (one query)."""
    stmt = select(MaintenanceOrder.equipment_id, MaintenanceOrder.failure_at, MaintenanceOrder.repair_end_at).where(
        MaintenanceOrder.kind == "corrective",
        MaintenanceOrder.equipment_down.is_(True),
        MaintenanceOrder.status != "cancelled",
        MaintenanceOrder.failure_at >= start,
        MaintenanceOrder.failure_at < end,
    )
    if equipment_id is not None:
        stmt = stmt.where(MaintenanceOrder.equipment_id == equipment_id)
    out: dict[int, list[rel.Failure]] = {}
    for eq, failure_at, repair_end_at in session.execute(stmt):
        if failure_at is None:
            continue
        out.setdefault(eq, []).append(
            rel.Failure(as_utc(failure_at), None if repair_end_at is None else as_utc(repair_end_at))
        )
    return out


def _row(
    equipment_id: int, name: str, failures: Iterable[rel.Failure], start: datetime, end: datetime
) -> ReliabilityRow:
    figures = rel.reliability(failures, start=start, end=end)
    return ReliabilityRow(
        equipment_id=equipment_id,
        equipment_name=name,
        start=start,
        end=end,
        failures=figures.failures,
        downtime_hours=rel.hours(figures.downtime) or Decimal(0),
        mttr_hours=rel.hours(figures.mttr),
        mtbf_hours=rel.hours(figures.mtbf),
        availability=figures.availability,
    )


def equipment_reliability(
    session: Session, ctx: Context, equipment_id: int, *, start: datetime, end: datetime
) -> ReliabilityRow:
    """Return failures, MTTR, MTBF and availability of one machine over ``[start, end)``."""
    ctx.require(VIEW)
    try:
        name = assets.get_equipment(session, ctx, equipment_id).name
    except NotFound:
        raise NotFound(N_("Equipment %(id)s not found."), id=equipment_id) from None
    start, end = _period(start, end)
    return _row(equipment_id, name, _failures(session, start, end, equipment_id).get(equipment_id, []), start, end)


def reliability_table(session: Session, ctx: Context, *, start: datetime, end: datetime) -> list[ReliabilityRow]:
    """Return the reliability figures of every machine of the enterprise over ``[start, end)``, by name."""
    ctx.require(VIEW)
    ctx.require(assets.VIEW)
    start, end = _period(start, end)
    failures = _failures(session, start, end)
    names = equipment_names(session, ctx)
    rows = [_row(eq, name, failures.get(eq, []), start, end) for eq, name in names.items()]
    return sorted(rows, key=lambda r: (r.equipment_name, r.equipment_id))


# ---------------------------------------------------------------------------------------------
# Console helpers
# ---------------------------------------------------------------------------------------------


def choices(session: Session, ctx: Context) -> dict[str, list[tuple[int, str]]]:
    """Return (id, label) of machines, active failure codes and plans for the console's forms."""
    ctx.require(VIEW)
    names = equipment_names(session, ctx)
    codes, _ = list_failure_codes(session, ctx, limit=MAX_LIMIT)
    plans, _ = list_plans(session, ctx, limit=MAX_LIMIT)
    return {
        "equipment": sorted(names.items(), key=lambda kv: (kv[1], kv[0])),
        "failure_codes": [(c.id, f"{c.code} · {c.name}") for c in codes if c.active],
        "failure_code_names": [(c.id, f"{c.code} · {c.name}") for c in codes],
        "plans": [(p.id, f"{p.name} · {names.get(p.equipment_id, p.equipment_id)}") for p in plans],
    }
