"""Fixtures of the import tests: the inventory set-up plus a supplier and a work centre, and file builders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from hexmill.factory.imports import writing
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from tests.conftest import unique
from tests.factory.inventory.conftest import Plant, plant_factory  # noqa: F401 - the inventory set-up fixture
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures

API = "/api/v1/factory/imports"


@dataclass
class Works:
    """An enterprise ready for imports: the inventory set-up, its unit, item codes, a supplier and a work centre."""

    plant: Plant
    uom: str
    codes: dict[str, str]
    supplier: str
    customer: str
    work_centre: str

    @property
    def headers(self) -> dict[str, str]:
        """Return the headers of the enterprise's admin."""
        return self.plant.headers

    def count_items(self) -> int:
        """Return how many items the enterprise has."""
        with self.plant.session() as (s, ctx):
            return masterdata.list_items(s, ctx, limit=1)[1]

    def count_moves(self) -> int:
        """Return how many stock moves the enterprise has."""
        with self.plant.session() as (s, ctx):
            return inventory.list_moves(s, ctx, limit=1)[1]


@pytest.fixture
def works_factory(plant_factory: Callable[..., Plant]) -> Callable[..., Works]:  # noqa: F811 - the fixture above
    """Build an import set-up (in a new enterprise unless one is given)."""

    def make(**actor_kwargs: Any) -> Works:
        plant = plant_factory(**actor_kwargs)
        with plant.session() as (s, ctx):
            codes = {key: masterdata.get_item(s, ctx, plant.ids[key]).code for key in ("bolt", "steel", "motor")}
            uom = masterdata.get_item(s, ctx, plant.ids["bolt"]).uom.code
            supplier = unique("SUP")[:60]
            masterdata.create_party(s, ctx, code=supplier, name="Steel Supplies", is_supplier=True)
            customer = unique("CUS")[:60]
            masterdata.create_party(s, ctx, code=customer, name="Buyer", is_customer=True)
            centre = unique("WC")[:60]
            masterdata.create_work_centre(s, ctx, code=centre, name="Lathe")
        return Works(plant=plant, uom=uom, codes=codes, supplier=supplier, customer=customer, work_centre=centre)

    return make


@pytest.fixture
def works(works_factory: Callable[..., Works]) -> Works:
    """Return an import set-up in a fresh enterprise."""
    return works_factory()


def as_file(header: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "csv") -> bytes:
    """Return a header and rows as CSV (UTF-8) or .xlsx bytes."""
    if fmt == "xlsx":
        return writing.xlsx_bytes(header, rows)
    return writing.csv_bytes(header, [[str(c) for c in row] for row in rows])


def item_rows(works: Works, n: int, prefix: str | None = None) -> list[list[str]]:
    """Return ``n`` valid item rows (code, name, kind, uom, tracking, allow_negative) with fresh codes."""
    prefix = prefix or unique("IMP")[-12:]
    return [[f"{prefix}-{i:05d}", f"Part {i}", "raw", works.uom, "none", "no"] for i in range(n)]


ITEM_HEADER = ["code", "name", "kind", "uom", "tracking", "allow_negative"]
STOCK_HEADER = ["item", "location", "lot", "quantity"]
