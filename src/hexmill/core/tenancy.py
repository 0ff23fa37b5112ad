"""The tenant guard: every ORM statement on a tenant-owned table is scoped here, in one place.

A session carries a scope in ``session.info["tenant_scope"]``: a tenant id, or ``ALL_TENANTS``
for platform-level work (the platform admin, authentication, migrations, seeding). A session
with no scope that touches a tenant-owned table raises: tenant scope is never optional.
On PostgreSQL the same scope is written to the transaction setting ``hexmill.tenant_id`` so
row-level security policies form a second wall.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import ForeignKey, event, text
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

from hexmill.core.db import Base

if TYPE_CHECKING:
    from sqlalchemy import Table

ALL_TENANTS: Final = "*"
SCOPE_KEY: Final = "tenant_scope"
PG_SETTING: Final = "hexmill.tenant_id"

Scope = int | str


class TenantScopeError(RuntimeError):
    """A statement touched tenant-owned data without a tenant scope, or across it."""


class TenantOwned:
    """Mixin of every table whose rows belong to one tenant."""

    tenant_optional: bool = False

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        """Owning tenant of the row."""
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


def set_scope(session: Session, scope: Scope) -> Session:
    """Scope ``session`` to one tenant id or to ``ALL_TENANTS``; returns the session."""
    if scope != ALL_TENANTS and (not isinstance(scope, int) or isinstance(scope, bool)):
        msg = f"invalid tenant scope {scope!r}"
        raise TenantScopeError(msg)
    session.info[SCOPE_KEY] = scope
    if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config(:k, :v, true)"), {"k": PG_SETTING, "v": str(scope)})
    return session


@contextmanager
def widened(session: Session) -> Iterator[Session]:
    """Lift the session to ``ALL_TENANTS`` for a block; callers check the right to do so first."""
    before = get_scope(session)
    set_scope(session, ALL_TENANTS)
    try:
        yield session
    finally:
        if before is None:
            session.info.pop(SCOPE_KEY, None)
        else:
            set_scope(session, before)


def get_scope(session: Session) -> Scope | None:
    """Return the session's scope, or None if it has none."""
    return session.info.get(SCOPE_KEY)


_tables_cache: dict[int, frozenset[str]] = {}


def _tenant_tables() -> frozenset[str]:
    """Return the names of tenant-owned tables, recomputed only when new mappers are registered."""
    mappers = Base.registry.mappers
    cached = _tables_cache.get(len(mappers))
    if cached is None:
        cached = frozenset(cast("Table", m.local_table).name for m in mappers if issubclass(m.class_, TenantOwned))
        _tables_cache.clear()
        _tables_cache[len(mappers)] = cached
    return cached


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    if any(issubclass(m.class_, TenantOwned) for m in state.all_mappers):
        return True
    tables = _tenant_tables()
    return any(
        t.name in tables
        for t in find_tables(cast(ClauseElement, state.statement), include_crud=True, include_joins=True)
    )


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if not _touches_tenant_data(state):
        return
    scope = get_scope(state.session)
    if scope is None:
        msg = "statement on tenant-owned data in a session without tenant scope"
        raise TenantScopeError(msg)
    if scope == ALL_TENANTS:
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.tenant_id == scope,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    scope = get_scope(session)
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if scope is None:
            msg = f"write of {type(obj).__name__} in a session without tenant scope"
            raise TenantScopeError(msg)
        if obj in session.new and obj.tenant_id is None and isinstance(scope, int):
            obj.tenant_id = scope
        if obj.tenant_id is None and not obj.tenant_optional:
            msg = f"{type(obj).__name__} written without a tenant"
            raise TenantScopeError(msg)
        if isinstance(scope, int) and obj.tenant_id not in (scope, None):
            msg = f"{type(obj).__name__} of tenant {obj.tenant_id} written in scope of tenant {scope}"
            raise TenantScopeError(msg)


@event.listens_for(Session, "after_begin")
def _set_pg_setting(session: Session, _tx: SessionTransaction, connection: Any) -> None:
    if connection.dialect.name != "postgresql":
        return
    scope = get_scope(session)
    value = "" if scope is None else str(scope)
    connection.execute(text("SELECT set_config(:k, :v, true)"), {"k": PG_SETTING, "v": value})
