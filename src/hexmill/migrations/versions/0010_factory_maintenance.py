"""Factory maintenance: maintenance orders, preventive plans and usage counters.

Revision ID: 0010_factory_maintenance
Revises: 0009_factory_quality
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0010_factory_maintenance"
down_revision: str | None = "0009_factory_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""


def downgrade() -> None:
    """Revert the migration."""
