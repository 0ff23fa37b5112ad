"""The demo's connected cell: the simulator's machines reach the telemetry store over OPC UA and Modbus."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select

from hexmill.connect.demo_plant import DemoPorts
from hexmill.connect.registry.models import Device
from hexmill.connect.runner import ConnectRunner
from hexmill.connect.simulator.runner import SimulatorOptions, run_simulator
from hexmill.core.config import Settings
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import widened
from hexmill.demo import seed_demo
from hexmill.telemetry.sqlite_store import SqliteStore
from tests.brokers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests on asyncio."""
    return "asyncio"


async def test_demo_cell_shows_live_values_from_both_protocols(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, log_json=False, log_level="WARNING")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    ports = DemoPorts(opcua=free_port(), modbus=free_port())
    seed_demo(engine, data_dir=tmp_path, console=Console(quiet=True), ports=ports)
    sessions = make_sessionmaker(engine)
    store = SqliteStore(tmp_path / "telemetry.db")
    started = asyncio.Event()
    simulator = asyncio.create_task(
        run_simulator(SimulatorOptions(step_ms=200, opcua_port=ports.opcua, modbus_port=ports.modbus), started=started)
    )
    try:
        await asyncio.wait_for(started.wait(), 30)
        runner = ConnectRunner(sessions, store, reload_s=3600)
        pollers = asyncio.create_task(runner.run())
        with transaction(sessions) as s, widened(s):
            devices = list(s.scalars(select(Device)))
        assert sorted(d.protocol for d in devices) == ["modbus", "modbus", "opcua", "opcua"]
        by_protocol: dict[str, int] = {}
        for _ in range(150):
            by_protocol = {}
            with transaction(sessions) as s, widened(s):
                for device in s.scalars(select(Device)):
                    if device.points_accepted > 0:
                        by_protocol[device.protocol] = by_protocol.get(device.protocol, 0) + 1
            if by_protocol == {"opcua": 2, "modbus": 2}:
                break
            await asyncio.sleep(0.2)
        pollers.cancel()
        await asyncio.gather(pollers, return_exceptions=True)
    finally:
        simulator.cancel()
        await asyncio.gather(simulator, return_exceptions=True)
        store.close()
        engine.dispose()
    assert by_protocol == {"opcua": 2, "modbus": 2}
    tenant = devices[0].tenant_id
    assert store.chunks(tenant), "no telemetry chunk was written for the connected cell's enterprise"
