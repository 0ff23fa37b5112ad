"""Property tests of imports: for a generated file with random rows corrupted (each a random fault), the
rows reported are exactly the corrupted ones and nothing is imported; with none corrupted, every row is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexmill.core.errors import InvalidInput
from hexmill.factory.imports import columns, reading, service
from tests.conftest import unique
from tests.factory.imports.conftest import ITEM_HEADER, Works, as_file

FAULTS = ("bad_bool", "bad_kind", "unknown_uom", "duplicate", "no_name", "spaced_code", "long_name", "bad_tracking")


@st.composite
def corrupted_files(draw: st.DrawFn) -> tuple[int, dict[int, str], str]:
    """Draw a row count, the faults of some rows (by index) and a file format."""
    n = draw(st.integers(min_value=1, max_value=25))
    bad = draw(st.sets(st.integers(min_value=0, max_value=n - 1), max_size=n))
    faults = {i: draw(st.sampled_from(FAULTS)) for i in sorted(bad)}
    # A duplicate copies the code of the first row, which must then be a good one.
    if 0 in faults or not faults:
        faults = {i: f for i, f in faults.items() if f != "duplicate"}
    return n, faults, draw(st.sampled_from(["csv", "xlsx"]))


def _rows(prefix: str, uom: str, n: int, faults: dict[int, str]) -> list[list[Any]]:
    rows: list[list[Any]] = [[f"{prefix}-{i}", f"Part {i}", "raw", uom, "none", "no"] for i in range(n)]
    for i, fault in faults.items():
        row = rows[i]
        match fault:
            case "bad_bool":
                row[5] = "sometimes"
            case "bad_kind":
                row[2] = "liquid"
            case "unknown_uom":
                row[3] = "furlong"
            case "duplicate":
                row[0] = rows[0][0]
            case "no_name":
                row[1] = ""
            case "spaced_code":
                row[0] = f"{prefix} {i}"
            case "long_name":
                row[1] = "x" * 201
            case "bad_tracking":
                row[4] = "by weight"
    return rows


@given(corrupted_files())
@settings(max_examples=200, deadline=None)
def test_parse_reports_exactly_the_corrupted_rows(case: tuple[int, dict[int, str], str]) -> None:
    n, faults, fmt = case
    data = as_file(ITEM_HEADER, _rows("P", "pcs", n, {i: f for i, f in faults.items() if f != "unknown_uom"}), fmt)
    parsed = columns.parse(columns.ITEMS, reading.read(data))
    expected = {i + 2 for i, f in faults.items() if f != "unknown_uom"}
    assert {e.row for e in parsed.errors} == expected == parsed.bad_rows
    assert [r.number for r in parsed.rows] == [i + 2 for i in range(n) if i + 2 not in expected]


@pytest.fixture
def one_works(works: Works) -> Works:
    """Return one import set-up shared by every example of a property (examples use fresh codes)."""
    return works


@given(case=corrupted_files())
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_import_refuses_exactly_the_corrupted_rows_or_imports_all(
    one_works: Works, case: tuple[int, dict[int, str], str]
) -> None:
    n, faults, fmt = case
    works = one_works
    data = as_file(ITEM_HEADER, _rows(unique("H")[-14:], works.uom, n, faults), fmt)
    before = works.count_items()
    run: Callable[[], Any]
    with works.plant.session() as (s, ctx):
        run = lambda: service.import_file(s, ctx, kind="items", data=data)  # noqa: E731 - called below, once
        if faults:
            with pytest.raises(InvalidInput) as caught:
                run()
            assert {e.row for e in caught.value.errors} == {i + 2 for i in faults}
        else:
            assert run().created == {"items": n}
    assert works.count_items() == before + (0 if faults else n)
