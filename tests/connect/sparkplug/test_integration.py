"""The Host Application against a real Mosquitto and an independent edge node (pysparkplug, in a subprocess)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hexmill.connect.base import Backoff, LinkState
from hexmill.connect.sparkplug.client import SparkplugHost
from hexmill.connect.sparkplug.codec import REBIRTH, DataType, decode_state
from hexmill.connect.sparkplug.config import ConnectionFailed, SparkplugHostConfig, test_connection
from hexmill.connect.sparkplug.host import DeviceKey, MessageRefused, MetricDefinition
from hexmill.telemetry.points import Quality, Reading
from tests.brokers import Mosquitto, free_port

pytestmark = [
    pytest.mark.slow,
    # tests/brokers.py leaves the broker's log file for the garbage collector to close; not ours to fix here.
    pytest.mark.filterwarnings(
        r"ignore:unclosed file <_io\.BufferedWriter name='[^']*mosquitto\.log'>:ResourceWarning"
    ),
]

EDGE_SCRIPT = Path(__file__).with_name("edge_node.py")
NODE = DeviceKey("plant", "edge-1")
OVEN = DeviceKey("plant", "edge-1", "oven")


@dataclass
class Recorder:
    """Everything the host handed to its callbacks."""

    readings: list[tuple[DeviceKey, Reading]] = field(default_factory=list)
    births: list[tuple[DeviceKey, tuple[MetricDefinition, ...]]] = field(default_factory=list)
    states: list[tuple[DeviceKey, LinkState]] = field(default_factory=list)
    refused: list[MessageRefused] = field(default_factory=list)

    async def on_readings(self, key: DeviceKey, readings: Sequence[Reading]) -> None:
        self.readings.extend((key, reading) for reading in readings)

    async def on_birth(self, key: DeviceKey, metrics: Sequence[MetricDefinition]) -> None:
        self.births.append((key, tuple(metrics)))

    def on_state(self, key: DeviceKey, state: LinkState) -> None:
        self.states.append((key, state))

    def values(self, key: DeviceKey, name: str) -> list[tuple[object, Quality]]:
        return [(r.value, r.quality) for k, r in self.readings if k == key and r.field == name]


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait until ``predicate`` holds, or fail naming ``what``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Edge:
    """The pysparkplug edge node subprocess, driven through stdin and followed through stdout."""

    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own script, run with this interpreter
            [sys.executable, str(EDGE_SCRIPT), str(port), NODE.group_id, NODE.edge_node_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        """End the process abruptly: the broker then publishes its Will (the NDEATH)."""
        self.process.kill()
        self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def edge_factory() -> Iterator[Callable[[int], Edge]]:
    started: list[Edge] = []

    def start(port: int) -> Edge:
        edge = Edge(port)
        started.append(edge)
        return edge

    yield start
    for edge in started:
        edge.close()


def retained(port: int, topic: str, timeout: float = 5.0) -> bytes | None:
    """Return the retained message on ``topic``, read with a fresh MQTT subscription."""
    got: list[bytes] = []
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{free_port()}")

    def on_message(_c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        if message.retain:
            got.append(bytes(message.payload))
            done.set()

    client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe(topic, 1)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        done.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0] if got else None


def config_for(broker: Mosquitto, **changes: object) -> SparkplugHostConfig:
    settings: dict[str, object] = {"port": broker.port, "host_id": "hexmill-it", "reorder_timeout_s": 0.5}
    settings.update(changes)
    return SparkplugHostConfig.model_validate(settings)


def test_host_with_an_independent_edge_node(mosquitto: Mosquitto, edge_factory: Callable[[int], Edge]) -> None:
    recorder = Recorder()
    host = SparkplugHost(
        config_for(mosquitto),
        recorder.on_readings,
        recorder.on_birth,
        recorder.on_state,
        on_refused=recorder.refused.append,
        backoff=Backoff(initial=0.1, maximum=0.5),
    )

    async def scenario() -> None:
        task = asyncio.create_task(host.run())
        await asyncio.wait_for(host.online.wait(), 10)
        state = await asyncio.to_thread(retained, mosquitto.port, "spBv1.0/STATE/hexmill-it")
        assert state is not None and decode_state(state).online

        edge = edge_factory(mosquitto.port)
        await until(lambda: any(key == OVEN for key, _ in recorder.births), "the oven's DBIRTH")
        node_birth = next(metrics for key, metrics in recorder.births if key == NODE)
        assert MetricDefinition("Uptime", DataType.INT64, alias=1) in node_birth
        assert MetricDefinition(REBIRTH, DataType.BOOLEAN) in node_birth
        assert dict(recorder.births)[OVEN] == (
            MetricDefinition("Temperature", DataType.DOUBLE, alias=10),
            MetricDefinition("Count", DataType.INT32, alias=11),
        )
        assert recorder.values(OVEN, "Temperature") == [(20.5, Quality.GOOD)]
        assert recorder.values(OVEN, "Count") == [(-1, Quality.GOOD)]
        assert (OVEN, LinkState.ONLINE) in recorder.states

        # DDATA by alias only: names and datatypes come from the DBIRTH (Int32 -7 travels as 2**32-7).
        edge.send("ddata 21.5 -7")
        await until(lambda: (-7, Quality.GOOD) in recorder.values(OVEN, "Count"), "the DDATA")
        assert (21.5, Quality.GOOD) in recorder.values(OVEN, "Temperature")

        # A lost message: the next one waits out the reorder timeout, then our NCMD makes the edge rebirth.
        births_before = len(recorder.births)
        edge.send("skip")
        edge.send("ddata 99.0 99")
        await until(lambda: "REBORN" in edge.lines, "the edge node to rebirth after our Rebirth NCMD")
        assert "REBIRTH" in edge.lines
        await until(lambda: len(recorder.births) >= births_before + 2, "NBIRTH and DBIRTH after the rebirth")
        assert (99, Quality.GOOD) not in recorder.values(OVEN, "Count")  # dropped: the rebirth supersedes it
        edge.send("ddata 22.0 5")
        await until(lambda: (5, Quality.GOOD) in recorder.values(OVEN, "Count"), "data after the rebirth")

        # Killing the edge's connection makes the broker publish its Will, an NDEATH: all its metrics go stale.
        edge.kill()
        await until(lambda: (OVEN, LinkState.UNAVAILABLE) in recorder.states[-2:], "the NDEATH")
        assert recorder.values(OVEN, "Count")[-1] == (5, Quality.STALE)
        assert recorder.values(OVEN, "Temperature")[-1] == (22.0, Quality.STALE)
        assert recorder.values(NODE, "Uptime")[-1][1] is Quality.STALE
        assert recorder.states[-2:] == [(NODE, LinkState.UNAVAILABLE), (OVEN, LinkState.UNAVAILABLE)]
        assert not recorder.refused

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    state = retained(mosquitto.port, "spBv1.0/STATE/hexmill-it")
    assert state is not None and not decode_state(state).online


def test_broker_restart_reconnects_and_republishes_state(mosquitto: Mosquitto) -> None:
    recorder = Recorder()
    host = SparkplugHost(
        config_for(mosquitto, mqtt_version="3.1.1"),
        recorder.on_readings,
        recorder.on_birth,
        recorder.on_state,
        backoff=Backoff(initial=0.1, maximum=0.3),
    )

    async def scenario() -> None:
        task = asyncio.create_task(host.run())
        await asyncio.wait_for(host.online.wait(), 10)
        first = decode_state(await asyncio.to_thread(retained, mosquitto.port, "spBv1.0/STATE/hexmill-it") or b"")
        assert first.online
        # Watch for the host going offline while the restart runs: with a 0.1 s back-off it can be
        # online again before the restart call returns, so looking only afterwards misses it.
        went_away = asyncio.Event()

        async def watch() -> None:
            while host.online.is_set():
                await asyncio.sleep(0.01)
            went_away.set()

        watcher = asyncio.create_task(watch())
        await asyncio.to_thread(mosquitto.restart)
        await until(went_away.is_set, "the host to notice the broker went away", timeout=45)
        await watcher
        await asyncio.wait_for(host.online.wait(), 10)
        second = decode_state(await asyncio.to_thread(retained, mosquitto.port, "spBv1.0/STATE/hexmill-it") or b"")
        assert second.online
        assert second.timestamp_ms >= first.timestamp_ms
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_connection_test_passes_and_fails(mosquitto: Mosquitto) -> None:
    asyncio.run(test_connection(config_for(mosquitto)))
    with pytest.raises(ConnectionFailed) as caught:
        asyncio.run(test_connection(config_for(mosquitto, port=free_port(), connect_timeout_s=2)))
    assert caught.value.status == 502


def test_connection_test_reports_refused_credentials(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory("allow_anonymous false")
    with pytest.raises(ConnectionFailed, match="refused"):
        asyncio.run(test_connection(config_for(broker, username="nobody", password="wrong")))


def test_host_keeps_retrying_until_the_broker_comes_up(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "late-broker", free_port())
    recorder = Recorder()
    host = SparkplugHost(
        config_for(broker),
        recorder.on_readings,
        recorder.on_birth,
        recorder.on_state,
        backoff=Backoff(initial=0.1, maximum=0.2),
    )

    async def scenario() -> None:
        task = asyncio.create_task(host.run())
        await asyncio.sleep(0.5)  # several refused attempts
        assert not host.online.is_set()
        await asyncio.to_thread(broker.start)
        await asyncio.wait_for(host.online.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(scenario())
    finally:
        broker.stop()
