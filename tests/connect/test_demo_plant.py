"""The demo's connected cell: simulated machines reach the telemetry store over OPC UA, Modbus, MQTT and Sparkplug B."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select

from hexmill.assets.models import Tag
from hexmill.connect.demo_plant import DemoPorts, demo_device_secrets, demo_sparkplug_login, start_plant, stop_tasks
from hexmill.connect.registry.models import Device
from hexmill.core.config import Settings
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import widened
from hexmill.demo import seed_demo
from hexmill.telemetry.service import close_stores, open_store
from tests.brokers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_demo_cell_shows_live_values_from_every_protocol(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, log_json=False, log_level="WARNING")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    ports = DemoPorts(opcua=free_port(), modbus=free_port(), mqtt=free_port())
    seed_demo(engine, data_dir=tmp_path, console=Console(quiet=True), ports=ports, factory_days=0)  # machines only
    assert list(demo_device_secrets(tmp_path)) == ["pack-1"]
    assert demo_sparkplug_login(tmp_path) is not None
    assert (tmp_path / "demo-devices.json").stat().st_mode & 0o077 == 0
    sessions = make_sessionmaker(engine)
    store = open_store(settings)
    with transaction(sessions) as s, widened(s):
        devices = list(s.scalars(select(Device)))
    assert sorted(d.protocol for d in devices) == ["modbus", "mqtt", "opcua", "opcua", "sparkplug"]
    pack_2 = next(d for d in devices if d.protocol == "sparkplug")
    with transaction(sessions) as s, widened(s):
        pack_2_tags = {t.name: t.id for t in s.scalars(select(Tag).where(Tag.equipment_id == pack_2.equipment_id))}
    tasks = await start_plant(settings, sessions, store, ports=ports, step_ms=200)
    by_protocol: dict[str, int] = {}
    everything = {"opcua": 2, "modbus": 1, "mqtt": 1, "sparkplug": 1}
    pack_2_link = None
    try:
        for _ in range(200):
            with transaction(sessions) as s, widened(s):
                by_protocol = {}
                for device in s.scalars(select(Device)):
                    if device.points_accepted > 0:
                        by_protocol[device.protocol] = by_protocol.get(device.protocol, 0) + 1
                link = s.get(Device, pack_2.id)
                pack_2_link = link.link_state if link is not None else None
            if by_protocol == everything and pack_2_link == "online":
                break
            await asyncio.sleep(0.2)
        # The edge node's births and data went through the embedded broker to the host and the store.
        counts = store.latest(pack_2.tenant_id, [pack_2_tags["good_count"], pack_2_tags["throughput"]])
    finally:
        await stop_tasks(tasks)
        close_stores()
        engine.dispose()
    assert by_protocol == everything
    assert pack_2_link == "online"
    assert len(counts) == 2
