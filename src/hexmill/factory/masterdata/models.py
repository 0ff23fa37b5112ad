"""Tables of factory master data: units, items, parties, bills of materials, routings, work centres.

Quantities are ``Numeric`` (Decimal in Python), never floats: a bill of materials multiplies them
level by level and a rounding error there becomes a stock error.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

UOM_CATEGORIES: Final = ("count", "mass", "length", "area", "volume", "time")
ITEM_KINDS: Final = ("raw", "semi_finished", "finished", "tool")
TRACKING_MODES: Final = ("none", "lot", "serial")

# Precision of stored quantities and factors: 18 digits with 6 (quantities) or 10 (factors) after
# the point covers grams of a ton and micrometres of a kilometre.
Quantity = Numeric(18, 6)
Factor = Numeric(24, 10)


class Uom(TenantOwned, Base):
    """A unit of measure of the enterprise (piece, kilogram, metre, box), in one category."""

    __tablename__ = "factory_uoms"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("category IN ('count', 'mass', 'length', 'area', 'volume', 'time')", name="category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UomConversion(TenantOwned, Base):
    """One ``from`` unit is ``factor`` ``to`` units; for every item, or only for ``item_id`` (1 box = 12 pcs)."""

    __tablename__ = "factory_uom_conversions"
    __table_args__ = (
        UniqueConstraint("item_id", "from_uom_id", "to_uom_id"),
        CheckConstraint("factor > 0", name="factor_positive"),
        CheckConstraint("from_uom_id <> to_uom_id", name="distinct_units"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("factory_items.id", ondelete="CASCADE"), index=True)
    from_uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="CASCADE"), index=True)
    to_uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="CASCADE"), index=True)
    factor: Mapped[Decimal] = mapped_column(Factor)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    from_uom: Mapped[Uom] = relationship(foreign_keys=[from_uom_id])
    to_uom: Mapped[Uom] = relationship(foreign_keys=[to_uom_id])


class Item(TenantOwned, Base):
    """Something the factory buys, makes, sells or uses: a material, part, product or tool."""

    __tablename__ = "factory_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("kind IN ('raw', 'semi_finished', 'finished', 'tool')", name="kind"),
        CheckConstraint("tracking IN ('none', 'lot', 'serial')", name="tracking"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="RESTRICT"), index=True)
    tracking: Mapped[str] = mapped_column(String(8), default="none")
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    configurable: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    uom: Mapped[Uom] = relationship()
    option_groups: Mapped[list[ItemOptionGroup]] = relationship(
        back_populates="item", order_by="ItemOptionGroup.code", cascade="all, delete-orphan", passive_deletes=True
    )


class ItemOptionGroup(TenantOwned, Base):
    """A choice a customer makes on a configurable item (colour, voltage)."""

    __tablename__ = "factory_item_option_groups"
    __table_args__ = (UniqueConstraint("item_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))

    item: Mapped[Item] = relationship(back_populates="option_groups")
    values: Mapped[list[ItemOptionValue]] = relationship(
        back_populates="group", order_by="ItemOptionValue.code", cascade="all, delete-orphan", passive_deletes=True
    )


class ItemOptionValue(TenantOwned, Base):
    """One answer to an option group (colour: red)."""

    __tablename__ = "factory_item_option_values"
    __table_args__ = (UniqueConstraint("group_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("factory_item_option_groups.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))

    group: Mapped[ItemOptionGroup] = relationship(back_populates="values")


class Party(TenantOwned, Base):
    """A customer and/or supplier of the enterprise; possibly another enterprise on the platform."""

    __tablename__ = "factory_parties"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("is_customer OR is_supplier", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    is_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_supplier: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    partner_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Bom(TenantOwned, Base):
    """A version of an item's bill of materials, valid between two dates; one is the item's default."""

    __tablename__ = "factory_boms"
    __table_args__ = (
        UniqueConstraint("item_id", "version"),
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_from < effective_to", name="dates"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[Item] = relationship()
    lines: Mapped[list[BomLine]] = relationship(
        back_populates="bom", order_by="BomLine.position", cascade="all, delete-orphan", passive_deletes=True
    )


class BomLine(TenantOwned, Base):
    """A component of a BOM: how much of it one unit of the parent takes, and how much is lost.

    ``quantity`` is in ``uom_id`` as entered; ``base_quantity`` is the same in the component's base
    unit, converted on save, so explosion never converts. A line with ``option_value_id`` applies only
    when the parent is configured with that option value.
    """

    __tablename__ = "factory_bom_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("scrap_factor >= 0 AND scrap_factor < 1", name="scrap_factor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bom_id: Mapped[int] = mapped_column(ForeignKey("factory_boms.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=10)
    component_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    uom_id: Mapped[int] = mapped_column(ForeignKey("factory_uoms.id", ondelete="RESTRICT"), index=True)
    base_quantity: Mapped[Decimal] = mapped_column(Factor)
    scrap_factor: Mapped[Decimal] = mapped_column(Numeric(7, 6), default=Decimal(0))
    option_value_id: Mapped[int | None] = mapped_column(
        ForeignKey("factory_item_option_values.id", ondelete="RESTRICT"), index=True
    )

    bom: Mapped[Bom] = relationship(back_populates="lines")
    component: Mapped[Item] = relationship(foreign_keys=[component_id])
    uom: Mapped[Uom] = relationship()
    option_value: Mapped[ItemOptionValue | None] = relationship()


class WorkCentre(TenantOwned, Base):
    """A group of machines or people planned as one capacity, with its own shift calendar.

    It may stand for an assets line/work centre or one piece of equipment (referenced by id and
    checked through the assets service); the calendar's time zone is an IANA name.
    """

    __tablename__ = "factory_work_centres"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("parallel_capacity >= 1", name="capacity"),
        CheckConstraint("efficiency_pct > 0 AND efficiency_pct <= 200", name="efficiency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    asset_line_id: Mapped[int | None] = mapped_column(ForeignKey("asset_lines.id", ondelete="SET NULL"), index=True)
    asset_equipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("asset_equipment.id", ondelete="SET NULL"), index=True
    )
    parallel_capacity: Mapped[int] = mapped_column(Integer, default=1)
    efficiency_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    shifts: Mapped[list[Shift]] = relationship(
        back_populates="work_centre",
        order_by="(Shift.weekday, Shift.start)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    holidays: Mapped[list[Holiday]] = relationship(
        back_populates="work_centre", order_by="Holiday.day", cascade="all, delete-orphan", passive_deletes=True
    )


class Shift(TenantOwned, Base):
    """A weekly working shift of a work centre, in local time; ``end <= start`` means it crosses midnight."""

    __tablename__ = "factory_shifts"
    __table_args__ = (CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("factory_work_centres.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)
    name: Mapped[str] = mapped_column(String(64), default="")

    work_centre: Mapped[WorkCentre] = relationship(back_populates="shifts")


class Holiday(TenantOwned, Base):
    """A local date on which a work centre does not work (shifts starting that day are dropped)."""

    __tablename__ = "factory_holidays"
    __table_args__ = (UniqueConstraint("work_centre_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("factory_work_centres.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(100), default="")

    work_centre: Mapped[WorkCentre] = relationship(back_populates="holidays")


class Operation(TenantOwned, Base):
    """A step of an item's routing: where it runs, how long setup takes, how long each unit takes."""

    __tablename__ = "factory_operations"
    __table_args__ = (
        UniqueConstraint("item_id", "sequence"),
        CheckConstraint("setup_minutes >= 0", name="setup"),
        CheckConstraint("run_minutes >= 0", name="run"),
        CheckConstraint("transfer_batch IS NULL OR transfer_batch > 0", name="transfer_batch"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("factory_items.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    work_centre_id: Mapped[int] = mapped_column(ForeignKey("factory_work_centres.id", ondelete="RESTRICT"), index=True)
    setup_minutes: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal(0))
    run_minutes: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(0))
    transfer_batch: Mapped[Decimal | None] = mapped_column(Quantity)

    work_centre: Mapped[WorkCentre] = relationship()
