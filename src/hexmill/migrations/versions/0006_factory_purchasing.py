"""Factory purchasing: purchase orders to suppliers, their lines, receipts and receipt lines.

Revision ID: 0006_factory_purchasing
Revises: 0005_factory_inventory
Create Date: 2026-11-22 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hexmill.core.db
from hexmill.core.migrate import rls_statements

revision: str = "0006_factory_purchasing"
down_revision: str | None = "0005_factory_inventory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = hexmill.core.db.UTCDateTime(timezone=True)
QTY = sa.Numeric(precision=18, scale=6)
TABLES = (
    "factory_purchase_orders",
    "factory_po_lines",
    "factory_po_receipts",
    "factory_po_receipt_lines",
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
        "factory_purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("confirmed_at", UTC, nullable=True),
        *_tenant("factory_purchase_orders"),
        _fk("factory_purchase_orders", "supplier_id", "factory_parties"),
        sa.CheckConstraint(
            "status IN ('draft', 'confirmed', 'partially_received', 'received', 'cancelled')",
            name="ck_factory_purchase_orders_status",
        ),
        sa.UniqueConstraint("tenant_id", "number", name="uq_factory_purchase_orders_tenant_id_number"),
    )
    op.create_table(
        "factory_po_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("uom_id", sa.Integer(), nullable=False),
        sa.Column("base_quantity", QTY, nullable=False),
        sa.Column("unit_price", QTY, nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("tolerance_pct", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("received_quantity", QTY, nullable=False),
        sa.Column("received_base_quantity", QTY, nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        *_tenant("factory_po_lines"),
        _fk("factory_po_lines", "order_id", "factory_purchase_orders", "CASCADE"),
        _fk("factory_po_lines", "item_id", "factory_items"),
        _fk("factory_po_lines", "uom_id", "factory_uoms"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_po_lines_positive"),
        sa.CheckConstraint("base_quantity > 0", name="ck_factory_po_lines_base_positive"),
        sa.CheckConstraint("unit_price >= 0", name="ck_factory_po_lines_price"),
        sa.CheckConstraint("tolerance_pct >= 0 AND tolerance_pct <= 100", name="ck_factory_po_lines_tolerance"),
        sa.CheckConstraint(
            "received_quantity >= 0 AND received_base_quantity >= 0", name="ck_factory_po_lines_received"
        ),
        sa.UniqueConstraint("order_id", "position", name="uq_factory_po_lines_order_id_position"),
    )
    op.create_table(
        "factory_po_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_po_receipts"),
        _fk("factory_po_receipts", "order_id", "factory_purchase_orders"),
        _fk("factory_po_receipts", "user_id", "users", "SET NULL"),
    )
    op.create_table(
        "factory_po_receipt_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("base_quantity", QTY, nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("move_id", sa.Integer(), nullable=False),
        *_tenant("factory_po_receipt_lines"),
        _fk("factory_po_receipt_lines", "receipt_id", "factory_po_receipts", "CASCADE"),
        _fk("factory_po_receipt_lines", "order_line_id", "factory_po_lines"),
        _fk("factory_po_receipt_lines", "location_id", "factory_locations"),
        _fk("factory_po_receipt_lines", "lot_id", "factory_lots"),
        _fk("factory_po_receipt_lines", "move_id", "factory_stock_moves"),
        sa.CheckConstraint("quantity > 0 AND base_quantity > 0", name="ck_factory_po_receipt_lines_positive"),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index("ix_factory_purchase_orders_supplier_id", "factory_purchase_orders", ["supplier_id"])
    op.create_index("ix_factory_purchase_orders_status", "factory_purchase_orders", ["status"])
    op.create_index("ix_factory_po_lines_order_id", "factory_po_lines", ["order_id"])
    op.create_index("ix_factory_po_lines_item_id", "factory_po_lines", ["item_id"])
    op.create_index("ix_factory_po_receipts_order_id", "factory_po_receipts", ["order_id"])
    op.create_index("ix_factory_po_receipt_lines_receipt_id", "factory_po_receipt_lines", ["receipt_id"])
    op.create_index("ix_factory_po_receipt_lines_order_line_id", "factory_po_receipt_lines", ["order_line_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            for statement in rls_statements(table):
                op.execute(statement)


def downgrade() -> None:
    """Revert the migration."""
    for table in reversed(TABLES):
        op.drop_table(table)
