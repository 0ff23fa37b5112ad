"""Properties of the pure ledger: balances are sums of moves, stock never goes negative where
forbidden, a reversal restores the state before the move exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexmill.factory.inventory.ledger import (
    ZERO,
    ItemRule,
    Ledger,
    LedgerError,
    Move,
    available,
    balances,
    check_reservation,
    count_difference,
    reversal,
)

INTERNAL = frozenset({1, 2, 3})
VIRTUAL = (10, 11, 12)  # supplier, customer, adjustment
LOCATIONS = (*INTERNAL, *VIRTUAL)
ITEMS = {100: ItemRule(), 101: ItemRule(allow_negative=True), 102: ItemRule(serial=True)}

quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1000), places=3)
moves = st.builds(
    Move,
    item_id=st.sampled_from(sorted(ITEMS)),
    quantity=quantities,
    from_location=st.sampled_from(LOCATIONS),
    to_location=st.sampled_from(LOCATIONS),
    lot_id=st.sampled_from([None, 1, 2]),
)
operations = st.lists(st.one_of(moves, st.integers(min_value=1, max_value=60)), max_size=60)


def _run(ops: list[Move | int]) -> Ledger:
    """Apply a sequence of posts and reversals, skipping the refused ones (as a user would see them)."""
    ledger = Ledger(internal=INTERNAL, rules=ITEMS)
    for op in ops:
        try:
            if isinstance(op, Move):
                # Serial items move one unit at a time: make most of the generated ones valid.
                ledger.post(
                    Move(op.item_id, Decimal(1), op.from_location, op.to_location, op.lot_id)
                    if ITEMS[op.item_id].serial
                    else op
                )
            else:
                ledger.reverse(op)
        except LedgerError:
            continue
    return ledger


@settings(max_examples=300)
@given(operations)
def test_balances_are_the_sum_of_moves(ops: list[Move | int]) -> None:
    ledger = _run(ops)
    assert ledger.all_balances() == balances(ledger.moves)
    # Every move takes out what it puts in: the whole ledger sums to zero per item and lot.
    totals: dict[tuple[int, int | None], Decimal] = {}
    for (item, _loc, lot), qty in balances(ledger.moves).items():
        totals[(item, lot)] = totals.get((item, lot), ZERO) + qty
    assert all(v == ZERO for v in totals.values())


@settings(max_examples=300)
@given(operations)
def test_no_sequence_makes_forbidden_stock_negative(ops: list[Move | int]) -> None:
    ledger = _run(ops)
    for (item, loc, _lot), qty in balances(ledger.moves).items():
        if loc in INTERNAL and not ITEMS[item].allow_negative:
            assert qty >= ZERO
    serial_totals: dict[int | None, Decimal] = {}
    for (item, loc, lot), qty in balances(ledger.moves).items():
        if item == 102 and loc in INTERNAL:
            serial_totals[lot] = serial_totals.get(lot, ZERO) + qty
    assert all(v <= 1 for v in serial_totals.values())


@settings(max_examples=300)
@given(operations, st.data())
def test_reversal_restores_the_state_before_the_move(ops: list[Move | int], data: st.DataObject) -> None:
    ledger = _run(ops)
    candidates = [m for m in ledger.moves if m.reversal_of is None and m.id not in ledger._reversed]
    if not candidates:
        return
    target = data.draw(st.sampled_from(candidates))
    before = balances(m for m in ledger.moves if m.id != target.id)
    try:
        ledger.reverse(target.id or 0)
    except LedgerError as exc:
        # Refused only when undoing would take stock below zero (it was moved on since).
        assert exc.field in {"quantity", "lot_id"}
        return
    assert ledger.all_balances() == before
    with pytest.raises(LedgerError, match="already been reversed"):
        ledger.reverse(target.id or 0)


def test_issue_beyond_stock_is_refused_naming_the_quantity() -> None:
    ledger = Ledger(internal=INTERNAL, rules=ITEMS)
    ledger.post(Move(100, Decimal(5), 10, 1))
    with pytest.raises(LedgerError) as info:
        ledger.post(Move(100, Decimal("5.5"), 1, 11))
    assert info.value.field == "quantity"
    assert ledger.balance((100, 1, None)) == Decimal(5)
    ledger.post(Move(101, Decimal(3), 1, 11))
    assert ledger.balance((101, 1, None)) == Decimal(-3)


def test_reversal_of_a_reversal_and_bad_shapes_are_refused() -> None:
    ledger = Ledger(internal=INTERNAL, rules=ITEMS)
    first = ledger.post(Move(100, Decimal(2), 10, 1))
    undo = ledger.reverse(first.id or 0)
    assert undo.reversal_of == first.id
    with pytest.raises(LedgerError, match="cannot be reversed"):
        reversal(undo)
    with pytest.raises(LedgerError) as zero:
        ledger.post(Move(100, ZERO, 10, 1))
    assert zero.value.field == "quantity"
    with pytest.raises(LedgerError) as same:
        ledger.post(Move(100, Decimal(1), 1, 1))
    assert same.value.field == "to_location_id"


def test_serial_numbers_move_one_at_a_time_and_exist_once() -> None:
    ledger = Ledger(internal=INTERNAL, rules=ITEMS)
    with pytest.raises(LedgerError, match="one unit"):
        ledger.post(Move(102, Decimal(2), 10, 1, 7))
    ledger.post(Move(102, Decimal(1), 10, 1, 7))
    with pytest.raises(LedgerError, match="already in stock"):
        ledger.post(Move(102, Decimal(1), 10, 2, 7))


@given(on_hand=quantities, reserved=quantities, wanted=quantities)
def test_reservations_never_make_available_negative(on_hand: Decimal, reserved: Decimal, wanted: Decimal) -> None:
    reserved = min(reserved, on_hand)
    try:
        check_reservation(wanted, on_hand=on_hand, reserved=reserved)
    except LedgerError:
        assert wanted > on_hand - reserved
    else:
        assert on_hand - (reserved + wanted) >= ZERO
    assert available(on_hand, on_hand + wanted) == ZERO


@given(on_hand=st.decimals(min_value=-100, max_value=100, places=2), counted=st.decimals(0, 100, places=2))
def test_a_count_posts_exactly_the_difference(on_hand: Decimal, counted: Decimal) -> None:
    ledger = Ledger(internal=INTERNAL, rules=ITEMS)
    if on_hand > 0:
        ledger.post(Move(101, on_hand, 10, 1))
    elif on_hand < 0:
        ledger.post(Move(101, -on_hand, 1, 11))
    move = count_difference(
        101, 1, None, counted=counted, on_hand=ledger.balance((101, 1, None)), adjustment_location=12
    )
    if move is not None:
        ledger.post(move)
    assert ledger.balance((101, 1, None)) == counted
