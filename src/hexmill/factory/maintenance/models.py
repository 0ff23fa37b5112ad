"""Tables of maintenance: failure codes, maintenance orders, preventive plans and usage readings.

Equipment lives in the assets domain (``asset_equipment``). Maintenance orders point at it with
ON DELETE RESTRICT: an order is the record of a breakdown, of work done and of labour spent, and
the reliability figures are computed from it, so deleting a machine must not silently wipe its
history (make the equipment inactive or keep it instead). Plans and usage readings only describe
how a machine is to be looked after and how much it has run; without the machine they mean
nothing, so they go with it (ON DELETE CASCADE) -- but only once no order refers to it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

Quantity = Numeric(18, 6)
Hours = Numeric(9, 2)
ORDER_KINDS: Final = ("corrective", "preventive")
PRIORITIES: Final = ("low", "normal", "high", "urgent")
ORDER_STATES: Final = ("open", "in_progress", "done", "cancelled")
OPEN_STATES: Final = ("open", "in_progress")
TRIGGERS: Final = ("calendar", "usage")
# One open (or in-progress) order per plan at most; the service checks first, this index decides races.
_OPEN_ORDER = "status IN ('open', 'in_progress') AND plan_id IS NOT NULL"


class FailureCode(TenantOwned, Base):
    """A cause or failure code of the enterprise's catalogue (bearing worn, sensor fault, operator error)."""

    __tablename__ = "factory_failure_codes"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MaintenancePlan(TenantOwned, Base):
    """A preventive plan of one machine: what to do, and every how many days or counter units.

    A calendar plan is due ``interval_days`` after its last completion (before the first, after
    ``start_date``). A usage plan is due once the counter has run ``interval_units`` since the
    reading at its last completion (before the first, since ``start_reading`` at creation).
    """

    __tablename__ = "factory_maintenance_plans"
    __table_args__ = (
        UniqueConstraint("equipment_id", "name"),
        CheckConstraint("trigger_type IN ('calendar', 'usage')", name="trigger_type"),
        CheckConstraint(
            "(trigger_type = 'calendar' AND interval_days > 0 AND counter IS NULL AND interval_units IS NULL)"
            " OR (trigger_type = 'usage' AND interval_days IS NULL AND counter IS NOT NULL AND interval_units > 0"
            " AND start_reading >= 0)",
            name="interval",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("asset_equipment.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    trigger_type: Mapped[str] = mapped_column(String(10))
    interval_days: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column()
    counter: Mapped[str | None] = mapped_column(String(64))
    interval_units: Mapped[Decimal | None] = mapped_column(Quantity)
    start_reading: Mapped[Decimal | None] = mapped_column(Quantity)
    tasks: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    last_done_at: Mapped[datetime | None] = mapped_column()
    last_done_reading: Mapped[Decimal | None] = mapped_column(Quantity)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MaintenanceOrder(TenantOwned, Base):
    """A job on one machine: a repair after a breakdown (corrective) or planned care (preventive).

    For a corrective order ``failure_at`` is when the machine broke down, ``repair_start_at`` and
    ``repair_end_at`` when the repair ran, and ``equipment_down`` whether it stood still meanwhile;
    the reliability figures count those with downtime.
    """

    __tablename__ = "factory_maintenance_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint("kind IN ('corrective', 'preventive')", name="kind"),
        CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="priority"),
        CheckConstraint("status IN ('open', 'in_progress', 'done', 'cancelled')", name="status"),
        CheckConstraint("labour_hours >= 0", name="labour_hours"),
        CheckConstraint("kind = 'preventive' OR plan_id IS NULL", name="plan_preventive"),
        Index(
            "uq_factory_maintenance_orders_open_plan",
            "plan_id",
            unique=True,
            sqlite_where=sql_text(_OPEN_ORDER),
            postgresql_where=sql_text(_OPEN_ORDER),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    equipment_id: Mapped[int] = mapped_column(ForeignKey("asset_equipment.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("factory_maintenance_plans.id", ondelete="SET NULL"))
    failure_code_id: Mapped[int | None] = mapped_column(
        # The conventional name would exceed PostgreSQL's 63 characters.
        ForeignKey(
            "factory_failure_codes.id", ondelete="RESTRICT", name="fk_factory_maintenance_orders_failure_code_id"
        ),
        index=True,
    )
    failure_at: Mapped[datetime | None] = mapped_column()
    repair_start_at: Mapped[datetime | None] = mapped_column()
    repair_end_at: Mapped[datetime | None] = mapped_column()
    equipment_down: Mapped[bool] = mapped_column(Boolean, default=False)
    due_date: Mapped[date | None] = mapped_column()
    description: Mapped[str] = mapped_column(Text, default="")
    action_taken: Mapped[str] = mapped_column(Text, default="")
    labour_hours: Mapped[Decimal] = mapped_column(Hours, default=Decimal(0))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()


class UsageReading(TenantOwned, Base):
    """A reading of one usage counter of a machine (running hours, cycles) at a time.

    Counters only go up; a reading marked ``is_reset`` starts the counter again (a replaced
    meter, a controller reset), and usage is counted from zero from it on.
    """

    __tablename__ = "factory_usage_readings"
    __table_args__ = (
        CheckConstraint("value >= 0", name="value"),
        CheckConstraint("source IN ('manual', 'telemetry')", name="source"),
        Index("ix_factory_usage_readings_counter_at", "equipment_id", "counter", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("asset_equipment.id", ondelete="CASCADE"))
    counter: Mapped[str] = mapped_column(String(64))
    value: Mapped[Decimal] = mapped_column(Quantity)
    read_at: Mapped[datetime] = mapped_column()
    is_reset: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(10), default="manual")
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
