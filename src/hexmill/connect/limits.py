"""Ingest limits per device and per tenant: token buckets on message rate, caps on size.

A device that floods is refused on its own, and a tenant whose devices together flood is
refused without touching other tenants' devices: each has a bucket of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from hexmill.core.i18n import N_


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """The caps an ingest path enforces (0 turns a rate cap off)."""

    device_messages_per_s: float = 200.0
    tenant_messages_per_s: float = 20_000.0
    max_payload_bytes: int = 1_048_576
    max_points_per_message: int = 10_000


@dataclass(slots=True)
class _Bucket:
    rate: float
    tokens: float
    stamp: float


#: Why a message was refused, as msgids the caller translates.
DEVICE_RATE: Final = N_("The device sends faster than %(rate)s messages per second.")
TENANT_RATE: Final = N_("The enterprise's devices send faster than %(rate)s messages per second together.")


@dataclass
class RateLimiter:
    """Token buckets keyed by device and by tenant; burst capacity is one second's worth.

    ``share`` is this limiter's part of the traffic when several processes split it (the MQTT
    ingest workers of one shared subscription each see about 1/N of every device's messages):
    each bucket fills at ``share`` of the limit, so together the workers hold the limit.
    """

    limits: IngestLimits
    clock: Callable[[], float] = time.monotonic
    share: float = 1.0
    _buckets: dict[tuple[str, int], _Bucket] = field(default_factory=dict)

    def _take(self, key: tuple[str, int], limit: float) -> bool:
        if limit <= 0:
            return True
        rate = limit * self.share
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, max(1.0, rate), now)
        bucket.tokens = min(max(1.0, rate), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def admit(self, device_id: int, tenant_id: int) -> str | None:
        """Take one message's tokens; return None when admitted, else the refusal msgid."""
        if not self._take(("device", device_id), self.limits.device_messages_per_s):
            return DEVICE_RATE
        if not self._take(("tenant", tenant_id), self.limits.tenant_messages_per_s):
            return TENANT_RATE
        return None
