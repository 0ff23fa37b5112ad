"""Bill-of-materials algorithms with no I/O: version choice, multi-level explosion, low-level codes, cycles.

Items are identified by any hashable key (the service uses item ids). Quantities are Decimal: a
line's ``quantity`` is per one unit of its parent, in the component's base unit; its scrap factor
``s`` (0 ≤ s < 1) is the share of the component lost in making the parent, so the gross need is
``quantity / (1 - s)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class CycleError(ValueError, Generic[K]):
    """The BOM structure contains a cycle; ``cycle`` lists it, first item repeated at the end."""

    def __init__(self, cycle: Sequence[K]) -> None:
        """Keep the cycle as items in order, e.g. ``[a, b, c, a]``."""
        super().__init__(" → ".join(str(k) for k in cycle))
        self.cycle = list(cycle)


@dataclass(frozen=True, slots=True)
class Line(Generic[K]):
    """One component of a BOM version; ``condition`` is an option value the parent must be configured with."""

    component: K
    quantity: Decimal
    scrap: Decimal = Decimal(0)
    condition: Hashable | None = None
    ref: Hashable | None = None

    def __post_init__(self) -> None:
        """Refuse quantities and scrap factors outside their ranges."""
        if self.quantity <= 0:
            msg = f"quantity must be greater than zero, not {self.quantity}"
            raise ValueError(msg)
        if not Decimal(0) <= self.scrap < Decimal(1):
            msg = f"scrap factor must be at least 0 and below 1, not {self.scrap}"
            raise ValueError(msg)

    @property
    def gross(self) -> Decimal:
        """Return the need per parent unit including scrap."""
        return self.quantity / (Decimal(1) - self.scrap)


@dataclass(frozen=True, slots=True)
class Version(Generic[K]):
    """One version of an item's BOM, effective from ``start`` (inclusive) to ``end`` (exclusive)."""

    lines: tuple[Line[K], ...]
    start: date | None = None
    end: date | None = None
    default: bool = False
    name: str = ""

    def effective(self, on: date) -> bool:
        """Return whether the version applies on ``on``."""
        return (self.start is None or self.start <= on) and (self.end is None or on < self.end)


@dataclass(frozen=True, slots=True)
class Need(Generic[K]):
    """One row of an explosion: a component needed at a level, on the way ``path`` from the top."""

    level: int
    parent: K
    component: K
    quantity: Decimal
    path: tuple[K, ...] = field(default=())
    ref: Hashable | None = None


def choose_version(versions: Iterable[Version[K]], on: date) -> Version[K] | None:
    """Return the version that applies on ``on``: a default one first, then the one starting latest."""
    candidates = [v for v in versions if v.effective(on)]
    if not candidates:
        return None
    return max(candidates, key=lambda v: (v.default, v.start or date.min))


def explode(
    boms: Mapping[K, Sequence[Version[K]]],
    item: K,
    quantity: Decimal,
    *,
    on: date,
    options: frozenset[Hashable] = frozenset(),
) -> list[Need[K]]:
    """Return every component needed to make ``quantity`` of ``item`` on ``on``, level by level (depth first).

    Args:
        boms: The BOM versions of each item that has any; items without one are bought or raw.
        item: The item to make.
        quantity: How much of it, in its base unit.
        on: The date that chooses each item's BOM version.
        options: The option values the item is configured with; a conditional line applies only if
            its condition is among them.

    Returns:
        One row per BOM line reached, with the gross quantity (scrap included) for the whole order.

    Raises:
        CycleError: An item is (indirectly) a component of itself.
    """
    out: list[Need[K]] = []

    def walk(parent: K, qty: Decimal, level: int, path: tuple[K, ...]) -> None:
        version = choose_version(boms.get(parent, ()), on)
        if version is None:
            return
        for line in version.lines:
            if line.condition is not None and line.condition not in options:
                continue
            if line.component in path:
                start = path.index(line.component)
                raise CycleError([*path[start:], line.component])
            need = qty * line.gross
            out.append(Need(level, parent, line.component, need, (*path, line.component), line.ref))
            walk(line.component, need, level + 1, (*path, line.component))

    walk(item, Decimal(quantity), 1, (item,))
    return out


def totals(needs: Iterable[Need[K]]) -> dict[K, Decimal]:
    """Sum an explosion's needs per component."""
    out: dict[K, Decimal] = {}
    for need in needs:
        out[need.component] = out.get(need.component, Decimal(0)) + need.quantity
    return out


def find_cycle(edges: Mapping[K, Iterable[K]]) -> list[K] | None:
    """Return one cycle of the parent → component graph as ``[a, b, ..., a]``, or None if there is none."""
    white, grey, black = 0, 1, 2
    colour: dict[K, int] = {}
    for root in edges:
        if colour.get(root, white) != white:
            continue
        # Iterative depth-first search: deep BOMs must not hit the recursion limit.
        stack: list[tuple[K, list[K]]] = [(root, list(edges.get(root, ())))]
        path: list[K] = [root]
        colour[root] = grey
        while stack:
            node, children = stack[-1]
            if not children:
                colour[node] = black
                stack.pop()
                path.pop()
                continue
            child = children.pop()
            state = colour.get(child, white)
            if state == grey:
                return [*path[path.index(child) :], child]
            if state == white:
                colour[child] = grey
                path.append(child)
                stack.append((child, list(edges.get(child, ()))))
    return None


def low_level_codes(edges: Mapping[K, Iterable[K]]) -> dict[K, int]:
    """Return each item's low-level code: the deepest level it appears at in any structure (0 = top only).

    Raises:
        CycleError: The graph has a cycle (it has no low-level codes then).
    """
    cycle = find_cycle(edges)
    if cycle is not None:
        raise CycleError(cycle)
    nodes: set[K] = set(edges)
    for children in edges.values():
        nodes.update(children)
    indegree = dict.fromkeys(nodes, 0)
    for parent in edges:
        for child in set(edges[parent]):
            indegree[child] += 1
    code = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indegree[n] == 0]
    # Kahn's order: a child is settled once all of its parents are, at one below the deepest of them.
    while ready:
        node = ready.pop()
        for child in set(edges.get(node, ())):
            code[child] = max(code[child], code[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return code
