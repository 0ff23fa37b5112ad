"""The ``hexmill connect`` process: run the registry's OPC UA and Modbus pollers and a Sparkplug host.

Devices are read from the registry and partitioned across replicas by id (``replica`` of
``replicas``), so N processes share the pollers without talking to each other. Every poller's
readings go through the one ingest pipeline (``registry.service.ingest``): committed to the
telemetry store before the poller reads on. The registry is re-read every ``reload_s`` seconds;
pollers of devices that were added, changed, disabled or removed are started or stopped.
A Sparkplug B host (when configured) maps each edge node or device to the registry device whose
settings name it, creates tags from birth certificates, and marks the device's link state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.connect.base import LinkState
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.models import Device
from hexmill.connect.registry.service import DeviceIdentity, FieldResolver, IngestItem
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.tenancy import ALL_TENANTS, set_scope, widened
from hexmill.telemetry.points import Reading
from hexmill.telemetry.store import TelemetryStore

log = logging.getLogger(__name__)

POLLED = ("modbus", "opcua")
#: Sparkplug data types → tag data types (everything else numeric is a float).
_SPARKPLUG_TYPES = {"BOOLEAN": "boolean", "STRING": "string", "TEXT": "string", "UUID": "string", "DATETIME": "integer"}
_INTEGER_PREFIXES = ("INT", "UINT")


@dataclass(frozen=True, slots=True)
class _Running:
    signature: str
    task: asyncio.Task[None]


@dataclass
class ConnectRunner:
    """Keep one poller per polled device of this replica running, and feed the ingest pipeline."""

    sessions: sessionmaker[Session]
    store: TelemetryStore
    replica: int = 0
    replicas: int = 1
    reload_s: float = 30.0
    resolver: FieldResolver = field(default_factory=FieldResolver)
    _running: dict[int, _Running] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _link_wanted: dict[int, tuple[LinkState, str | None]] = field(default_factory=dict)
    _link_writing: set[int] = field(default_factory=set)

    # -- the ingest side, shared by pollers and the Sparkplug host -------------------------------

    def store_readings(self, identity: DeviceIdentity, readings: Sequence[Reading], channel: str) -> None:
        """Ingest one batch of a device's readings and commit (blocking; run it in a thread)."""
        with transaction(self.sessions) as session:
            set_scope(session, ALL_TENANTS)
            registry.ingest(session, self.store, self.resolver, [IngestItem(identity, readings, channel)])

    def record_link(self, device_id: int, state: LinkState, reason: str | None) -> None:
        """Record a device's link state (blocking; run it in a thread)."""
        with transaction(self.sessions) as session:
            set_scope(session, ALL_TENANTS)
            registry.set_link_state(session, device_id, state.value, reason)

    def sink_for(self, identity: DeviceIdentity, channel: str) -> Any:
        """Return the async sink a poller of ``identity`` hands its readings to."""

        async def sink(readings: Sequence[Reading]) -> None:
            if readings:
                await asyncio.to_thread(self.store_readings, identity, readings, channel)

        return sink

    def state_for(self, device_id: int) -> Any:
        """Return the state callback of a device's poller (recorded in the background, in order).

        A poller reports "connecting" and "online" within moments; written by two independent
        threads, the older state could commit last and stay. So each device has at most one
        writer, which writes the newest reported state until none is left.
        """
        loop = asyncio.get_running_loop()

        def on_state(state: LinkState, reason: str | None) -> None:
            self._link_wanted[device_id] = (state, reason)
            if device_id in self._link_writing:
                return  # the running writer picks the newest state up
            self._link_writing.add(device_id)
            task = loop.create_task(self._write_links(device_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        return on_state

    async def _write_links(self, device_id: int) -> None:
        try:
            while (wanted := self._link_wanted.pop(device_id, None)) is not None:
                await asyncio.to_thread(self.record_link, device_id, *wanted)
        finally:
            self._link_writing.discard(device_id)

    # -- pollers ----------------------------------------------------------------------------------

    def _devices(self) -> list[Device]:
        with transaction(self.sessions) as session, widened(session):
            rows = session.scalars(
                select(Device).where(Device.protocol.in_(POLLED), Device.enabled.is_(True)).order_by(Device.id)
            ).all()
            return [d for d in rows if d.secret_hash is not None and d.id % self.replicas == self.replica]

    def _poller(self, device: Device) -> Any:
        identity = DeviceIdentity(device.id, device.tenant_id, device.equipment_id, device.client_id, device.protocol)
        sink = self.sink_for(identity, device.protocol)
        on_state = self.state_for(device.id)
        if device.protocol == "modbus":
            from hexmill.connect.modbus.config import ModbusConfig  # noqa: PLC0415 - protocols load on demand
            from hexmill.connect.modbus.poller import ModbusPoller  # noqa: PLC0415 - as above

            return ModbusPoller(ModbusConfig.model_validate(device.config), sink, on_state)
        from hexmill.connect.opcua.config import OpcUaConfig  # noqa: PLC0415 - as above
        from hexmill.connect.opcua.poller import OpcUaPoller  # noqa: PLC0415 - as above

        return OpcUaPoller(OpcUaConfig.model_validate(device.config), sink, on_state)

    def sync(self) -> tuple[int, int]:
        """Start pollers of new or changed devices, stop those of gone ones; return (started, stopped)."""
        wanted = {d.id: d for d in self._devices()}
        stopped = 0
        for device_id, running in list(self._running.items()):
            device = wanted.get(device_id)
            if device is None or _signature(device) != running.signature or running.task.done():
                running.task.cancel()
                del self._running[device_id]
                stopped += 1
        started = 0
        for device_id, device in wanted.items():
            if device_id in self._running:
                continue
            poller = self._poller(device)
            task = asyncio.get_running_loop().create_task(poller.run(), name=f"poller-{device.client_id}")
            self._running[device_id] = _Running(_signature(device), task)
            started += 1
        if started or stopped:
            log.info("pollers: %s started, %s stopped, %s running", started, stopped, len(self._running))
        return started, stopped

    async def run(self) -> None:
        """Run until cancelled, re-reading the registry every ``reload_s`` seconds."""
        try:
            while True:
                await asyncio.to_thread(lambda: None)
                self.sync()
                await asyncio.sleep(self.reload_s)
        finally:
            for running in self._running.values():
                running.task.cancel()
            for running in self._running.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await running.task
            self._running.clear()


def _signature(device: Device) -> str:
    return json.dumps([device.protocol, device.config, device.equipment_id, device.secret_hash], sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Sparkplug B
# ---------------------------------------------------------------------------------------------


@dataclass
class SparkplugBridge:
    """Map a Sparkplug host's results onto registry devices, tags and the ingest pipeline."""

    runner: ConnectRunner
    _devices: dict[tuple[str, str, str | None], DeviceIdentity | None] = field(default_factory=dict)

    def _identity(self, key: Any) -> DeviceIdentity | None:
        wanted = (key.group_id, key.edge_node_id, key.device_id)
        if wanted in self._devices:
            return self._devices[wanted]
        found = None
        with transaction(self.runner.sessions) as session, widened(session):
            for device in session.scalars(
                select(Device).where(Device.protocol == "sparkplug", Device.enabled.is_(True))
            ):
                cfg = device.config
                if (cfg.get("group_id"), cfg.get("edge_node_id"), cfg.get("device_id")) == wanted:
                    found = DeviceIdentity(
                        device.id, device.tenant_id, device.equipment_id, device.client_id, device.protocol
                    )
                    break
        self._devices[wanted] = found
        if found is None:
            log.warning("sparkplug %s/%s/%s is not a registered device", *wanted)
        return found

    async def on_readings(self, key: Any, readings: Sequence[Reading]) -> None:
        """Store a node's or device's readings through the ingest pipeline."""
        identity = await asyncio.to_thread(self._identity, key)
        if identity is not None and readings:
            await asyncio.to_thread(self.runner.store_readings, identity, readings, "sparkplug")

    async def on_birth(self, key: Any, metrics: Sequence[Any]) -> None:
        """Create the tags a birth certificate declares that the equipment lacks."""
        identity = await asyncio.to_thread(self._identity, key)
        if identity is not None:
            await asyncio.to_thread(self._births, identity, metrics)

    def _births(self, identity: DeviceIdentity, metrics: Sequence[Any]) -> None:
        ctx = Context.system(identity.tenant_id, name=f"device:{identity.client_id}")
        with transaction(self.runner.sessions) as session:
            set_scope(session, identity.tenant_id)
            for metric in metrics:
                name = str(metric.name)
                kind = getattr(metric.datatype, "name", str(metric.datatype))
                data_type = _SPARKPLUG_TYPES.get(kind) or ("integer" if kind.startswith(_INTEGER_PREFIXES) else "float")
                if 0 < len(name) <= 128 and not name.startswith(("Node Control/", "bdSeq")):
                    assets.ensure_tag(session, ctx, equipment_id=identity.equipment_id, name=name, data_type=data_type)
        self.runner.resolver.forget(identity.device_id)

    def on_state(self, key: Any, state: LinkState, reason: str | None = None) -> None:
        """Record a node's or device's link state on its registry device."""
        identity = self._devices.get((key.group_id, key.edge_node_id, key.device_id))
        if identity is not None:
            self.runner.record_link(identity.device_id, state, reason)


async def run_connect(
    sessions: sessionmaker[Session],
    store: TelemetryStore,
    *,
    replica: int = 0,
    replicas: int = 1,
    reload_s: float = 30.0,
    sparkplug: Any | None = None,
) -> None:
    """Run this replica's pollers, and a Sparkplug host when ``sparkplug`` (a SparkplugHostConfig) is given."""
    runner = ConnectRunner(sessions, store, replica=replica, replicas=replicas, reload_s=reload_s)
    tasks = [asyncio.create_task(runner.run(), name="pollers")]
    if sparkplug is not None:
        from hexmill.connect.sparkplug.client import SparkplugHost  # noqa: PLC0415 - only when asked for

        bridge = SparkplugBridge(runner)
        host = SparkplugHost(sparkplug, bridge.on_readings, bridge.on_birth, bridge.on_state)
        tasks.append(asyncio.create_task(host.run(), name="sparkplug-host"))
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
