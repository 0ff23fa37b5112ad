"""Fixtures of the quality tests: the inventory set-up plus a supplier, defect codes and two plans."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.quality import service
from tests.conftest import unique
from tests.factory.inventory.conftest import Plant, plant_factory  # noqa: F401 - the inventory set-up fixture
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures

API = "/api/v1/factory/quality"
D = Decimal


def diameter_plan(stage: str = "receipt", item_id: int | None = None) -> dict[str, Any]:
    """Return the fields of a plan: a diameter 10 ± 0.5 mm (3 samples) and a visual check (1 sample)."""
    return {
        "code": unique("QP")[:60],
        "name": "Bolt incoming",
        "stage": stage,
        "item_id": item_id,
        "characteristics": [
            {
                "name": "Diameter",
                "kind": "variable",
                "unit": "mm",
                "nominal": D(10),
                "lsl": D("9.5"),
                "usl": D("10.5"),
                "sample_size": 3,
            },
            {"name": "Surface", "kind": "attribute", "sample_size": 1},
        ],
    }


@pytest.fixture
def lab_factory(plant_factory: Callable[..., Plant]) -> Callable[..., Plant]:  # noqa: F811 - the fixture above
    """Build an inventory set-up with a supplier, two defect codes and a receipt plan for bolts."""

    def make(**actor_kwargs: Any) -> Plant:
        plant = plant_factory(**actor_kwargs)
        with plant.session() as (s, ctx):
            ids = plant.ids
            ids["vendor"] = masterdata.create_party(
                s, ctx, code=unique("SUP")[:60], name="Steel Supplies", is_supplier=True
            ).id
            ids["scratch"] = service.create_defect_code(s, ctx, code="D-SCR", name="Scratch", category="surface").id
            ids["size"] = service.create_defect_code(s, ctx, code="D-DIM", name="Out of size", category="dimension").id
            fields = diameter_plan("receipt", ids["bolt"])
            fields["characteristics"][0]["defect_code_id"] = ids["size"]
            plan = service.create_inspection_plan(s, ctx, **fields)
            ids["plan"] = plan.id
            ids["diameter"], ids["surface"] = (c.id for c in plan.characteristics)
        return plant

    return make


@pytest.fixture
def lab(lab_factory: Callable[..., Plant]) -> Plant:
    """Return a quality set-up in a fresh enterprise."""
    return lab_factory()


def bolt_results(
    lab: Plant, values: tuple[str, ...] = ("10", "10.1", "9.9"), surface: bool = True
) -> list[dict[str, Any]]:
    """Return results of the bolt plan by the fixture's ids."""
    rows: list[dict[str, Any]] = [
        {"characteristic_id": lab.ids["diameter"], "sample": n + 1, "value": D(v)} for n, v in enumerate(values)
    ]
    rows.append({"characteristic_id": lab.ids["surface"], "sample": 1, "passed": surface})
    return rows
