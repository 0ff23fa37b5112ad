"""Genealogy over several levels: trace down lists every component lot, trace up every lot
containing one and every shipment of them; reversed moves drop out of the genealogy."""

from __future__ import annotations

from decimal import Decimal

from hexmill.factory.inventory import genealogy, service
from tests.factory.inventory.conftest import Plant


def _lot(plant: Plant, item: str, number: str) -> int:
    with plant.session() as (s, ctx):
        return service.create_lot(s, ctx, item_id=plant.ids[item], number=number).id


def _produce(plant: Plant, inputs: list[int], item: str, output: int) -> int:
    """Consume one unit of each input lot (steel or frame) from shelf A; produce one of ``output``."""
    ids = plant.ids
    with plant.session() as (s, ctx):
        lots = {lot.id: lot for lot in service.list_lots(s, ctx, limit=500)[0]}
        record = service.post_production(
            s,
            ctx,
            consumed=[service.ProductionLine(lots[i].item_id, Decimal(1), ids["a"], i) for i in inputs],
            produced=[service.ProductionLine(ids[item], Decimal(1), ids["a"], output)],
            reference_type="work_order",
            reference_id=str(output),
        )
        return record.id


def _chain(plant: Plant, levels: int) -> list[int]:
    """Build a chain: raw steel lot -> frame lot -> frame lot ... (each made of the one below plus a raw lot)."""
    raw = [_lot(plant, "steel", f"RAW-{n}") for n in range(levels)]
    with plant.session() as (s, ctx):
        for lot in raw:
            service.post_move(
                s,
                ctx,
                item_id=plant.ids["steel"],
                quantity=Decimal(1),
                from_location_id=plant.ids["supplier"],
                to_location_id=plant.ids["a"],
                lot_id=lot,
            )
    made = [raw[0]]
    for level in range(1, levels):
        out = _lot(plant, "frame", f"ASM-{level}")
        _produce(plant, [made[-1], raw[level]], "frame", out)
        made.append(out)
    return made + raw[1:]


def test_trace_down_and_up_across_many_levels(plant: Plant) -> None:
    ids = plant.ids
    chain = _chain(plant, 6)
    top, bottom = chain[5], chain[0]
    with plant.session() as (s, ctx):
        ship = service.post_move(
            s,
            ctx,
            item_id=ids["frame"],
            quantity=Decimal(1),
            from_location_id=ids["a"],
            to_location_id=ids["customer"],
            lot_id=top,
        )
        down = service.trace_down(s, ctx, top)
        up = service.trace_up(s, ctx, bottom)
    # Down from the top assembly: the five assemblies below it and all six raw lots.
    assert set(down.depths) == set(chain)
    assert down.depths[bottom] == 5
    assert all(parent in down.depths and child in down.depths for parent, child in down.edges)
    # Up from the first raw lot: every assembly containing it, and the shipment of the top one.
    assert set(up.depths) == {bottom, *chain[1:6]}
    assert [m.id for m in up.shipments] == [ship.id]
    tree = down.tree()
    assert tree.lot_id == top
    assert {c.lot_id for c in tree.children} == {chain[4], chain[10]}


def test_reversed_consumption_leaves_the_genealogy(plant: Plant) -> None:
    ids = plant.ids
    chain = _chain(plant, 2)
    raw0, asm, raw1 = chain
    with plant.session() as (s, ctx):
        moves, _ = service.list_moves(s, ctx, filters={"lot_id": raw1})
        consumed = next(m for m in moves if m.production_role == "consumed")
        service.reverse_move(s, ctx, consumed.id)
        down = service.trace_down(s, ctx, asm)
        assert set(down.depths) == {asm, raw0}
        up = service.trace_up(s, ctx, raw1)
        assert set(up.depths) == {raw1}
        # The component is back on the shelf it was consumed from.
        rows, _ = service.stock_on_hand(s, ctx, filters={"lot_id": raw1})
        assert [(r.location_id, r.on_hand) for r in rows] == [(ids["a"], Decimal(1))]


def test_shipped_then_returned_lot_is_not_a_shipment(plant: Plant) -> None:
    ids = plant.ids
    plant.receive("steel", "2", lot="steel-1")
    with plant.session() as (s, ctx):
        ship = service.post_move(
            s,
            ctx,
            item_id=ids["steel"],
            quantity=Decimal(1),
            from_location_id=ids["a"],
            to_location_id=ids["customer"],
            lot_id=ids["steel-1"],
        )
        assert [m.id for m in service.trace_up(s, ctx, ids["steel-1"]).shipments] == [ship.id]
        service.reverse_move(s, ctx, ship.id)
        assert service.trace_up(s, ctx, ids["steel-1"]).shipments == []


def test_tree_expands_a_shared_component_once() -> None:
    edges = [(1, 2), (1, 3), (2, 4), (3, 4), (4, 1)]
    tree = genealogy.tree(1, edges)
    flat: list[tuple[int, bool]] = []

    def walk(node: genealogy.TraceNode) -> None:
        flat.append((node.lot_id, node.repeat))
        for child in node.children:
            walk(child)

    walk(tree)
    assert flat == [(1, False), (2, False), (4, False), (1, True), (3, False), (4, True)]
    assert genealogy.depths(1, edges) == {1: 0, 2: 1, 3: 1, 4: 2}


def test_moves_added_to_a_record_later_join_its_genealogy(plant: Plant) -> None:
    ids = plant.ids
    plant.receive("steel", "2", "a", "steel-1")
    plant.receive("steel", "2", "a", "steel-2")
    out_1, out_2 = _lot(plant, "frame", "OUT-1"), _lot(plant, "frame", "OUT-2")
    with plant.session() as (s, ctx):
        # Components first, with no output yet (a work order's manual issue) ...
        record, moves = service.add_to_production(
            s,
            ctx,
            None,
            consumed=[service.ProductionLine(ids["steel"], Decimal(1), ids["a"], ids["steel-1"])],
            reference_type="work_order",
            reference_id="7",
        )
        assert [(m.production_id, m.production_role) for m in moves] == [(record.id, "consumed")]
        record_id = record.id
    with plant.session() as (s, ctx):
        # ... then output and more components into the same record (a receipt with backflush).
        same, moves = service.add_to_production(
            s,
            ctx,
            record_id,
            consumed=[service.ProductionLine(ids["steel"], Decimal(1), ids["a"], ids["steel-2"])],
            produced=[service.ProductionLine(ids["frame"], Decimal(1), ids["b"], out_1)],
        )
        assert same.id == record_id and [m.production_role for m in moves] == ["consumed", "produced"]
        service.add_to_production(
            s, ctx, record_id, produced=[service.ProductionLine(ids["frame"], Decimal(1), ids["b"], out_2)]
        )
    with plant.session() as (s, ctx):
        for out in (out_1, out_2):
            assert set(service.trace_down(s, ctx, out).lots) == {out, ids["steel-1"], ids["steel-2"]}
        _, moves = service.get_production_record(s, ctx, record_id)
        assert len(moves) == 4
        assert service.get_production_record(s, ctx, record_id)[0].reference_type == "work_order"
