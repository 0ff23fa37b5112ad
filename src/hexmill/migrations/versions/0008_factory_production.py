"""Factory production: work orders with BOM and routing snapshots, operations and shop-floor reports.

Revision ID: 0008_factory_production
Revises: 0007_factory_sales
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008_factory_production"
down_revision: str | None = "0007_factory_sales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""


def downgrade() -> None:
    """Revert the migration."""
