"""Fixtures of the purchasing tests: the inventory set-up plus a supplier, a customer and a box unit."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.purchasing import service
from tests.conftest import unique
from tests.factory.inventory.conftest import Plant, plant_factory  # noqa: F401 - the inventory set-up fixture
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures

API = "/api/v1/factory/purchase-orders"


@pytest.fixture
def shop_factory(plant_factory: Callable[..., Plant]) -> Callable[..., Plant]:  # noqa: F811 - the fixture above
    """Build an inventory set-up with a supplier, a customer-only party and a box of 12 bolts."""

    def make(**actor_kwargs: Any) -> Plant:
        plant = plant_factory(**actor_kwargs)
        with plant.session() as (s, ctx):
            ids = plant.ids
            ids["vendor"] = masterdata.create_party(
                s, ctx, code=unique("SUP")[:60], name="Steel Supplies", is_supplier=True
            ).id
            ids["client"] = masterdata.create_party(s, ctx, code=unique("CUS")[:60], name="Buyer", is_customer=True).id
            piece = masterdata.get_item(s, ctx, ids["bolt"]).uom_id
            ids["pc"] = piece
            ids["box"] = masterdata.create_uom(s, ctx, code=unique("box")[:16], name="Box", category="count").id
            masterdata.create_conversion(
                s, ctx, from_uom_id=ids["box"], to_uom_id=piece, factor=Decimal(12), item_id=ids["bolt"]
            )
        return plant

    return make


@pytest.fixture
def shop(shop_factory: Callable[..., Plant]) -> Plant:
    """Return a purchasing set-up in a fresh enterprise."""
    return shop_factory()


def order_body(shop: Plant, number: str | None = None) -> dict[str, Any]:
    """Return the body of a new order: 10 boxes of bolts (5 % tolerance) and 20 kg-free steel, 2 motors."""
    return {
        "number": number or unique("PO")[:60],
        "supplier_id": shop.ids["vendor"],
        "order_date": "2026-11-01",
        "expected_date": "2026-11-20",
        "lines": [
            {
                "item_id": shop.ids["bolt"],
                "quantity": "10",
                "uom_id": shop.ids["box"],
                "unit_price": "4.5",
                "tolerance_pct": "5",
            },
            {"item_id": shop.ids["steel"], "quantity": "20", "unit_price": "1.25"},
            {"item_id": shop.ids["motor"], "quantity": "2", "unit_price": "300"},
        ],
    }


def create_order(shop: Plant, *, confirm: bool = True, number: str | None = None) -> tuple[int, list[int]]:
    """Create (and by default confirm) the order of ``order_body``; return its id and line ids."""
    body = order_body(shop, number)
    with shop.session() as (s, ctx):
        order = service.create_purchase_order(
            s,
            ctx,
            number=body["number"],
            supplier_id=body["supplier_id"],
            lines=[
                {k: Decimal(v) if k in {"quantity", "unit_price", "tolerance_pct"} else v for k, v in line.items()}
                for line in body["lines"]
            ],
        )
        if confirm:
            service.confirm_purchase_order(s, ctx, order.id)
        return order.id, [line.id for line in order.lines]
