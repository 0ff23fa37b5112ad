"""Purchasing through the service on a real database: partial and full receipts, tolerance, the stock
moves a receipt posts, lots, status transitions, cancellation, and a property over receipt sequences."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexmill.core.errors import Conflict, InvalidInput
from hexmill.factory.inventory import service as inventory
from hexmill.factory.purchasing import receiving, service
from hexmill.factory.purchasing.service import ReceiptLineSpec
from tests.factory.inventory.conftest import Plant
from tests.factory.purchasing.conftest import create_order


def _on_hand(shop: Plant, item: str, lot_id: int | None = None) -> Decimal:
    with shop.session() as (s, ctx):
        rows, _ = inventory.stock_on_hand(s, ctx, filters={"item_id": shop.ids[item]}, limit=500)
    return sum((r.on_hand for r in rows if lot_id is None or r.lot_id == lot_id), Decimal(0))


def _receive(shop: Plant, order_id: int, *specs: ReceiptLineSpec) -> int:
    with shop.session() as (s, ctx):
        return service.receive_purchase_order(s, ctx, order_id, lines=list(specs)).id


def _status(shop: Plant, order_id: int) -> str:
    with shop.session() as (s, ctx):
        return service.get_purchase_order(s, ctx, order_id).status


def test_partial_receipts_then_full(shop: Plant) -> None:
    order_id, (bolts, steel, motors) = create_order(shop)
    a = shop.ids["a"]
    _receive(shop, order_id, ReceiptLineSpec(bolts, Decimal(4), a), ReceiptLineSpec(steel, Decimal(5), a, "HEAT-1"))
    assert _status(shop, order_id) == "partially_received"
    assert _on_hand(shop, "bolt") == Decimal(48)  # 4 boxes of 12
    _receive(shop, order_id, ReceiptLineSpec(bolts, Decimal(6), a), ReceiptLineSpec(steel, Decimal(15), a, "HEAT-1"))
    assert _status(shop, order_id) == "partially_received"  # the motors are still open
    _receive(
        shop, order_id, ReceiptLineSpec(motors, Decimal(1), a, "M-1"), ReceiptLineSpec(motors, Decimal(1), a, "M-2")
    )
    assert _status(shop, order_id) == "received"
    with shop.session() as (s, ctx):
        order = service.get_purchase_order(s, ctx, order_id)
        assert [(ln.received_quantity, ln.received_base_quantity) for ln in order.lines] == [
            (Decimal(10), Decimal(120)),
            (Decimal(20), Decimal(20)),
            (Decimal(2), Decimal(2)),
        ]
        assert len(service.list_receipts(s, ctx, order_id)) == 3
    assert _on_hand(shop, "bolt") == Decimal(120)
    assert _on_hand(shop, "steel") == Decimal(20)
    assert _on_hand(shop, "motor") == Decimal(2)


def test_over_receipt_beyond_tolerance_is_refused_naming_line_and_quantities(shop: Plant) -> None:
    order_id, (bolts, steel, _motors) = create_order(shop)
    a = shop.ids["a"]
    with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
        service.receive_purchase_order(
            s,
            ctx,
            order_id,
            lines=[ReceiptLineSpec(bolts, Decimal(1), a), ReceiptLineSpec(steel, Decimal("20.5"), a, "H")],
        )
    assert info.value.field == "lines.1.quantity"
    message = str(info.value)
    assert message.startswith("Line 20 (STEEL-")
    assert "receiving 20.5" in message and "to 20.5" in message and "20 " in message and "0% tolerance" in message
    assert _on_hand(shop, "bolt") == 0  # the whole receipt was refused
    # 10 boxes + 5 % = 10.5 boxes: 10.5 is accepted, anything beyond is not.
    with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
        service.receive_purchase_order(s, ctx, order_id, lines=[ReceiptLineSpec(bolts, Decimal("10.6"), a)])
    assert info.value.field == "lines.0.quantity"
    assert "at most 10.5" in str(info.value)
    _receive(shop, order_id, ReceiptLineSpec(bolts, Decimal("10.5"), a))
    assert _on_hand(shop, "bolt") == Decimal(126)
    with pytest.raises(InvalidInput), shop.session() as (s, ctx):
        service.receive_purchase_order(s, ctx, order_id, lines=[ReceiptLineSpec(bolts, Decimal("0.01"), a)])
    # Within one receipt, two lines on the same order line add up before the check.
    with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
        service.receive_purchase_order(
            s,
            ctx,
            order_id,
            lines=[ReceiptLineSpec(steel, Decimal(15), a, "H"), ReceiptLineSpec(steel, Decimal(6), a, "H")],
        )
    assert info.value.field == "lines.1.quantity"


def test_receipt_posts_moves_from_the_supplier_location_and_creates_lots(shop: Plant) -> None:
    order_id, (bolts, steel, motors) = create_order(shop)
    ids = shop.ids
    receipt_id = _receive(
        shop,
        order_id,
        ReceiptLineSpec(bolts, Decimal(2), ids["b"]),
        ReceiptLineSpec(steel, Decimal("7.5"), ids["a"], "HEAT-77"),
        ReceiptLineSpec(steel, Decimal(1), ids["a"], "STEEL-1"),  # an existing lot is reused, not created
        ReceiptLineSpec(motors, Decimal(1), ids["a"], "SN-9"),
    )
    with shop.session() as (s, ctx):
        moves, _ = inventory.list_moves(
            s, ctx, filters={"reference_type": "purchase_order", "reference_id": str(order_id)}, limit=50
        )
        lots, _ = inventory.list_lots(s, ctx, filters={"item_id": ids["steel"]}, limit=50)
        serials, _ = inventory.list_lots(s, ctx, filters={"item_id": ids["motor"]}, limit=50)
        receipt = service.list_receipts(s, ctx, order_id)[0]
    assert receipt.id == receipt_id
    assert {m.from_location_id for m in moves} == {ids["supplier"]}
    by_move = {m.id: m for m in moves}
    assert [(by_move[rl.move_id].quantity, by_move[rl.move_id].to_location_id) for rl in receipt.lines] == [
        (Decimal(24), ids["b"]),
        (Decimal("7.5"), ids["a"]),
        (Decimal(1), ids["a"]),
        (Decimal(1), ids["a"]),
    ]
    heat = next(lot for lot in lots if lot.number == "HEAT-77")
    assert receipt.lines[1].lot_id == heat.id
    assert receipt.lines[2].lot_id == ids["steel-1"]
    assert sorted(lot.number for lot in lots) == ["HEAT-77", "STEEL-1", "STEEL-2"]
    assert "SN-9" in {lot.number for lot in serials}
    assert _on_hand(shop, "bolt") == Decimal(24)
    assert _on_hand(shop, "steel", heat.id) == Decimal("7.5")


def test_bad_receipt_lines_name_the_field(shop: Plant) -> None:
    order_id, (bolts, steel, motors) = create_order(shop)
    ids = shop.ids
    cases = [
        (ReceiptLineSpec(steel, Decimal(1), ids["a"]), "lines.0.lot_number"),
        (ReceiptLineSpec(bolts, Decimal(1), ids["a"], "L1"), "lines.0.lot_number"),
        (ReceiptLineSpec(bolts, Decimal(1), ids["customer"]), "lines.0.location_id"),
        (ReceiptLineSpec(bolts, Decimal(1), 2**31 - 1), "lines.0.location_id"),
        (ReceiptLineSpec(2**31 - 1, Decimal(1), ids["a"]), "lines.0.order_line_id"),
        (ReceiptLineSpec(motors, Decimal(2), ids["a"], "SN-1"), "lines.0.quantity"),  # one serial is one piece
    ]
    for spec, field in cases:
        with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
            service.receive_purchase_order(s, ctx, order_id, lines=[spec])
        assert info.value.field == field, (spec, info.value)


def test_status_transitions_and_close_short(shop: Plant) -> None:
    order_id, (bolts, steel, motors) = create_order(shop, confirm=False)
    a = shop.ids["a"]
    assert _status(shop, order_id) == "draft"
    with pytest.raises(Conflict) as info, shop.session() as (s, ctx):
        service.receive_purchase_order(s, ctx, order_id, lines=[ReceiptLineSpec(bolts, Decimal(1), a)])
    assert info.value.field == "status"
    with shop.session() as (s, ctx):
        service.update_order_line(s, ctx, order_id, motors, quantity=Decimal(1))
        service.confirm_purchase_order(s, ctx, order_id)
    assert _status(shop, order_id) == "confirmed"
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.update_purchase_order(s, ctx, order_id, note="too late")
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.confirm_purchase_order(s, ctx, order_id)
    _receive(shop, order_id, ReceiptLineSpec(bolts, Decimal(3), a))
    assert _status(shop, order_id) == "partially_received"
    with shop.session() as (s, ctx):
        service.close_order_line(s, ctx, order_id, bolts)  # under-received: 3 of 10 boxes, closed short
        service.close_order_line(s, ctx, order_id, steel)
    assert _status(shop, order_id) == "partially_received"
    with pytest.raises(InvalidInput) as closed, shop.session() as (s, ctx):
        service.receive_purchase_order(s, ctx, order_id, lines=[ReceiptLineSpec(bolts, Decimal(1), a)])
    assert closed.value.field == "lines.0.order_line_id"
    _receive(shop, order_id, ReceiptLineSpec(motors, Decimal(1), a, "SN-X"))
    assert _status(shop, order_id) == "received"
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.receive_purchase_order(s, ctx, order_id, lines=[ReceiptLineSpec(motors, Decimal(1), a, "SN-Y")])


def test_cancelling_an_order_with_receipts_is_refused(shop: Plant) -> None:
    order_id, (bolts, _steel, _motors) = create_order(shop)
    draft_id, _ = create_order(shop, confirm=False)
    with shop.session() as (s, ctx):
        service.cancel_purchase_order(s, ctx, draft_id)
    assert _status(shop, draft_id) == "cancelled"
    _receive(shop, order_id, ReceiptLineSpec(bolts, Decimal(1), shop.ids["a"]))
    with pytest.raises(Conflict) as info, shop.session() as (s, ctx):
        service.cancel_purchase_order(s, ctx, order_id)
    assert "has receipts" in str(info.value)
    assert _status(shop, order_id) == "partially_received"


def test_order_input_is_checked_naming_the_field(shop: Plant) -> None:
    ids = shop.ids
    line: dict[str, Any] = {"item_id": ids["bolt"], "quantity": Decimal(1)}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"supplier_id": ids["client"]}, "supplier_id"),
        ({"supplier_id": 2**31 - 1}, "supplier_id"),
        ({"lines": [line, {**line, "uom_id": ids["box"], "item_id": ids["steel"]}]}, "lines.1.uom_id"),
        ({"lines": [{**line, "item_id": 2**31 - 1}]}, "lines.0.item_id"),
        ({"lines": [{**line, "expected_date": date(2000, 1, 1)}]}, "lines.0.expected_date"),
    ]
    for change, field in cases:
        fields: dict[str, Any] = {"number": "PO-X", "supplier_id": ids["vendor"], "lines": [line], **change}
        with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
            service.create_purchase_order(s, ctx, **fields)
        assert info.value.field == field, (change, info.value)
    create_order(shop, number="PO-DUP", confirm=False)
    with pytest.raises(Conflict) as dup, shop.session() as (s, ctx):
        service.create_purchase_order(s, ctx, number="PO-DUP", supplier_id=ids["vendor"])
    assert dup.value.field == "number"


def test_receiving_rules_without_a_database() -> None:
    line = receiving.LineState(Decimal(10), Decimal(0), Decimal(5))
    assert line.limit == Decimal("10.5")
    assert receiving.check_receipt(line, Decimal("10.5")) == Decimal("10.5")
    with pytest.raises(receiving.OverReceipt):
        receiving.check_receipt(line, Decimal("10.51"))
    done = receiving.LineState(Decimal(10), Decimal(10))
    short = receiving.LineState(Decimal(10), Decimal(3), closed=True)
    open_ = receiving.LineState(Decimal(10), Decimal(0))
    assert receiving.order_status("confirmed", [open_]) == "confirmed"
    assert receiving.order_status("confirmed", [done, open_]) == "partially_received"
    assert receiving.order_status("partially_received", [done, short]) == "received"
    assert receiving.order_status("draft", [done]) == "draft"
    assert receiving.order_status("cancelled", [open_]) == "cancelled"


# Receipts of the bolts line (10 boxes, 5 % tolerance) and the steel line (20, no tolerance), in the
# lines' units; each is accepted if it stays within tolerance and refused as a whole otherwise.
receipts = st.lists(
    st.tuples(st.sampled_from([0, 1]), st.decimals(min_value="0.5", max_value="12", places=1)), min_size=1, max_size=6
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(receipts)
def test_received_quantity_equals_the_moves_and_the_stock(shop_factory, sequence) -> None:  # type: ignore[no-untyped-def]
    """For any sequence of receipts, each line's received quantity is the sum of its moves, and of the stock."""
    shop = shop_factory()
    order_id, (bolts, steel, _motors) = create_order(shop)
    limits = {bolts: Decimal("10.5"), steel: Decimal(20)}
    expected = {bolts: Decimal(0), steel: Decimal(0)}
    for which, qty in sequence:
        line_id = (bolts, steel)[which]
        spec = ReceiptLineSpec(line_id, qty, shop.ids["a"], "HEAT-P" if line_id == steel else None)
        if expected[line_id] + qty <= limits[line_id]:
            _receive(shop, order_id, spec)
            expected[line_id] += qty
        else:
            with pytest.raises(InvalidInput), shop.session() as (s, ctx):
                service.receive_purchase_order(s, ctx, order_id, lines=[spec])
    with shop.session() as (s, ctx):
        order = service.get_purchase_order(s, ctx, order_id)
        moves, _ = inventory.list_moves(
            s, ctx, filters={"reference_type": "purchase_order", "reference_id": str(order_id)}, limit=500
        )
        assert inventory.verify_balances(s, ctx) == []
    for line in order.lines[:2]:
        moved = sum((m.quantity for m in moves if m.item_id == line.item_id), Decimal(0))
        assert line.received_quantity == expected[line.id]
        assert line.received_base_quantity == moved
    assert order.lines[0].received_base_quantity == expected[bolts] * 12 == _on_hand(shop, "bolt")
    assert order.lines[1].received_base_quantity == expected[steel] == _on_hand(shop, "steel")
