"""Genealogy graphs as pure functions: depths of lots and the tree shown for a trace.

A trace query returns edges (parent lot, child lot): in a trace down the parent was produced from
the child; in a trace up the parent was produced from it. The graph is acyclic in a sane factory,
but nothing here relies on it: every lot is expanded once, later occurrences are marked as
repeats, so a shared component or a bad record cannot make the tree grow without end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class TraceNode:
    """One lot in a trace tree; ``repeat`` says it was expanded higher up already."""

    lot_id: int
    depth: int
    children: list[TraceNode] = field(default_factory=list)
    repeat: bool = False


def adjacency(edges: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    """Return each parent's children, sorted, without duplicates."""
    out: dict[int, set[int]] = {}
    for parent, child in edges:
        out.setdefault(parent, set()).add(child)
    return {k: sorted(v) for k, v in out.items()}


def depths(root: int, edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Return the shortest number of levels from ``root`` to every lot it reaches (root at 0)."""
    adj = adjacency(edges)
    seen = {root: 0}
    queue = deque([root])
    while queue:
        lot = queue.popleft()
        for child in adj.get(lot, ()):
            if child not in seen:
                seen[child] = seen[lot] + 1
                queue.append(child)
    return seen


def tree(root: int, edges: Iterable[tuple[int, int]]) -> TraceNode:
    """Return the trace as a tree, breadth first, each lot expanded once."""
    adj = adjacency(edges)
    top = TraceNode(root, 0)
    expanded = {root}
    queue = deque([top])
    while queue:
        node = queue.popleft()
        for child in adj.get(node.lot_id, ()):
            sub = TraceNode(child, node.depth + 1, repeat=child in expanded)
            node.children.append(sub)
            if not sub.repeat:
                expanded.add(child)
                queue.append(sub)
    return top
