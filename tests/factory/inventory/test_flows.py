"""Stock flows over a window (for the factory KPIs): on hand at both ends, outflow and production output."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from hexmill.core.clock import utcnow
from hexmill.factory.inventory import service
from tests.factory.inventory.conftest import Plant


def _move(plant: Plant, item: str, qty: str, src: str, dst: str, *, lot: str | None = None) -> int:
    with plant.session() as (s, ctx):
        return service.post_move(
            s,
            ctx,
            item_id=plant.ids[item],
            quantity=Decimal(qty),
            from_location_id=plant.ids[src],
            to_location_id=plant.ids[dst],
            lot_id=plant.ids[lot] if lot else None,
        ).id


def test_flows_sum_the_ledger_on_both_sides_of_the_window_and_net_reversals(plant: Plant) -> None:
    plant.receive("bolt", "100")
    _move(plant, "bolt", "10", "a", "customer")  # before the window: in neither outflow nor opening
    time.sleep(0.01)
    since = utcnow()
    time.sleep(0.01)
    _move(plant, "bolt", "30", "a", "customer")
    consumed = _move(plant, "bolt", "20", "a", "production")
    _move(plant, "frame", "5", "production", "b", lot="frame-1")
    produced_twice = _move(plant, "frame", "2", "production", "b", lot="frame-1")
    with plant.session() as (s, ctx):
        service.reverse_move(s, ctx, consumed)
        service.reverse_move(s, ctx, produced_twice)
    until = utcnow() + timedelta(seconds=1)
    with plant.session() as (s, ctx):
        flows = {f.item_id: f for f in service.stock_flows(s, ctx, since=since, until=until)}
        output = service.production_output(s, ctx, since=since, until=until)
    bolt, frame = flows[plant.ids["bolt"]], flows[plant.ids["frame"]]
    assert (bolt.opening, bolt.closing, bolt.outflow, bolt.produced) == (90, 60, 30, 0)
    assert (frame.opening, frame.closing, frame.outflow, frame.produced) == (0, 5, 0, 5)
    assert [(o.item_id, o.quantity) for o in output] == [(plant.ids["frame"], Decimal(5))]


def test_a_window_before_any_move_sees_nothing_move(plant: Plant) -> None:
    start = utcnow() - timedelta(days=2)
    plant.receive("bolt", "7")
    with plant.session() as (s, ctx):
        flows = service.stock_flows(s, ctx, since=start, until=start + timedelta(days=1))
    assert flows == []
