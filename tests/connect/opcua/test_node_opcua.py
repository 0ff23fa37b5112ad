"""The OPC UA connector against an independent server: node-opcua (from the npm registry) as a child process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from hexmill.connect.base import Backoff, LinkState
from hexmill.connect.opcua import config as opcua_config
from hexmill.connect.opcua.client import ErrorKind, OpcUaClient, OpcUaError
from hexmill.connect.opcua.config import AcquisitionMode, OpcUaConfig
from hexmill.connect.opcua.poller import OpcUaPoller
from hexmill.telemetry.points import Quality, Reading
from tests.connect.opcua.servers import NodeOpcUaServer

pytestmark = pytest.mark.anyio


def press(server: NodeOpcUaServer, **overrides: Any) -> OpcUaConfig:
    settings: dict[str, Any] = {
        "endpoint": server.endpoint,
        "sampling_interval_ms": 100,
        "publishing_interval_ms": 100,
        "poll_interval_ms": 100,
        # Generous link checks: on a loaded CI machine a 0.5 s probe can miss its time-out and the
        # test would see a reconnect it did not cause (reconnects are tested against asyncua).
        "keepalive_s": 2.0,
        "timeout_s": 10.0,
        "nodes": [
            {"node_id": "ns=1;s=Press.Counter", "field": "count"},
            {"node_id": "ns=1;s=Press.Temperature", "field": "temp", "scale": 2},
            {"node_id": "ns=1;s=Press.Running", "field": "running"},
            {"node_id": "ns=1;s=Press.Recipe", "field": "recipe"},
            {"node_id": "ns=1;s=Press.Broken", "field": "broken"},
            {"node_id": "ns=1;s=Press.Profile", "field": "profile"},
        ],
    }
    settings.update(overrides)
    return OpcUaConfig.model_validate(settings)


async def collect(config: OpcUaConfig, until: int) -> tuple[OpcUaPoller, list[Reading], list[LinkState]]:
    """Run a poller until ``until`` Counter readings arrived; return it with what it produced."""
    readings: list[Reading] = []
    states: list[LinkState] = []
    enough = asyncio.Event()

    async def sink(batch: Sequence[Reading]) -> None:
        readings.extend(batch)
        if sum(r.field == "count" for r in readings) >= until:
            enough.set()

    poller = OpcUaPoller(config, sink, lambda state, _: states.append(state), backoff=Backoff(initial=0.1, maximum=0.5))
    task = asyncio.create_task(poller.run())
    try:
        async with asyncio.timeout(20):
            await enough.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    return poller, readings, states


def latest(readings: list[Reading], field: str) -> Reading:
    return [r for r in readings if r.field == field][-1]


async def test_connection_test_passes(node_opcua_server: NodeOpcUaServer) -> None:
    await opcua_config.test_connection(press(node_opcua_server))


async def test_browse_finds_the_press_and_its_variables(node_opcua_server: NodeOpcUaServer) -> None:
    top = await opcua_config.browse_server(press(node_opcua_server), depth=2)
    machine = next(node for node in top if node.browse_name == "Press")
    assert machine.node_id == "ns=1;s=Press"
    assert machine.node_class == "Object"
    assert machine.has_children
    variables = {child.browse_name: child for child in machine.children}
    assert set(variables) == {"Counter", "Temperature", "Running", "Recipe", "Profile", "Broken"}
    assert variables["Counter"].node_id == "ns=1;s=Press.Counter"
    assert variables["Counter"].data_type == "Int32"
    assert variables["Recipe"].data_type == "String"
    assert variables["Temperature"].node_class == "Variable"


async def test_read_gets_values_and_statuses(node_opcua_server: NodeOpcUaServer) -> None:
    async with OpcUaClient(press(node_opcua_server)) as client:
        temperature, broken, profile = await client.read(
            ["ns=1;s=Press.Temperature", "ns=1;s=Press.Broken", "ns=1;s=Press.Profile"]
        )
    assert (temperature.value, temperature.variant_type, temperature.status) == (21.5, "Double", 0)
    assert temperature.source_ts_us is not None
    assert broken.status >> 30 == 2  # Bad
    assert profile.is_array


async def test_subscription_delivers_changing_values(node_opcua_server: NodeOpcUaServer) -> None:
    poller, readings, states = await collect(press(node_opcua_server), until=3)
    assert poller.mode is AcquisitionMode.SUBSCRIPTION
    assert states == [LinkState.CONNECTING, LinkState.ONLINE]
    counts = [r.value for r in readings if r.field == "count"]
    assert all(isinstance(v, int) for v in counts)
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    assert latest(readings, "temp").value == 43.0  # 21.5 x scale 2
    assert latest(readings, "running").value is True
    assert latest(readings, "recipe").value == "bracket-7"
    broken = latest(readings, "broken")
    assert (broken.value, broken.quality) == (None, Quality.BAD)
    assert all(r.field != "profile" for r in readings)
    assert poller.stats.refused >= 1


async def test_polling_reads_the_same_values(node_opcua_server: NodeOpcUaServer) -> None:
    poller, readings, _ = await collect(press(node_opcua_server, mode="polling"), until=3)
    assert poller.mode is AcquisitionMode.POLLING
    assert latest(readings, "temp").value == 43.0
    assert latest(readings, "broken").quality is Quality.BAD
    assert latest(readings, "count").quality is Quality.GOOD


async def test_signed_and_encrypted_login(node_opcua_server: NodeOpcUaServer, tmp_path: Path) -> None:
    config = press(
        node_opcua_server,
        security_mode="SignAndEncrypt",
        certificate_dir=tmp_path / "pki",
        username="operator",
        password="s3cret",
    )
    await opcua_config.test_connection(config)


async def test_wrong_password_is_a_login_error(node_opcua_server: NodeOpcUaServer, tmp_path: Path) -> None:
    config = press(
        node_opcua_server,
        security_mode="SignAndEncrypt",
        certificate_dir=tmp_path / "pki",
        username="operator",
        password="not-it",
    )
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(config)
    assert caught.value.kind is ErrorKind.LOGIN
