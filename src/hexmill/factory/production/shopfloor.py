"""Pure rules of shop-floor reporting: an operation's state, quantities and labour time from its events.

An operation of a work order is pending until it is started; it then runs, may be paused and
resumed any number of times, and is finished once. Every report is an event (start, pause,
resume, finish, or a plain quantity report while running or paused); the operation's state is the
fold of its events in order, so it is never stored apart from them (the service keeps the fold's
result beside the operation as a cache, recomputed from the events on each report).

Labour time is the length of the running intervals, in minutes: an interval opens with start or
resume and closes with pause or finish. An event that closes an interval and carries entered
labour minutes counts those instead of the clock (an operator who forgot to pause); a quantity
report's entered minutes are added as they are. Events must come in time order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

ZERO: Final = Decimal(0)
MINUTE: Final = Decimal(60)
STATES: Final = ("pending", "running", "paused", "finished")
KINDS: Final = ("start", "pause", "resume", "finish", "report")
# (state, event kind) -> the state after it; anything else is refused.
TRANSITIONS: Final[dict[tuple[str, str], str]] = {
    ("pending", "start"): "running",
    ("running", "pause"): "paused",
    ("paused", "resume"): "running",
    ("running", "finish"): "finished",
    ("paused", "finish"): "finished",
    ("running", "report"): "running",
    ("paused", "report"): "paused",
}
# Events that may carry quantities: the others only change the state.
COUNTING: Final = frozenset({"pause", "finish", "report"})


@dataclass(frozen=True, slots=True)
class Event:
    """One shop-floor report: what happened, when, and the good and scrap quantities it reports."""

    kind: str
    at: datetime
    good: Decimal = ZERO
    scrap: Decimal = ZERO
    labour_minutes: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OperationState:
    """An operation after its events: state, totals, labour minutes, and when it ran."""

    status: str = "pending"
    good: Decimal = ZERO
    scrap: Decimal = ZERO
    labour_minutes: Decimal = ZERO
    running_since: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_at: datetime | None = None


class IllegalTransition(Exception):
    """An event that the operation's current state does not allow."""

    def __init__(self, status: str, kind: str) -> None:
        """Keep the state and the refused event kind."""
        super().__init__(f"{kind} while {status}")
        self.status, self.kind = status, kind


class OutOfOrder(Exception):
    """An event dated before the operation's previous event."""

    def __init__(self, at: datetime, last: datetime) -> None:
        """Keep the event's time and the previous event's."""
        super().__init__(f"{at.isoformat()} < {last.isoformat()}")
        self.at, self.last = at, last


class BadQuantity(Exception):
    """Quantities on an event that carries none, or negative quantities."""

    def __init__(self, kind: str) -> None:
        """Keep the event kind."""
        super().__init__(kind)
        self.kind = kind


def minutes_between(start: datetime, end: datetime) -> Decimal:
    """Return the minutes from ``start`` to ``end`` as a Decimal (microsecond exact)."""
    delta = end - start
    micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micro) / Decimal(60_000_000)


def allowed(status: str) -> list[str]:
    """Return the event kinds the state allows, in the order of KINDS."""
    return [kind for kind in KINDS if (status, kind) in TRANSITIONS]


def apply(state: OperationState, event: Event) -> OperationState:
    """Return the state after ``event``, or raise IllegalTransition, OutOfOrder or BadQuantity."""
    after = TRANSITIONS.get((state.status, event.kind))
    if after is None:
        raise IllegalTransition(state.status, event.kind)
    if state.last_at is not None and event.at < state.last_at:
        raise OutOfOrder(event.at, state.last_at)
    if event.good < ZERO or event.scrap < ZERO or (event.labour_minutes is not None and event.labour_minutes < ZERO):
        raise BadQuantity(event.kind)
    if event.kind not in COUNTING and (event.good or event.scrap or event.labour_minutes is not None):
        raise BadQuantity(event.kind)
    labour = state.labour_minutes
    running_since = state.running_since
    if state.status == "running" and after != "running":
        since = running_since or event.at  # a running state always has its start; this keeps mypy content
        labour += event.labour_minutes if event.labour_minutes is not None else minutes_between(since, event.at)
        running_since = None
    elif event.labour_minutes is not None:
        labour += event.labour_minutes
    if after == "running" and state.status != "running":
        running_since = event.at
    return replace(
        state,
        status=after,
        good=state.good + event.good,
        scrap=state.scrap + event.scrap,
        labour_minutes=labour,
        running_since=running_since,
        started_at=state.started_at or (event.at if event.kind == "start" else None),
        finished_at=event.at if after == "finished" else None,
        last_at=event.at,
    )


def fold(events: Iterable[Event], state: OperationState | None = None) -> OperationState:
    """Return the state after every event in order, from pending unless a state is given."""
    out = state or OperationState()
    for event in events:
        out = apply(out, event)
    return out


def within_previous(good_after: Decimal, previous_good: Decimal | None) -> bool:
    """Return whether an operation's good total may reach ``good_after`` given the previous operation's good.

    The first operation (``previous_good`` None) is bounded by nothing here; a later one cannot
    have made more good than the one before it passed on.
    """
    return previous_good is None or good_after <= previous_good
