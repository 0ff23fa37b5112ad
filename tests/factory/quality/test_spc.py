"""The pure statistics of quality: known Cp/Cpk figures, no index without spread, and properties of
capability (shift and scale invariance, Cpk ≤ Cp), histograms and the defect Pareto."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.factory.quality import spc

D = Decimal
values_st = st.lists(
    st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
    min_size=2,
    max_size=40,
)
limit_st = st.decimals(min_value=-2000, max_value=2000, places=3, allow_nan=False, allow_infinity=False)


def close(a: Decimal | None, b: Decimal | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= D("1e-25") * max(D(1), abs(a), abs(b))


def test_known_capability() -> None:
    values = [D(9), D(10), D(11), D(10), D(10)]
    cap = spc.capability(values, D(7), D(13))
    assert cap.n == 5
    assert cap.mean == D(10)
    assert close(cap.sigma, D("0.5").sqrt())  # squares 1+0+1+0+0 = 2, over n-1 = 4
    assert close(cap.cp, D(6) / (6 * D("0.5").sqrt()))
    assert close(cap.cpk, D(3) / (3 * D("0.5").sqrt()))
    off = spc.capability([v + 1 for v in values], D(7), D(13))
    assert close(off.cpk, D(2) / (3 * D("0.5").sqrt()))
    assert close(off.cpu, off.cpk)
    assert off.cpl is not None and off.cpk is not None and off.cpl > off.cpk


def test_one_sided_limits_give_only_cpk() -> None:
    values = [D(1), D(2), D(3)]
    upper = spc.capability(values, None, D(5))
    assert upper.cp is None and upper.cpl is None
    assert upper.cpu == upper.cpk == D(3) / 3
    lower = spc.capability(values, D(0), None)
    assert lower.cp is None and lower.cpu is None
    assert lower.cpl == lower.cpk
    assert close(lower.cpk, D(2) / 3)


@pytest.mark.parametrize("values", [[], [D(5)], [D(5), D(5), D(5)]])
def test_no_index_without_two_values_or_spread(values: list[Decimal]) -> None:
    cap = spc.capability(values, D(0), D(10))
    assert (cap.cp, cap.cpk, cap.cpu, cap.cpl) == (None, None, None, None)
    assert cap.n == len(values)


@given(values_st, limit_st, st.decimals(min_value=D("0.001"), max_value=1000, places=3), limit_st)
def test_shift_leaves_indices_unchanged(values: list[Decimal], lsl: Decimal, span: Decimal, shift: Decimal) -> None:
    usl = lsl + span
    a = spc.capability(values, lsl, usl)
    b = spc.capability([v + shift for v in values], lsl + shift, usl + shift)
    for x, y in ((a.cp, b.cp), (a.cpk, b.cpk), (a.cpu, b.cpu), (a.cpl, b.cpl)):
        assert close(x, y)


@given(
    values_st,
    limit_st,
    st.decimals(min_value=D("0.001"), max_value=1000, places=3),
    st.sampled_from(["0.01", "3", "250"]),
)
def test_scaling_by_a_positive_factor_leaves_indices_unchanged(
    values: list[Decimal], lsl: Decimal, span: Decimal, k: str
) -> None:
    f = D(k)
    usl = lsl + span
    a = spc.capability(values, lsl, usl)
    b = spc.capability([v * f for v in values], lsl * f, usl * f)
    for x, y in ((a.cp, b.cp), (a.cpk, b.cpk)):
        assert close(x, y)


@given(values_st, limit_st, st.decimals(min_value=D("0.001"), max_value=1000, places=3))
def test_cpk_never_exceeds_cp(values: list[Decimal], lsl: Decimal, span: Decimal) -> None:
    cap = spc.capability(values, lsl, lsl + span)
    if cap.cp is None:
        assert cap.cpk is None
        assert cap.sigma is None or cap.sigma == 0
    else:
        assert cap.cpk is not None
        # Both are rounded to 40 digits: allow the last digit, in a context wide enough to hold it
        # (the default 28-digit context would round cp + 1e-30 back below cp).
        with localcontext() as wide:
            wide.prec = 60
            assert cap.cpk <= cap.cp + D("1e-30")


@given(values_st, st.integers(min_value=1, max_value=40))
def test_histogram_counts_every_value_once(values: list[Decimal], bins: int) -> None:
    hist = spc.histogram(values, bins=bins)
    assert sum(b.count for b in hist) == len(values)
    assert hist[0].low == min(values) and hist[-1].high == max(values)
    assert all(b.low <= b.high for b in hist)


def test_tolerance_is_inclusive_and_open_on_a_missing_limit() -> None:
    assert spc.in_tolerance(D(10), D(10), D(12))
    assert spc.in_tolerance(D(12), D(10), D(12))
    assert not spc.in_tolerance(D("12.000001"), D(10), D(12))
    assert spc.in_tolerance(D(-99), None, D(0))
    assert not spc.in_tolerance(D(-99), D(0), None)


pareto_rows = st.lists(
    st.builds(
        spc.ParetoInput,
        key=st.integers(min_value=1, max_value=10_000),
        label=st.text(min_size=1, max_size=5),
        count=st.integers(min_value=0, max_value=500),
        quantity=st.decimals(min_value=0, max_value=10_000, places=6),
    ),
    max_size=20,
)


@given(pareto_rows, st.sampled_from(["count", "quantity"]))
def test_pareto_descends_and_cumulates_to_one_hundred(rows: list[spc.ParetoInput], by: str) -> None:
    bars = spc.pareto(rows, by=by)
    assert len(bars) == len(rows)
    measures = [D(b.count) if by == "count" else b.quantity for b in bars]
    assert measures == sorted(measures, reverse=True)
    cumulative = [b.cumulative_pct for b in bars]
    assert cumulative == sorted(cumulative)
    if sum(measures) > 0:
        assert cumulative[-1] == D(100)
    else:
        assert all(c == 0 for c in cumulative)


def test_pareto_example() -> None:
    rows = [
        spc.ParetoInput(1, "scratch", 2, D(5)),
        spc.ParetoInput(2, "dent", 6, D(1)),
        spc.ParetoInput(3, "burr", 2, D(9)),
    ]
    bars = spc.pareto(rows)
    assert [(b.label, b.cumulative_pct) for b in bars] == [("dent", D(60)), ("burr", D(80)), ("scratch", D(100))]
    by_qty = spc.pareto(rows, by="quantity")
    assert [b.label for b in by_qty] == ["burr", "scratch", "dent"]
