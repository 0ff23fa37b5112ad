"""Factory sales: quotations, sales orders, deliveries and returns.

Revision ID: 0007_factory_sales
Revises: 0006_factory_purchasing
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hexmill.core.db
from hexmill.core.migrate import rls_statements

revision: str = "0007_factory_sales"
down_revision: str | None = "0006_factory_purchasing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = hexmill.core.db.UTCDateTime(timezone=True)
QTY = sa.Numeric(precision=18, scale=6)
TABLES = (
    "factory_quotations",
    "factory_quotation_lines",
    "factory_sales_orders",
    "factory_so_lines",
    "factory_deliveries",
    "factory_delivery_lines",
    "factory_sales_returns",
    "factory_sales_return_lines",
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


def _line_columns() -> list[sa.Column[object]]:
    """The columns quotation and order lines share after their parent key."""
    return [
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("uom_id", sa.Integer(), nullable=False),
        sa.Column("base_quantity", QTY, nullable=False),
        sa.Column("unit_price", QTY, nullable=False),
    ]


def upgrade() -> None:
    """Apply the migration."""
    op.create_table(
        "factory_quotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("quote_date", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        *_tenant("factory_quotations"),
        _fk("factory_quotations", "customer_id", "factory_parties"),
        sa.CheckConstraint(
            "status IN ('draft', 'sent', 'accepted', 'rejected', 'expired')", name="ck_factory_quotations_status"
        ),
        sa.CheckConstraint("valid_until IS NULL OR valid_until >= quote_date", name="ck_factory_quotations_validity"),
        sa.UniqueConstraint("tenant_id", "number", name="uq_factory_quotations_tenant_id_number"),
    )
    op.create_table(
        "factory_quotation_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quotation_id", sa.Integer(), nullable=False),
        *_line_columns(),
        sa.Column("requested_date", sa.Date(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        *_tenant("factory_quotation_lines"),
        _fk("factory_quotation_lines", "quotation_id", "factory_quotations", "CASCADE"),
        _fk("factory_quotation_lines", "item_id", "factory_items"),
        _fk("factory_quotation_lines", "uom_id", "factory_uoms"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_quotation_lines_positive"),
        sa.CheckConstraint("base_quantity > 0", name="ck_factory_quotation_lines_base_positive"),
        sa.CheckConstraint("unit_price >= 0", name="ck_factory_quotation_lines_price"),
        sa.UniqueConstraint("quotation_id", "position", name="uq_factory_quotation_lines_quotation_id_position"),
    )
    op.create_table(
        "factory_sales_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("customer_reference", sa.String(length=100), nullable=False),
        sa.Column("quotation_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("confirmed_at", UTC, nullable=True),
        sa.Column("cancelled_at", UTC, nullable=True),
        *_tenant("factory_sales_orders"),
        _fk("factory_sales_orders", "customer_id", "factory_parties"),
        _fk("factory_sales_orders", "quotation_id", "factory_quotations", "SET NULL"),
        sa.CheckConstraint(
            "status IN ('draft', 'confirmed', 'partially_delivered', 'delivered', 'cancelled')",
            name="ck_factory_sales_orders_status",
        ),
        sa.UniqueConstraint("tenant_id", "number", name="uq_factory_sales_orders_tenant_id_number"),
    )
    op.create_table(
        "factory_so_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        *_line_columns(),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("delivered_quantity", QTY, nullable=False),
        sa.Column("returned_quantity", QTY, nullable=False),
        *_tenant("factory_so_lines"),
        _fk("factory_so_lines", "order_id", "factory_sales_orders", "CASCADE"),
        _fk("factory_so_lines", "item_id", "factory_items"),
        _fk("factory_so_lines", "uom_id", "factory_uoms"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_so_lines_positive"),
        sa.CheckConstraint("base_quantity > 0", name="ck_factory_so_lines_base_positive"),
        sa.CheckConstraint("unit_price >= 0", name="ck_factory_so_lines_price"),
        sa.CheckConstraint(
            "returned_quantity >= 0 AND delivered_quantity >= returned_quantity"
            " AND delivered_quantity <= base_quantity",
            name="ck_factory_so_lines_delivered",
        ),
        sa.UniqueConstraint("order_id", "position", name="uq_factory_so_lines_order_id_position"),
    )
    op.create_table(
        "factory_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("picked_at", UTC, nullable=True),
        sa.Column("shipped_at", UTC, nullable=True),
        *_tenant("factory_deliveries"),
        _fk("factory_deliveries", "order_id", "factory_sales_orders"),
        _fk("factory_deliveries", "user_id", "users", "SET NULL"),
        sa.CheckConstraint(
            "status IN ('draft', 'picked', 'shipped', 'cancelled')", name="ck_factory_deliveries_status"
        ),
    )
    op.create_table(
        "factory_delivery_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("move_id", sa.Integer(), nullable=True),
        *_tenant("factory_delivery_lines"),
        _fk("factory_delivery_lines", "delivery_id", "factory_deliveries", "CASCADE"),
        _fk("factory_delivery_lines", "order_line_id", "factory_so_lines"),
        _fk("factory_delivery_lines", "location_id", "factory_locations"),
        _fk("factory_delivery_lines", "lot_id", "factory_lots"),
        _fk("factory_delivery_lines", "reservation_id", "factory_reservations"),
        _fk("factory_delivery_lines", "move_id", "factory_stock_moves"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_delivery_lines_positive"),
    )
    op.create_table(
        "factory_sales_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_sales_returns"),
        _fk("factory_sales_returns", "order_id", "factory_sales_orders"),
        _fk("factory_sales_returns", "user_id", "users", "SET NULL"),
    )
    op.create_table(
        "factory_sales_return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("move_id", sa.Integer(), nullable=False),
        *_tenant("factory_sales_return_lines"),
        _fk("factory_sales_return_lines", "return_id", "factory_sales_returns", "CASCADE"),
        _fk("factory_sales_return_lines", "order_line_id", "factory_so_lines"),
        _fk("factory_sales_return_lines", "location_id", "factory_locations"),
        _fk("factory_sales_return_lines", "lot_id", "factory_lots"),
        _fk("factory_sales_return_lines", "move_id", "factory_stock_moves"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_sales_return_lines_positive"),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index("ix_factory_quotations_customer_id", "factory_quotations", ["customer_id"])
    op.create_index("ix_factory_quotations_status", "factory_quotations", ["status"])
    op.create_index("ix_factory_quotation_lines_quotation_id", "factory_quotation_lines", ["quotation_id"])
    op.create_index("ix_factory_quotation_lines_item_id", "factory_quotation_lines", ["item_id"])
    op.create_index("ix_factory_sales_orders_customer_id", "factory_sales_orders", ["customer_id"])
    op.create_index("ix_factory_sales_orders_quotation_id", "factory_sales_orders", ["quotation_id"])
    op.create_index("ix_factory_sales_orders_status", "factory_sales_orders", ["status"])
    op.create_index("ix_factory_so_lines_order_id", "factory_so_lines", ["order_id"])
    op.create_index("ix_factory_so_lines_item_id", "factory_so_lines", ["item_id"])
    op.create_index("ix_factory_deliveries_order_id", "factory_deliveries", ["order_id"])
    op.create_index("ix_factory_deliveries_status", "factory_deliveries", ["status"])
    op.create_index("ix_factory_deliveries_shipped_at", "factory_deliveries", ["shipped_at"])
    op.create_index("ix_factory_delivery_lines_delivery_id", "factory_delivery_lines", ["delivery_id"])
    op.create_index("ix_factory_delivery_lines_order_line_id", "factory_delivery_lines", ["order_line_id"])
    op.create_index("ix_factory_sales_returns_order_id", "factory_sales_returns", ["order_id"])
    op.create_index("ix_factory_sales_return_lines_return_id", "factory_sales_return_lines", ["return_id"])
    op.create_index("ix_factory_sales_return_lines_order_line_id", "factory_sales_return_lines", ["order_line_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            for statement in rls_statements(table):
                op.execute(statement)


def downgrade() -> None:
    """Revert the migration."""
    for table in reversed(TABLES):
        op.drop_table(table)
