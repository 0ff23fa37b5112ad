"""Pure rules of delivering: how much an order line may still ship or take back, and an order's status.

Quantities are in the item's base unit. A line has ``ordered`` ≥ ``delivered`` ≥ ``returned`` ≥ 0:
shipments raise ``delivered`` up to ``ordered`` and no further; returns raise ``returned`` up to
what was delivered. A return does not reopen the line (a replacement is a new order), so the
order's status follows from what was delivered alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

ZERO: Final = Decimal(0)
# States in which goods may be shipped; "delivered" is reached when every line is fully shipped.
OPEN_STATES: Final = ("confirmed", "partially_delivered")
# States in which goods may come back: anything shipped on a confirmed order.
RETURNABLE_STATES: Final = ("partially_delivered", "delivered")


@dataclass(frozen=True, slots=True)
class LineState:
    """What an order line asked for, what has left and what has come back, in the item's base unit."""

    ordered: Decimal
    delivered: Decimal = ZERO
    returned: Decimal = ZERO

    @property
    def open_quantity(self) -> Decimal:
        """Return what is still to be shipped (0 once fully delivered)."""
        return max(self.ordered - self.delivered, ZERO)

    @property
    def returnable(self) -> Decimal:
        """Return what may still come back: shipped and not yet returned."""
        return self.delivered - self.returned

    @property
    def done(self) -> bool:
        """Return whether the line has been shipped in full."""
        return self.delivered >= self.ordered


class OverShipment(Exception):
    """A shipment would take a line beyond its ordered quantity."""

    def __init__(self, *, quantity: Decimal, available: Decimal) -> None:
        super().__init__(f"{quantity} > {available}")
        self.quantity, self.available = quantity, available


class OverReturn(Exception):
    """A return would take back more than was shipped and not yet returned."""

    def __init__(self, *, quantity: Decimal, available: Decimal) -> None:
        super().__init__(f"{quantity} > {available}")
        self.quantity, self.available = quantity, available


def check_shipment(line: LineState, quantity: Decimal, *, pending: Decimal = ZERO) -> LineState:
    """Return the line after shipping ``quantity``, or raise OverShipment.

    ``pending`` is what other deliveries not yet shipped already hold of the line's open quantity.
    """
    available = line.open_quantity - pending
    if quantity <= ZERO or quantity > available:
        raise OverShipment(quantity=quantity, available=max(available, ZERO))
    return replace(line, delivered=line.delivered + quantity)


def check_return(line: LineState, quantity: Decimal) -> LineState:
    """Return the line after taking back ``quantity``, or raise OverReturn."""
    if quantity <= ZERO or quantity > line.returnable:
        raise OverReturn(quantity=quantity, available=line.returnable)
    return replace(line, returned=line.returned + quantity)


def order_status(current: str, lines: Iterable[LineState]) -> str:
    """Return the status a confirmed order has given its lines (draft and cancelled stay as they are).

    Every line fully shipped: delivered. Anything shipped yet: partially delivered. Otherwise confirmed.
    """
    if current not in (*OPEN_STATES, "delivered"):
        return current
    states = list(lines)
    if states and all(s.done for s in states):
        return "delivered"
    if any(s.delivered > ZERO for s in states):
        return "partially_delivered"
    return "confirmed"
