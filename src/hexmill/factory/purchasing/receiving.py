"""Pure rules of receiving: how much an order line may still take, and an order's status from its lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

HUNDRED: Final = Decimal(100)
ZERO: Final = Decimal(0)
# States in which goods may be received; "received" is reached when every line is done.
OPEN_STATES: Final = ("confirmed", "partially_received")


@dataclass(frozen=True, slots=True)
class LineState:
    """What an order line asked for and what has arrived, in the line's unit."""

    ordered: Decimal
    received: Decimal
    tolerance_pct: Decimal = ZERO
    closed: bool = False

    @property
    def limit(self) -> Decimal:
        """Return the most that may be received in all: the ordered quantity plus the tolerance."""
        return self.ordered + self.ordered * self.tolerance_pct / HUNDRED

    @property
    def done(self) -> bool:
        """Return whether the line expects nothing more: fully received or closed short."""
        return self.closed or self.received >= self.ordered

    @property
    def open_quantity(self) -> Decimal:
        """Return what is still expected (0 once done)."""
        return ZERO if self.done else self.ordered - self.received


class OverReceipt(Exception):
    """A receipt would take a line beyond its ordered quantity plus tolerance."""

    def __init__(self, *, quantity: Decimal, total: Decimal, limit: Decimal) -> None:
        super().__init__(f"{total} > {limit}")
        self.quantity, self.total, self.limit = quantity, total, limit


def check_receipt(line: LineState, quantity: Decimal) -> Decimal:
    """Return the line's received quantity after receiving ``quantity``, or raise OverReceipt."""
    total = line.received + quantity
    if total > line.limit:
        raise OverReceipt(quantity=quantity, total=total, limit=line.limit)
    return total


def order_status(current: str, lines: Iterable[LineState]) -> str:
    """Return the status a confirmed order has given its lines (draft and cancelled stay as they are).

    Every line done: received. Anything received yet: partially received. Otherwise confirmed.
    """
    if current not in (*OPEN_STATES, "received"):
        return current
    states = list(lines)
    if states and all(s.done for s in states):
        return "received"
    if any(s.received > ZERO for s in states):
        return "partially_received"
    return "confirmed"
