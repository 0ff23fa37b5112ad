"""The connector against real Modbus TCP servers on loopback: pymodbus' own and pyModbusTCP's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from hexmill.connect.base import Backoff, LinkState
from hexmill.connect.modbus import config as modbus_config
from hexmill.connect.modbus.client import ModbusClient
from hexmill.connect.modbus.config import ConnectionFailed, ModbusConfig
from hexmill.connect.modbus.mapping import DeviceValue, Table, encode
from hexmill.connect.modbus.poller import ModbusPoller
from hexmill.telemetry.points import Quality, Reading
from tests.brokers import free_port
from tests.connect.modbus.servers import SERVERS, SIZE, UNIT_ID, ModbusTestServer

pytestmark = pytest.mark.anyio

# Every data type and order, in every table, with the value the server holds.
ALL_TYPES: list[tuple[dict[str, Any], DeviceValue]] = [
    ({"field": "u16", "table": "holding_register", "address": 0, "data_type": "uint16"}, 65000),
    ({"field": "i16", "table": "holding_register", "address": 1, "data_type": "int16"}, -1234),
    ({"field": "i32", "table": "holding_register", "address": 2, "data_type": "int32"}, -123456789),
    (
        {"field": "u32_wl", "table": "holding_register", "address": 4, "data_type": "uint32", "word_order": "little"},
        4_000_000_000,
    ),
    ({"field": "f32", "table": "holding_register", "address": 6, "data_type": "float32"}, 123.456),
    (
        {
            "field": "f32_ll",
            "table": "holding_register",
            "address": 8,
            "data_type": "float32",
            "byte_order": "little",
            "word_order": "little",
        },
        -0.5,
    ),
    (
        {"field": "f32_lb", "table": "holding_register", "address": 10, "data_type": "float32", "byte_order": "little"},
        3.25,
    ),
    ({"field": "f64", "table": "holding_register", "address": 12, "data_type": "float64"}, 2.718281828459045),
    (
        {"field": "f64_wl", "table": "holding_register", "address": 16, "data_type": "float64", "word_order": "little"},
        -1e10,
    ),
    (
        {
            "field": "temp",
            "table": "holding_register",
            "address": 20,
            "data_type": "int16",
            "scale": 0.1,
            "offset": -40.0,
        },
        25.3,
    ),
    ({"field": "ir_u16", "table": "input_register", "address": 100, "data_type": "uint16"}, 42),
    (
        {"field": "ir_i32_bl", "table": "input_register", "address": 101, "data_type": "int32", "byte_order": "little"},
        -7,
    ),
    ({"field": "run", "table": "coil", "address": 3, "data_type": "bool"}, True),
    ({"field": "fault", "table": "coil", "address": 4, "data_type": "bool"}, False),
    ({"field": "door", "table": "coil", "address": 10, "data_type": "bool"}, True),
    ({"field": "estop", "table": "discrete_input", "address": 7, "data_type": "bool"}, True),
    ({"field": "guard", "table": "discrete_input", "address": 300, "data_type": "bool"}, True),
]


@pytest.fixture(params=list(SERVERS))
async def server(request: pytest.FixtureRequest) -> AsyncIterator[ModbusTestServer]:
    """Start one of the two server implementations on a free loopback port."""
    instance: ModbusTestServer = SERVERS[request.param]()
    await instance.start()
    yield instance
    await instance.stop()


def make_config(port: int, points: list[dict[str, Any]], **overrides: Any) -> ModbusConfig:
    return ModbusConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "unit_id": UNIT_ID,
            "poll_interval_s": 0.1,
            "timeout_s": 1.0,  # generous: the machine is shared, and a time-out means a lost link
            "points": points,
            **overrides,
        }
    )


async def load(server: ModbusTestServer, config: ModbusConfig, values: dict[str, DeviceValue]) -> None:
    """Write each point's value into the server as the device would hold it."""
    for spec in config.specs():
        await server.write(spec.table, spec.address, encode(spec, values[spec.field]))


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Collector:
    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self.states: list[LinkState] = []

    async def sink(self, readings: Sequence[Reading]) -> None:
        self.batches.append(list(readings))

    def on_state(self, state: LinkState, reason: str | None) -> None:
        self.states.append(state)

    def latest(self, field: str) -> Reading | None:
        for batch in reversed(self.batches):
            for reading in batch:
                if reading.field == field:
                    return reading
        return None


async def test_every_type_and_order_reads_back(server: ModbusTestServer) -> None:
    config = make_config(server.port, [p for p, _ in ALL_TYPES])
    expected = {p["field"]: v for p, v in ALL_TYPES}
    await load(server, config, expected)
    collector = Collector()
    poller = ModbusPoller(config, collector.sink, collector.on_state)
    task = asyncio.create_task(poller.run())
    try:
        await wait_until(lambda: len(collector.batches) >= 2, "two polls")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    batch = collector.batches[0]
    assert sorted(r.field for r in batch) == sorted(expected)
    for reading in batch:
        assert reading.quality is Quality.GOOD, reading
        want = expected[reading.field]
        if isinstance(want, float):
            assert reading.value == pytest.approx(want, rel=1e-6), reading.field
        else:
            assert reading.value == want, reading.field
            assert type(reading.value) is type(want), reading.field
    # Holding 0-21, input 100-102, coils 3-10, discrete 7 and 300 (too far apart to merge).
    assert [(b.table, b.address, b.count) for b in poller.blocks] == [
        (Table.COIL, 3, 8),
        (Table.DISCRETE_INPUT, 7, 1),
        (Table.DISCRETE_INPUT, 300, 1),
        (Table.INPUT_REGISTER, 100, 3),
        (Table.HOLDING_REGISTER, 0, 21),
    ]
    assert collector.states[:2] == [LinkState.CONNECTING, LinkState.ONLINE]


async def test_a_merged_read_is_one_request(server: ModbusTestServer) -> None:
    points = [
        {"field": f"r{i}", "table": "holding_register", "address": 40 + 2 * i, "data_type": "int32"} for i in range(10)
    ]
    config = make_config(server.port, points)
    await load(server, config, {f"r{i}": -i * 1000 for i in range(10)})
    client = config.make_client()
    await client.connect()
    try:
        poller = ModbusPoller(config, Collector().sink)
        before = server.requests
        readings = await poller.poll_once(client)
        assert server.requests - before == 1
        assert len(poller.blocks) == 1
        assert [r.value for r in readings] == [-i * 1000 for i in range(10)]
        # With the merge turned off by a tiny request limit, the same poll takes ten.
        split = ModbusPoller(make_config(server.port, points, max_registers_per_request=2), Collector().sink)
        before = server.requests
        await split.poll_once(client)
        assert server.requests - before == 10
    finally:
        client.close()


async def test_a_refused_block_is_bad_and_the_rest_good(server: ModbusTestServer) -> None:
    points = [
        {"field": "ok", "table": "holding_register", "address": 5, "data_type": "uint16"},
        {"field": "beyond", "table": "holding_register", "address": SIZE + 10, "data_type": "uint16"},
    ]
    config = make_config(server.port, points)
    await server.write(Table.HOLDING_REGISTER, 5, [77])
    client = config.make_client()
    await client.connect()
    try:
        poller = ModbusPoller(config, Collector().sink)
        readings = {r.field: r for r in await poller.poll_once(client)}
    finally:
        client.close()
    assert readings["ok"].value == 77
    assert readings["ok"].quality is Quality.GOOD
    assert readings["beyond"].value is None
    assert readings["beyond"].quality is Quality.BAD
    assert poller.stats.block_errors == 1


async def test_server_restart_unavailable_then_reconnects(server: ModbusTestServer) -> None:
    config = make_config(
        server.port, [{"field": "count", "table": "input_register", "address": 9, "data_type": "uint16"}]
    )
    await server.write(Table.INPUT_REGISTER, 9, [1])
    collector = Collector()
    poller = ModbusPoller(config, collector.sink, collector.on_state, backoff=Backoff(initial=0.05, maximum=0.2))
    task = asyncio.create_task(poller.run())
    try:
        await wait_until(lambda: (r := collector.latest("count")) is not None and r.value == 1, "first reading")
        await server.stop()
        await wait_until(lambda: LinkState.UNAVAILABLE in collector.states, "unavailable")
        await server.write(Table.INPUT_REGISTER, 9, [2])
        batches_while_down = len(collector.batches)
        await server.start()
        await wait_until(lambda: (r := collector.latest("count")) is not None and r.value == 2, "reading after restart")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert collector.states[-1] is LinkState.ONLINE
    assert LinkState.UNAVAILABLE in collector.states
    assert len(collector.batches) > batches_while_down
    assert poller.stats.connects >= 2


async def test_connection_test_passes_on_a_good_map(server: ModbusTestServer) -> None:
    config = make_config(server.port, [p for p, _ in ALL_TYPES])
    await modbus_config.test_connection(config)


async def test_connection_test_names_a_refused_map(server: ModbusTestServer) -> None:
    config = make_config(
        server.port, [{"field": "beyond", "table": "coil", "address": SIZE + 100, "data_type": "bool"}]
    )
    with pytest.raises(ConnectionFailed) as caught:
        await modbus_config.test_connection(config)
    problem = caught.value.render()
    assert problem["field"] == "points"
    assert "illegal data address" in problem["detail"]
    assert problem["status"] == 502


async def test_connection_test_names_an_unreachable_host() -> None:
    port = free_port()  # nothing listens here
    config = make_config(port, [{"field": "x", "table": "coil", "address": 0, "data_type": "bool"}])
    with pytest.raises(ConnectionFailed) as caught:
        await modbus_config.test_connection(config)
    problem = caught.value.render()
    assert problem["field"] == "host"
    assert f"127.0.0.1:{port}" in problem["detail"]


async def test_client_reads_lists_of_the_requested_length(server: ModbusTestServer) -> None:
    await server.write(Table.COIL, 0, [1, 0, 1])
    client = ModbusClient("127.0.0.1", server.port, unit_id=UNIT_ID, timeout_s=1.0)
    await client.connect()
    try:
        # Bits arrive padded to whole bytes on the wire; the client trims them.
        assert await client.read_coils(0, 3) == [True, False, True]
        assert await client.read_discrete_inputs(0, 11) == [False] * 11
        assert await client.read_input_registers(0, 2) == [0, 0]
    finally:
        client.close()
    assert not client.connected
