"""Fixtures of the maintenance tests: a fresh enterprise with a line of two machines and a failure code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.tenancy import set_scope
from hexmill.factory.maintenance import service
from tests.conftest import Actor, unique
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures

API = "/api/v1/factory"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Shop:
    """One enterprise's maintenance set-up: two machines on a line, a failure code."""

    actor: Actor
    ids: dict[str, int]
    factory: sessionmaker[Session]

    @property
    def headers(self) -> dict[str, str]:
        """Return the headers of the enterprise's admin."""
        return self.actor.headers

    @contextmanager
    def session(self) -> Iterator[tuple[Session, Context]]:
        """Open a transaction scoped to the enterprise, with the admin's context."""
        with transaction(self.factory) as s:
            set_scope(s, self.actor.tenant.id)
            yield s, identity.build_context(s, self.actor.user, self.actor.tenant.id)


@pytest.fixture
def shop_factory(session_factory: sessionmaker[Session], actor_factory: Callable[..., Actor]) -> Callable[..., Shop]:
    """Build a maintenance set-up for a new tenant admin (in a new enterprise unless one is given)."""

    def make(**actor_kwargs: Any) -> Shop:
        actor = actor_factory("tenant_admin", **actor_kwargs)
        shop = Shop(actor=actor, ids={}, factory=session_factory)
        with shop.session() as (s, ctx):
            site = assets.create_site(s, ctx, name=unique("site"))
            area = assets.create_area(s, ctx, site_id=site.id, name="Hall 1")
            line = assets.create_line(s, ctx, area_id=area.id, name="Line 1")
            shop.ids["press"] = assets.create_equipment(s, ctx, line_id=line.id, name="Press 1").id
            shop.ids["lathe"] = assets.create_equipment(s, ctx, line_id=line.id, name="Lathe 2").id
            shop.ids["bearing"] = service.create_failure_code(s, ctx, code="BRG", name="Bearing worn").id
        return shop

    return make


@pytest.fixture
def shop(shop_factory: Callable[..., Shop]) -> Shop:
    """Return a maintenance set-up in a fresh enterprise."""
    return shop_factory()
