"""Tables of the inventory ledger: warehouses, locations, lots and serials, stock moves, reservations.

Stock is not stored anywhere: on-hand quantities are sums over ``factory_stock_moves``, which only
ever grows (the migration installs the append-only trigger audit entries use). Quantities are
``Numeric`` in the item's base unit, never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

Quantity = Numeric(18, 6)
LOCATION_KINDS: Final = ("internal", "supplier", "customer", "production", "scrap", "adjustment")
VIRTUAL_KINDS: Final = LOCATION_KINDS[1:]
LOT_KINDS: Final = ("lot", "serial")
PRODUCTION_ROLES: Final = ("consumed", "produced")
RESERVATION_STATES: Final = ("open", "released", "consumed")


class Warehouse(TenantOwned, Base):
    """A store building or stock room of the enterprise; its internal locations hold real stock."""

    __tablename__ = "factory_warehouses"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Location(TenantOwned, Base):
    """A place stock is in or comes from: a bin or shelf of a warehouse (internal), or a virtual one.

    Virtual locations (supplier, customer, production, scrap, inventory adjustment) are created
    once per enterprise and stand for the world outside the stock rooms; they have no warehouse.
    """

    __tablename__ = "factory_locations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint(
            "kind IN ('internal', 'supplier', 'customer', 'production', 'scrap', 'adjustment')", name="kind"
        ),
        CheckConstraint("(kind = 'internal') = (warehouse_id IS NOT NULL)", name="warehouse_if_internal"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory_warehouses.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="internal")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lot(TenantOwned, Base):
    """A lot (batch) or a serial number of an item: the unit traceability follows."""

    __tablename__ = "factory_lots"
    __table_args__ = (
        UniqueConstraint("item_id", "number"),
        CheckConstraint("kind IN ('lot', 'serial')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    number: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductionRecord(TenantOwned, Base):
    """One production report: the moves it consumed (components) and produced (output) are its genealogy."""

    __tablename__ = "factory_production_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference_type: Mapped[str] = mapped_column(String(32), default="")
    reference_id: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockMove(TenantOwned, Base):
    """One quantity change of an item (and lot or serial) from one location to another; never changed.

    A reversal is a move of its own in the opposite direction, pointing at the move it undoes
    (``reversal_of`` is unique: a move reverses once). Moves of a production record carry its id
    and whether they were consumed or produced there.
    """

    __tablename__ = "factory_stock_moves"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("from_location_id <> to_location_id", name="two_locations"),
        CheckConstraint("(production_id IS NULL) = (production_role IS NULL)", name="production_role"),
        CheckConstraint("production_role IN ('consumed', 'produced')", name="production_role_value"),
        UniqueConstraint("reversal_of"),
        Index("ix_factory_stock_moves_item_from", "item_id", "from_location_id", "lot_id"),
        Index("ix_factory_stock_moves_item_to", "item_id", "to_location_id", "lot_id"),
        Index("ix_factory_stock_moves_lot_role", "lot_id", "production_role"),
        Index("ix_factory_stock_moves_reference", "tenant_id", "reference_type", "reference_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    from_location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    to_location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    reference_type: Mapped[str] = mapped_column(String(32), default="")
    reference_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    production_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory_production_records.id", ondelete="RESTRICT"), index=True
    )
    production_role: Mapped[str | None] = mapped_column(String(8))
    reversal_of: Mapped[int | None] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class StockBalance(TenantOwned, Base):
    """The running sum of the moves of one item/location/lot, kept beside the ledger for speed (ADR 0012).

    Derived only: every move adds to two rows in the transaction that posts it, under the item's
    lock, and ``service.rebuild_balances`` recomputes every row from the moves (``verify_balances``
    lists any row that differs). Quantities are whole millionths of the base unit, so the running
    sums are exact integers on SQLite as on PostgreSQL. ``lot_key`` is the lot id or 0, because a
    unique constraint treats NULLs as distinct.
    """

    __tablename__ = "factory_stock_balances"
    __table_args__ = (UniqueConstraint("tenant_id", "item_id", "location_id", "lot_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    lot_key: Mapped[int] = mapped_column(default=0)
    quantity_micro: Mapped[int] = mapped_column(BigInteger, default=0)


class Reservation(TenantOwned, Base):
    """Stock of an item/location/lot promised to an order; open until released or consumed."""

    __tablename__ = "factory_reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="positive"),
        CheckConstraint("status IN ('open', 'released', 'consumed')", name="status"),
        Index("ix_factory_reservations_stock", "item_id", "location_id", "lot_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"))
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="open")
    move_id: Mapped[int | None] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class CycleCount(TenantOwned, Base):
    """One counted quantity of an item/location/lot, what the ledger said then, and the adjustment posted."""

    __tablename__ = "factory_cycle_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("factory_locations.id", ondelete="RESTRICT"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("factory_lots.id", ondelete="RESTRICT"))
    counted_quantity: Mapped[Decimal] = mapped_column(Quantity)
    expected_quantity: Mapped[Decimal] = mapped_column(Quantity)
    move_id: Mapped[int | None] = mapped_column(ForeignKey("factory_stock_moves.id", ondelete="RESTRICT"))
    username: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
