"""Tables of purchasing: purchase orders to suppliers, their lines, and the receipts against them.

Quantities are ``Numeric`` (never floats). A line keeps the quantity as ordered, in the unit it was
ordered in, and that quantity in the item's base unit; what has been received is kept in both too,
and every receipt line names the stock move that brought its goods in.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

Quantity = Numeric(18, 6)
Percent = Numeric(7, 2)
ORDER_STATES: Final = ("draft", "confirmed", "partially_received", "received", "cancelled")


class PurchaseOrder(TenantOwned, Base):
    """An order for goods placed with a supplier; its status follows from its lines once confirmed."""

    __tablename__ = "factory_purchase_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint(
            "status IN ('draft', 'confirmed', 'partially_received', 'received', 'cancelled')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    supplier_id: Mapped[int] = mapped_column(ForeignKey("factory_parties.id", ondelete="RESTRICT"), index=True)
    order_date: Mapped[date] = mapped_column()
    expected_date: Mapped[date | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column()

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        order_by="PurchaseOrderLine.position", cascade="all, delete-orphan", passive_deletes=True
    )


class PurchaseOrderLine(TenantOwned, Base):
    """One item ordered: how much, in which unit, at what price, by when, and how much has arrived.

    ``tolerance_pct`` is how far above the ordered quantity receipts may go (0: not at all). A line
    closed short takes no more receipts and counts as done for the order's status.
    """

    __tablename__ = "factory_po_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("base_quantity > 0", name="base_positive"),
        CheckConstraint("unit_price >= 0", name="price"),
        CheckConstraint("tolerance_pct >= 0 AND tolerance_pct <= 100", name="tolerance"),
        CheckConstraint("received_quantity >= 0 AND received_base_quantity >= 0", name="received"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("factory_purchase_orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="RESTRICT"))
    base_quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    expected_date: Mapped[date | None] = mapped_column()
    tolerance_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal(0))
    received_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    received_base_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class Receipt(TenantOwned, Base):
    """One delivery received against a purchase order: who took it in, when, with which lines."""

    __tablename__ = "factory_po_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("factory_purchase_orders.id", ondelete="RESTRICT"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[ReceiptLine]] = relationship(
        order_by="ReceiptLine.id", cascade="all, delete-orphan", passive_deletes=True
    )


class ReceiptLine(TenantOwned, Base):
    """A quantity of one order line received into a warehouse location (and lot), and the move that posted it."""

    __tablename__ = "factory_po_receipt_lines"
    __table_args__ = (CheckConstraint("quantity > 0 AND base_quantity > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("factory_po_receipts.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("factory_po_lines.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    base_quantity: Mapped[Decimal] = mapped_column(Quantity)
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    move_id: Mapped[int] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
