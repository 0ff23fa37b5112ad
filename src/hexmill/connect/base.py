"""What every connector shares: where readings go, how link state is reported, how to back off."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hexmill.core.errors import HexmillError
from hexmill.core.i18n import N_
from hexmill.telemetry.points import Reading

#: Receives each batch of readings a connector produced; awaiting it means "stored" (ack after commit).
ReadingSink = Callable[[Sequence[Reading]], Awaitable[None]]


class LinkState(StrEnum):
    """The connection state of one device link, shown on the equipment page."""

    CONNECTING = "connecting"
    ONLINE = "online"
    UNAVAILABLE = "unavailable"


#: Receives link-state changes with a short reason (``None`` when online).
StateSink = Callable[[LinkState, str | None], None]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off with full jitter between reconnect attempts."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return the pause before reconnect ``attempt`` (0-based), jittered in [cap/2, cap]."""
        cap = min(self.maximum, self.initial * self.factor**attempt)
        return cap / 2 + (rng or random).random() * cap / 2  # jitter, not cryptography


class ConnectionFailed(HexmillError):
    """A connector's peer (device, server or broker) could not be reached, or refused the connection."""

    status = 502
    slug = "connection-failed"
    title = N_("Connection failed")
