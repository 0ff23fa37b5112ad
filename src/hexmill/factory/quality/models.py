"""Tables of quality: plans, inspections and results, defect codes, nonconformances, dispositions.

An inspection names what it inspected the way a stock move does: ``source_type`` ("receipt" for
a purchase receipt line, "operation" for a work-order operation, "final" for a work order's
finished goods, "other") and ``source_id`` (a string), with no foreign key into the sales or
production tables. Quantities are ``Numeric(18, 6)`` in the item's base unit, never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

Quantity = Numeric(18, 6)
Percent = Numeric(7, 2)
STAGES: Final = ("receipt", "operation", "final")
SOURCE_TYPES: Final = (*STAGES, "other")
KINDS: Final = ("variable", "attribute")
NC_STATES: Final = ("open", "dispositioned", "closed")
DISPOSITION_KINDS: Final = ("scrap", "return", "rework", "use_as_is")


class InspectionPlan(TenantOwned, Base):
    """What to check on an item (or on any item) at one stage: receipt, operation or final inspection.

    A plan that has been used by an inspection keeps its characteristics: they can no longer be
    changed (a new plan is made instead), so every recorded result stays tied to the limits it was
    judged against.
    """

    __tablename__ = "factory_qc_plans"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("stage IN ('receipt', 'operation', 'final')", name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    characteristics: Mapped[list[Characteristic]] = relationship(
        order_by="Characteristic.position", cascade="all, delete-orphan", passive_deletes=True
    )


class Characteristic(TenantOwned, Base):
    """One property checked by a plan: measured against limits (variable) or judged pass/fail (attribute).

    A variable has at least one limit and LSL < USL when both are set. The number of samples is
    either fixed (``sample_size``) or a percentage of the inspected quantity (``sample_pct``).
    """

    __tablename__ = "factory_qc_checks"
    __table_args__ = (
        UniqueConstraint("plan_id", "position"),
        CheckConstraint("kind IN ('variable', 'attribute')", name="kind"),
        CheckConstraint("kind = 'attribute' OR lsl IS NOT NULL OR usl IS NOT NULL", name="limits"),
        CheckConstraint("lsl IS NULL OR usl IS NULL OR lsl < usl", name="lsl_below_usl"),
        CheckConstraint("(sample_size IS NULL) <> (sample_pct IS NULL)", name="sampling"),
        CheckConstraint("sample_size IS NULL OR sample_size > 0", name="sample_size"),
        CheckConstraint("sample_pct IS NULL OR (sample_pct > 0 AND sample_pct <= 100)", name="sample_pct"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("factory_qc_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(32), default="")
    nominal: Mapped[Decimal | None] = mapped_column(Quantity)
    lsl: Mapped[Decimal | None] = mapped_column(Quantity)
    usl: Mapped[Decimal | None] = mapped_column(Quantity)
    sample_size: Mapped[int | None] = mapped_column()
    sample_pct: Mapped[Decimal | None] = mapped_column(Percent)
    defect_code_id: Mapped[int | None] = mapped_column(ForeignKey("factory_qc_defects.id", ondelete="SET NULL"))


class DefectCode(TenantOwned, Base):
    """One kind of defect of the enterprise's catalogue (e.g. "D01 scratch", category "surface")."""

    __tablename__ = "factory_qc_defects"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Inspection(TenantOwned, Base):
    """A quantity of an item (and lot) at a location checked against a plan; passed if every result is in tolerance."""

    __tablename__ = "factory_qc_inspections"
    __table_args__ = (
        CheckConstraint("source_type IN ('receipt', 'operation', 'final', 'other')", name="source_type"),
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("result IN ('pass', 'fail')", name="result"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("factory_qc_plans.id", ondelete="RESTRICT"), index=True)
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(64), default="")
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("factory_parties.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    result: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(64))
    inspected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    results: Mapped[list[InspectionResult]] = relationship(
        order_by="(InspectionResult.characteristic_id, InspectionResult.sample)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    nonconformances: Mapped[list[Nonconformance]] = relationship(viewonly=True, order_by="Nonconformance.id")

    @property
    def nonconformance_ids(self) -> list[int]:
        """Return the ids of the nonconformances this inspection opened."""
        return [nc.id for nc in self.nonconformances]


class InspectionResult(TenantOwned, Base):
    """One sample's reading of one characteristic: a measured value (variable) or pass/fail (attribute)."""

    __tablename__ = "factory_qc_results"
    __table_args__ = (
        UniqueConstraint("inspection_id", "characteristic_id", "sample"),
        CheckConstraint("(value IS NULL) <> (passed IS NULL)", name="value_or_passed"),
        CheckConstraint("sample > 0", name="sample"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("factory_qc_inspections.id", ondelete="CASCADE"), index=True)
    characteristic_id: Mapped[int] = mapped_column(ForeignKey("factory_qc_checks.id", ondelete="RESTRICT"), index=True)
    sample: Mapped[int] = mapped_column()
    value: Mapped[Decimal | None] = mapped_column(Quantity)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    in_tolerance: Mapped[bool] = mapped_column(Boolean)


class Nonconformance(TenantOwned, Base):
    """A quantity found not to conform: open until its disposition is decided, closed once settled.

    Opened automatically by an inspection with an out-of-tolerance result (naming the
    characteristics), or raised by hand. ``dispositioned_quantity`` is the sum of its
    dispositions, never above ``quantity``.
    """

    __tablename__ = "factory_qc_ncs"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'dispositioned', 'closed')", name="status"),
        CheckConstraint("stage IN ('receipt', 'operation', 'final', 'other')", name="stage"),
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("dispositioned_quantity >= 0 AND dispositioned_quantity <= quantity", name="dispositioned"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory_qc_inspections.id", ondelete="RESTRICT"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(64), default="")
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("factory_parties.id", ondelete="RESTRICT"))
    defect_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory_qc_defects.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    dispositioned_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    characteristics: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column()

    dispositions: Mapped[list[Disposition]] = relationship(
        order_by="Disposition.id", cascade="all, delete-orphan", passive_deletes=True
    )


class Disposition(TenantOwned, Base):
    """What was decided for part of a nonconforming quantity, and the stock move that carried it out.

    scrap: to the virtual scrap location; return: to the virtual supplier location (receipt stage
    only, naming the supplier); rework: to the internal rework/hold location named here;
    use_as_is: no move, with the approver recorded.
    """

    __tablename__ = "factory_qc_dispositions"
    __table_args__ = (
        CheckConstraint("kind IN ('scrap', 'return', 'rework', 'use_as_is')", name="kind"),
        CheckConstraint("quantity > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nonconformance_id: Mapped[int] = mapped_column(ForeignKey("factory_qc_ncs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("factory_parties.id", ondelete="RESTRICT"))
    move_id: Mapped[int | None] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
    approver: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
