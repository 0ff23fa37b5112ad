"""Timezone-aware UTC time, the only clock the platform reads.

``frozen_at`` sets the time this clock reads for the current context (a thread or task): the demo
seeds a year of history with it, and tests freeze time with it. Code that needs real elapsed time
(time-outs, back-off) uses ``time.monotonic`` instead, which the override never touches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_frozen: ContextVar[datetime | None] = ContextVar("hexmill_clock_frozen", default=None)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (or the time frozen for this context)."""
    frozen = _frozen.get()
    return frozen if frozen is not None else datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; naive values (as SQLite returns them) are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Make ``utcnow`` return ``moment`` (aware; taken as UTC if naive) inside the block, in this context only."""
    token = _frozen.set(as_utc(moment))
    try:
        yield
    finally:
        _frozen.reset(token)
