"""Tables of the ISA-95 asset hierarchy: sites, areas, lines, equipment, equipment types and tags."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hexmill.core.clock import utcnow
from hexmill.core.db import Base
from hexmill.core.tenancy import TenantOwned

LINE_KINDS: Final = ("line", "work_centre")
DATA_TYPES: Final = ("float", "integer", "boolean", "string")

# Parent foreign keys cascade in the database only so that deleting a whole enterprise works in one
# statement; the service refuses to delete a parent that still has children (see service.py).


class Site(TenantOwned, Base):
    """A plant or campus of the enterprise: the top of its ISA-95 hierarchy."""

    __tablename__ = "asset_sites"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    areas: Mapped[list[Area]] = relationship(back_populates="site", order_by="Area.name")


class Area(TenantOwned, Base):
    """A hall, floor or department of a site that holds production lines and work centres."""

    __tablename__ = "asset_areas"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("asset_sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[Site] = relationship(back_populates="areas")
    lines: Mapped[list[Line]] = relationship(back_populates="area", order_by="Line.name")


class Line(TenantOwned, Base):
    """A production line (flow) or a work centre (job shop) of an area, where equipment stands."""

    __tablename__ = "asset_lines"
    __table_args__ = (
        UniqueConstraint("area_id", "name"),
        CheckConstraint("kind IN ('line', 'work_centre')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("asset_areas.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="line")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    area: Mapped[Area] = relationship(back_populates="lines")
    equipment: Mapped[list[Equipment]] = relationship(back_populates="line", order_by="Equipment.name")


class EquipmentType(TenantOwned, Base):
    """A kind of machine (a template): its maker, model and the tags every such machine has."""

    __tablename__ = "asset_equipment_types"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tags: Mapped[list[Tag]] = relationship(
        back_populates="equipment_type", order_by="Tag.name", cascade="all, delete-orphan", passive_deletes=True
    )


class Equipment(TenantOwned, Base):
    """One machine, cell or device standing on a line or in a work centre."""

    __tablename__ = "asset_equipment"
    __table_args__ = (UniqueConstraint("line_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("asset_lines.id", ondelete="CASCADE"), index=True)
    equipment_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("asset_equipment_types.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    serial_number: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    line: Mapped[Line] = relationship(back_populates="equipment")
    equipment_type: Mapped[EquipmentType | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(
        back_populates="equipment", order_by="Tag.name", cascade="all, delete-orphan", passive_deletes=True
    )


class Tag(TenantOwned, Base):
    """A named signal of a machine (a measured or set value), or a tag template of an equipment type.

    Exactly one of ``equipment_id`` and ``equipment_type_id`` is set.
    """

    __tablename__ = "asset_tags"
    __table_args__ = (
        UniqueConstraint("equipment_id", "name"),
        UniqueConstraint("equipment_type_id", "name"),
        CheckConstraint("(equipment_id IS NULL) <> (equipment_type_id IS NULL)", name="one_owner"),
        CheckConstraint("data_type IN ('float', 'integer', 'boolean', 'string')", name="data_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("asset_equipment.id", ondelete="CASCADE"), index=True)
    equipment_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("asset_equipment_types.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str] = mapped_column(String(32), default="")
    data_type: Mapped[str] = mapped_column(String(16), default="float")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    equipment: Mapped[Equipment | None] = relationship(back_populates="tags")
    equipment_type: Mapped[EquipmentType | None] = relationship(back_populates="tags")
