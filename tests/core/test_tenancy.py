"""The tenant guard: scoped reads, refused unscoped statements, refused cross-tenant writes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.identity import create_role
from hexmill.core.models import Role
from hexmill.core.pagination import count_of
from hexmill.core.tenancy import TenantScopeError, set_scope


def test_scoped_session_sees_only_its_tenant(session_factory: sessionmaker[Session], tenant_factory) -> None:
    a, b = tenant_factory(), tenant_factory()
    with transaction(session_factory) as s:
        set_scope(s, a.id)
        names = {r.tenant_id for r in s.scalars(select(Role))}
    assert names == {a.id}
    with transaction(session_factory) as s:
        set_scope(s, b.id)
        assert all(r.tenant_id == b.id for r in s.scalars(select(Role)))


def test_counts_through_a_subquery_are_scoped(session_factory: sessionmaker[Session], tenant_factory) -> None:
    a = tenant_factory()
    tenant_factory()
    with transaction(session_factory) as s:
        set_scope(s, a.id)
        assert count_of(s, select(Role)) == len(list(s.scalars(select(Role))))
        assert s.scalar(select(func.count(Role.id))) == len(list(s.scalars(select(Role))))


def test_unscoped_session_refuses_tenant_tables(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, pytest.raises(TenantScopeError):
        s.scalars(select(Role)).all()


def test_write_into_another_tenant_is_refused(session_factory: sessionmaker[Session], tenant_factory) -> None:
    a, b = tenant_factory(), tenant_factory()
    with session_factory() as s:
        set_scope(s, a.id)
        s.add(Role(tenant_id=b.id, name="intruder", permissions=[]))
        with pytest.raises(TenantScopeError):
            s.flush()


def test_new_rows_take_the_session_tenant(session_factory: sessionmaker[Session], tenant_factory) -> None:
    a = tenant_factory()
    ctx = Context(user_id=None, username="t", tenant_id=a.id, permissions=frozenset({"roles.manage"}))
    with transaction(session_factory) as s:
        set_scope(s, a.id)
        role = create_role(s, ctx, name="inspector", permissions=["assets.view"])
    assert role.tenant_id == a.id
