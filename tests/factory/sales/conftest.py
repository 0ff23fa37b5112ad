"""Fixtures of the sales tests: the inventory set-up plus a customer, a supplier, a box unit, a configurable
chair (colour and size options) and stock on hand to ship."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.masterdata.service import OptionGroupSpec
from hexmill.factory.sales import service
from tests.conftest import unique
from tests.factory.inventory.conftest import Plant, plant_factory  # noqa: F401 - the inventory set-up fixture
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures

ORDERS = "/api/v1/factory/sales-orders"
QUOTATIONS = "/api/v1/factory/quotations"
DELIVERIES = "/api/v1/factory/deliveries"


@pytest.fixture
def shop_factory(plant_factory: Callable[..., Plant]) -> Callable[..., Plant]:  # noqa: F811 - the fixture above
    """Build an inventory set-up with a customer, a supplier-only party, a box of 12 bolts, a chair and stock.

    Stock on shelf A: 100 bolts, 50 of steel lot STEEL-1, motor serial MOTOR-1, 10 chairs.
    """

    def make(**actor_kwargs: Any) -> Plant:
        plant = plant_factory(**actor_kwargs)
        with plant.session() as (s, ctx):
            ids = plant.ids
            ids["client"] = masterdata.create_party(
                s, ctx, code=unique("CUS")[:60], name="Acme Buyers", is_customer=True
            ).id
            ids["vendor"] = masterdata.create_party(s, ctx, code=unique("SUP")[:60], name="Vendor", is_supplier=True).id
            piece = masterdata.get_item(s, ctx, ids["bolt"]).uom_id
            ids["pc"] = piece
            ids["box"] = masterdata.create_uom(s, ctx, code=unique("box")[:16], name="Box", category="count").id
            masterdata.create_conversion(
                s, ctx, from_uom_id=ids["box"], to_uom_id=piece, factor=Decimal(12), item_id=ids["bolt"]
            )
            chair = masterdata.create_item(
                s, ctx, code=f"CHAIR-{unique('i')[-6:]}", name="Chair", kind="finished", uom_id=piece, configurable=True
            )
            ids["chair"] = chair.id
            masterdata.set_item_options(
                s,
                ctx,
                chair.id,
                [
                    OptionGroupSpec("colour", "Colour", [("red", "Red"), ("blue", "Blue")]),
                    OptionGroupSpec("size", "Size", [("s", "Small"), ("l", "Large")]),
                ],
            )
            for group in masterdata.item_options(s, ctx, chair.id):
                for value in group.values:
                    ids[f"{group.code}-{value.code}"] = value.id
        plant.receive("bolt", "100")
        plant.receive("steel", "50", lot="steel-1")
        plant.receive("motor", "1", lot="motor-1")
        plant.receive("chair", "10")
        return plant

    return make


@pytest.fixture
def shop(shop_factory: Callable[..., Plant]) -> Plant:
    """Return a sales set-up in a fresh enterprise."""
    return shop_factory()


def order_body(shop: Plant, number: str | None = None) -> dict[str, Any]:
    """Return the body of a new order: 2 boxes of bolts, 20 steel, 1 motor, 3 red large chairs."""
    ids = shop.ids
    return {
        "number": number or unique("SO")[:60],
        "customer_id": ids["client"],
        "order_date": "2026-11-01",
        "customer_reference": "PO-4711",
        "lines": [
            {
                "item_id": ids["bolt"],
                "quantity": "2",
                "uom_id": ids["box"],
                "unit_price": "6",
                "due_date": "2026-11-20",
            },
            {"item_id": ids["steel"], "quantity": "20", "unit_price": "2.5", "due_date": "2026-11-20"},
            {"item_id": ids["motor"], "quantity": "1", "unit_price": "400"},
            {
                "item_id": ids["chair"],
                "quantity": "3",
                "unit_price": "80",
                "options": [ids["colour-red"], ids["size-l"]],
            },
        ],
    }


def _typed(line: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in line.items():
        if key in {"quantity", "unit_price"}:
            out[key] = Decimal(value)
        elif key in {"due_date", "requested_date"}:
            out[key] = date.fromisoformat(value)
        else:
            out[key] = value
    return out


def create_order(shop: Plant, *, confirm: bool = True, number: str | None = None) -> tuple[int, list[int]]:
    """Create (and by default confirm) the order of ``order_body``; return its id and line ids."""
    body = order_body(shop, number)
    with shop.session() as (s, ctx):
        order = service.create_sales_order(
            s,
            ctx,
            number=body["number"],
            customer_id=body["customer_id"],
            order_date=date(2026, 11, 1),
            customer_reference=body["customer_reference"],
            lines=[_typed(line) for line in body["lines"]],
        )
        if confirm:
            service.confirm_sales_order(s, ctx, order.id)
        return order.id, [line.id for line in order.lines]
