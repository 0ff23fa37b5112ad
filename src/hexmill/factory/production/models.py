"""Tables of production: work orders, their BOM and routing snapshots, shop-floor reports, issues and receipts.

Quantities are ``Numeric`` in the item's base unit (never floats). A released work order keeps
its own copy of the components (the BOM exploded one level on the release date) and of the
operations (the item's routing then), so later edits of master data never change it. Shop-floor
reports are append-only: an operation's state and totals follow from them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

Quantity = Numeric(18, 6)
PerUnit = Numeric(24, 10)
Minutes = Numeric(12, 3)
ORDER_STATES: Final = ("draft", "released", "in_progress", "completed", "closed", "cancelled")
OPERATION_STATES: Final = ("pending", "running", "paused", "finished")
REPORT_KINDS: Final = ("start", "pause", "resume", "finish", "report")
REPORT_SOURCES: Final = ("manual", "machine")
ISSUE_KINDS: Final = ("manual", "backflush")


class WorkOrder(TenantOwned, Base):
    """An order to make a quantity of an item by a due date, from its release snapshot of BOM and routing.

    ``sales_order_line_id`` is the customer's order line the work order makes goods for, if any.

    ``production_record_id`` is the inventory production record every material move of the order
    belongs to (created with the first issue or receipt): its consumed and produced moves are the
    genealogy of the lots received.
    """

    __tablename__ = "factory_work_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint(
            "status IN ('draft', 'released', 'in_progress', 'completed', 'closed', 'cancelled')", name="status"
        ),
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("received_quantity >= 0", name="received"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    start_date: Mapped[date | None] = mapped_column()
    due_date: Mapped[date | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    sales_order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory_so_lines.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str] = mapped_column(Text, default="")
    received_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    production_record_id: Mapped[int | None] = mapped_column(
        # Named by hand: the convention's name would pass PostgreSQL's 63-character limit.
        ForeignKey(
            "factory_production_records.id", ondelete="RESTRICT", name="fk_factory_work_orders_production_record"
        )
    )
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    components: Mapped[list[WorkOrderComponent]] = relationship(
        order_by="WorkOrderComponent.position", cascade="all, delete-orphan", passive_deletes=True
    )
    operations: Mapped[list[WorkOrderOperation]] = relationship(
        order_by="WorkOrderOperation.sequence", cascade="all, delete-orphan", passive_deletes=True
    )


class WorkOrderComponent(TenantOwned, Base):
    """A component the order consumes, as the BOM said on release: per unit (scrap included) and in all."""

    __tablename__ = "factory_wo_components"
    __table_args__ = (
        UniqueConstraint("work_order_id", "position"),
        CheckConstraint("quantity_per_unit > 0", name="per_unit_positive"),
        CheckConstraint("required_quantity >= 0 AND issued_quantity >= 0", name="quantities"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("factory_work_orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    quantity_per_unit: Mapped[Decimal] = mapped_column(PerUnit)
    required_quantity: Mapped[Decimal] = mapped_column(Quantity)
    uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="RESTRICT"))
    issued_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))


class WorkOrderOperation(TenantOwned, Base):
    """A routing step of the order as it was on release, with its progress from the shop-floor reports.

    ``status``, ``good_quantity``, ``scrap_quantity`` and ``labour_minutes`` are the fold of the
    operation's reports (``shopfloor.fold``), rewritten with each report; the reports are the truth.
    """

    __tablename__ = "factory_wo_operations"
    __table_args__ = (
        UniqueConstraint("work_order_id", "sequence"),
        CheckConstraint("status IN ('pending', 'running', 'paused', 'finished')", name="status"),
        CheckConstraint("setup_minutes >= 0 AND run_minutes >= 0", name="times"),
        CheckConstraint("transfer_batch IS NULL OR transfer_batch > 0", name="transfer_batch"),
        CheckConstraint("good_quantity >= 0 AND scrap_quantity >= 0 AND labour_minutes >= 0", name="totals"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("factory_work_orders.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("factory_work_centres.id", ondelete="RESTRICT"), index=True)
    setup_minutes: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    run_minutes: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    transfer_batch: Mapped[Decimal | None] = mapped_column(Quantity)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    good_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    scrap_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    labour_minutes: Mapped[Decimal] = mapped_column(Minutes, default=Decimal(0))
    running_since: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class ScrapReason(TenantOwned, Base):
    """Why parts were scrapped on the shop floor (a short code operators pick, and its name)."""

    __tablename__ = "factory_scrap_reasons"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperationReport(TenantOwned, Base):
    """One shop-floor event of an operation (start, pause, resume, finish, quantities); never changed."""

    __tablename__ = "factory_wo_reports"
    __table_args__ = (
        CheckConstraint("kind IN ('start', 'pause', 'resume', 'finish', 'report')", name="kind"),
        CheckConstraint("source IN ('manual', 'machine')", name="source"),
        CheckConstraint("good_quantity >= 0 AND scrap_quantity >= 0", name="quantities"),
        CheckConstraint("labour_minutes IS NULL OR labour_minutes >= 0", name="labour"),
        Index("ix_factory_wo_reports_tenant_at", "tenant_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("factory_work_orders.id", ondelete="RESTRICT"), index=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("factory_wo_operations.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(8), default="manual")
    at: Mapped[datetime] = mapped_column()
    good_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    scrap_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    scrap_reason_id: Mapped[int | None] = mapped_column(ForeignKey("factory_scrap_reasons.id", ondelete="RESTRICT"))
    labour_minutes: Mapped[Decimal | None] = mapped_column(Minutes)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MaterialIssue(TenantOwned, Base):
    """A quantity of a component (and lot) issued to the order from a location, by hand or backflushed."""

    __tablename__ = "factory_wo_issues"
    __table_args__ = (
        CheckConstraint("kind IN ('manual', 'backflush')", name="kind"),
        CheckConstraint("quantity > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("factory_work_orders.id", ondelete="RESTRICT"), index=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("factory_wo_components.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    move_id: Mapped[int] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("factory_wo_receipts.id", ondelete="RESTRICT"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinishedGoodsReceipt(TenantOwned, Base):
    """Good product of the order received into a warehouse location (its lots are the outputs)."""

    __tablename__ = "factory_wo_receipts"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("factory_work_orders.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    outputs: Mapped[list[ReceiptOutput]] = relationship(
        order_by="ReceiptOutput.id", cascade="all, delete-orphan", passive_deletes=True
    )


class ReceiptOutput(TenantOwned, Base):
    """One stock move of a receipt: the quantity received in one lot or serial number (or untracked)."""

    __tablename__ = "factory_wo_receipt_outputs"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("factory_wo_receipts.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    move_id: Mapped[int] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
