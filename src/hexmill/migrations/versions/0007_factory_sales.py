"""Factory sales: quotations, sales orders, deliveries and returns.

Revision ID: 0007_factory_sales
Revises: 0006_factory_purchasing
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007_factory_sales"
down_revision: str | None = "0006_factory_purchasing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""


def downgrade() -> None:
    """Revert the migration."""
