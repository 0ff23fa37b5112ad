"""Plain value types every connector hands to telemetry: readings, quality and timestamps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

#: A telemetry value as devices send it.
Value = float | int | bool | str

#: Quality bit set on points that an edge agent replayed from its buffer (late, not live).
HISTORICAL = 0x10


class Quality(IntEnum):
    """How far a point can be trusted, after OPC UA's Good / Uncertain / Bad and Sparkplug's stale."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2
    STALE = 3


def quality_code(quality: Quality, *, historical: bool = False) -> int:
    """Pack a quality and the historical flag into the stored small integer."""
    return int(quality) | (HISTORICAL if historical else 0)


def unpack_quality(code: int) -> tuple[Quality, bool]:
    """Split a stored quality code into its quality and historical flag."""
    return Quality(code & 0x0F), bool(code & HISTORICAL)


def to_micros(ts: datetime) -> int:
    """Turn an aware datetime into integer microseconds since the Unix epoch (UTC)."""
    if ts.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    """Turn integer microseconds since the Unix epoch into an aware UTC datetime."""
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one device field at one instant, as a connector read it.

    ``field`` is the device's own name for the value (a Modbus register name, an OPC UA node
    mapping name, a JSON key, a Sparkplug metric name); the device registry maps it to an
    equipment tag. ``ts_us`` is microseconds since the Unix epoch, UTC.
    """

    field: str
    ts_us: int
    value: Value | None
    quality: Quality = Quality.GOOD
    historical: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError(f"{self.field}: value is not a finite number")
