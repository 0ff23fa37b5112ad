"""Alembic, driven from code: upgrade, current revisions, and the SQL the migrations share.

The migration scripts live inside the package (``hexmill/migrations``) so an installed wheel can
migrate its database without the source tree.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Return an Alembic config for the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest), then refresh built-in data."""
    # Imported here, not at the top: every migration script imports this module, and needs neither.
    from hexmill.core.db import make_sessionmaker, transaction  # noqa: PLC0415
    from hexmill.core.identity import ensure_builtin_roles  # noqa: PLC0415

    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)
    if revision == "head":
        with transaction(make_sessionmaker(engine)) as session:
            ensure_builtin_roles(session)


@cache
def current_head() -> str | None:
    """Return the newest migration revision shipped with the code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def database_revision(conn: Connection) -> str | None:
    """Return the revision the database is at (None before the first migration)."""
    return MigrationContext.configure(conn).get_current_revision()


# -- SQL shared by migration scripts ------------------------------------------------------------


def rls_statements(table: str) -> list[str]:
    """Return PostgreSQL statements that wall ``table`` off by ``hexmill.tenant_id``.

    The policy lets a row through when the transaction's setting names its tenant, or is ``*``
    (platform-level work); rows without a tenant (platform audit entries) only to the latter.
    FORCE makes the policy apply to the table owner too; superusers still bypass it, so the
    application connects as an ordinary role.
    """
    setting = "current_setting('hexmill.tenant_id', true)"
    check = f"({setting} = '*' OR tenant_id::text = {setting})"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_wall ON {table} USING {check} WITH CHECK {check}",
    ]


def append_only_statements(table: str, dialect: str) -> list[str]:
    """Return statements that refuse UPDATE and DELETE on ``table``."""
    if dialect == "postgresql":
        return [
            # No "%" in the body: how it is escaped differs between DB drivers and Alembic's op.execute.
            "CREATE OR REPLACE FUNCTION hexmill_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION USING MESSAGE = 'table ' || TG_TABLE_NAME || ' is append-only'; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hexmill_append_only()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]
