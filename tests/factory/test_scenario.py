"""The factory apps end to end at service level: items, BOM and routing → sales order → work order released →
operations reported with some scrap → final inspection with one nonconformance → finished goods received →
shipment; then the genealogy of the shipped serial lists every component lot, and the KPIs show the lead
time and the defect rate.

Every step runs at a frozen time, so the KPIs are exact numbers, not "something positive".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from hexmill.core.clock import frozen_at
from hexmill.factory.inventory import service as inventory
from hexmill.factory.kpi import service as kpi
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.production import service as production
from hexmill.factory.quality import service as quality
from hexmill.factory.sales import service as sales
from tests.factory.inventory.conftest import Plant, plant, plant_factory  # noqa: F401 - the inventory set-up fixtures

D = Decimal
T0 = datetime(2026, 6, 1, 8, tzinfo=UTC)


def day(n: float, hour: int = 0) -> datetime:
    """Return the moment n days (and some hours) after the scenario's start."""
    return T0 + timedelta(days=n, hours=hour)


def test_order_to_shipment_traces_and_measures(plant: Plant) -> None:  # noqa: F811, PLR0915 - fixture; one long story
    ids = plant.ids
    # -- master data: a serial pump made of a lot-tracked casing and bolts, two operations ---------------
    with frozen_at(day(0)), plant.session() as (s, ctx):
        uom = masterdata.get_item(s, ctx, ids["bolt"]).uom_id
        pump = masterdata.create_item(s, ctx, code="PUMP", name="Pump", kind="finished", uom_id=uom, tracking="serial")
        casing = masterdata.create_item(s, ctx, code="CASING", name="Casing", kind="raw", uom_id=uom, tracking="lot")
        bom = masterdata.create_bom(s, ctx, item_id=pump.id, version="1", is_default=True)
        masterdata.add_bom_line(s, ctx, bom.id, component_id=casing.id, quantity=D(1))
        masterdata.add_bom_line(s, ctx, bom.id, component_id=ids["bolt"], quantity=D(4))
        cell = masterdata.create_work_centre(s, ctx, code="ASM", name="Assembly")
        masterdata.create_operation(s, ctx, item_id=pump.id, sequence=10, name="Assemble", work_centre_id=cell.id)
        masterdata.create_operation(s, ctx, item_id=pump.id, sequence=20, name="Test run", work_centre_id=cell.id)
        customer = masterdata.create_party(s, ctx, code="ACME", name="Acme Pumps", is_customer=True).id
        lots = {n: inventory.create_lot(s, ctx, item_id=casing.id, number=n).id for n in ("C-1", "C-2")}
        for number, lot in lots.items():
            inventory.post_move(
                s, ctx, item_id=casing.id, quantity=D(2), from_location_id=ids["supplier"],
                to_location_id=ids["a"], lot_id=lot, reference_type="purchase_order", reference_id=number,
            )  # fmt: skip
        inventory.post_move(
            s, ctx, item_id=ids["bolt"], quantity=D(20), from_location_id=ids["supplier"], to_location_id=ids["a"]
        )
        plan = quality.create_inspection_plan(
            s, ctx, code="PUMP-FINAL", name="Pump final test", stage="final", item_id=pump.id,
            characteristics=[{"name": "Flow", "kind": "variable", "unit": "l/min", "nominal": D(10),
                              "lsl": D(9), "usl": D(11), "sample_size": 1}],
        )  # fmt: skip
        flow = plan.characteristics[0].id
        pump_id, casing_id = pump.id, casing.id
    # -- a customer orders two pumps, due in a week --------------------------------------------------
    with frozen_at(day(0, 1)), plant.session() as (s, ctx):
        order = sales.create_sales_order(
            s, ctx, number="SO-1", customer_id=customer, order_date=date(2026, 6, 1),
            lines=[{"item_id": pump_id, "quantity": D(2), "due_date": date(2026, 6, 8)}],
        )  # fmt: skip
        sales.confirm_sales_order(s, ctx, order.id)
        order_id, order_line = order.id, order.lines[0].id
    # -- the shop makes three (one spare), issuing one casing lot by hand ---------------------------
    with frozen_at(day(1)), plant.session() as (s, ctx):
        wo = production.create_work_order(s, ctx, number="WO-1", item_id=pump_id, quantity=D(3))
        production.release_work_order(s, ctx, wo.id)
        casing_component = next(c.id for c in wo.components if c.item_id == casing_id)
        production.issue_material(
            s, ctx, wo.id,
            lines=[production.IssueSpec(component_id=casing_component, quantity=D(2), location_id=ids["a"],
                                        lot_id=lots["C-1"])],
        )  # fmt: skip
        ops = [op.id for op in sorted(wo.operations, key=lambda o: o.sequence)]
        reason = production.create_scrap_reason(s, ctx, code="DENT", name="Dented housing").id
        wo_id = wo.id
    for n, (op, good, scrap) in enumerate(((ops[0], D(3), D(1)), (ops[1], D(3), D(0)))):
        with plant.session() as (s, ctx):
            production.report_operation(s, ctx, op, kind="start", at=day(1 + n, 9))
            production.report_operation(
                s, ctx, op, kind="finish", good=good, scrap=scrap, scrap_reason_id=reason if scrap else None,
                at=day(1 + n, 11),
            )  # fmt: skip
    # -- finished goods in, the third casing backflushed from the other lot ------------------------
    with frozen_at(day(3)), plant.session() as (s, ctx):
        production.receive_work_order(
            s, ctx, wo_id, quantity=D(3), location_id=ids["a"], serial_numbers=["SN-1", "SN-2", "SN-3"],
            backflush_location_id=ids["a"], component_lots={casing_component: lots["C-2"]},
        )  # fmt: skip
        serials = {lot.number: lot.id for lot in inventory.list_lots(s, ctx, filters={"item_id": pump_id}, limit=10)[0]}
        assert production.get_work_order(s, ctx, wo_id).status == "completed"
    # -- final inspection: SN-3 is out of tolerance and is scrapped ---------------------------------
    with frozen_at(day(4)), plant.session() as (s, ctx):
        results = {"SN-1": D("10.2"), "SN-2": D("9.7"), "SN-3": D("11.6")}
        opened = []
        for serial, value in results.items():
            inspection = quality.create_inspection(
                s, ctx, source_type="final", source_id=str(wo_id), item_id=pump_id, location_id=ids["a"],
                quantity=D(1), lot_id=serials[serial],
                results=[{"characteristic_id": flow, "sample": 1, "value": value}],
            )  # fmt: skip
            opened += inspection.nonconformance_ids
        assert len(opened) == 1
        quality.disposition(s, ctx, opened[0], lines=[quality.DispositionSpec(kind="scrap", quantity=D(1))])
        scrapped = inventory.stock_on_hand(s, ctx, filters={"item_id": pump_id}, limit=10)[0]
        assert sorted(r.lot_number for r in scrapped) == ["SN-1", "SN-2"]
    # -- ship the two good pumps, five days after the order was confirmed ---------------------------
    with frozen_at(day(5)), plant.session() as (s, ctx):
        delivery = sales.create_delivery(
            s, ctx, order_id,
            lines=[sales.DeliveryLineSpec(order_line, D(1), ids["a"], serials[sn]) for sn in ("SN-1", "SN-2")],
        )  # fmt: skip
        sales.pick_delivery(s, ctx, delivery.id)
        sales.ship_delivery(s, ctx, delivery.id)
        assert sales.get_sales_order(s, ctx, order_id).status == "delivered"
    # -- genealogy: the shipped serial lists every component lot; the recall finds the shipment ------
    with plant.session() as (s, ctx):
        down = inventory.trace_down(s, ctx, serials["SN-1"])
        assert {down.lots[lot].number for lot in down.depths if lot != serials["SN-1"]} == {"C-1", "C-2"}
        up = inventory.trace_up(s, ctx, lots["C-2"])
        assert {row.lot_id for row in up.shipments} == {serials["SN-1"], serials["SN-2"]}
        # -- the KPIs of June ------------------------------------------------------------------------
        figures = kpi.overview(s, ctx, since=date(2026, 6, 1), until=date(2026, 6, 30)).total
    assert figures.lead_time_days == pytest.approx(5 - 1 / 24)  # confirmed at 09:00 on day 0, shipped day 5 08:00
    assert figures.delivery_cycle_days == pytest.approx(5 - 1 / 24)
    assert figures.on_time_rate == 1.0
    assert figures.defect_rate == pytest.approx(1 / 3)  # one of three pumps inspected was nonconforming
    assert figures.scrap_rate == pytest.approx(1 / 7)  # 3 + 3 good, 1 scrapped at assembly
    assert figures.labour_hours_per_unit == pytest.approx(4 / 3)  # two 2-hour runs for three pumps received
