"""Factory master data: units, items, partners, bills of materials, routings, work centres.

Revision ID: 0004_factory_master
Revises: 0003_connect_telemetry
Create Date: 2026-11-22 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_factory_master"
down_revision: str | None = "0003_connect_telemetry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""


def downgrade() -> None:
    """Revert the migration."""
