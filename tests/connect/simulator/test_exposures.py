"""The simulator's exposures end to end: OPC UA and Modbus servers read by real clients, MQTT via Mosquitto."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from asyncua import Client
from pymodbus.client import AsyncModbusTcpClient

from hexmill.connect.modbus.config import ModbusConfig
from hexmill.connect.simulator.opcua_server import NAMESPACE, node_id
from hexmill.connect.simulator.plant import DEFAULT_LAYOUT, FIELDS
from hexmill.connect.simulator.registers import modbus_device_configs, register_map
from hexmill.connect.simulator.runner import SimulatorOptions
from hexmill.connect.sparkplug.codec import BD_SEQ, REBIRTH, decode_payload, parse_topic
from tests.brokers import Mosquitto, free_port
from tests.connect.simulator.helpers import Steps, Subscriber, running

pytestmark = pytest.mark.anyio

MODBUS_TYPES = {"int16": "INT16", "uint32": "UINT32", "float32": "FLOAT32"}


async def test_opcua_variables_follow_the_plant() -> None:
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/hexmill/simulator"
    async with running(SimulatorOptions(opcua_port=port, step_ms=200, seed=1)), Client(endpoint, timeout=10) as client:
        assert await client.get_namespace_index(NAMESPACE) == 2
        machine = client.get_node(node_id("imm-1"))
        names = {(await child.read_browse_name()).Name for child in await machine.get_children()}
        assert names == {f.name for f in DEFAULT_LAYOUT[2].fields}
        power = client.get_node(node_id("cnc-1", "power"))
        state = client.get_node(node_id("cnc-1", "state"))
        cycles = client.get_node(node_id("pack-1", "cycle_count"))
        first = await power.read_data_value()
        first_cycles = await cycles.read_value()
        await asyncio.sleep(2.5)
        second = await power.read_data_value()
        assert await state.read_value() in {"running", "idle", "setup", "fault"}
        assert second.SourceTimestamp > first.SourceTimestamp
        assert second.Value.Value != first.Value.Value  # measured power carries noise
        assert await cycles.read_value() > first_cycles  # the packing line makes a pack every 1.2 s


async def test_modbus_registers_decode_per_the_published_map() -> None:
    port = free_port()
    steps = Steps()
    # One step only during the test, so every register read shows the same step's values.
    async with running(SimulatorOptions(modbus_port=port, step_ms=60_000, seed=2), steps):
        client = AsyncModbusTcpClient("127.0.0.1", port=port)
        await client.connect()
        try:
            ((_now, values),) = steps.seen
            for entry in register_map():
                expected = values[entry.machine_id][entry.field]
                if entry.table == "coil":
                    coils = await client.read_coils(entry.address, count=1, device_id=entry.unit_id)
                    inputs = await client.read_discrete_inputs(entry.address, count=1, device_id=entry.unit_id)
                    assert coils.bits[0] is inputs.bits[0] is expected, entry
                    continue
                read = (
                    client.read_holding_registers if entry.table == "holding_register" else client.read_input_registers
                )
                answer = await read(entry.address, count=entry.count, device_id=entry.unit_id)
                kind = client.DATATYPE[MODBUS_TYPES[entry.data_type]]
                got = client.convert_from_registers(answer.registers, kind, word_order="big")
                assert got == pytest.approx(expected, rel=1e-6), entry
            refused = await client.write_register(0, 7, device_id=1)
            assert refused.isError()
        finally:
            client.close()


def test_register_map_makes_valid_modbus_connector_configs() -> None:
    configs = modbus_device_configs(host="127.0.0.1", port=5020)
    assert list(configs) == [m.machine_id for m in DEFAULT_LAYOUT]
    for machine_id, config in configs.items():
        model = ModbusConfig.model_validate(config)
        assert {p.field for p in model.points} == {e.field for e in register_map() if e.machine_id == machine_id}
        assert model.plan()  # the connector can plan its reads from it
    # No two fields of one unit overlap in one table.
    used: set[tuple[int, str, int]] = set()
    for entry in register_map():
        cells = {(entry.unit_id, str(entry.table), entry.address + i) for i in range(entry.count)}
        assert not cells & used, entry
        used |= cells


@pytest.fixture
def secured_broker(mosquitto_factory: Callable[..., Mosquitto], tmp_path: Path) -> Mosquitto:
    """A Mosquitto that lets in only the devices of the test and an observer, by password."""
    passwords = tmp_path / "passwords"
    users = {"cnc-1": "s3cret-1", "imm-1": "s3cret-2", "edge": "edge-pw", "observer": "observer-secret"}
    for user, secret in users.items():
        flag = ["-c"] if not passwords.exists() else []
        subprocess.run(  # noqa: S603 -- fixed arguments
            ["/usr/bin/mosquitto_passwd", *flag, "-b", str(passwords), user, secret], check=True
        )
    # Run as root, Mosquitto drops to its own user, who cannot read pytest's private temporary directory.
    user = "user root\n" if os.geteuid() == 0 else ""
    return mosquitto_factory(extra_config=f"{user}allow_anonymous false\npassword_file {passwords}")


async def test_mqtt_json_telemetry_per_device(secured_broker: Mosquitto) -> None:
    subscriber = Subscriber(secured_broker.port, "hexmill/v1/#")
    try:
        devices = {"cnc-1": "s3cret-1", "imm-1": "s3cret-2"}
        options = SimulatorOptions(
            mqtt_port=secured_broker.port, mqtt_devices=devices, step_ms=200, duration_s=1.0, seed=3
        )
        async with running(options) as task:
            await task
        await asyncio.sleep(0.3)
    finally:
        subscriber.close()
    by_topic: dict[str, list[dict[str, object]]] = {}
    for message in subscriber.messages:
        assert message.qos == 1
        by_topic.setdefault(message.topic, []).append(json.loads(message.payload))
    assert set(by_topic) == {"hexmill/v1/cnc-1/telemetry", "hexmill/v1/imm-1/telemetry"}
    for topic, payloads in by_topic.items():
        machine = topic.split("/")[2]
        kind = next(m.kind for m in DEFAULT_LAYOUT if m.machine_id == machine)
        assert len(payloads) >= 5
        for payload in payloads:
            assert set(payload) == {"ts", "values"}
            assert datetime.fromisoformat(str(payload["ts"])).tzinfo is not None
            assert str(payload["ts"]).endswith("Z")
            assert isinstance(payload["values"], dict)
            assert list(payload["values"]) == [f.name for f in FIELDS[kind]]


async def test_mqtt_device_with_a_wrong_password_publishes_nothing(secured_broker: Mosquitto) -> None:
    subscriber = Subscriber(secured_broker.port, "hexmill/v1/#")
    try:
        options = SimulatorOptions(
            mqtt_port=secured_broker.port, mqtt_devices={"cnc-1": "wrong"}, step_ms=200, duration_s=0.5
        )
        async with running(options) as task:
            await task
    finally:
        subscriber.close()
    assert subscriber.messages == []


async def test_sparkplug_births_then_data_then_death(secured_broker: Mosquitto) -> None:
    subscriber = Subscriber(secured_broker.port, "spBv1.0/#")
    try:
        options = SimulatorOptions(
            mqtt_port=secured_broker.port,
            sparkplug_group="plant",
            sparkplug_node="sim",
            sparkplug_username="edge",
            sparkplug_password="edge-pw",
            step_ms=200,
            duration_s=1.0,
        )
        async with running(options) as task:
            await task
        await asyncio.sleep(0.3)
    finally:
        subscriber.close()
    messages = [(parse_topic(m.topic), decode_payload(m.payload)) for m in subscriber.messages]
    kinds = [(topic.message_type.value, topic.device_id) for topic, _ in messages]
    machines = [m.machine_id for m in DEFAULT_LAYOUT]
    assert kinds[0] == ("NBIRTH", None)
    assert kinds[1:5] == [("DBIRTH", machine) for machine in machines]
    assert kinds[-1] == ("NDEATH", None)
    assert {kind for kind, _ in kinds[5:-1]} == {"DDATA"}
    assert len(kinds) > 6

    birth = messages[0][1]
    birth_metrics = {m.name: m.value for m in birth.metrics}
    assert birth_metrics[REBIRTH] is False
    assert messages[-1][1].bd_seq == birth.bd_seq == birth_metrics[BD_SEQ]
    seqs = [payload.seq for _, payload in messages[:-1]]
    assert seqs == [i % 256 for i in range(len(seqs))]
    for (topic, payload), machine in zip(messages[1:5], machines, strict=True):
        kind = DEFAULT_LAYOUT[machines.index(machine)].kind
        assert [m.name for m in payload.metrics] == [f.name for f in FIELDS[kind]]
        assert payload.refused == ()
        assert topic.group_id == "plant" and topic.edge_node_id == "sim"
    for _, payload in messages[5:-1]:
        assert payload.metrics, "a DDATA carries at least one changed metric"
        assert all(isinstance(m.value, bool | int | float | str) for m in payload.metrics)
        assert all(not (isinstance(m.value, float) and math.isnan(m.value)) for m in payload.metrics)
