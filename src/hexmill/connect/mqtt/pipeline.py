"""Turn batches of MQTT telemetry messages into stored points and dead letters, committed once per batch.

Both MQTT paths use it: the ingest worker behind an external broker and the embedded broker.
The device is named by the topic (``hexmill/v1/<client id>/telemetry``). The topic is trusted
only because the broker enforces it: Mosquitto's ACL lets a username write to its own topic
alone (``pattern write hexmill/v1/%u/telemetry``), and the embedded broker refuses any other
topic and also passes the authenticated username here as ``sender``. The tenant follows from the
device, never from the topic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.limits import DEVICE_RATE, IngestLimits, RateLimiter
from hexmill.connect.mqtt.config import topic_client_id
from hexmill.connect.payload import Rejection, parse_payload_points
from hexmill.connect.registry.models import Device
from hexmill.connect.registry.service import (
    DeviceCounters,
    DeviceIdentity,
    FieldResolver,
    IngestItem,
    ingest,
    ingest_worker_gone,
    ingest_workers_alive,
    write_device_counters,
)
from hexmill.core.clock import utcnow
from hexmill.core.tenancy import widened
from hexmill.telemetry.store import TelemetryStore

logger = logging.getLogger(__name__)

CHANNEL: Final = "mqtt"
#: Bytes of an oversized payload kept in its dead letter.
OVERSIZE_EXCERPT: Final = 200


class Refusal(StrEnum):
    """Why a whole message was refused (its dead letter says more)."""

    TOPIC = "topic"  # not a telemetry topic, or not the sender's own
    DEVICE = "device"  # no such device (deleted, or never provisioned)
    TOO_LARGE = "too-large"
    QUOTA = "quota"  # over the device's or the enterprise's message rate


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT publish to ingest; ``sender`` is the authenticated username when the caller knows it."""

    topic: str
    payload: bytes
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message: points stored, records refused, or why it was refused whole."""

    accepted: int = 0
    rejected: int = 0
    refusal: Refusal | None = None


@dataclass
class DeviceDirectory:
    """Map wire names (client ids) to device identities, remembering answers for ``ttl`` seconds."""

    ttl: float = 10.0
    _cache: dict[str, tuple[float, DeviceIdentity | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, session: Session, client_id: str) -> DeviceIdentity | None:
        """Return the device named ``client_id``, or None when there is none."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with widened(session):
            device = session.scalar(select(Device).where(Device.client_id == client_id))
        identity = (
            None
            if device is None
            else DeviceIdentity(device.id, device.tenant_id, device.equipment_id, device.client_id, device.protocol)
        )
        with self._lock:
            self._cache[client_id] = (now + self.ttl, identity)
        return identity


@dataclass
class SharedLimiter:
    """A rate limiter several worker threads of one process share."""

    limiter: RateLimiter
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, device_id: int, tenant_id: int) -> str | None:
        """Take one message's tokens; return None when admitted, else the refusal msgid."""
        with self._lock:
            return self.limiter.admit(device_id, tenant_id)

    def set_share(self, share: float) -> None:
        """Set this process's part of the group's traffic (its workers over all the group's workers)."""
        with self._lock:
            self.limiter.share = min(1.0, max(share, 1e-6))


def _now_us() -> int:
    return time.time_ns() // 1000


class TelemetryPipeline:
    """Ingest batches of messages: one telemetry write and one application commit per batch.

    With ``counters`` the device counters of each batch are added up in memory rather than
    written in the batch's transaction; ``write_counters`` writes them (the ingest worker calls it
    every few seconds and when it stops). Without, every batch updates them.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        store: TelemetryStore,
        limits: IngestLimits,
        *,
        limiter: SharedLimiter | None = None,
        directory: DeviceDirectory | None = None,
        resolver: FieldResolver | None = None,
        counters: DeviceCounters | None = None,
        now_us: Callable[[], int] = _now_us,
    ) -> None:
        self._factory = session_factory
        self._store = store
        self.limits = limits
        self._limiter = limiter or SharedLimiter(RateLimiter(limits))
        self._directory = directory or DeviceDirectory()
        self._resolver = resolver or FieldResolver()
        self.counters = counters
        self._now_us = now_us

    def process(self, messages: Sequence[Message]) -> list[Outcome]:
        """Store the points of ``messages`` and commit their dead letters; return one outcome each.

        When this returns, everything is committed and the messages may be acknowledged; when it
        raises (the database is unreachable), nothing may be acknowledged.
        """
        now_us = self._now_us()
        outcomes: list[Outcome | None] = []
        items: list[IngestItem] = []
        slots: list[tuple[int, Refusal | None]] = []
        # A batch carries many messages of few devices: look each topic's device up once.
        devices: dict[str, tuple[str | None, DeviceIdentity | None]] = {}
        with self._factory() as session:
            for message in messages:
                known = devices.get(message.topic)
                if known is None:
                    client_id = topic_client_id(message.topic)
                    found = None if client_id is None else self._directory.get(session, client_id)
                    known = devices[message.topic] = (client_id, found)
                client_id, identity = known
                if client_id is None or (message.sender is not None and message.sender != client_id):
                    logger.warning(
                        "MQTT message on %s from %s refused: not its telemetry topic", message.topic, message.sender
                    )
                    outcomes.append(Outcome(refusal=Refusal.TOPIC))
                    continue
                if identity is None:
                    # No device, so no enterprise to file a dead letter under: log it only.
                    logger.warning("MQTT message from unknown device %s dropped", client_id)
                    outcomes.append(Outcome(refusal=Refusal.DEVICE))
                    continue
                item, refusal = self._item(identity, message.payload, now_us)
                slots.append((len(outcomes), refusal))
                items.append(item)
                outcomes.append(None)
            results = ingest(session, self._store, self._resolver, items, defer_counters=self.counters is not None)
            session.commit()
        if self.counters is not None:
            # Counted once committed: a batch that failed and is retried must not count twice.
            self.counters.add(items, results)
        for (index, refusal), result in zip(slots, results, strict=True):
            outcomes[index] = Outcome(result.accepted, len(result.rejections), refusal)
        return [o if o is not None else Outcome() for o in outcomes]

    def heartbeat(self, group: str, client_id: str, local_workers: int, stale_after: timedelta) -> int:
        """Record this worker as alive, and set the rate limits' share from the group's live workers; return them."""
        with self._factory() as session:
            now = utcnow()
            alive = ingest_workers_alive(session, group=group, client_id=client_id, now=now, stale_after=stale_after)
            session.commit()
        self._limiter.set_share(local_workers / max(alive, local_workers))
        return alive

    def leave(self, client_id: str) -> None:
        """Say this worker stops: the group's other workers take over its share of the limits."""
        with self._factory() as session:
            ingest_worker_gone(session, client_id)
            session.commit()

    def write_counters(self) -> int:
        """Write the device counters added up since the last write, in one commit; return the devices written.

        When the write fails the tallies are kept for the next one, and the error is raised.
        """
        if self.counters is None:
            return 0
        tallies = self.counters.take()
        if not tallies:
            return 0
        try:
            with self._factory() as session:
                write_device_counters(session, tallies)
                session.commit()
        except BaseException:
            self.counters.give_back(tallies)
            raise
        return len(tallies)

    def _item(self, identity: DeviceIdentity, payload: bytes, now_us: int) -> tuple[IngestItem, Refusal | None]:
        limits = self.limits
        if len(payload) > limits.max_payload_bytes:
            why = f"the payload has {len(payload)} bytes, more than the {limits.max_payload_bytes} allowed"
            return IngestItem(
                identity, [], CHANNEL, [Rejection("$", why)], payload[:OVERSIZE_EXCERPT]
            ), Refusal.TOO_LARGE
        refused = self._limiter.admit(identity.device_id, identity.tenant_id)
        if refused is not None:
            rate = limits.device_messages_per_s if refused == DEVICE_RATE else limits.tenant_messages_per_s
            why = refused % {"rate": f"{rate:g}"}
            return IngestItem(identity, [], CHANNEL, [Rejection("$", why)], payload), Refusal.QUOTA
        parsed = parse_payload_points(payload, now_us=now_us, max_points=limits.max_points_per_message)
        return IngestItem(identity, (), CHANNEL, parsed.rejections, payload, parsed.points), None
