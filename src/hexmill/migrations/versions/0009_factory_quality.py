"""Factory quality: inspection plans, inspections and results, nonconformances and dispositions.

Revision ID: 0009_factory_quality
Revises: 0008_factory_production
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009_factory_quality"
down_revision: str | None = "0008_factory_production"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""


def downgrade() -> None:
    """Revert the migration."""
