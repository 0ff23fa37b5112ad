"""Properties of the pure production rules: the operation state machine over any event sequence, FIFO lot
picking and backflush quantities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.factory.production import materials, shopfloor

T0 = datetime(2026, 1, 1, tzinfo=UTC)
quantities = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
events = st.lists(
    st.tuples(
        st.sampled_from(shopfloor.KINDS),
        st.integers(min_value=-5, max_value=120),  # minutes after the previous event (negative: out of order)
        quantities,
        quantities,
        st.one_of(st.none(), st.decimals(min_value=0, max_value=600, places=1)),
    ),
    max_size=25,
)


@given(events)
def test_any_event_sequence_is_refused_or_keeps_state_and_labour_consistent(steps: list) -> None:  # type: ignore[type-arg]
    state = shopfloor.OperationState()
    at = T0
    accepted: list[shopfloor.Event] = []
    for kind, delta, good, scrap, labour in steps:
        at += timedelta(minutes=delta)
        counting = kind in shopfloor.COUNTING
        event = shopfloor.Event(
            kind,
            at,
            good if counting else Decimal(0),
            scrap if counting else Decimal(0),
            labour if counting else None,
        )
        try:
            after = shopfloor.apply(state, event)
        except shopfloor.IllegalTransition as exc:
            assert (state.status, kind) not in shopfloor.TRANSITIONS
            assert (exc.status, exc.kind) == (state.status, kind)
            continue
        except shopfloor.OutOfOrder:
            assert state.last_at is not None and at < state.last_at
            at = state.last_at
            continue
        assert after.status == shopfloor.TRANSITIONS[(state.status, kind)]
        accepted.append(event)
        state = after
    # The fold of the accepted events alone gives the same state.
    assert shopfloor.fold(accepted) == state
    # Totals are the sums of what was accepted.
    assert state.good == sum((e.good for e in accepted), Decimal(0))
    assert state.scrap == sum((e.scrap for e in accepted), Decimal(0))
    # Labour is the running intervals (or the minutes entered on the event closing one) plus entered report minutes.
    expected, since = Decimal(0), None
    for e in accepted:
        if e.kind in ("start", "resume"):
            since = e.at
        elif e.kind in ("pause", "finish") and since is not None:
            expected += e.labour_minutes if e.labour_minutes is not None else shopfloor.minutes_between(since, e.at)
            since = None
        elif e.labour_minutes is not None:
            expected += e.labour_minutes
    assert state.labour_minutes == expected >= 0
    assert (state.status == "running") == (state.running_since is not None)
    assert (state.status == "finished") == (state.finished_at is not None)
    assert (state.status == "pending") == (state.started_at is None)


def test_quantities_go_with_counting_events_only() -> None:
    with pytest.raises(shopfloor.BadQuantity):
        shopfloor.apply(shopfloor.OperationState(), shopfloor.Event("start", T0, good=Decimal(1)))
    with pytest.raises(shopfloor.BadQuantity):
        shopfloor.fold([shopfloor.Event("start", T0), shopfloor.Event("report", T0, good=Decimal(-1))])
    assert shopfloor.allowed("pending") == ["start"]
    assert shopfloor.allowed("running") == ["pause", "finish", "report"]
    assert shopfloor.allowed("paused") == ["resume", "finish", "report"]
    assert shopfloor.allowed("finished") == []


lots = st.lists(
    st.builds(
        materials.LotStock,
        st.integers(min_value=1, max_value=10_000),
        st.decimals(min_value=-5, max_value=100, places=6, allow_nan=False, allow_infinity=False),
    ),
    max_size=12,
    unique_by=lambda lot: lot.lot_id,
)


@given(lots, st.decimals(min_value=Decimal("0.000001"), max_value=500, places=6))
def test_fifo_picks_oldest_lots_first_and_add_up_exactly(stock: list[materials.LotStock], quantity: Decimal) -> None:
    available = sum((lot.available for lot in stock if lot.available > 0), Decimal(0))
    try:
        picks = materials.pick_fifo(stock, quantity)
    except materials.Shortage as exc:
        assert quantity > available and exc.available == available
        return
    assert sum((q for _, q in picks), Decimal(0)) == quantity
    ids = [lot for lot, _ in picks]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    by_id = {lot.lot_id: lot.available for lot in stock}
    assert all(0 < q <= by_id[lot] for lot, q in picks)
    # Every lot older than the last one picked is emptied.
    older = [lot for lot in stock if lot.available > 0 and lot.lot_id < ids[-1]]
    assert all(dict(picks)[lot.lot_id] == lot.available for lot in older)


@given(
    st.decimals(min_value=Decimal("0.0000000001"), max_value=100, places=10),
    st.lists(st.decimals(min_value=Decimal("0.001"), max_value=50, places=3), min_size=1, max_size=6),
)
def test_backflush_over_receipts_adds_up_to_per_unit_times_good(per_unit: Decimal, receipts: list[Decimal]) -> None:
    issued, good = Decimal(0), Decimal(0)
    for quantity in receipts:
        good += quantity
        part = materials.backflush_quantity(per_unit, good, issued)
        assert part >= 0
        issued += part
    assert issued == max(materials.q(per_unit * good), Decimal(0))
