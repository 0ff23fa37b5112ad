"""``hexmill connect``: registry devices get pollers whose readings reach the telemetry store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.modbus.mapping import Table
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.models import Device
from hexmill.connect.runner import ConnectRunner
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.errors import InvalidInput
from hexmill.core.tenancy import set_scope, widened
from hexmill.telemetry.store import TelemetryStore
from tests.connect.conftest import Machine
from tests.connect.modbus.servers import PymodbusServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio."""
    return "asyncio"


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
            for _ in range(100):
                latest = {p.series: p.value for p in store.latest(m.tenant_id, list(m.tags.values()))}
                if len(latest) == 2:
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
