"""MQTT ingest worker heartbeats, so rate limits hold across a shared-subscription group.

Revision ID: 0011_ingest_workers
Revises: 0010_factory_maintenance
Create Date: 2026-11-22 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hexmill.core.db

revision: str = "0011_ingest_workers"
down_revision: str | None = "0010_factory_maintenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connect_ingest_workers",
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.Column("seen_at", hexmill.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_connect_ingest_workers"),
    )
    op.create_index("ix_connect_ingest_workers_group_name", "connect_ingest_workers", ["group_name"])


def downgrade() -> None:
    op.drop_index("ix_connect_ingest_workers_group_name", table_name="connect_ingest_workers")
    op.drop_table("connect_ingest_workers")
