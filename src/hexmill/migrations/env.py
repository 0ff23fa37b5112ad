"""Alembic environment: runs migrations on the connection or URL the caller gives."""

from __future__ import annotations

import re

from alembic import context
from sqlalchemy import Connection

from hexmill.core.db import make_engine
from hexmill.models_registry import metadata

config = context.config

# The telemetry store owns its tables (and creates chunk partitions as data arrives); migrations
# leave them alone, so ``alembic check`` does not see them as tables to drop.
_STORE_TABLE = re.compile(r"^(tlm_|(raw|m1|h1)_[0-9]+_)")


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    return not (type_ == "table" and name is not None and _STORE_TABLE.match(name))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Migrate the given connection, or one opened from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from hexmill.core.config import get_settings

        url = get_settings().resolved_database_url
    engine = make_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover - hexmill always migrates online
    raise SystemExit("offline migrations are not supported")
run()
