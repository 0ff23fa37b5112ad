"""Factory inventory: warehouses, locations, lots and serials, the stock-move ledger, reservations.

Revision ID: 0005_factory_inventory
Revises: 0004_factory_master
Create Date: 2026-11-22 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hexmill.core.db
from hexmill.core.migrate import append_only_statements, rls_statements

revision: str = "0005_factory_inventory"
down_revision: str | None = "0004_factory_master"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = hexmill.core.db.UTCDateTime(timezone=True)
QTY = sa.Numeric(precision=18, scale=6)
TABLES = (
    "factory_warehouses",
    "factory_locations",
    "factory_lots",
    "factory_production_records",
    "factory_stock_moves",
    "factory_stock_balances",
    "factory_reservations",
    "factory_cycle_counts",
)


def _tenant(table: str) -> list[sa.Column[int] | sa.Constraint]:
    return [
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def _fk(table: str, column: str, target: str, ondelete: str = "RESTRICT") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete)


def upgrade() -> None:
    """Apply the migration."""
    op.create_table(
        "factory_warehouses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_warehouses"),
        sa.UniqueConstraint("tenant_id", "code", name="uq_factory_warehouses_tenant_id_code"),
    )
    op.create_table(
        "factory_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_locations"),
        _fk("factory_locations", "warehouse_id", "factory_warehouses"),
        sa.CheckConstraint(
            "kind IN ('internal', 'supplier', 'customer', 'production', 'scrap', 'adjustment')",
            name="ck_factory_locations_kind",
        ),
        sa.CheckConstraint(
            "(kind = 'internal') = (warehouse_id IS NOT NULL)", name="ck_factory_locations_warehouse_if_internal"
        ),
        sa.UniqueConstraint("tenant_id", "code", name="uq_factory_locations_tenant_id_code"),
    )
    op.create_table(
        "factory_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_lots"),
        _fk("factory_lots", "item_id", "factory_items"),
        sa.CheckConstraint("kind IN ('lot', 'serial')", name="ck_factory_lots_kind"),
        sa.UniqueConstraint("item_id", "number", name="uq_factory_lots_item_id_number"),
    )
    op.create_table(
        "factory_production_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_production_records"),
        _fk("factory_production_records", "user_id", "users", "SET NULL"),
    )
    op.create_table(
        "factory_stock_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("from_location_id", sa.Integer(), nullable=False),
        sa.Column("to_location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("production_id", sa.Integer(), nullable=True),
        sa.Column("production_role", sa.String(length=8), nullable=True),
        sa.Column("reversal_of", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_stock_moves"),
        _fk("factory_stock_moves", "item_id", "factory_items"),
        _fk("factory_stock_moves", "from_location_id", "factory_locations"),
        _fk("factory_stock_moves", "to_location_id", "factory_locations"),
        _fk("factory_stock_moves", "lot_id", "factory_lots"),
        _fk("factory_stock_moves", "production_id", "factory_production_records"),
        _fk("factory_stock_moves", "reversal_of", "factory_stock_moves"),
        _fk("factory_stock_moves", "user_id", "users", "SET NULL"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_stock_moves_positive"),
        sa.CheckConstraint("from_location_id <> to_location_id", name="ck_factory_stock_moves_two_locations"),
        sa.CheckConstraint(
            "(production_id IS NULL) = (production_role IS NULL)", name="ck_factory_stock_moves_production_role"
        ),
        sa.CheckConstraint(
            "production_role IN ('consumed', 'produced')", name="ck_factory_stock_moves_production_role_value"
        ),
        sa.UniqueConstraint("reversal_of", name="uq_factory_stock_moves_reversal_of"),
    )
    op.create_table(
        "factory_stock_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("lot_key", sa.Integer(), nullable=False),
        sa.Column("quantity_micro", sa.BigInteger(), nullable=False),
        *_tenant("factory_stock_balances"),
        _fk("factory_stock_balances", "item_id", "factory_items"),
        _fk("factory_stock_balances", "location_id", "factory_locations"),
        _fk("factory_stock_balances", "lot_id", "factory_lots"),
        sa.UniqueConstraint(
            "tenant_id",
            "item_id",
            "location_id",
            "lot_key",
            name="uq_factory_stock_balances_tenant_id_item_id_location_id_lot_key",
        ),
    )
    op.create_table(
        "factory_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("move_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        *_tenant("factory_reservations"),
        _fk("factory_reservations", "item_id", "factory_items"),
        _fk("factory_reservations", "location_id", "factory_locations"),
        _fk("factory_reservations", "lot_id", "factory_lots"),
        _fk("factory_reservations", "move_id", "factory_stock_moves"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_reservations_positive"),
        sa.CheckConstraint("status IN ('open', 'released', 'consumed')", name="ck_factory_reservations_status"),
    )
    op.create_table(
        "factory_cycle_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("counted_quantity", QTY, nullable=False),
        sa.Column("expected_quantity", QTY, nullable=False),
        sa.Column("move_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_cycle_counts"),
        _fk("factory_cycle_counts", "item_id", "factory_items"),
        _fk("factory_cycle_counts", "location_id", "factory_locations"),
        _fk("factory_cycle_counts", "lot_id", "factory_lots"),
        _fk("factory_cycle_counts", "move_id", "factory_stock_moves"),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index("ix_factory_locations_warehouse_id", "factory_locations", ["warehouse_id"])
    op.create_index("ix_factory_lots_item_id", "factory_lots", ["item_id"])
    op.create_index(
        "ix_factory_stock_moves_item_from", "factory_stock_moves", ["item_id", "from_location_id", "lot_id"]
    )
    op.create_index("ix_factory_stock_moves_item_to", "factory_stock_moves", ["item_id", "to_location_id", "lot_id"])
    op.create_index("ix_factory_stock_moves_lot_role", "factory_stock_moves", ["lot_id", "production_role"])
    op.create_index(
        "ix_factory_stock_moves_reference", "factory_stock_moves", ["tenant_id", "reference_type", "reference_id"]
    )
    op.create_index("ix_factory_stock_moves_production_id", "factory_stock_moves", ["production_id"])
    op.create_index("ix_factory_stock_moves_created_at", "factory_stock_moves", ["created_at"])
    op.create_index(
        "ix_factory_reservations_stock", "factory_reservations", ["item_id", "location_id", "lot_id", "status"]
    )
    op.create_index("ix_factory_stock_balances_item_id", "factory_stock_balances", ["item_id"])
    op.create_index("ix_factory_stock_balances_location_id", "factory_stock_balances", ["location_id"])
    op.create_index("ix_factory_cycle_counts_item_id", "factory_cycle_counts", ["item_id"])
    op.create_index("ix_factory_cycle_counts_location_id", "factory_cycle_counts", ["location_id"])

    # The ledger only grows: the same triggers that guard the audit log refuse UPDATE and DELETE.
    dialect = op.get_bind().dialect.name
    for statement in append_only_statements("factory_stock_moves", dialect):
        op.execute(statement)
    if dialect == "postgresql":
        for table in TABLES:
            for statement in rls_statements(table):
                op.execute(statement)


def downgrade() -> None:
    """Revert the migration."""
    for table in reversed(TABLES):
        op.drop_table(table)
