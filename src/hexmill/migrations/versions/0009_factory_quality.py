"""Factory quality: inspection plans, inspections and results, nonconformances and dispositions.

Revision ID: 0009_factory_quality
Revises: 0008_factory_production
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hexmill.core.db
from hexmill.core.migrate import rls_statements

revision: str = "0009_factory_quality"
down_revision: str | None = "0008_factory_production"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = hexmill.core.db.UTCDateTime(timezone=True)
QTY = sa.Numeric(precision=18, scale=6)
PCT = sa.Numeric(precision=7, scale=2)
TABLES = (
    "factory_qc_defects",
    "factory_qc_plans",
    "factory_qc_checks",
    "factory_qc_inspections",
    "factory_qc_results",
    "factory_qc_ncs",
    "factory_qc_dispositions",
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


def _ck(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=f"ck_{table}_{name}")


def upgrade() -> None:
    """Apply the migration."""
    t = "factory_qc_defects"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_tenant(t),
        sa.UniqueConstraint("tenant_id", "code", name=f"uq_{t}_tenant_id_code"),
    )
    t = "factory_qc_plans"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant(t),
        _fk(t, "item_id", "factory_items"),
        _ck(t, "stage", "stage IN ('receipt', 'operation', 'final')"),
        sa.UniqueConstraint("tenant_id", "code", name=f"uq_{t}_tenant_id_code"),
    )
    t = "factory_qc_checks"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("nominal", QTY, nullable=True),
        sa.Column("lsl", QTY, nullable=True),
        sa.Column("usl", QTY, nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=True),
        sa.Column("sample_pct", PCT, nullable=True),
        sa.Column("defect_code_id", sa.Integer(), nullable=True),
        *_tenant(t),
        _fk(t, "plan_id", "factory_qc_plans", "CASCADE"),
        _fk(t, "defect_code_id", "factory_qc_defects", "SET NULL"),
        _ck(t, "kind", "kind IN ('variable', 'attribute')"),
        _ck(t, "limits", "kind = 'attribute' OR lsl IS NOT NULL OR usl IS NOT NULL"),
        _ck(t, "lsl_below_usl", "lsl IS NULL OR usl IS NULL OR lsl < usl"),
        _ck(t, "sampling", "(sample_size IS NULL) <> (sample_pct IS NULL)"),
        _ck(t, "sample_size", "sample_size IS NULL OR sample_size > 0"),
        _ck(t, "sample_pct", "sample_pct IS NULL OR (sample_pct > 0 AND sample_pct <= 100)"),
        sa.UniqueConstraint("plan_id", "position", name=f"uq_{t}_plan_id_position"),
    )
    t = "factory_qc_inspections"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=True),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("inspected_at", UTC, nullable=False),
        *_tenant(t),
        _fk(t, "plan_id", "factory_qc_plans"),
        _fk(t, "item_id", "factory_items"),
        _fk(t, "lot_id", "factory_lots"),
        _fk(t, "location_id", "factory_locations"),
        _fk(t, "supplier_id", "factory_parties"),
        _ck(t, "source_type", "source_type IN ('receipt', 'operation', 'final', 'other')"),
        _ck(t, "positive", "quantity > 0"),
        _ck(t, "result", "result IN ('pass', 'fail')"),
    )
    t = "factory_qc_results"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("characteristic_id", sa.Integer(), nullable=False),
        sa.Column("sample", sa.Integer(), nullable=False),
        sa.Column("value", QTY, nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("in_tolerance", sa.Boolean(), nullable=False),
        *_tenant(t),
        _fk(t, "inspection_id", "factory_qc_inspections", "CASCADE"),
        _fk(t, "characteristic_id", "factory_qc_checks"),
        _ck(t, "value_or_passed", "(value IS NULL) <> (passed IS NULL)"),
        _ck(t, "sample", "sample > 0"),
        sa.UniqueConstraint(
            "inspection_id", "characteristic_id", "sample", name=f"uq_{t}_inspection_id_characteristic_id_sample"
        ),
    )
    t = "factory_qc_ncs"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=True),
        sa.Column("defect_code_id", sa.Integer(), nullable=True),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("dispositioned_quantity", QTY, nullable=False),
        sa.Column("characteristics", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        *_tenant(t),
        _fk(t, "inspection_id", "factory_qc_inspections"),
        _fk(t, "item_id", "factory_items"),
        _fk(t, "lot_id", "factory_lots"),
        _fk(t, "location_id", "factory_locations"),
        _fk(t, "supplier_id", "factory_parties"),
        _fk(t, "defect_code_id", "factory_qc_defects"),
        _ck(t, "status", "status IN ('open', 'dispositioned', 'closed')"),
        _ck(t, "stage", "stage IN ('receipt', 'operation', 'final', 'other')"),
        _ck(t, "positive", "quantity > 0"),
        _ck(t, "dispositioned", "dispositioned_quantity >= 0 AND dispositioned_quantity <= quantity"),
    )
    t = "factory_qc_dispositions"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonconformance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("to_location_id", sa.Integer(), nullable=True),
        sa.Column("supplier_id", sa.Integer(), nullable=True),
        sa.Column("move_id", sa.Integer(), nullable=True),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        *_tenant(t),
        _fk(t, "nonconformance_id", "factory_qc_ncs", "CASCADE"),
        _fk(t, "to_location_id", "factory_locations"),
        _fk(t, "supplier_id", "factory_parties"),
        _fk(t, "move_id", "factory_stock_moves"),
        _ck(t, "kind", "kind IN ('scrap', 'return', 'rework', 'use_as_is')"),
        _ck(t, "positive", "quantity > 0"),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
    op.create_index("ix_factory_qc_plans_stage", "factory_qc_plans", ["stage"])
    op.create_index("ix_factory_qc_plans_item_id", "factory_qc_plans", ["item_id"])
    op.create_index("ix_factory_qc_checks_plan_id", "factory_qc_checks", ["plan_id"])
    op.create_index("ix_factory_qc_inspections_plan_id", "factory_qc_inspections", ["plan_id"])
    op.create_index("ix_factory_qc_inspections_item_id", "factory_qc_inspections", ["item_id"])
    op.create_index("ix_factory_qc_inspections_inspected_at", "factory_qc_inspections", ["inspected_at"])
    op.create_index("ix_factory_qc_results_inspection_id", "factory_qc_results", ["inspection_id"])
    op.create_index("ix_factory_qc_results_characteristic_id", "factory_qc_results", ["characteristic_id"])
    op.create_index("ix_factory_qc_ncs_inspection_id", "factory_qc_ncs", ["inspection_id"])
    op.create_index("ix_factory_qc_ncs_item_id", "factory_qc_ncs", ["item_id"])
    op.create_index("ix_factory_qc_ncs_defect_code_id", "factory_qc_ncs", ["defect_code_id"])
    op.create_index("ix_factory_qc_ncs_status", "factory_qc_ncs", ["status"])
    op.create_index("ix_factory_qc_ncs_created_at", "factory_qc_ncs", ["created_at"])
    op.create_index("ix_factory_qc_dispositions_nonconformance_id", "factory_qc_dispositions", ["nonconformance_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            for statement in rls_statements(table):
                op.execute(statement)


def downgrade() -> None:
    """Revert the migration."""
    for table in reversed(TABLES):
        op.drop_table(table)
