"""Fixtures of the production tests: the inventory set-up plus made items, BOMs, routings and work centres.

The enterprise (``tests.factory.inventory.conftest``) has bolts (untracked), steel (lot-tracked,
lots STEEL-1 and STEEL-2), frames (lot-tracked) and motors (serial). Here it gets:

- ``widget``: a finished, lot-tracked item made of 2 bolts and 0.5 steel with a 20 % scrap factor
  (0.625 per unit), routed through ``cut`` (10) and ``weld`` (20) on two work centres;
- ``pump``: a finished, serial-tracked item made of 1 motor and 4 bolts, routed through ``weld``;
- ``bare``: a finished item with a BOM but no routing;
- a machine on an assets line, linked to the ``weld`` work centre.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hexmill.assets import service as assets
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.production import service
from tests.conftest import unique
from tests.factory.inventory.conftest import Plant, plant_factory  # noqa: F401 - the inventory set-up fixture
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures

API = "/api/v1/factory"
PAST = date(2020, 1, 1)


@pytest.fixture
def works_factory(plant_factory: Callable[..., Plant]) -> Callable[..., Plant]:  # noqa: F811 - the fixture above
    """Build an inventory set-up with made items, their BOMs and routings, and a machine on a work centre."""

    def make(**actor_kwargs: Any) -> Plant:
        plant = plant_factory(**actor_kwargs)
        with plant.session() as (s, ctx):
            ids = plant.ids
            uom = masterdata.get_item(s, ctx, ids["bolt"]).uom_id
            for key, tracking in (("widget", "lot"), ("pump", "serial"), ("bare", "none")):
                ids[key] = masterdata.create_item(
                    s,
                    ctx,
                    code=f"{key.upper()}-{unique('m')[-6:]}",
                    name=key.title(),
                    kind="finished",
                    uom_id=uom,
                    tracking=tracking,
                ).id
            site = assets.create_site(s, ctx, name=unique("Site"))
            area = assets.create_area(s, ctx, site_id=site.id, name="Hall")
            line = assets.create_line(s, ctx, area_id=area.id, name="Line 1")
            ids["machine"] = assets.create_equipment(s, ctx, line_id=line.id, name="Welder 1").id
            ids["cut_wc"] = masterdata.create_work_centre(s, ctx, code=unique("CUT")[:60], name="Saw").id
            ids["weld_wc"] = masterdata.create_work_centre(
                s, ctx, code=unique("WELD")[:60], name="Welding", asset_equipment_id=ids["machine"]
            ).id
            widget_bom = masterdata.create_bom(
                s, ctx, item_id=ids["widget"], version="A", effective_from=PAST, is_default=True
            )
            ids["widget_bom"] = widget_bom.id
            masterdata.add_bom_line(s, ctx, widget_bom.id, component_id=ids["bolt"], quantity=Decimal(2))
            masterdata.add_bom_line(
                s, ctx, widget_bom.id, component_id=ids["steel"], quantity=Decimal("0.5"), scrap_factor=Decimal("0.2")
            )
            ids["cut"] = masterdata.create_operation(
                s,
                ctx,
                item_id=ids["widget"],
                sequence=10,
                name="Cut",
                work_centre_id=ids["cut_wc"],
                setup_minutes=Decimal(15),
                run_minutes=Decimal("1.5"),
            ).id
            ids["weld"] = masterdata.create_operation(
                s,
                ctx,
                item_id=ids["widget"],
                sequence=20,
                name="Weld",
                work_centre_id=ids["weld_wc"],
                run_minutes=Decimal(3),
                transfer_batch=Decimal(5),
            ).id
            pump_bom = masterdata.create_bom(s, ctx, item_id=ids["pump"], version="A", effective_from=PAST)
            masterdata.add_bom_line(s, ctx, pump_bom.id, component_id=ids["motor"], quantity=Decimal(1))
            masterdata.add_bom_line(s, ctx, pump_bom.id, component_id=ids["bolt"], quantity=Decimal(4))
            masterdata.create_operation(
                s, ctx, item_id=ids["pump"], sequence=10, name="Assemble", work_centre_id=ids["weld_wc"]
            )
            bare_bom = masterdata.create_bom(s, ctx, item_id=ids["bare"], version="A")
            masterdata.add_bom_line(s, ctx, bare_bom.id, component_id=ids["bolt"], quantity=Decimal(1))
        return plant

    return make


@pytest.fixture
def works(works_factory: Callable[..., Plant]) -> Plant:
    """Return a production set-up in a fresh enterprise."""
    return works_factory()


def make_order(
    works: Plant, *, item: str = "widget", quantity: str = "10", release: bool = True, number: str | None = None
) -> int:
    """Create (and by default release) a work order; return its id."""
    with works.session() as (s, ctx):
        wo = service.create_work_order(
            s, ctx, number=number or unique("WO")[:60], item_id=works.ids[item], quantity=Decimal(quantity)
        )
        if release:
            service.release_work_order(s, ctx, wo.id)
        return wo.id


def operation_ids(works: Plant, wo_id: int) -> list[int]:
    """Return a work order's operation ids in sequence."""
    with works.session() as (s, ctx):
        return [op.id for op in service.get_work_order(s, ctx, wo_id).operations]


def component_ids(works: Plant, wo_id: int) -> list[int]:
    """Return a work order's component ids in position order."""
    with works.session() as (s, ctx):
        return [c.id for c in service.get_work_order(s, ctx, wo_id).components]
