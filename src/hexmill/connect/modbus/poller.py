"""Poll one Modbus TCP device on a drift-free schedule, reconnecting with back-off when the link drops."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hexmill.connect.base import Backoff, LinkState, ReadingSink, StateSink
from hexmill.connect.modbus.client import ModbusError
from hexmill.connect.modbus.config import ModbusConfig
from hexmill.connect.modbus.mapping import ReadBlock, Table, decode
from hexmill.core.clock import utcnow
from hexmill.telemetry.points import Quality, Reading, to_micros

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Where the poller reads time and waits; tests pass a fake one."""

    def monotonic(self) -> float:
        """Return seconds on a clock that never jumps, for scheduling."""
        ...

    def now_us(self) -> int:
        """Return the wall-clock time in microseconds since the Unix epoch, for timestamps."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clocks and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def now_us(self) -> int:
        """Return the current UTC time in microseconds since the epoch."""
        return to_micros(utcnow())

    async def sleep(self, seconds: float) -> None:
        """Wait with ``asyncio.sleep``."""
        await asyncio.sleep(seconds)


class ReadClient(Protocol):
    """What the poller needs of a Modbus client (``client.ModbusClient`` in production)."""

    async def connect(self) -> None:
        """Open the connection or raise ``ModbusError``."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...

    async def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Read ``count`` items or raise ``ModbusError``."""
        ...


@dataclass(slots=True)
class PollerStats:
    """Counters of what the poller did, for metrics and tests."""

    polls: int = 0
    requests: int = 0
    block_errors: int = 0
    point_errors: int = 0
    connects: int = 0
    link_losses: int = 0
    overruns: int = 0


class ModbusPoller:
    """Read a device's register map every poll interval and hand the readings to a sink.

    Each poll runs the planned (merged) reads in turn and sends one batch of readings. A point the
    device refused (a Modbus exception for its block) or whose data cannot be decoded is sent with
    ``Quality.BAD`` and no value, so the loss is visible downstream, and counted and logged. A lost
    link (connect failure, time-out, closed socket) sends what was read so far, reports
    ``LinkState.UNAVAILABLE`` and reconnects after a jittered ``Backoff`` delay, resuming polls.
    """

    def __init__(
        self,
        config: ModbusConfig,
        sink: ReadingSink,
        on_state: StateSink | None = None,
        *,
        backoff: Backoff = Backoff(),  # noqa: B008 -- frozen value object, safe as a default
        clock: Clock | None = None,
        client_factory: Callable[[ModbusConfig], ReadClient] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.blocks: tuple[ReadBlock, ...] = tuple(config.plan())
        self.stats = PollerStats()
        self.state: LinkState | None = None
        self._sink = sink
        self._on_state = on_state
        self._backoff = backoff
        self._clock: Clock = clock or SystemClock()
        self._client_factory: Callable[[ModbusConfig], ReadClient] = client_factory or ModbusConfig.make_client
        self._rng = rng
        self._attempt = 0
        self._failing: set[ReadBlock] = set()

    @property
    def name(self) -> str:
        """Return ``host:port/unit`` for logs."""
        return f"{self.config.host}:{self.config.port}/{self.config.unit_id}"

    async def run(self) -> None:
        """Connect, poll and reconnect until cancelled; errors of the sink propagate."""
        self._set_state(LinkState.CONNECTING, None)
        while True:
            client = self._client_factory(self.config)
            reason = "poll loop ended"
            try:
                await client.connect()
                self.stats.connects += 1
                self._set_state(LinkState.ONLINE, None)
                await self._poll_forever(client)
            except ModbusError as exc:
                reason = str(exc)
            finally:
                client.close()
            self.stats.link_losses += 1
            self._set_state(LinkState.UNAVAILABLE, reason)
            delay = self._backoff.delay(self._attempt, self._rng)
            self._attempt += 1
            log.info("modbus %s: reconnect attempt %s in %.2f s", self.name, self._attempt, delay)
            await self._clock.sleep(delay)

    async def _poll_forever(self, client: ReadClient) -> None:
        """Poll at fixed instants of the monotonic clock; skip the instants an overlong poll missed."""
        interval = self.config.poll_interval_s
        next_at = self._clock.monotonic()
        while True:
            await self.poll_once(client)
            next_at += interval
            now = self._clock.monotonic()
            if now > next_at:
                missed = math.floor((now - next_at) / interval) + 1
                next_at += missed * interval
                self.stats.overruns += missed
                log.warning("modbus %s: poll took too long, skipped %s poll(s)", self.name, missed)
            await self._clock.sleep(next_at - now)

    async def poll_once(self, client: ReadClient) -> list[Reading]:
        """Run every planned read once, send the batch to the sink and return it.

        Raises:
            ModbusError: the link was lost (after the readings taken so far were sent).
        """
        self.stats.polls += 1
        readings: list[Reading] = []
        for block in self.blocks:
            try:
                values = await client.read(block.table, block.address, block.count)
            except ModbusError as exc:
                if exc.link_lost:
                    if readings:
                        await self._sink(readings)
                    raise
                readings.extend(self._refused(block, exc))
                continue
            self.stats.requests += 1
            if block in self._failing:
                self._failing.discard(block)
                log.info("modbus %s: %s %s+%s readable again", self.name, block.table, block.address, block.count)
            readings.extend(self._decoded(block, values))
        # A full poll on a sound link: the next loss starts its back-off from the beginning.
        self._attempt = 0
        if readings:
            await self._sink(readings)
        return readings

    def _refused(self, block: ReadBlock, exc: ModbusError) -> list[Reading]:
        """Mark every point of a block the device refused as bad, logging when the refusal starts."""
        self.stats.block_errors += 1
        if block not in self._failing:
            self._failing.add(block)
            log.warning("modbus %s: %s", self.name, exc)
        ts_us = self._clock.now_us()
        return [Reading(point.field, ts_us, None, Quality.BAD) for point in block.points]

    def _decoded(self, block: ReadBlock, values: list[int] | list[bool]) -> list[Reading]:
        """Turn one block's answer into readings, bad ones for points that cannot be decoded."""
        ts_us = self._clock.now_us()
        out: list[Reading] = []
        for outcome in decode(block, values):
            if outcome.error is None:
                out.append(Reading(outcome.field, ts_us, outcome.value))
            else:
                self.stats.point_errors += 1
                log.warning("modbus %s: point %s: %s", self.name, outcome.field, outcome.error)
                out.append(Reading(outcome.field, ts_us, None, Quality.BAD))
        return out

    def _set_state(self, state: LinkState, reason: str | None) -> None:
        """Report a link-state change (repeats of the same state are not reported)."""
        if state is self.state:
            return
        self.state = state
        if state is LinkState.UNAVAILABLE:
            log.warning("modbus %s: unavailable: %s", self.name, reason)
        else:
            log.info("modbus %s: %s", self.name, state)
        if self._on_state is not None:
            self._on_state(state, reason)
