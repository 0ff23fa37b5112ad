"""Pure statistics of quality: tolerance checks, process capability (Cp/Cpk), histograms and the defect Pareto.

Everything here is exact decimal arithmetic at 40 significant digits, with no I/O: measured
values come in as ``Decimal`` and indices go out as ``Decimal`` (or None where they do not
exist), so that shifting or scaling the data and its limits gives the same indices to the last
digit that matters.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from math import ceil, log2
from typing import Final

PRECISION: Final = 40
HUNDRED: Final = Decimal(100)
MAX_BINS: Final = 30


def in_tolerance(value: Decimal, lsl: Decimal | None, usl: Decimal | None) -> bool:
    """Return whether a measured value lies within [LSL, USL] (a missing limit does not bound)."""
    return (lsl is None or value >= lsl) and (usl is None or value <= usl)


@dataclass(frozen=True, slots=True)
class Capability:
    """The capability of a process from its samples against its limits.

    ``cp`` needs both limits; ``cpu``/``cpl`` need the upper/lower one; ``cpk`` is the smaller of
    those that exist. All indices are None with fewer than two values or no spread (sigma = 0).
    """

    n: int
    mean: Decimal | None
    sigma: Decimal | None
    cp: Decimal | None
    cpk: Decimal | None
    cpu: Decimal | None
    cpl: Decimal | None


def mean(values: Sequence[Decimal]) -> Decimal | None:
    """Return the arithmetic mean, or None if there are none."""
    if not values:
        return None
    with localcontext() as c:
        c.prec = PRECISION
        return sum(values, Decimal(0)) / len(values)


def stdev(values: Sequence[Decimal]) -> Decimal | None:
    """Return the sample standard deviation (n - 1 in the denominator), or None with fewer than two values."""
    if len(values) < 2:
        return None
    with localcontext() as c:
        c.prec = PRECISION
        mu = sum(values, Decimal(0)) / len(values)
        ss = sum(((v - mu) ** 2 for v in values), Decimal(0))
        return (ss / (len(values) - 1)).sqrt()


def capability(values: Sequence[Decimal], lsl: Decimal | None, usl: Decimal | None) -> Capability:
    """Return Cp, Cpk, Cpu and Cpl of ``values`` against the limits.

    Cp = (USL - LSL) / 6sigma, Cpu = (USL - mu) / 3sigma, Cpl = (mu - LSL) / 3sigma, Cpk = min(Cpu, Cpl) of those
    that exist. Fewer than two values or sigma = 0 give no index (None), never an error.

    Args:
        values: the measured values.
        lsl: the lower specification limit, or None.
        usl: the upper specification limit, or None.

    Returns:
        The sample count, mean, sample standard deviation and the indices.
    """
    mu, sigma = mean(values), stdev(values)
    if mu is None or sigma is None or sigma == 0:
        return Capability(len(values), mu, sigma, None, None, None, None)
    with localcontext() as c:
        c.prec = PRECISION
        cp = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
        cpu = (usl - mu) / (3 * sigma) if usl is not None else None
        cpl = (mu - lsl) / (3 * sigma) if lsl is not None else None
    sides = [x for x in (cpu, cpl) if x is not None]
    return Capability(len(values), mu, sigma, cp, min(sides) if sides else None, cpu, cpl)


@dataclass(frozen=True, slots=True)
class Bin:
    """One bar of a histogram: values in [low, high) (the last bin includes its high edge)."""

    low: Decimal
    high: Decimal
    count: int


def histogram(
    values: Sequence[Decimal], *, bins: int | None = None, low: Decimal | None = None, high: Decimal | None = None
) -> list[Bin]:
    """Count values in equal-width bins from ``low`` to ``high`` (by default the values' own range).

    The number of bins is Sturges' ⌈log2 n⌉ + 1 unless given, at most ``MAX_BINS``. Values outside
    [low, high] are not counted. No values give no bins.
    """
    if not values:
        return []
    lo = min(values) if low is None else low
    hi = max(values) if high is None else high
    count = bins or ceil(log2(len(values))) + 1
    count = max(1, min(count, MAX_BINS))
    if hi <= lo:
        return [Bin(lo, hi, sum(1 for v in values if v == lo))]
    with localcontext() as c:
        c.prec = PRECISION
        width = (hi - lo) / count
        edges = [lo + width * i for i in range(count)] + [hi]
        counts = [0] * count
        for v in values:
            if v < lo or v > hi:
                continue
            index = min(int((v - lo) / width), count - 1)
            counts[index] += 1
    return [Bin(edges[i], edges[i + 1], counts[i]) for i in range(count)]


@dataclass(frozen=True, slots=True)
class ParetoInput:
    """Nonconformances of one defect code: how many and how much."""

    key: Hashable
    label: str
    count: int
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class ParetoBar:
    """One bar of a Pareto chart with the cumulative share of the measure up to and including it, in %."""

    key: Hashable
    label: str
    count: int
    quantity: Decimal
    cumulative_pct: Decimal


def pareto(rows: Sequence[ParetoInput], *, by: str = "count") -> list[ParetoBar]:
    """Sort defect groups by ``by`` ("count" or "quantity") descending and add the cumulative percentage.

    Ties are broken by the other measure, then by label. The cumulative percentage of the last bar
    is exactly 100 (when the total is not zero; all zero gives 0 throughout).
    """
    if by not in ("count", "quantity"):
        msg = f"unknown Pareto measure {by!r}"
        raise ValueError(msg)

    def measure(r: ParetoInput) -> Decimal:
        return Decimal(r.count) if by == "count" else r.quantity

    ordered = sorted(
        rows,
        key=lambda r: (-measure(r), -(r.quantity if by == "count" else Decimal(r.count)), r.label),
    )
    total = sum((measure(r) for r in ordered), Decimal(0))
    out: list[ParetoBar] = []
    running = Decimal(0)
    with localcontext() as c:
        c.prec = PRECISION
        for r in ordered:
            running += measure(r)
            pct = running * HUNDRED / total if total else Decimal(0)
            out.append(ParetoBar(r.key, r.label, r.count, r.quantity, pct))
    return out
