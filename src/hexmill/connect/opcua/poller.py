"""Keep one OPC UA server link alive: subscribe (or poll), batch readings, back off and reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

from hexmill.connect.base import Backoff, LinkState, ReadingSink, StateSink
from hexmill.connect.opcua.client import ErrorKind, OpcUaClient, OpcUaError, status_name
from hexmill.connect.opcua.config import AcquisitionMode, OpcUaConfig
from hexmill.connect.opcua.mapping import NodeDescription, Sample, ValueRefused, status_to_quality, to_reading
from hexmill.core.i18n import N_
from hexmill.telemetry.points import Reading

log = logging.getLogger(__name__)


#: Back-off attempts stop counting here; the delay has long reached its maximum.
_MAX_ATTEMPT = 64


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class PollerStats:
    """Counters of one poller, for metrics and the equipment page."""

    readings: int = 0
    batches: int = 0
    refused: int = 0
    dropped: int = 0
    connects: int = 0


class OpcUaPoller:
    """Read the configured nodes of one server into ``sink``, in batches, until cancelled.

    In subscription mode the server pushes data changes; when it refuses subscriptions (or the
    configuration asks for it) the poller reads all nodes every ``poll_interval_ms`` instead.
    A lost link is reported as ``LinkState.UNAVAILABLE``; the poller reconnects with ``backoff``
    and subscribes again. Readings are handed to ``sink`` at most every ``flush_interval``
    seconds or as soon as ``max_batch`` of them are waiting.
    """

    def __init__(
        self,
        config: OpcUaConfig,
        sink: ReadingSink,
        on_state: StateSink | None = None,
        *,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        flush_interval: float = 0.1,
        max_batch: int = 500,
        max_pending: int = 100_000,
    ) -> None:
        self._config = config
        self._sink = sink
        self._on_state = on_state
        self._backoff = backoff
        self._flush_interval = flush_interval
        self._max_batch = max_batch
        self._nodes: tuple[NodeDescription, ...] = config.descriptions()
        self._node_ids = [node.node_id for node in self._nodes]
        # Oldest readings make way when the sink falls this far behind; ``stats.dropped`` counts them.
        self._pending: deque[Reading] = deque(maxlen=max_pending)
        self._wake = asyncio.Event()
        self._warned: set[tuple[str, str]] = set()
        self._subscriptions_refused = False
        self.state: LinkState | None = None
        self.mode: AcquisitionMode | None = None
        self.stats = PollerStats()

    async def run(self) -> None:
        """Connect, acquire and reconnect until cancelled; an error raised by the sink stops it too."""
        flusher = asyncio.create_task(self._flush_loop(), name="opcua-flush")
        link = asyncio.create_task(self._link_loop(), name="opcua-link")
        try:
            done, _ = await asyncio.wait({flusher, link}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            # The link goes first (session closed), then the flusher hands over what is left.
            link.cancel()
            await asyncio.gather(link, return_exceptions=True)
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    async def _link_loop(self) -> None:
        attempt = 0
        self._set_state(LinkState.CONNECTING, None)
        while True:
            try:
                async with OpcUaClient(self._config) as connection:
                    attempt = 0
                    self.stats.connects += 1
                    await self._acquire(connection)
            except OpcUaError as exc:
                self._set_state(LinkState.UNAVAILABLE, str(exc))
                if exc.kind in {ErrorKind.LOGIN, ErrorKind.SECURITY, ErrorKind.CERTIFICATE, ErrorKind.UNTRUSTED}:
                    # Retrying soon will not fix a configuration error: wait the longest pause.
                    attempt = _MAX_ATTEMPT
            delay = self._backoff.delay(attempt)
            attempt = min(attempt + 1, _MAX_ATTEMPT)
            log.info("reconnecting to %s in %.1f s", self._config.endpoint, delay)
            await asyncio.sleep(delay)

    def _set_state(self, state: LinkState, reason: str | None) -> None:
        if state is self.state:
            return
        self.state = state
        log.info("OPC UA link %s is %s%s", self._config.endpoint, state, f": {reason}" if reason else "")
        if self._on_state is not None:
            self._on_state(state, reason)

    async def _acquire(self, connection: OpcUaClient) -> None:
        """Feed readings from one connection until the link breaks (raises ``OpcUaError``)."""
        if self._config.mode is AcquisitionMode.SUBSCRIPTION and not self._subscriptions_refused:
            try:
                await self._subscribe(connection)
            except OpcUaError as exc:
                if exc.kind is not ErrorKind.UNSUPPORTED:
                    raise
                log.warning("%s refuses subscriptions (%s); polling instead", self._config.endpoint, exc)
                self._subscriptions_refused = True
            else:
                return
        await self._poll(connection)

    async def _subscribe(self, connection: OpcUaClient) -> None:
        statuses = await connection.subscribe(
            self._node_ids,
            self._on_sample,
            sampling_interval_ms=self._config.sampling_interval_ms,
            publishing_interval_ms=self._config.publishing_interval_ms,
        )
        now = _now_us()
        for node, status in zip(self._nodes, statuses, strict=True):
            if status:
                # The server will not monitor this node: the field shows Bad rather than stale data.
                self._warn(node.field, f"not monitored: {status_name(status)}")
                self._push(Reading(node.field, now, None, status_to_quality(status)))
        self.mode = AcquisitionMode.SUBSCRIPTION
        self._set_state(LinkState.ONLINE, None)
        await connection.lost.wait()
        raise OpcUaError(
            N_("The link to the OPC UA server at %(endpoint)s was lost: %(reason)s"),
            kind=ErrorKind.LINK_LOST,
            endpoint=self._config.endpoint,
            reason=connection.lost_reason or "unknown",
        )

    async def _poll(self, connection: OpcUaClient) -> None:
        self.mode = AcquisitionMode.POLLING
        interval = self._config.poll_interval_ms / 1000
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            samples = await connection.read(self._node_ids)
            self._set_state(LinkState.ONLINE, None)
            received = _now_us()
            for index, sample in enumerate(samples):
                self._accept(index, sample, received)
            self._wake.set()
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    def _on_sample(self, index: int, sample: Sample) -> None:
        """Take one data-change notification (called by the client, not awaited)."""
        self._accept(index, sample, _now_us())
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    def _accept(self, index: int, sample: Sample, received_us: int) -> None:
        node = self._nodes[index]
        try:
            reading = to_reading(node, sample, received_us=received_us)
        except ValueRefused as exc:
            self.stats.refused += 1
            self._warn(node.field, exc.reason)
            return
        self._push(reading)

    def _push(self, reading: Reading) -> None:
        if len(self._pending) == self._pending.maxlen:
            self.stats.dropped += 1
        self._pending.append(reading)

    def _warn(self, field: str, reason: str) -> None:
        """Log a problem with one field once, not on every value."""
        if (field, reason) not in self._warned:
            self._warned.add((field, reason))
            log.warning("OPC UA %s field %s: %s", self._config.endpoint, field, reason)

    async def _flush_loop(self) -> None:
        """Hand waiting readings to the sink in batches; on cancellation, hand over what is left."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._flush_interval)
                self._wake.clear()
                await self._flush()
        except asyncio.CancelledError:
            await self._flush()
            raise

    async def _flush(self) -> None:
        while self._pending:
            count = min(len(self._pending), self._max_batch)
            batch = [self._pending.popleft() for _ in range(count)]
            try:
                await self._sink(batch)
            except BaseException:
                # Not stored (or not known to be): keep the batch for the next try; writes are idempotent.
                self._pending.extendleft(reversed(batch))
                raise
            self.stats.batches += 1
            self.stats.readings += len(batch)
