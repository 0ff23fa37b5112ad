"""Tables of the device registry: devices, their field → tag mappings, and rejected records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hexmill.core.clock import utcnow
from hexmill.core.db import Base, UTCDateTime
from hexmill.core.tenancy import TenantOwned

PROTOCOLS: Final = ("mqtt", "sparkplug", "opcua", "modbus", "http")
CHANNELS: Final = ("mqtt", "sparkplug", "opcua", "modbus", "http", "edge")
LINK_STATES: Final = ("unknown", "connecting", "online", "unavailable", "offline")


class Device(TenantOwned, Base):
    """A machine's data source: a PLC, a gateway or a sensor that sends values for one piece of equipment.

    ``client_id`` is the device's public name on the wire (MQTT client id and username, HTTP
    token prefix); it is unique across the platform, so the tenant always follows from it and
    never from a topic. The secret is shown once and kept only as a PBKDF2-SHA512 hash in
    Mosquitto's format, so the same row can feed an external broker's password file.
    """

    __tablename__ = "connect_devices"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    protocol: Mapped[str] = mapped_column(String(16))
    equipment_id: Mapped[int] = mapped_column(ForeignKey("asset_equipment.id", ondelete="CASCADE"), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    auto_tags: Mapped[bool] = mapped_column(default=False)
    secret_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    secret_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    link_state: Mapped[str] = mapped_column(String(16), default="unknown")
    link_reason: Mapped[str] = mapped_column(String(500), default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    points_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    records_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceField(TenantOwned, Base):
    """A mapping of one device field to an equipment tag whose name differs from the field's."""

    __tablename__ = "connect_device_fields"
    __table_args__ = (UniqueConstraint("device_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("connect_devices.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(200))
    tag_id: Mapped[int] = mapped_column(ForeignKey("asset_tags.id", ondelete="CASCADE"), index=True)


class DeadLetter(TenantOwned, Base):
    """A record a device sent that was refused, kept with the reason for someone to inspect."""

    __tablename__ = "connect_dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("connect_devices.id", ondelete="SET NULL"), index=True, default=None
    )
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text, default="")


class IngestWorkerSeen(Base):
    """An MQTT ingest worker's heartbeat: how the workers of one group learn how many share the load.

    The broker spreads a device's messages over the group's workers, so each worker sees a share
    of every device's rate; a worker divides the rate limits by the number of workers seen here
    (ADR 0007). Platform-level: it holds no tenant data.
    """

    __tablename__ = "connect_ingest_workers"

    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(100), index=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
