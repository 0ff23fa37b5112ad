"""Tables of the telemetry domain kept in the application database: retention per enterprise.

Points, rollups and latest values live in the telemetry store (``store.py``), not here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hexmill.core.clock import utcnow
from hexmill.core.db import Base, UTCDateTime
from hexmill.core.tenancy import TenantOwned

DEFAULT_RAW_DAYS = 90
DEFAULT_MINUTE_DAYS = 400
DEFAULT_HOUR_DAYS = 3650


class RetentionPolicy(TenantOwned, Base):
    """How long an enterprise keeps raw points and each rollup, in days."""

    __tablename__ = "telemetry_retention"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_days: Mapped[int] = mapped_column(default=DEFAULT_RAW_DAYS)
    minute_days: Mapped[int] = mapped_column(default=DEFAULT_MINUTE_DAYS)
    hour_days: Mapped[int] = mapped_column(default=DEFAULT_HOUR_DAYS)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
