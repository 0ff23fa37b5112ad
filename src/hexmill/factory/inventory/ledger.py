"""The stock-move ledger as pure rules: balances from moves, the negative-stock rule, reversal.

Stock is never stored: it is the sum of moves. A move takes a positive quantity of one item (and
lot or serial) out of one location and puts it into another; the balance of an item/location/lot
is what arrived there minus what left. Virtual locations (supplier, customer, production, scrap,
inventory adjustment) are the other side of receipts, shipments, consumption, scrapping and count
differences, so their balances run negative by design and are never checked.

An internal location may not go below zero unless the item allows negative stock; a serial never
goes below zero and is never on hand in more than one unit across internal locations. A reversal
is the same move in the opposite direction, linked to the original; a move reverses at most once,
and a reversal is never itself reversed (post a new move instead). The service applies the same
functions to balances it reads from the database, so these rules hold for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from hexmill.core.i18n import N_

StockKey = tuple[int, int, int | None]
"""(item id, location id, lot id or None for untracked items)."""

ZERO = Decimal(0)


class LedgerError(ValueError):
    """A move the ledger refuses; ``message`` is a msgid, ``field`` the offending input."""

    def __init__(self, message: str, *, field: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.field = field
        self.params = params


@dataclass(frozen=True, slots=True)
class Move:
    """One quantity change: ``quantity`` (> 0, base unit) of an item/lot from one location to another."""

    item_id: int
    quantity: Decimal
    from_location: int
    to_location: int
    lot_id: int | None = None
    id: int | None = None
    reversal_of: int | None = None

    def keys(self) -> tuple[StockKey, StockKey]:
        """Return the stock keys the move takes from and puts into."""
        return (self.item_id, self.from_location, self.lot_id), (self.item_id, self.to_location, self.lot_id)


@dataclass(frozen=True, slots=True)
class ItemRule:
    """What the ledger needs to know of an item: may it go negative, is it serial-tracked."""

    allow_negative: bool = False
    serial: bool = False


def check_shape(move: Move) -> None:
    """Refuse a move that cannot be posted whatever the stock: no quantity, or nowhere to go."""
    if not move.quantity.is_finite() or move.quantity <= ZERO:
        raise LedgerError(N_("The quantity must be more than zero."), field="quantity")
    if move.from_location == move.to_location:
        raise LedgerError(N_("The move must go to another location."), field="to_location_id")


def balances(moves: Iterable[Move]) -> dict[StockKey, Decimal]:
    """Return the balance of every item/location/lot the moves touch, zeros left out."""
    out: dict[StockKey, Decimal] = {}
    for move in moves:
        source, target = move.keys()
        out[source] = out.get(source, ZERO) - move.quantity
        out[target] = out.get(target, ZERO) + move.quantity
    return {key: qty for key, qty in out.items() if qty != ZERO}


def check_stock(
    move: Move,
    *,
    balance: Callable[[StockKey], Decimal],
    serial_on_hand: Callable[[int, int | None], Decimal],
    is_internal: Callable[[int], bool],
    rule: ItemRule,
) -> None:
    """Refuse a move that would take an internal location below zero where the item forbids it.

    ``balance`` answers the current balance of a stock key; ``serial_on_hand`` the quantity of a
    serial across every internal location; ``is_internal`` whether a location holds real stock.
    """
    check_shape(move)
    source, _target = move.keys()
    if rule.serial:
        if move.quantity != Decimal(1):
            raise LedgerError(N_("A serial number moves one unit at a time."), field="quantity")
        arrives = not is_internal(move.from_location) and is_internal(move.to_location)
        if arrives and serial_on_hand(move.item_id, move.lot_id) + move.quantity > Decimal(1):
            raise LedgerError(N_("This serial number is already in stock."), field="lot_id")
    if not is_internal(move.from_location) or (rule.allow_negative and not rule.serial):
        return
    left = balance(source) - move.quantity
    if left < ZERO:
        raise LedgerError(
            N_("Not enough stock: %(on_hand)s on hand, %(quantity)s requested."),
            field="quantity",
            on_hand=str(balance(source)),
            quantity=str(move.quantity),
        )


def reversal(move: Move) -> Move:
    """Return the move that undoes ``move``: the same quantity back where it came from."""
    if move.id is None:
        raise LedgerError(N_("Only a posted move can be reversed."), field="move_id")
    if move.reversal_of is not None:
        raise LedgerError(N_("A reversal cannot be reversed; post a new move instead."), field="move_id")
    return replace(move, id=None, from_location=move.to_location, to_location=move.from_location, reversal_of=move.id)


def available(on_hand: Decimal, reserved: Decimal) -> Decimal:
    """Return what may still be reserved or promised: on hand less reserved, never below zero."""
    return max(on_hand - reserved, ZERO)


def check_reservation(quantity: Decimal, *, on_hand: Decimal, reserved: Decimal) -> None:
    """Refuse a reservation larger than what is available."""
    if not quantity.is_finite() or quantity <= ZERO:
        raise LedgerError(N_("The quantity must be more than zero."), field="quantity")
    free = available(on_hand, reserved)
    if quantity > free:
        raise LedgerError(
            N_("Only %(available)s available to reserve, %(quantity)s requested."),
            field="quantity",
            available=str(free),
            quantity=str(quantity),
        )


def count_difference(
    item_id: int, location: int, lot_id: int | None, *, counted: Decimal, on_hand: Decimal, adjustment_location: int
) -> Move | None:
    """Return the adjustment move that makes ``on_hand`` equal ``counted``, or None if they agree."""
    if not counted.is_finite() or counted < ZERO:
        raise LedgerError(N_("The counted quantity cannot be negative."), field="counted_quantity")
    diff = counted - on_hand
    if diff == ZERO:
        return None
    if diff > ZERO:
        return Move(item_id, diff, adjustment_location, location, lot_id)
    return Move(item_id, -diff, location, adjustment_location, lot_id)


@dataclass
class Ledger:
    """An in-memory ledger: the rules above over a list of moves (the model the service follows)."""

    internal: frozenset[int]
    rules: Mapping[int, ItemRule] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    _balances: dict[StockKey, Decimal] = field(default_factory=dict)
    _reversed: set[int] = field(default_factory=set)

    def balance(self, key: StockKey) -> Decimal:
        """Return the balance of one item/location/lot."""
        return self._balances.get(key, ZERO)

    def on_hand(self) -> dict[StockKey, Decimal]:
        """Return the non-zero balances of internal locations."""
        return {k: v for k, v in self._balances.items() if k[1] in self.internal and v != ZERO}

    def all_balances(self) -> dict[StockKey, Decimal]:
        """Return every non-zero balance, virtual locations included."""
        return {k: v for k, v in self._balances.items() if v != ZERO}

    def _serial_on_hand(self, item_id: int, lot_id: int | None) -> Decimal:
        return sum(
            (
                v
                for (i, loc, lot), v in self._balances.items()
                if i == item_id and lot == lot_id and loc in self.internal
            ),
            ZERO,
        )

    def post(self, move: Move) -> Move:
        """Check and append a move; return it with its id."""
        check_stock(
            move,
            balance=self.balance,
            serial_on_hand=self._serial_on_hand,
            is_internal=self.internal.__contains__,
            rule=self.rules.get(move.item_id, ItemRule()),
        )
        posted = replace(move, id=len(self.moves) + 1)
        self.moves.append(posted)
        source, target = posted.keys()
        self._balances[source] = self.balance(source) - posted.quantity
        self._balances[target] = self.balance(target) + posted.quantity
        return posted

    def reverse(self, move_id: int) -> Move:
        """Post the reversal of a move; a move reverses once."""
        if not 1 <= move_id <= len(self.moves):
            raise LedgerError(N_("Stock move %(id)s not found."), field="move_id", id=move_id)
        if move_id in self._reversed:
            raise LedgerError(N_("This move has already been reversed."), field="move_id")
        undo = self.post(reversal(self.moves[move_id - 1]))
        self._reversed.add(move_id)
        return undo
