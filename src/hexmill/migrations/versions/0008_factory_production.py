"""Factory production: work orders with BOM and routing snapshots, operations and shop-floor reports.

Revision ID: 0008_factory_production
Revises: 0007_factory_sales
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hexmill.core.db
from hexmill.core.migrate import append_only_statements, rls_statements

revision: str = "0008_factory_production"
down_revision: str | None = "0007_factory_sales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = hexmill.core.db.UTCDateTime(timezone=True)
QTY = sa.Numeric(precision=18, scale=6)
MINUTES = sa.Numeric(precision=12, scale=3)
TABLES = (
    "factory_work_orders",
    "factory_wo_components",
    "factory_wo_operations",
    "factory_scrap_reasons",
    "factory_wo_reports",
    "factory_wo_receipts",
    "factory_wo_receipt_outputs",
    "factory_wo_issues",
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
        "factory_work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sales_order_line_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("received_quantity", QTY, nullable=False),
        sa.Column("production_record_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("released_at", UTC, nullable=True),
        sa.Column("completed_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        *_tenant("factory_work_orders"),
        _fk("factory_work_orders", "item_id", "factory_items"),
        _fk("factory_work_orders", "sales_order_line_id", "factory_so_lines", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["production_record_id"],
            ["factory_production_records.id"],
            name="fk_factory_work_orders_production_record",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'released', 'in_progress', 'completed', 'closed', 'cancelled')",
            name="ck_factory_work_orders_status",
        ),
        sa.CheckConstraint("quantity > 0", name="ck_factory_work_orders_positive"),
        sa.CheckConstraint("received_quantity >= 0", name="ck_factory_work_orders_received"),
        sa.UniqueConstraint("tenant_id", "number", name="uq_factory_work_orders_tenant_id_number"),
    )
    op.create_table(
        "factory_wo_components",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity_per_unit", sa.Numeric(precision=24, scale=10), nullable=False),
        sa.Column("required_quantity", QTY, nullable=False),
        sa.Column("uom_id", sa.Integer(), nullable=False),
        sa.Column("issued_quantity", QTY, nullable=False),
        *_tenant("factory_wo_components"),
        _fk("factory_wo_components", "work_order_id", "factory_work_orders", "CASCADE"),
        _fk("factory_wo_components", "item_id", "factory_items"),
        _fk("factory_wo_components", "uom_id", "factory_uoms"),
        sa.CheckConstraint("quantity_per_unit > 0", name="ck_factory_wo_components_per_unit_positive"),
        sa.CheckConstraint(
            "required_quantity >= 0 AND issued_quantity >= 0", name="ck_factory_wo_components_quantities"
        ),
        sa.UniqueConstraint("work_order_id", "position", name="uq_factory_wo_components_work_order_id_position"),
    )
    op.create_table(
        "factory_wo_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("work_centre_id", sa.Integer(), nullable=False),
        sa.Column("setup_minutes", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("run_minutes", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("transfer_batch", QTY, nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("good_quantity", QTY, nullable=False),
        sa.Column("scrap_quantity", QTY, nullable=False),
        sa.Column("labour_minutes", MINUTES, nullable=False),
        sa.Column("running_since", UTC, nullable=True),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        *_tenant("factory_wo_operations"),
        _fk("factory_wo_operations", "work_order_id", "factory_work_orders", "CASCADE"),
        _fk("factory_wo_operations", "work_centre_id", "factory_work_centres"),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'paused', 'finished')", name="ck_factory_wo_operations_status"
        ),
        sa.CheckConstraint("setup_minutes >= 0 AND run_minutes >= 0", name="ck_factory_wo_operations_times"),
        sa.CheckConstraint(
            "transfer_batch IS NULL OR transfer_batch > 0", name="ck_factory_wo_operations_transfer_batch"
        ),
        sa.CheckConstraint(
            "good_quantity >= 0 AND scrap_quantity >= 0 AND labour_minutes >= 0",
            name="ck_factory_wo_operations_totals",
        ),
        sa.UniqueConstraint("work_order_id", "sequence", name="uq_factory_wo_operations_work_order_id_sequence"),
    )
    op.create_table(
        "factory_scrap_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_scrap_reasons"),
        sa.UniqueConstraint("tenant_id", "code", name="uq_factory_scrap_reasons_tenant_id_code"),
    )
    op.create_table(
        "factory_wo_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("good_quantity", QTY, nullable=False),
        sa.Column("scrap_quantity", QTY, nullable=False),
        sa.Column("scrap_reason_id", sa.Integer(), nullable=True),
        sa.Column("labour_minutes", MINUTES, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_wo_reports"),
        _fk("factory_wo_reports", "work_order_id", "factory_work_orders"),
        _fk("factory_wo_reports", "operation_id", "factory_wo_operations"),
        _fk("factory_wo_reports", "scrap_reason_id", "factory_scrap_reasons"),
        _fk("factory_wo_reports", "user_id", "users", "SET NULL"),
        sa.CheckConstraint(
            "kind IN ('start', 'pause', 'resume', 'finish', 'report')", name="ck_factory_wo_reports_kind"
        ),
        sa.CheckConstraint("source IN ('manual', 'machine')", name="ck_factory_wo_reports_source"),
        sa.CheckConstraint("good_quantity >= 0 AND scrap_quantity >= 0", name="ck_factory_wo_reports_quantities"),
        sa.CheckConstraint("labour_minutes IS NULL OR labour_minutes >= 0", name="ck_factory_wo_reports_labour"),
    )
    op.create_table(
        "factory_wo_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_wo_receipts"),
        _fk("factory_wo_receipts", "work_order_id", "factory_work_orders"),
        _fk("factory_wo_receipts", "location_id", "factory_locations"),
        _fk("factory_wo_receipts", "user_id", "users", "SET NULL"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_wo_receipts_positive"),
    )
    op.create_table(
        "factory_wo_receipt_outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("move_id", sa.Integer(), nullable=False),
        *_tenant("factory_wo_receipt_outputs"),
        _fk("factory_wo_receipt_outputs", "receipt_id", "factory_wo_receipts", "CASCADE"),
        _fk("factory_wo_receipt_outputs", "lot_id", "factory_lots"),
        _fk("factory_wo_receipt_outputs", "move_id", "factory_stock_moves"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_wo_receipt_outputs_positive"),
    )
    op.create_table(
        "factory_wo_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("move_id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_wo_issues"),
        _fk("factory_wo_issues", "work_order_id", "factory_work_orders"),
        _fk("factory_wo_issues", "component_id", "factory_wo_components"),
        _fk("factory_wo_issues", "location_id", "factory_locations"),
        _fk("factory_wo_issues", "lot_id", "factory_lots"),
        _fk("factory_wo_issues", "move_id", "factory_stock_moves"),
        _fk("factory_wo_issues", "receipt_id", "factory_wo_receipts"),
        sa.CheckConstraint("kind IN ('manual', 'backflush')", name="ck_factory_wo_issues_kind"),
        sa.CheckConstraint("quantity > 0", name="ck_factory_wo_issues_positive"),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index("ix_factory_work_orders_item_id", "factory_work_orders", ["item_id"])
    op.create_index("ix_factory_work_orders_status", "factory_work_orders", ["status"])
    op.create_index("ix_factory_work_orders_sales_order_line_id", "factory_work_orders", ["sales_order_line_id"])
    op.create_index("ix_factory_wo_components_work_order_id", "factory_wo_components", ["work_order_id"])
    op.create_index("ix_factory_wo_components_item_id", "factory_wo_components", ["item_id"])
    op.create_index("ix_factory_wo_operations_work_order_id", "factory_wo_operations", ["work_order_id"])
    op.create_index("ix_factory_wo_operations_work_centre_id", "factory_wo_operations", ["work_centre_id"])
    op.create_index("ix_factory_wo_operations_status", "factory_wo_operations", ["status"])
    op.create_index("ix_factory_wo_reports_work_order_id", "factory_wo_reports", ["work_order_id"])
    op.create_index("ix_factory_wo_reports_operation_id", "factory_wo_reports", ["operation_id"])
    op.create_index("ix_factory_wo_reports_tenant_at", "factory_wo_reports", ["tenant_id", "at"])
    op.create_index("ix_factory_wo_receipts_work_order_id", "factory_wo_receipts", ["work_order_id"])
    op.create_index("ix_factory_wo_receipt_outputs_receipt_id", "factory_wo_receipt_outputs", ["receipt_id"])
    op.create_index("ix_factory_wo_issues_work_order_id", "factory_wo_issues", ["work_order_id"])
    op.create_index("ix_factory_wo_issues_component_id", "factory_wo_issues", ["component_id"])
    dialect = op.get_bind().dialect.name
    # Shop-floor reports only grow: the same triggers that guard the stock ledger refuse UPDATE and DELETE.
    for statement in append_only_statements("factory_wo_reports", dialect):
        op.execute(statement)
    if dialect == "postgresql":
        for table in TABLES:
            for statement in rls_statements(table):
                op.execute(statement)


def downgrade() -> None:
    """Revert the migration."""
    for table in reversed(TABLES):
        op.drop_table(table)
