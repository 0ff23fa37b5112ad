"""Factory maintenance: maintenance orders, preventive plans and usage counters.

Revision ID: 0010_factory_maintenance
Revises: 0009_factory_quality
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hexmill.core.db
from hexmill.core.migrate import rls_statements

revision: str = "0010_factory_maintenance"
down_revision: str | None = "0009_factory_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = hexmill.core.db.UTCDateTime(timezone=True)
QTY = sa.Numeric(precision=18, scale=6)
TABLES = (
    "factory_failure_codes",
    "factory_maintenance_plans",
    "factory_maintenance_orders",
    "factory_usage_readings",
)
OPEN_ORDER = "status IN ('open', 'in_progress') AND plan_id IS NOT NULL"


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
        "factory_failure_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_tenant("factory_failure_codes"),
        sa.UniqueConstraint("tenant_id", "code", name="uq_factory_failure_codes_tenant_id_code"),
    )
    op.create_table(
        "factory_maintenance_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trigger_type", sa.String(length=10), nullable=False),
        sa.Column("interval_days", sa.Integer(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("counter", sa.String(length=64), nullable=True),
        sa.Column("interval_units", QTY, nullable=True),
        sa.Column("start_reading", QTY, nullable=True),
        sa.Column("tasks", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_done_at", UTC, nullable=True),
        sa.Column("last_done_reading", QTY, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_maintenance_plans"),
        _fk("factory_maintenance_plans", "equipment_id", "asset_equipment", "CASCADE"),
        sa.CheckConstraint("trigger_type IN ('calendar', 'usage')", name="ck_factory_maintenance_plans_trigger_type"),
        sa.CheckConstraint(
            "(trigger_type = 'calendar' AND interval_days > 0 AND counter IS NULL AND interval_units IS NULL)"
            " OR (trigger_type = 'usage' AND interval_days IS NULL AND counter IS NOT NULL AND interval_units > 0"
            " AND start_reading >= 0)",
            name="ck_factory_maintenance_plans_interval",
        ),
        sa.UniqueConstraint("equipment_id", "name", name="uq_factory_maintenance_plans_equipment_id_name"),
    )
    op.create_table(
        "factory_maintenance_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("failure_code_id", sa.Integer(), nullable=True),
        sa.Column("failure_at", UTC, nullable=True),
        sa.Column("repair_start_at", UTC, nullable=True),
        sa.Column("repair_end_at", UTC, nullable=True),
        sa.Column("equipment_down", sa.Boolean(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("action_taken", sa.Text(), nullable=False),
        sa.Column("labour_hours", sa.Numeric(precision=9, scale=2), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("completed_at", UTC, nullable=True),
        *_tenant("factory_maintenance_orders"),
        _fk("factory_maintenance_orders", "equipment_id", "asset_equipment"),
        _fk("factory_maintenance_orders", "plan_id", "factory_maintenance_plans", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["failure_code_id"],
            ["factory_failure_codes.id"],
            name="fk_factory_maintenance_orders_failure_code_id",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("kind IN ('corrective', 'preventive')", name="ck_factory_maintenance_orders_kind"),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name="ck_factory_maintenance_orders_priority"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'cancelled')", name="ck_factory_maintenance_orders_status"
        ),
        sa.CheckConstraint("labour_hours >= 0", name="ck_factory_maintenance_orders_labour_hours"),
        sa.CheckConstraint(
            "kind = 'preventive' OR plan_id IS NULL", name="ck_factory_maintenance_orders_plan_preventive"
        ),
        sa.UniqueConstraint("tenant_id", "number", name="uq_factory_maintenance_orders_tenant_id_number"),
    )
    op.create_table(
        "factory_usage_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.String(length=64), nullable=False),
        sa.Column("value", QTY, nullable=False),
        sa.Column("read_at", UTC, nullable=False),
        sa.Column("is_reset", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant("factory_usage_readings"),
        _fk("factory_usage_readings", "equipment_id", "asset_equipment", "CASCADE"),
        sa.CheckConstraint("value >= 0", name="ck_factory_usage_readings_value"),
        sa.CheckConstraint("source IN ('manual', 'telemetry')", name="ck_factory_usage_readings_source"),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index("ix_factory_maintenance_plans_equipment_id", "factory_maintenance_plans", ["equipment_id"])
    op.create_index("ix_factory_maintenance_plans_active", "factory_maintenance_plans", ["active"])
    op.create_index("ix_factory_maintenance_orders_equipment_id", "factory_maintenance_orders", ["equipment_id"])
    op.create_index("ix_factory_maintenance_orders_status", "factory_maintenance_orders", ["status"])
    op.create_index("ix_factory_maintenance_orders_failure_code_id", "factory_maintenance_orders", ["failure_code_id"])
    op.create_index(
        "uq_factory_maintenance_orders_open_plan",
        "factory_maintenance_orders",
        ["plan_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_ORDER),
        postgresql_where=sa.text(OPEN_ORDER),
    )
    op.create_index(
        "ix_factory_usage_readings_counter_at", "factory_usage_readings", ["equipment_id", "counter", "read_at"]
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            for statement in rls_statements(table):
                op.execute(statement)


def downgrade() -> None:
    """Revert the migration."""
    for table in reversed(TABLES):
        op.drop_table(table)
