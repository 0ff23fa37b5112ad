"""Fixtures of the inventory tests: an enterprise with units, items of every tracking kind, a warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.tenancy import set_scope
from hexmill.factory.inventory import service
from hexmill.factory.masterdata import service as masterdata
from tests.conftest import Actor, unique
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures

API = "/api/v1/factory/inventory"


@dataclass
class Plant:
    """One enterprise's inventory set-up: items by tracking, a warehouse, locations and virtual locations."""

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

    def receive(self, item: str, qty: str, location: str = "a", lot: str | None = None) -> int:
        """Post a receipt from the supplier location; return the move id."""
        with self.session() as (s, ctx):
            move = service.post_move(
                s,
                ctx,
                item_id=self.ids[item],
                quantity=Decimal(qty),
                from_location_id=self.ids["supplier"],
                to_location_id=self.ids[location],
                lot_id=self.ids[lot] if lot else None,
            )
            return move.id


@pytest.fixture
def plant_factory(session_factory: sessionmaker[Session], actor_factory: Callable[..., Actor]) -> Callable[..., Plant]:
    """Build an inventory set-up for a new tenant admin (in a new enterprise unless one is given)."""

    def make(**actor_kwargs: Any) -> Plant:
        actor = actor_factory("tenant_admin", **actor_kwargs)
        ids: dict[str, int] = {}
        plant = Plant(actor=actor, ids=ids, factory=session_factory)
        with plant.session() as (s, ctx):
            uom = masterdata.create_uom(s, ctx, code=unique("pc")[:16], name="Piece", category="count")
            for key, tracking, negative in (
                ("bolt", "none", False),
                ("paint", "none", True),
                ("steel", "lot", False),
                ("frame", "lot", False),
                ("motor", "serial", False),
            ):
                item = masterdata.create_item(
                    s,
                    ctx,
                    code=f"{key.upper()}-{unique('i')[-6:]}",
                    name=key.title(),
                    kind="raw",
                    uom_id=uom.id,
                    tracking=tracking,
                    allow_negative=negative,
                )
                ids[key] = item.id
            wh = service.create_warehouse(s, ctx, code="WH1", name="Main store")
            ids["warehouse"] = wh.id
            ids["a"] = service.create_location(s, ctx, warehouse_id=wh.id, code="WH1/A", name="Shelf A").id
            ids["b"] = service.create_location(s, ctx, warehouse_id=wh.id, code="WH1/B", name="Shelf B").id
            for kind, loc in service.virtual_locations(s, ctx).items():
                ids[kind] = loc.id
            for key, item in (("steel-1", "steel"), ("steel-2", "steel"), ("frame-1", "frame"), ("motor-1", "motor")):
                ids[key] = service.create_lot(s, ctx, item_id=ids[item], number=key.upper()).id
        return plant

    return make


@pytest.fixture
def plant(plant_factory: Callable[..., Plant]) -> Plant:
    """Return an inventory set-up in a fresh enterprise."""
    return plant_factory()
