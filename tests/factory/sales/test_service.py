"""Sales through the service on a real database: quotations and conversion, option validation, order
status from the lines, picking and shipping (reservations, moves to the customer location, lots traced),
over-shipment and return limits, cancel rules, the shipped-lines report, and a property over shipments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexmill.core.clock import utcnow
from hexmill.core.errors import Conflict, InvalidInput, NotFound
from hexmill.factory.inventory import service as inventory
from hexmill.factory.sales import delivering, service
from hexmill.factory.sales.service import DeliveryLineSpec, ReturnLineSpec
from tests.factory.inventory.conftest import Plant
from tests.factory.sales.conftest import create_order


def _on_hand(shop: Plant, item: str, location: str = "a", lot: str | None = None) -> Decimal:
    """Return the balance of an item at a location (virtual ones included), of one lot or of no lot."""
    with shop.session() as (s, _ctx):
        lot_id = shop.ids[lot] if lot else None
        return inventory.balance(s, shop.actor.tenant.id, shop.ids[item], shop.ids[location], lot_id)


def _status(shop: Plant, order_id: int) -> str:
    with shop.session() as (s, ctx):
        return service.get_sales_order(s, ctx, order_id).status


def _deliver(shop: Plant, order_id: int, *specs: DeliveryLineSpec, pick: bool = True, ship: bool = True) -> int:
    with shop.session() as (s, ctx):
        delivery_id = service.create_delivery(s, ctx, order_id, lines=list(specs)).id
    if pick:
        with shop.session() as (s, ctx):
            service.pick_delivery(s, ctx, delivery_id)
    if ship:
        with shop.session() as (s, ctx):
            service.ship_delivery(s, ctx, delivery_id)
    return delivery_id


def _quotation(shop: Plant, **extra: Any) -> int:
    ids = shop.ids
    with shop.session() as (s, ctx):
        return service.create_quotation(
            s,
            ctx,
            number=extra.pop("number", "Q-1"),
            customer_id=ids["client"],
            quote_date=extra.pop("quote_date", date(2026, 11, 1)),
            lines=[
                {"item_id": ids["bolt"], "quantity": Decimal(1), "uom_id": ids["box"], "unit_price": Decimal(6)},
                {
                    "item_id": ids["chair"],
                    "quantity": Decimal(2),
                    "unit_price": Decimal(80),
                    "requested_date": date(2026, 12, 1),
                    "options": [ids["size-s"], ids["colour-blue"]],
                },
            ],
            **extra,
        ).id


def test_quotation_lifecycle_and_conversion_copies_the_lines(shop: Plant) -> None:
    ids = shop.ids
    qid = _quotation(shop)
    with shop.session() as (s, ctx):
        quotation = service.get_quotation(s, ctx, qid)
        assert quotation.status == "draft"
        # Options are kept in the order of their groups (colour before size), whatever order they came in.
        assert quotation.lines[1].options == [ids["colour-blue"], ids["size-s"]]
        assert quotation.lines[0].base_quantity == Decimal(12)
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.accept_quotation(s, ctx, qid)  # not sent yet
    with shop.session() as (s, ctx):
        service.send_quotation(s, ctx, qid)
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.update_quotation(s, ctx, qid, note="too late")
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.convert_quotation(s, ctx, qid)  # sent, not accepted
    with shop.session() as (s, ctx):
        assert service.accept_quotation(s, ctx, qid).status == "accepted"
    with shop.session() as (s, ctx):
        order = service.convert_quotation(s, ctx, qid, number="SO-FROM-Q")
        order_id = order.id
        assert (order.status, order.quotation_id, order.customer_id) == ("draft", qid, ids["client"])
        assert [(ln.item_id, ln.base_quantity, ln.due_date, ln.options) for ln in order.lines] == [
            (ids["bolt"], Decimal(12), None, []),
            (ids["chair"], Decimal(2), date(2026, 12, 1), [ids["colour-blue"], ids["size-s"]]),
        ]
    with pytest.raises(Conflict) as again, shop.session() as (s, ctx):
        service.convert_quotation(s, ctx, qid, number="SO-AGAIN")
    assert "already been converted" in str(again.value)
    with shop.session() as (s, ctx):
        assert service.quotation_order(s, ctx, qid).id == order_id  # type: ignore[union-attr]


def test_quotation_reject_expire_and_validity(shop: Plant) -> None:
    past = utcnow().date() - timedelta(days=10)
    late = _quotation(shop, number="Q-LATE", quote_date=past - timedelta(days=5), valid_until=past)
    rejected = _quotation(shop, number="Q-NO")
    with shop.session() as (s, ctx):
        service.send_quotation(s, ctx, late)
        service.send_quotation(s, ctx, rejected)
    with pytest.raises(Conflict) as info, shop.session() as (s, ctx):
        service.accept_quotation(s, ctx, late)
    assert info.value.field == "valid_until"
    with shop.session() as (s, ctx):
        assert service.expire_quotation(s, ctx, late).status == "expired"
        assert service.reject_quotation(s, ctx, rejected).status == "rejected"
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.accept_quotation(s, ctx, rejected)
    with pytest.raises(InvalidInput) as bad, shop.session() as (s, ctx):
        service.create_quotation(
            s, ctx, number="Q-BAD", customer_id=shop.ids["client"], quote_date=past, valid_until=past - timedelta(1)
        )
    assert bad.value.field == "valid_until"
    with pytest.raises(InvalidInput) as empty, shop.session() as (s, ctx):
        qid = service.create_quotation(s, ctx, number="Q-EMPTY", customer_id=shop.ids["client"]).id
        service.send_quotation(s, ctx, qid)
    assert empty.value.field == "lines"


def test_options_are_checked_against_the_items_groups(shop: Plant) -> None:
    ids = shop.ids
    chair = {"item_id": ids["chair"], "quantity": Decimal(1)}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**chair, "options": [ids["colour-red"]]}, "needs a choice for option size"),
        ({**chair, "options": [ids["colour-red"], ids["colour-blue"], ids["size-s"]]}, "chosen more than once"),
        ({**chair, "options": [ids["colour-red"], ids["size-s"], 2**31 - 1]}, "is not an option of item"),
        ({"item_id": ids["bolt"], "quantity": Decimal(1), "options": [ids["colour-red"]]}, "is not configurable"),
    ]
    for line, message in cases:
        with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
            service.create_sales_order(
                s,
                ctx,
                number="SO-OPT",
                customer_id=ids["client"],
                lines=[{"item_id": ids["bolt"], "quantity": 1}, line],
            )
        assert info.value.field == "lines.1.options", (line, info.value)
        assert message in str(info.value), (line, info.value)
    # Another item's option values are not this item's, even in the same enterprise.
    with shop.session() as (s, ctx):
        with pytest.raises(InvalidInput):
            service.check_options(s, ctx, ids["bolt"], [ids["size-l"]], "options")
        assert service.check_options(s, ctx, ids["chair"], [ids["size-l"], ids["colour-red"]], "options") == [
            ids["colour-red"],
            ids["size-l"],
        ]


def test_order_input_is_checked_naming_the_field(shop: Plant) -> None:
    ids = shop.ids
    line: dict[str, Any] = {"item_id": ids["bolt"], "quantity": Decimal(1)}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"customer_id": ids["vendor"]}, "customer_id"),
        ({"customer_id": 2**31 - 1}, "customer_id"),
        ({"lines": [line, {**line, "uom_id": ids["box"], "item_id": ids["steel"]}]}, "lines.1.uom_id"),
        ({"lines": [{**line, "item_id": 2**31 - 1}]}, "lines.0.item_id"),
        ({"lines": [{**line, "due_date": date(2000, 1, 1)}]}, "lines.0.due_date"),
    ]
    for change, field in cases:
        fields: dict[str, Any] = {"number": "SO-X", "customer_id": ids["client"], "lines": [line], **change}
        with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
            service.create_sales_order(s, ctx, **fields)
        assert info.value.field == field, (change, info.value)
    create_order(shop, number="SO-DUP", confirm=False)
    with pytest.raises(Conflict) as dup, shop.session() as (s, ctx):
        service.create_sales_order(s, ctx, number="SO-DUP", customer_id=ids["client"])
    assert dup.value.field == "number"


def test_draft_edits_then_confirm_fixes_the_order(shop: Plant) -> None:
    ids = shop.ids
    order_id, (bolts, _steel, _motor, chair) = create_order(shop, confirm=False)
    with shop.session() as (s, ctx):
        line = service.add_order_line(s, ctx, order_id, item_id=ids["paint"], quantity=Decimal(3))
        assert line.position == 50
        changed = service.update_order_line(s, ctx, order_id, bolts, quantity=Decimal(3))
        assert changed.base_quantity == Decimal(36)
        swapped = service.update_order_line(s, ctx, order_id, chair, options=[ids["colour-blue"], ids["size-s"]])
        assert swapped.options == [ids["colour-blue"], ids["size-s"]]
        service.delete_order_line(s, ctx, order_id, line.id)
        service.update_sales_order(s, ctx, order_id, customer_reference="REF-2")
        service.confirm_sales_order(s, ctx, order_id)
    with shop.session() as (s, ctx):
        order = service.get_sales_order(s, ctx, order_id)
        assert (order.status, order.customer_reference, len(order.lines)) == ("confirmed", "REF-2", 4)
        assert order.confirmed_at is not None
    for action in (
        lambda s, ctx: service.update_sales_order(s, ctx, order_id, note="x"),
        lambda s, ctx: service.add_order_line(s, ctx, order_id, item_id=ids["paint"], quantity=Decimal(1)),
        lambda s, ctx: service.delete_sales_order(s, ctx, order_id),
        lambda s, ctx: service.confirm_sales_order(s, ctx, order_id),
    ):
        with pytest.raises(Conflict), shop.session() as (s, ctx):
            action(s, ctx)


def test_pick_reserves_and_ship_moves_to_the_customer_location(shop: Plant) -> None:
    ids = shop.ids
    order_id, (bolts, steel, motor, chair) = create_order(shop)
    with shop.session() as (s, ctx):
        delivery_id = service.create_delivery(
            s,
            ctx,
            order_id,
            lines=[
                DeliveryLineSpec(bolts, Decimal(10), ids["a"]),
                DeliveryLineSpec(steel, Decimal(5), ids["a"], ids["steel-1"]),
            ],
        ).id
    with shop.session() as (s, ctx):
        picked = service.pick_delivery(s, ctx, delivery_id)
        assert picked.status == "picked" and picked.picked_at is not None
        reservations = [inventory.get_reservation(s, ctx, dl.reservation_id) for dl in picked.lines]  # type: ignore[arg-type]
        assert [(r.quantity, r.status, r.reference_type, r.reference_id) for r in reservations] == [
            (Decimal(10), "open", "sales_order", str(order_id)),
            (Decimal(5), "open", "sales_order", str(order_id)),
        ]
        assert reservations[1].lot_id == ids["steel-1"]
    assert _status(shop, order_id) == "confirmed"
    with shop.session() as (s, ctx):
        shipped = service.ship_delivery(s, ctx, delivery_id)
        assert shipped.status == "shipped" and shipped.shipped_at is not None
        moves = [inventory.get_move(s, ctx, dl.move_id) for dl in shipped.lines]  # type: ignore[arg-type]
        assert [
            (m.item_id, m.quantity, m.from_location_id, m.to_location_id, m.lot_id, m.reference_type, m.reference_id)
            for m in moves
        ] == [
            (ids["bolt"], Decimal(10), ids["a"], ids["customer"], None, "sales_order", str(order_id)),
            (ids["steel"], Decimal(5), ids["a"], ids["customer"], ids["steel-1"], "sales_order", str(order_id)),
        ]
        assert {inventory.get_reservation(s, ctx, dl.reservation_id).status for dl in shipped.lines} == {"consumed"}  # type: ignore[arg-type]
        order = service.get_sales_order(s, ctx, order_id)
        assert [ln.delivered_quantity for ln in order.lines] == [Decimal(10), Decimal(5), Decimal(0), Decimal(0)]
    assert _status(shop, order_id) == "partially_delivered"
    assert _on_hand(shop, "bolt") == Decimal(90)
    assert _on_hand(shop, "steel", lot="steel-1") == Decimal(45)
    # An unpicked delivery ships by posting its moves directly; the rest of every line completes the order.
    _deliver(
        shop,
        order_id,
        DeliveryLineSpec(bolts, Decimal(14), ids["a"]),
        DeliveryLineSpec(steel, Decimal(15), ids["a"], ids["steel-1"]),
        DeliveryLineSpec(motor, Decimal(1), ids["a"], ids["motor-1"]),
        DeliveryLineSpec(chair, Decimal(3), ids["a"]),
        pick=False,
    )
    assert _status(shop, order_id) == "delivered"
    assert _on_hand(shop, "bolt") == Decimal(76)
    assert _on_hand(shop, "bolt", "customer") == Decimal(24)
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.create_delivery(s, ctx, order_id, lines=[DeliveryLineSpec(bolts, Decimal(1), ids["a"])])


def test_shipped_lot_is_traced_to_the_shipment(shop: Plant) -> None:
    ids = shop.ids
    order_id, (_bolts, steel, _motor, _chair) = create_order(shop)
    delivery_id = _deliver(shop, order_id, DeliveryLineSpec(steel, Decimal(7), ids["a"], ids["steel-1"]))
    with shop.session() as (s, ctx):
        move_id = service.get_delivery(s, ctx, delivery_id).lines[0].move_id
        trace = inventory.trace_up(s, ctx, ids["steel-1"])
    assert [(m.id, m.reference_type, m.reference_id, m.quantity) for m in trace.shipments] == [
        (move_id, "sales_order", str(order_id), Decimal(7))
    ]


def test_over_shipment_is_refused_naming_the_line(shop: Plant) -> None:
    ids = shop.ids
    order_id, (bolts, steel, _motor, _chair) = create_order(shop)
    with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
        service.create_delivery(
            s,
            ctx,
            order_id,
            lines=[
                DeliveryLineSpec(steel, Decimal(1), ids["a"], ids["steel-1"]),
                DeliveryLineSpec(bolts, Decimal(25), ids["a"]),
            ],
        )
    assert info.value.field == "lines.1.quantity"
    message = str(info.value)
    assert message.startswith("Line 10 (BOLT-") and "shipping 25 is more than the 24 still open" in message
    # A draft delivery holds its quantity: a second one may take only the rest.
    _deliver(shop, order_id, DeliveryLineSpec(bolts, Decimal(20), ids["a"]), pick=False, ship=False)
    with pytest.raises(InvalidInput) as held, shop.session() as (s, ctx):
        service.create_delivery(s, ctx, order_id, lines=[DeliveryLineSpec(bolts, Decimal(5), ids["a"])])
    assert held.value.field == "lines.0.quantity" and "the 4 still open" in str(held.value)
    # Two lines of one delivery on the same order line add up before the check.
    with pytest.raises(InvalidInput) as twice, shop.session() as (s, ctx):
        service.create_delivery(
            s,
            ctx,
            order_id,
            lines=[DeliveryLineSpec(bolts, Decimal(3), ids["a"]), DeliveryLineSpec(bolts, Decimal(3), ids["a"])],
        )
    assert twice.value.field == "lines.1.quantity"
    _deliver(shop, order_id, DeliveryLineSpec(bolts, Decimal(4), ids["a"]))


def test_bad_delivery_lines_name_the_field(shop: Plant) -> None:
    ids = shop.ids
    order_id, (bolts, steel, motor, _chair) = create_order(shop)
    other_id, (other_bolts, *_rest) = create_order(shop)
    cases = [
        (DeliveryLineSpec(steel, Decimal(1), ids["a"]), "lines.0.lot_id"),
        (DeliveryLineSpec(bolts, Decimal(1), ids["a"], ids["steel-1"]), "lines.0.lot_id"),
        (DeliveryLineSpec(steel, Decimal(1), ids["a"], ids["frame-1"]), "lines.0.lot_id"),
        (DeliveryLineSpec(bolts, Decimal(1), ids["customer"]), "lines.0.location_id"),
        (DeliveryLineSpec(bolts, Decimal(1), 2**31 - 1), "lines.0.location_id"),
        (DeliveryLineSpec(other_bolts, Decimal(1), ids["a"]), "lines.0.order_line_id"),
        (DeliveryLineSpec(motor, Decimal(2), ids["a"], ids["motor-1"]), "lines.0.quantity"),
    ]
    for spec, field in cases:
        with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
            service.create_delivery(s, ctx, order_id, lines=[spec])
        assert info.value.field == field, (spec, info.value)
    # Picking more than is on the shelf is refused by the inventory service, naming the line.
    with shop.session() as (s, ctx):
        delivery_id = service.create_delivery(
            s, ctx, order_id, lines=[DeliveryLineSpec(bolts, Decimal(5), ids["b"])]
        ).id
    with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
        service.pick_delivery(s, ctx, delivery_id)
    assert info.value.field.startswith("lines.0."), info.value  # type: ignore[union-attr]
    assert other_id


def test_cancel_rules(shop: Plant) -> None:
    ids = shop.ids
    draft_id, _ = create_order(shop, confirm=False)
    with shop.session() as (s, ctx):
        assert service.cancel_sales_order(s, ctx, draft_id).status == "cancelled"
    order_id, (bolts, *_rest) = create_order(shop)
    picked = _deliver(shop, order_id, DeliveryLineSpec(bolts, Decimal(6), ids["a"]), ship=False)
    with shop.session() as (s, ctx):
        assert inventory.reserved(s, shop.actor.tenant.id, ids["bolt"], ids["a"], None) == Decimal(6)
        service.cancel_sales_order(s, ctx, order_id)
    with shop.session() as (s, ctx):
        # Cancelling the order cancelled its picked delivery and released the stock it held.
        assert service.get_delivery(s, ctx, picked).status == "cancelled"
        assert inventory.reserved(s, shop.actor.tenant.id, ids["bolt"], ids["a"], None) == Decimal(0)
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.create_delivery(s, ctx, order_id, lines=[DeliveryLineSpec(bolts, Decimal(1), ids["a"])])
    shipped_id, (bolts2, *_rest2) = create_order(shop)
    _deliver(shop, shipped_id, DeliveryLineSpec(bolts2, Decimal(1), ids["a"]))
    with pytest.raises(Conflict) as info, shop.session() as (s, ctx):
        service.cancel_sales_order(s, ctx, shipped_id)
    assert "has shipments" in str(info.value)
    # A delivery is cancelled while not shipped (its reservation released), never after.
    pending = _deliver(shop, shipped_id, DeliveryLineSpec(bolts2, Decimal(2), ids["a"]), ship=False)
    done = _deliver(shop, shipped_id, DeliveryLineSpec(bolts2, Decimal(3), ids["a"]))
    with shop.session() as (s, ctx):
        assert service.cancel_delivery(s, ctx, pending).status == "cancelled"
        assert inventory.reserved(s, shop.actor.tenant.id, ids["bolt"], ids["a"], None) == Decimal(0)
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.cancel_delivery(s, ctx, done)
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.ship_delivery(s, ctx, pending)


def test_returns_post_moves_back_within_the_limits(shop: Plant) -> None:
    ids = shop.ids
    order_id, (bolts, steel, _motor, _chair) = create_order(shop)
    with pytest.raises(Conflict), shop.session() as (s, ctx):
        service.create_return(s, ctx, order_id, lines=[ReturnLineSpec(bolts, Decimal(1), ids["a"])], reason="x")
    _deliver(
        shop,
        order_id,
        DeliveryLineSpec(bolts, Decimal(10), ids["a"]),
        DeliveryLineSpec(steel, Decimal(8), ids["a"], ids["steel-1"]),
    )
    with shop.session() as (s, ctx):
        taken = service.create_return(
            s,
            ctx,
            order_id,
            lines=[
                ReturnLineSpec(bolts, Decimal(4), ids["b"]),
                ReturnLineSpec(steel, Decimal(3), ids["scrap"], ids["steel-1"]),
            ],
            reason="Damaged in transit",
        )
        moves = [inventory.get_move(s, ctx, rl.move_id) for rl in taken.lines]
    assert [(m.from_location_id, m.to_location_id, m.quantity, m.lot_id, m.reference_id) for m in moves] == [
        (ids["customer"], ids["b"], Decimal(4), None, str(order_id)),
        (ids["customer"], ids["scrap"], Decimal(3), ids["steel-1"], str(order_id)),
    ]
    assert _on_hand(shop, "bolt", "b") == Decimal(4)
    assert _on_hand(shop, "bolt", "customer") == Decimal(6)
    cases = [
        (ReturnLineSpec(bolts, Decimal(7), ids["a"]), "lines.0.quantity", "more than the 6 shipped"),
        (ReturnLineSpec(steel, Decimal(1), ids["a"]), "lines.0.lot_id", "tracked"),
        (ReturnLineSpec(steel, Decimal(1), ids["a"], ids["steel-2"]), "lines.0.lot_id", "only 0 of this lot"),
        (ReturnLineSpec(bolts, Decimal(1), ids["customer"]), "lines.0.location_id", "scrap location"),
        (ReturnLineSpec(_motor, Decimal(1), ids["a"], ids["motor-1"]), "lines.0.quantity", "more than the 0"),
    ]
    for spec, field, message in cases:
        with pytest.raises(InvalidInput) as info, shop.session() as (s, ctx):
            service.create_return(s, ctx, order_id, lines=[spec], reason="x")
        assert info.value.field == field, (spec, info.value)
        assert message in str(info.value), (spec, info.value)
    with shop.session() as (s, ctx):
        service.create_return(s, ctx, order_id, lines=[ReturnLineSpec(bolts, Decimal(6), ids["a"])], reason="Wrong")
        order = service.get_sales_order(s, ctx, order_id)
        assert [(ln.delivered_quantity, ln.returned_quantity) for ln in order.lines[:2]] == [
            (Decimal(10), Decimal(10)),
            (Decimal(8), Decimal(3)),
        ]
        assert len(service.list_returns(s, ctx, order_id)) == 2
        # Returns do not reopen the line: the order stays partially delivered, 14 bolts still open.
        assert order.status == "partially_delivered"


def test_shipped_lines_report_for_the_kpis(shop: Plant) -> None:
    ids = shop.ids
    order_id, (bolts, steel, _motor, _chair) = create_order(shop)
    _deliver(shop, order_id, DeliveryLineSpec(bolts, Decimal(10), ids["a"]))
    _deliver(
        shop,
        order_id,
        DeliveryLineSpec(bolts, Decimal(14), ids["a"]),
        DeliveryLineSpec(steel, Decimal(2), ids["a"], ids["steel-1"]),
    )
    _deliver(shop, order_id, DeliveryLineSpec(steel, Decimal(1), ids["a"], ids["steel-1"]), ship=False)
    today = utcnow().date()
    with shop.session() as (s, ctx):
        rows = service.shipped_lines(s, ctx, since=today, until=today)
        order = service.get_sales_order(s, ctx, order_id)
        assert service.shipped_lines(s, ctx, since=today + timedelta(days=1), until=None) == []
        assert service.shipped_lines(s, ctx, since=None, until=today - timedelta(days=1)) == []
        assert len(service.shipped_lines(s, ctx, since=None, until=None)) == 2
    assert [(r.line_id, r.item_id, r.ordered_quantity, r.shipped_quantity, r.due_date) for r in rows] == [
        (bolts, ids["bolt"], Decimal(24), Decimal(24), date(2026, 11, 20)),
        (steel, ids["steel"], Decimal(20), Decimal(2), date(2026, 11, 20)),
    ]
    bolt_row = rows[0]
    assert (bolt_row.order_id, bolt_row.order_number, bolt_row.customer_id) == (order_id, order.number, ids["client"])
    assert bolt_row.confirmed_at is not None and bolt_row.confirmed_at.tzinfo is not None
    assert bolt_row.confirmed_at <= bolt_row.first_shipped_at < bolt_row.last_shipped_at


def test_another_enterprise_cannot_see_or_use_the_order(shop_factory: Any) -> None:
    mine, theirs = shop_factory(), shop_factory()
    order_id, (bolts, *_rest) = create_order(theirs)
    with pytest.raises(NotFound), mine.session() as (s, ctx):
        service.get_sales_order(s, ctx, order_id)
    with pytest.raises(NotFound), mine.session() as (s, ctx):
        service.get_order_line(s, ctx, bolts)
    with pytest.raises(NotFound), mine.session() as (s, ctx):
        service.create_delivery(s, ctx, order_id, lines=[DeliveryLineSpec(bolts, Decimal(1), mine.ids["a"])])
    with mine.session() as (s, ctx):
        assert order_id not in {o.id for o in service.list_sales_orders(s, ctx, limit=500)[0]}
    with theirs.session() as (s, ctx):
        assert service.get_order_line(s, ctx, bolts).order_id == order_id


def test_delivering_rules_without_a_database() -> None:
    line = delivering.LineState(Decimal(10))
    assert delivering.check_shipment(line, Decimal(10)).delivered == Decimal(10)
    with pytest.raises(delivering.OverShipment):
        delivering.check_shipment(line, Decimal("10.000001"))
    with pytest.raises(delivering.OverShipment) as info:
        delivering.check_shipment(line, Decimal(5), pending=Decimal(6))
    assert info.value.available == Decimal(4)
    with pytest.raises(delivering.OverShipment):
        delivering.check_shipment(line, Decimal(0))
    shipped = delivering.LineState(Decimal(10), Decimal(6), Decimal(2))
    assert delivering.check_return(shipped, Decimal(4)).returned == Decimal(6)
    with pytest.raises(delivering.OverReturn):
        delivering.check_return(shipped, Decimal("4.1"))
    done = delivering.LineState(Decimal(10), Decimal(10), Decimal(10))
    open_ = delivering.LineState(Decimal(10))
    assert delivering.order_status("confirmed", [open_]) == "confirmed"
    assert delivering.order_status("confirmed", [done, open_]) == "partially_delivered"
    assert delivering.order_status("partially_delivered", [done, done]) == "delivered"
    assert delivering.order_status("draft", [done]) == "draft"
    assert delivering.order_status("cancelled", [open_]) == "cancelled"


# Steps on an order of two lines (10 and 3 in base units): ship or return some quantity of a line.
steps = st.lists(
    st.tuples(
        st.sampled_from(["ship", "return"]),
        st.sampled_from([0, 1]),
        st.decimals(min_value="0.001", max_value="12", places=3),
    ),
    max_size=30,
)


@given(steps)
def test_any_sequence_of_valid_steps_keeps_the_quantities_ordered(sequence: list[tuple[str, int, Decimal]]) -> None:
    """Valid shipments and returns keep 0 ≤ returned ≤ delivered ≤ ordered; refused ones change nothing."""
    lines = [delivering.LineState(Decimal(10)), delivering.LineState(Decimal(3))]
    status = "confirmed"
    for kind, which, qty in sequence:
        before = lines[which]
        try:
            if kind == "ship":
                lines[which] = delivering.check_shipment(before, qty)
            else:
                lines[which] = delivering.check_return(before, qty)
        except (delivering.OverShipment, delivering.OverReturn):
            allowed = before.open_quantity if kind == "ship" else before.returnable
            assert qty > allowed
            continue
        status = delivering.order_status(status, lines)
        for line in lines:
            assert Decimal(0) <= line.returned <= line.delivered <= line.ordered
        if all(line.delivered == line.ordered for line in lines):
            assert status == "delivered"
        elif any(line.delivered > 0 for line in lines):
            assert status == "partially_delivered"
        else:
            assert status == "confirmed"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=15)), min_size=1, max_size=5))
def test_delivered_quantity_equals_the_moves_and_the_stock(shop_factory, sequence) -> None:  # type: ignore[no-untyped-def]
    """For any sequence of shipments and returns of bolts, the line's quantities match the moves and the stock."""
    shop = shop_factory()
    ids = shop.ids
    order_id, (bolts, *_rest) = create_order(shop)
    delivered = returned = Decimal(0)
    for ship, qty in sequence:
        quantity = Decimal(qty)
        if ship and delivered + quantity <= 24:
            _deliver(shop, order_id, DeliveryLineSpec(bolts, quantity, ids["a"]))
            delivered += quantity
        elif not ship and delivered > 0 and returned + quantity <= delivered:
            with shop.session() as (s, ctx):
                service.create_return(s, ctx, order_id, lines=[ReturnLineSpec(bolts, quantity, ids["b"])], reason="r")
            returned += quantity
        else:
            with pytest.raises((InvalidInput, Conflict)), shop.session() as (s, ctx):
                if ship:
                    service.create_delivery(s, ctx, order_id, lines=[DeliveryLineSpec(bolts, quantity, ids["a"])])
                else:
                    service.create_return(
                        s, ctx, order_id, lines=[ReturnLineSpec(bolts, quantity, ids["b"])], reason="r"
                    )
    with shop.session() as (s, ctx):
        line = service.get_order_line(s, ctx, bolts)
        assert inventory.verify_balances(s, ctx) == []
    assert (line.delivered_quantity, line.returned_quantity) == (delivered, returned)
    assert _on_hand(shop, "bolt", "a") == 100 - delivered
    assert _on_hand(shop, "bolt", "b") == returned
    assert _on_hand(shop, "bolt", "customer") == delivered - returned
    assert _status(shop, order_id) == ("confirmed" if delivered == 0 else "partially_delivered")
