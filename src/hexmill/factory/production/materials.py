"""Pure rules of material flow for work orders: component needs, backflush quantities and FIFO lot picking.

Quantities are Decimal in the component's base unit and kept at the database's six decimal places.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal
from typing import Final

ZERO: Final = Decimal(0)
STEP: Final = Decimal("0.000001")
PER_UNIT_STEP: Final = Decimal("0.0000000001")


def q(value: Decimal) -> Decimal:
    """Return a quantity at six decimal places (half-even), as the database keeps it."""
    return Decimal(value).quantize(STEP, rounding=ROUND_HALF_EVEN)


def per_unit(value: Decimal) -> Decimal:
    """Return a quantity per unit at ten decimal places, as the component snapshot keeps it."""
    return Decimal(value).quantize(PER_UNIT_STEP, rounding=ROUND_HALF_EVEN)


def required(per_unit_quantity: Decimal, order_quantity: Decimal) -> Decimal:
    """Return the component quantity a whole order needs: per unit x order quantity, at six places."""
    return q(per_unit_quantity * order_quantity)


def backflush_quantity(per_unit_quantity: Decimal, good_total: Decimal, issued: Decimal) -> Decimal:
    """Return what a receipt must consume of a component so that its issues cover the good received.

    ``good_total`` is the good quantity received on the order including this receipt; ``issued``
    is what has been issued of the component already (by hand or by earlier backflushes). The
    answer tops the issues up to per unit x good received, and is 0 when they already cover it.
    """
    need = q(per_unit_quantity * good_total) - issued
    return need if need > ZERO else ZERO


@dataclass(frozen=True, slots=True)
class LotStock:
    """A lot's available quantity of a component at the location chosen (``lot_id`` in creation order)."""

    lot_id: int
    available: Decimal


class Shortage(Exception):
    """The lots at hand do not cover the quantity asked for."""

    def __init__(self, needed: Decimal, available: Decimal) -> None:
        """Keep what was needed and what there was."""
        super().__init__(f"{needed} > {available}")
        self.needed, self.available = needed, available


def pick_fifo(lots: Iterable[LotStock], quantity: Decimal) -> list[tuple[int, Decimal]]:
    """Return (lot, quantity) taking ``quantity`` from the oldest lots first, or raise Shortage.

    Lots are taken in ascending id (the order they were created in: first in, first out); lots
    with nothing available are skipped. The picks add up to ``quantity`` exactly.
    """
    stock: Sequence[LotStock] = sorted((lot for lot in lots if lot.available > ZERO), key=lambda lot: lot.lot_id)
    out: list[tuple[int, Decimal]] = []
    left = quantity
    for lot in stock:
        if left <= ZERO:
            break
        take = min(lot.available, left)
        out.append((lot.lot_id, take))
        left -= take
    if left > ZERO:
        raise Shortage(quantity, sum((lot.available for lot in stock), ZERO))
    return out


def serial_count(quantity: Decimal) -> int | None:
    """Return how many serial numbers a received quantity needs, or None if it is not a whole number."""
    whole = quantity.to_integral_value(rounding=ROUND_UP)
    return int(whole) if whole == quantity and whole > 0 else None
