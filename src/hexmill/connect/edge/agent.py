"""The edge agent: pollers and the local MQTT source fill the durable buffer, the forwarder drains it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

from hexmill.connect.base import LinkState, ReadingSink, StateSink
from hexmill.connect.edge.buffer import BufferCounts, EdgeBuffer, now_us
from hexmill.connect.edge.config import EdgeConfig, EdgeDevice
from hexmill.connect.edge.forwarder import Forwarder, HttpUplink, Uplink
from hexmill.telemetry.points import Reading, from_micros

log = logging.getLogger(__name__)

#: How often the agent writes a status line to its log, in status intervals.
_LOG_EVERY = 12


def _when(us: int | None) -> str | None:
    return None if us is None else from_micros(us).isoformat(timespec="seconds")


def status_document(counts: BufferCounts, runtime: Mapping[str, Any], at_us: int) -> dict[str, Any]:
    """Return the agent's status: what waits in the buffer, what was lost, and how the links look."""
    oldest = counts.oldest_enqueued_us
    return {
        "buffered": counts.rows,
        "buffered_bytes": counts.bytes,
        "oldest_age_s": None if oldest is None else round(max(0, at_us - oldest) / 1e6, 1),
        "appended": counts.appended,
        "acknowledged": counts.acked,
        "dropped": counts.dropped,
        "dropped_last_at": _when(counts.dropped_last_us),
        "dropped_newest_reading_at": _when(counts.dropped_newest_ts_us),
        "dead_lettered": counts.dead_lettered,
        **runtime,
    }


class EdgeAgent:
    """Run every configured source and the forwarder over one buffer until cancelled."""

    def __init__(
        self,
        config: EdgeConfig,
        buffer_path: Path,
        platform_url: str,
        *,
        uplink: Uplink | None = None,
    ) -> None:
        self.config = config
        self.buffer = EdgeBuffer(buffer_path, config.buffer.limits())
        tokens = {device.name: device.resolved_token() for device in config.devices}
        self.forwarder = Forwarder(
            self.buffer,
            uplink or HttpUplink(platform_url, timeout_s=config.forward.timeout_s),
            tokens,
            config.forward.settings(),
        )
        self.platform_url = platform_url
        self.sources: dict[str, dict[str, Any]] = {
            d.name: {"protocol": d.protocol, "state": None, "reason": None} for d in config.devices
        }
        self.no_value = 0
        self.started_us = now_us()

    # -- wiring -------------------------------------------------------------------------------

    def _sink(self, device: str) -> ReadingSink:
        async def sink(readings: Sequence[Reading]) -> None:
            await asyncio.to_thread(self.store, device, readings)

        return sink

    def store(self, device: str, readings: Sequence[Reading]) -> None:
        """Append a device's readings to the buffer (committed on return); readings without a value are counted."""
        keep = [r for r in readings if r.value is not None]
        # The telemetry API carries values only: a "bad, no value" reading cannot be forwarded.
        self.no_value += len(readings) - len(keep)
        if keep:
            self.buffer.append(device, keep)

    def _state_sink(self, device: str) -> StateSink:
        def on_state(state: LinkState, reason: str | None) -> None:
            self.report_state(device, state, reason)

        return on_state

    def report_state(self, device: str, state: LinkState, reason: str | None) -> None:
        """Remember a source's link state for the status."""
        self.sources[device].update(state=str(state), reason=reason)

    def _source(self, device: EdgeDevice) -> Callable[[], Coroutine[Any, Any, None]] | None:
        if device.modbus is not None:
            from hexmill.connect.modbus.poller import ModbusPoller  # noqa: PLC0415 -- only configured protocols load

            return ModbusPoller(device.modbus, self._sink(device.name), self._state_sink(device.name)).run
        if device.opcua is not None:
            from hexmill.connect.opcua.config import OpcUaConfig  # noqa: PLC0415 -- only configured protocols load
            from hexmill.connect.opcua.poller import OpcUaPoller  # noqa: PLC0415

            config = OpcUaConfig.model_validate(device.opcua)
            return OpcUaPoller(config, self._sink(device.name), self._state_sink(device.name)).run
        return None

    def _mqtt(self) -> Callable[[], Coroutine[Any, Any, None]] | None:
        topics = {d.name: d.mqtt_topic for d in self.config.devices if d.mqtt_topic}
        if not topics or self.config.mqtt is None:
            return None
        from hexmill.connect.edge.client import MqttSource  # noqa: PLC0415 -- paho loads only when used

        return MqttSource(self.config.mqtt, topics, self.store, self.report_state).run

    # -- status -------------------------------------------------------------------------------

    def runtime_status(self) -> dict[str, Any]:
        """Return the run-time part of the status (links, last forward result, counters)."""
        stats = self.forwarder.stats
        return {
            "pid": os.getpid(),
            "platform": self.platform_url,
            "started_at": _when(self.started_us),
            "updated_at": _when(now_us()),
            "link": str(self.forwarder.link),
            "last_forward_result": stats.last_result,
            "last_forward_at": _when(stats.last_result_us),
            "last_success_at": _when(stats.last_success_us),
            "sent": stats.readings_sent,
            "sent_historical": stats.readings_historical,
            "platform_rejected": stats.platform_rejected,
            "no_value_skipped": self.no_value,
            "held_back_devices": dict(stats.blocked),
            "sources": {name: dict(source) for name, source in self.sources.items()},
        }

    def status(self) -> dict[str, Any]:
        """Return the full status document."""
        return status_document(self.buffer.counts(), self.runtime_status(), now_us())

    async def _report(self) -> None:
        ticks = 0
        while True:
            await asyncio.to_thread(self.buffer.set_status, self.runtime_status())
            if ticks % _LOG_EVERY == 0:
                status = await asyncio.to_thread(self.status)
                log.info(
                    "edge status: %s buffered (oldest %s s), %s dropped, %s dead-lettered, uplink %s, last: %s",
                    status["buffered"],
                    status["oldest_age_s"],
                    status["dropped"],
                    status["dead_lettered"],
                    status["link"],
                    status["last_forward_result"] or "-",
                )
            ticks += 1
            await asyncio.sleep(self.config.status_interval_s)

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run sources, forwarder and status reporting until cancelled or one of them fails."""
        runners: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            "forwarder": self.forwarder.run,
            "status": self._report,
        }
        for device in self.config.devices:
            source = self._source(device)
            if source is not None:
                runners[f"device {device.name}"] = source
        mqtt = self._mqtt()
        if mqtt is not None:
            runners["mqtt"] = mqtt
        counts = self.buffer.counts()
        log.info(
            "edge agent: %s devices, %s readings waiting in %s, forwarding to %s",
            len(self.config.devices),
            counts.rows,
            self.buffer.path,
            self.platform_url,
        )
        tasks = {asyncio.create_task(run(), name=name): name for name, run in runners.items()}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                # A runner only ends by failing: re-raise its error so the agent stops visibly.
                task.result()
                raise RuntimeError(f"edge agent: {tasks[task]} stopped")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.buffer.set_status(self.runtime_status() | {"link": "stopped"})
            self.buffer.close()
