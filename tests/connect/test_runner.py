"""``hexmill connect``: registry devices get pollers whose readings reach the telemetry store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.connect.base import LinkState
from hexmill.connect.modbus.mapping import Table
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.models import Device
from hexmill.connect.runner import ConnectRunner, SparkplugBridge
from hexmill.connect.sparkplug.codec import DataType
from hexmill.connect.sparkplug.host import DeviceKey, MetricDefinition
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.errors import InvalidInput
from hexmill.core.tenancy import set_scope, widened
from hexmill.telemetry.points import Reading
from hexmill.telemetry.store import TelemetryStore
from tests.conftest import unique
from tests.connect.conftest import Machine
from tests.connect.modbus.servers import PymodbusServer

pytestmark = pytest.mark.anyio
NOW_US = 1_795_309_200_000_000


def _config(port: int) -> dict[str, object]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "poll_interval_s": 0.2,
        "timeout_s": 1.0,
        "points": [
            {"field": "spindle_speed", "table": "holding_register", "address": 0, "data_type": "float32"},
            {"field": "cycles", "table": "holding_register", "address": 2, "data_type": "uint32"},
        ],
    }


async def test_modbus_device_in_the_registry_is_polled_into_the_store(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    server = PymodbusServer()
    await server.start()
    try:
        # 1500.0 as float32 big-endian is 0x44BB 0x8000; 42 as uint32 is 0x0000 0x002A.
        await server.write(Table.HOLDING_REGISTER, 0, [0x44BB, 0x8000, 0x0000, 42])
        m = machine_factory(protocol="modbus", config=_config(server.port))
        runner = ConnectRunner(session_factory, store, reload_s=3600)
        task = asyncio.create_task(runner.run())
        try:
            for _ in range(200):
                latest = {p.series: p.value for p in store.latest(m.tenant_id, list(m.tags.values()))}
                with transaction(session_factory) as s, widened(s):
                    state = s.scalar(select(Device.link_state).where(Device.id == m.device_id))
                # The link state is recorded in the background, beside the readings: wait for both.
                if len(latest) == 2 and state == "online":
                    break
                await asyncio.sleep(0.1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert latest == {m.tags["spindle_speed"]: 1500.0, m.tags["cycles"]: 42.0}
        with transaction(session_factory) as s, widened(s):
            device = s.scalar(select(Device).where(Device.id == m.device_id))
            assert device is not None
            assert device.link_state == "online"
            assert device.points_accepted >= 2
    finally:
        await server.stop()


async def test_replicas_split_the_devices(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    machines = [machine_factory(protocol="modbus", config=_config(1)) for _ in range(4)]
    ids = {m.device_id for m in machines}
    owned = []
    for replica in range(2):
        runner = ConnectRunner(session_factory, store, replica=replica, replicas=2)
        owned.append({d.id for d in runner._devices()} & ids)
    assert owned[0] | owned[1] == ids
    assert not owned[0] & owned[1]


def test_device_settings_are_validated_per_protocol(machine_factory: Callable[..., Machine]) -> None:
    with pytest.raises(InvalidInput) as caught:
        machine_factory(protocol="modbus", config={"host": "", "points": []})
    fields = {e.field for e in caught.value.errors}
    assert {"config.host", "config.points"} <= fields
    with pytest.raises(InvalidInput):
        machine_factory(protocol="mqtt", config={"host": "x"})


def test_revoked_devices_get_no_poller(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory(protocol="modbus", config=_config(1))
    with transaction(session_factory) as s:
        set_scope(s, m.tenant_id)
        registry.revoke_device(s, Context.system(m.tenant_id), m.device_id)
    runner = ConnectRunner(session_factory, store)
    assert m.device_id not in {d.id for d in runner._devices()}


async def test_sparkplug_births_create_tags_and_data_lands_on_the_registry_device(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    group, node = unique("g"), unique("n")
    m = machine_factory(protocol="sparkplug", config={"group_id": group, "edge_node_id": node, "device_id": "press"})
    bridge = SparkplugBridge(ConnectRunner(session_factory, store))
    key = DeviceKey(group, node, "press")
    await bridge.on_birth(
        key, [MetricDefinition("force_kN", DataType.FLOAT), MetricDefinition("strokes", DataType.UINT32)]
    )
    await bridge.on_readings(key, [Reading("force_kN", NOW_US, 812.5), Reading("strokes", NOW_US, 17)])
    bridge.on_state(key, LinkState.UNAVAILABLE, "NDEATH")
    await bridge.on_readings(DeviceKey(group, node, "unknown"), [Reading("force_kN", NOW_US, 1.0)])
    with transaction(session_factory) as s:
        set_scope(s, m.tenant_id)
        tags, _ = assets.list_tags(s, Context.system(m.tenant_id), filters={"equipment_id": m.equipment_id})
        by_name = {t.name: t for t in tags}
        device = s.scalar(select(Device).where(Device.id == m.device_id))
    assert by_name["strokes"].data_type == "integer"
    assert by_name["force_kN"].data_type == "float"
    latest = {p.series: p.value for p in store.latest(m.tenant_id, [by_name["force_kN"].id, by_name["strokes"].id])}
    assert latest == {by_name["force_kN"].id: 812.5, by_name["strokes"].id: 17.0}
    assert device is not None
    assert (device.link_state, device.link_reason) == ("unavailable", "NDEATH")


async def test_link_states_are_written_one_at_a_time_and_the_newest_stays(
    session_factory: sessionmaker[Session], store: TelemetryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ConnectRunner(session_factory, store, reload_s=3600)
    written: list[tuple[int, LinkState]] = []
    busy: set[int] = set()
    overlaps: list[int] = []

    def slow_record(device_id: int, state: LinkState, _reason: str | None) -> None:
        if device_id in busy:
            overlaps.append(device_id)
        busy.add(device_id)
        time.sleep(0.01 if state is LinkState.CONNECTING else 0.002)  # the older state is the slower write
        written.append((device_id, state))
        busy.discard(device_id)

    monkeypatch.setattr(runner, "record_link", slow_record)
    report = {device: runner.state_for(device) for device in (1, 2)}
    for _ in range(5):
        for device in (1, 2):
            report[device](LinkState.CONNECTING, None)
            report[device](LinkState.ONLINE, None)
    while runner._background:  # wait for the writers this test started
        await asyncio.sleep(0.01)
    assert overlaps == []
    for device in (1, 2):
        mine = [state for d, state in written if d == device]
        assert mine[-1] is LinkState.ONLINE
        assert len(mine) <= 10
