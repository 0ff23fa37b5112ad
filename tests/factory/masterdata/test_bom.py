"""Properties of the pure BOM algorithms: explosion against brute force, cycles found and named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexmill.factory.masterdata.bom import (
    CycleError,
    Line,
    Version,
    choose_version,
    explode,
    find_cycle,
    low_level_codes,
    totals,
)

TODAY = date(2026, 11, 22)
QTY = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(50), places=3)
SCRAP = st.sampled_from([Decimal(0), Decimal("0.05"), Decimal("0.1"), Decimal("0.25"), Decimal("0.5")])


@st.composite
def acyclic_boms(draw: st.DrawFn) -> dict[int, list[Version[int]]]:
    """Draw BOMs over items 0..n-1 where a component always has a larger number than its parent."""
    n = draw(st.integers(min_value=2, max_value=7))
    boms: dict[int, list[Version[int]]] = {}
    for parent in range(n - 1):
        children = draw(st.lists(st.integers(min_value=parent + 1, max_value=n - 1), max_size=3))
        if children:
            lines = tuple(Line(c, draw(QTY), draw(SCRAP)) for c in children)
            boms[parent] = [Version(lines, default=True)]
    return boms


def brute_force(boms: dict[int, list[Version[int]]], item: int, qty: Decimal) -> dict[int, Decimal]:
    """Sum, over every path from the item down, the product of the lines' gross quantities."""
    out: dict[int, Decimal] = {}
    paths: list[tuple[int, Decimal]] = [(item, qty)]
    while paths:
        node, amount = paths.pop()
        for line in boms.get(node, [Version(())])[0].lines:
            need = amount * line.quantity / (1 - line.scrap)
            out[line.component] = out.get(line.component, Decimal(0)) + need
            paths.append((line.component, need))
    return out


@settings(max_examples=60, deadline=None)
@given(boms=acyclic_boms(), qty=QTY)
def test_explosion_matches_brute_force(boms: dict[int, list[Version[int]]], qty: Decimal) -> None:
    got = totals(explode(boms, 0, qty, on=TODAY))
    want = brute_force(boms, 0, qty)
    assert set(got) == set(want)
    for key, value in want.items():
        assert abs(got[key] - value) <= value * Decimal("1e-20")


@settings(max_examples=60, deadline=None)
@given(boms=acyclic_boms())
def test_low_level_codes_put_every_component_below_each_parent(boms: dict[int, list[Version[int]]]) -> None:
    edges = {p: [line.component for line in v[0].lines] for p, v in boms.items()}
    codes = low_level_codes(edges)
    for parent, children in edges.items():
        for child in children:
            assert codes[child] > codes[parent]
    assert find_cycle(edges) is None


@settings(max_examples=80, deadline=None)
@given(boms=acyclic_boms(), data=st.data())
def test_an_added_back_edge_is_found_as_a_real_cycle(boms: dict[int, list[Version[int]]], data: st.DataObject) -> None:
    edges = {p: [line.component for line in v[0].lines] for p, v in boms.items()}
    pairs = [(p, c) for p, cs in edges.items() for c in cs]
    if not pairs:
        return
    parent, child = data.draw(st.sampled_from(pairs))
    edges.setdefault(child, []).append(parent)  # child → parent closes the loop
    cycle = find_cycle(edges)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    for a, b in pairwise(cycle):
        assert b in edges[a]
    with pytest.raises(CycleError):
        low_level_codes(edges)


def test_cycle_is_named_in_order() -> None:
    edges = {"A": ["B"], "B": ["C"], "C": ["A"]}
    cycle = find_cycle(edges)
    assert cycle is not None
    assert " → ".join(cycle) in {"A → B → C → A", "B → C → A → B", "C → A → B → C"}
    assert str(CycleError(["A", "B", "C", "A"])) == "A → B → C → A"


def test_explosion_refuses_a_cycle() -> None:
    boms = {1: [Version((Line(2, Decimal(1)),))], 2: [Version((Line(1, Decimal(1)),))]}
    with pytest.raises(CycleError) as exc:
        explode(boms, 1, Decimal(1), on=TODAY)
    assert exc.value.cycle == [1, 2, 1]


def test_scrap_and_levels() -> None:
    boms = {
        "bike": [Version((Line("wheel", Decimal(2)), Line("frame", Decimal(1), Decimal("0.2"))))],
        "wheel": [Version((Line("spoke", Decimal(32), Decimal("0.04")),))],
    }
    needs = explode(boms, "bike", Decimal(10), on=TODAY)
    assert [(n.level, n.component) for n in needs] == [(1, "wheel"), (2, "spoke"), (1, "frame")]
    got = totals(needs)
    assert got["wheel"] == 20
    assert got["frame"] == Decimal("12.5")
    assert abs(got["spoke"] - Decimal(640) / Decimal("0.96")) < Decimal("1e-20")


def test_effective_dates_and_options_choose_lines() -> None:
    old = Version((Line("a", Decimal(1)),), end=date(2026, 1, 1))
    new = Version((Line("b", Decimal(1)), Line("red", Decimal(1), condition="red")), start=date(2026, 1, 1))
    boms = {"x": [old, new]}
    assert choose_version([old, new], date(2025, 6, 1)) is old
    assert [n.component for n in explode(boms, "x", Decimal(1), on=date(2025, 6, 1))] == ["a"]
    assert [n.component for n in explode(boms, "x", Decimal(1), on=TODAY)] == ["b"]
    assert [n.component for n in explode(boms, "x", Decimal(1), on=TODAY, options=frozenset({"red"}))] == ["b", "red"]


def test_line_refuses_bad_scrap() -> None:
    with pytest.raises(ValueError, match="scrap"):
        Line("a", Decimal(1), Decimal(1))
