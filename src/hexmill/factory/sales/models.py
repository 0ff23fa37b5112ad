"""Tables of sales: quotations, sales orders to customers, their deliveries and the returns against them.

Quantities are ``Numeric`` (never floats). A quotation or order line keeps the quantity as quoted or
ordered, in the unit it was entered in, and that quantity in the item's base unit. What has been
delivered and returned is kept on the order line in the item's base unit; every delivery or return
line names the stock move that moved its goods. ``options`` of a line are the ids of the item's
option values chosen for a configurable item (one per option group), validated against master data.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

Quantity = Numeric(18, 6)
QUOTATION_STATES: Final = ("draft", "sent", "accepted", "rejected", "expired")
ORDER_STATES: Final = ("draft", "confirmed", "partially_delivered", "delivered", "cancelled")
DELIVERY_STATES: Final = ("draft", "picked", "shipped", "cancelled")


class Quotation(TenantOwned, Base):
    """An offer to a customer: draft, sent, then accepted (and converted into an order), rejected or expired."""

    __tablename__ = "factory_quotations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint("status IN ('draft', 'sent', 'accepted', 'rejected', 'expired')", name="status"),
        CheckConstraint("valid_until IS NULL OR valid_until >= quote_date", name="validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("factory_parties.id", ondelete="RESTRICT"), index=True)
    quote_date: Mapped[date] = mapped_column()
    valid_until: Mapped[date | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()

    lines: Mapped[list[QuotationLine]] = relationship(
        order_by="QuotationLine.position", cascade="all, delete-orphan", passive_deletes=True
    )


class QuotationLine(TenantOwned, Base):
    """One item quoted: how much, in which unit, at what price, wanted by when, with which options."""

    __tablename__ = "factory_quotation_lines"
    __table_args__ = (
        UniqueConstraint("quotation_id", "position"),
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("base_quantity > 0", name="base_positive"),
        CheckConstraint("unit_price >= 0", name="price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quotation_id: Mapped[int] = mapped_column(ForeignKey("factory_quotations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="RESTRICT"))
    base_quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    requested_date: Mapped[date | None] = mapped_column()
    options: Mapped[list[int]] = mapped_column(JSON, default=list)


class SalesOrder(TenantOwned, Base):
    """An order from a customer; its status follows from its lines once confirmed."""

    __tablename__ = "factory_sales_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint(
            "status IN ('draft', 'confirmed', 'partially_delivered', 'delivered', 'cancelled')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("factory_parties.id", ondelete="RESTRICT"), index=True)
    order_date: Mapped[date] = mapped_column()
    customer_reference: Mapped[str] = mapped_column(String(100), default="")
    quotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory_quotations.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()

    lines: Mapped[list[SalesOrderLine]] = relationship(
        order_by="SalesOrderLine.position", cascade="all, delete-orphan", passive_deletes=True
    )


class SalesOrderLine(TenantOwned, Base):
    """One item ordered: how much, in which unit, at what price, due when, and how much left and came back.

    ``delivered_quantity`` and ``returned_quantity`` are in the item's base unit; a return does not
    reopen the line (a replacement is a new order).
    """

    __tablename__ = "factory_so_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("base_quantity > 0", name="base_positive"),
        CheckConstraint("unit_price >= 0", name="price"),
        CheckConstraint(
            "returned_quantity >= 0 AND delivered_quantity >= returned_quantity"
            " AND delivered_quantity <= base_quantity",
            name="delivered",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("factory_sales_orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="RESTRICT"))
    base_quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    due_date: Mapped[date | None] = mapped_column()
    options: Mapped[list[int]] = mapped_column(JSON, default=list)
    delivered_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    returned_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))


class Delivery(TenantOwned, Base):
    """Goods leaving for one confirmed order: draft, picked (stock reserved), shipped (moves posted) or cancelled."""

    __tablename__ = "factory_deliveries"
    __table_args__ = (CheckConstraint("status IN ('draft', 'picked', 'shipped', 'cancelled')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("factory_sales_orders.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    picked_at: Mapped[datetime | None] = mapped_column()
    shipped_at: Mapped[datetime | None] = mapped_column(index=True)

    lines: Mapped[list[DeliveryLine]] = relationship(
        order_by="DeliveryLine.id", cascade="all, delete-orphan", passive_deletes=True
    )


class DeliveryLine(TenantOwned, Base):
    """A base-unit quantity of one order line taken from a location (and lot): its reservation, then its move."""

    __tablename__ = "factory_delivery_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("factory_deliveries.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("factory_so_lines.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("factory_reservations.id", ondelete="RESTRICT"))
    move_id: Mapped[int | None] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))


class SalesReturn(TenantOwned, Base):
    """Goods a customer sent back against one order, and why."""

    __tablename__ = "factory_sales_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("factory_sales_orders.id", ondelete="RESTRICT"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[SalesReturnLine]] = relationship(
        order_by="SalesReturnLine.id", cascade="all, delete-orphan", passive_deletes=True
    )


class SalesReturnLine(TenantOwned, Base):
    """A base-unit quantity of one shipped order line taken back into a location (and lot), and its move."""

    __tablename__ = "factory_sales_return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("factory_sales_returns.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("factory_so_lines.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    move_id: Mapped[int] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
