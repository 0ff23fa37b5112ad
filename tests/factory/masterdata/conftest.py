"""Fixtures of the master-data tests: a tenant-scoped session and context for service-level tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hexmill.core.context import Context
from hexmill.core.models import Tenant
from hexmill.core.tenancy import set_scope

API = "/api/v1/factory"


@dataclass
class Scoped:
    """A session scoped to one enterprise and the context of a user holding factory rights there."""

    session: Session
    ctx: Context


@pytest.fixture
def scoped_factory(
    session_factory: sessionmaker[Session], tenant_factory: Callable[..., Tenant]
) -> Iterator[Callable[..., Scoped]]:
    """Open tenant-scoped sessions (committed at the end of the test) for new or given enterprises."""
    opened: list[Session] = []

    def make(tenant: Tenant | None = None, permissions: frozenset[str] | None = None) -> Scoped:
        tenant = tenant or tenant_factory()
        session = session_factory()
        opened.append(session)
        set_scope(session, tenant.id)
        perms = permissions if permissions is not None else frozenset({"factory.view", "factory.edit"})
        return Scoped(session, Context(user_id=None, username="tester", tenant_id=tenant.id, permissions=perms))

    yield make
    for session in opened:
        session.rollback()
        session.close()
