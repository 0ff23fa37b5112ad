"""The poller on a fake clock and a scripted device: schedule, bad points, link loss and back-off."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from hexmill.connect.base import Backoff, LinkState
from hexmill.connect.modbus.client import ModbusError
from hexmill.connect.modbus.config import ModbusConfig
from hexmill.connect.modbus.mapping import Table
from hexmill.connect.modbus.poller import ModbusPoller
from hexmill.telemetry.points import Quality, Reading

pytestmark = pytest.mark.anyio


class FakeClock:
    """A clock that only moves when the poller sleeps or a read takes time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def now_us(self) -> int:
        return round(self.now * 1_000_000)

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class FakeDevice:
    """A scripted Modbus device: registers, refused ranges, failed connects, a link that drops."""

    clock: FakeClock
    registers: dict[int, int] = field(default_factory=dict)
    read_seconds: float = 0.0
    refuse_at: set[int] = field(default_factory=set)
    connect_failures: int = 0
    drop_at_read: int | None = None  # the link drops once, instead of this (0-based) read
    connect_failures_after_drop: int = 0
    reads: int = 0
    requests: list[tuple[Table, int, int]] = field(default_factory=list)
    connects: int = 0

    def client(self, config: ModbusConfig) -> FakeClient:
        return FakeClient(self)


class FakeClient:
    def __init__(self, device: FakeDevice) -> None:
        self.device = device
        self.up = False

    async def connect(self) -> None:
        if self.device.connect_failures:
            self.device.connect_failures -= 1
            raise ModbusError("connection refused")
        self.device.connects += 1
        self.up = True

    def close(self) -> None:
        self.up = False

    async def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        device = self.device
        if not self.up:
            raise ModbusError("not connected")
        device.reads += 1
        if device.reads - 1 == device.drop_at_read:
            self.up = False
            device.connect_failures = device.connect_failures_after_drop
            raise ModbusError("connection reset by peer")
        device.requests.append((table, address, count))
        device.clock.now += device.read_seconds
        if address in device.refuse_at:
            raise ModbusError("illegal data address", exception_code=2)
        return [device.registers.get(a, 0) for a in range(address, address + count)]


class Done(Exception):
    """Raised by the test sink to end ``run()`` once it has seen enough."""


@dataclass
class Recorder:
    batches_wanted: int
    batches: list[list[Reading]] = field(default_factory=list)
    states: list[tuple[LinkState, str | None]] = field(default_factory=list)

    async def sink(self, readings: Sequence[Reading]) -> None:
        self.batches.append(list(readings))
        if len(self.batches) >= self.batches_wanted:
            raise Done

    def on_state(self, state: LinkState, reason: str | None) -> None:
        self.states.append((state, reason))


def make_config(**overrides: object) -> ModbusConfig:
    data: dict[str, object] = {
        "host": "127.0.0.1",
        "poll_interval_s": 1.0,
        "points": [
            {"field": "speed", "table": "holding_register", "address": 0, "data_type": "uint16"},
            {"field": "temp", "table": "holding_register", "address": 1, "data_type": "int16", "scale": 0.1},
            {"field": "far", "table": "holding_register", "address": 200, "data_type": "uint16"},
        ],
    }
    data.update(overrides)
    return ModbusConfig.model_validate(data)


def make_poller(config: ModbusConfig, device: FakeDevice, recorder: Recorder, **kw: object) -> ModbusPoller:
    return ModbusPoller(
        config,
        recorder.sink,
        recorder.on_state,
        clock=device.clock,
        client_factory=device.client,
        rng=random.Random(7),
        **kw,  # type: ignore[arg-type]
    )


async def test_polls_on_a_drift_free_schedule() -> None:
    clock = FakeClock()
    device = FakeDevice(clock, registers={0: 1500, 1: 0xFF38, 200: 9}, read_seconds=0.03)
    recorder = Recorder(batches_wanted=5)
    poller = make_poller(make_config(), device, recorder)
    with pytest.raises(Done):
        await poller.run()
    # Two reads per poll: registers 0-1 together, 200 alone.
    assert device.requests[:2] == [(Table.HOLDING_REGISTER, 0, 2), (Table.HOLDING_REGISTER, 200, 1)]
    # Each poll starts exactly one interval after the last, however long its reads took.
    starts = [batch[0].ts_us for batch in recorder.batches]
    assert [b - a for a, b in itertools.pairwise(starts)] == [1_000_000] * 4
    assert clock.sleeps == pytest.approx([0.94] * 4)
    first = {r.field: r for r in recorder.batches[0]}
    assert first["speed"].value == 1500
    assert first["temp"].value == pytest.approx(-20.0)
    assert first["far"].value == 9
    assert all(r.quality is Quality.GOOD for r in first.values())
    assert recorder.states == [(LinkState.CONNECTING, None), (LinkState.ONLINE, None)]
    assert poller.stats.requests == 10
    assert poller.stats.polls == 5


async def test_an_overlong_poll_skips_the_missed_instants() -> None:
    clock = FakeClock()
    device = FakeDevice(clock, read_seconds=1.2)  # two reads: 2.4 s per poll, interval 1 s
    recorder = Recorder(batches_wanted=3)
    poller = make_poller(make_config(), device, recorder)
    with pytest.raises(Done):
        await poller.run()
    starts = [batch[0].ts_us - 1_200_000 for batch in recorder.batches]
    # Polls start on the 1 s grid: at 0, then 3 (1 and 2 were missed), then 6.
    assert [s - starts[0] for s in starts] == [0, 3_000_000, 6_000_000]
    assert poller.stats.overruns == 4


async def test_a_refused_block_reports_bad_points_and_keeps_the_rest() -> None:
    clock = FakeClock()
    device = FakeDevice(clock, registers={0: 7, 1: 250}, refuse_at={200})
    recorder = Recorder(batches_wanted=2)
    poller = make_poller(make_config(), device, recorder)
    with pytest.raises(Done):
        await poller.run()
    for batch in recorder.batches:
        by_field = {r.field: r for r in batch}
        assert by_field["speed"].value == 7
        assert by_field["temp"].value == pytest.approx(25.0)
        assert by_field["far"].value is None
        assert by_field["far"].quality is Quality.BAD
    assert poller.stats.block_errors == 2
    # A refusal is the device's answer, not a broken link.
    assert LinkState.UNAVAILABLE not in [s for s, _ in recorder.states]


async def test_link_loss_reports_unavailable_backs_off_and_resumes() -> None:
    clock = FakeClock()
    # Poll 1 succeeds, poll 2 loses the link at its second read; then two reconnects fail.
    device = FakeDevice(clock, registers={0: 1}, drop_at_read=3, connect_failures_after_drop=2)
    recorder = Recorder(batches_wanted=4)
    poller = make_poller(make_config(), device, recorder, backoff=Backoff(initial=0.5, maximum=30.0))
    with pytest.raises(Done):
        await poller.run()

    states = [s for s, _ in recorder.states]
    assert states == [LinkState.CONNECTING, LinkState.ONLINE, LinkState.UNAVAILABLE, LinkState.ONLINE]
    assert recorder.states[2][1] == "connection reset by peer"
    # Poll 1 in full, poll 2 only its first block (sent before the link counts as lost), then polls resume.
    assert [sorted(r.field for r in b) for b in recorder.batches] == [
        ["far", "speed", "temp"],
        ["speed", "temp"],
        ["far", "speed", "temp"],
        ["far", "speed", "temp"],
    ]
    # Three back-off pauses, jittered within [cap/2, cap] of a doubling cap.
    pauses = clock.sleeps[1:4]
    for attempt, pause in enumerate(pauses):
        cap = 0.5 * 2**attempt
        assert cap / 2 <= pause <= cap
    assert device.connects == 2
    assert poller.stats.link_losses == 3


async def test_back_off_restarts_after_a_good_poll() -> None:
    clock = FakeClock()
    device = FakeDevice(clock, connect_failures=5)
    recorder = Recorder(batches_wanted=1)
    poller = make_poller(make_config(), device, recorder, backoff=Backoff(initial=1.0, maximum=4.0))
    with pytest.raises(Done):
        await poller.run()
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(clock.sleeps) == 5
    for cap, pause in zip(caps, clock.sleeps, strict=True):
        assert cap / 2 <= pause <= cap
    assert recorder.states == [
        (LinkState.CONNECTING, None),
        (LinkState.UNAVAILABLE, "connection refused"),
        (LinkState.ONLINE, None),
    ]
    assert poller._attempt == 0  # the good poll reset the back-off


async def test_undecodable_points_are_bad_and_counted() -> None:
    clock = FakeClock()
    # 0x7FC0_0000 is a float32 NaN; it has no place in telemetry.
    device = FakeDevice(clock, registers={0: 0x7FC0, 1: 0, 2: 42})
    config = make_config(
        points=[
            {"field": "flow", "table": "input_register", "address": 0, "data_type": "float32"},
            {"field": "count", "table": "input_register", "address": 2, "data_type": "uint16"},
        ]
    )
    recorder = Recorder(batches_wanted=1)
    poller = make_poller(config, device, recorder)
    with pytest.raises(Done):
        await poller.run()
    (batch,) = recorder.batches
    assert [(r.field, r.value, r.quality) for r in batch] == [
        ("flow", None, Quality.BAD),
        ("count", 42, Quality.GOOD),
    ]
    assert poller.stats.point_errors == 1
    assert device.requests == [(Table.INPUT_REGISTER, 0, 3)]


async def test_cancelling_run_stops_it_and_closes_the_client() -> None:
    clock = FakeClock()
    device = FakeDevice(clock)
    closed: list[bool] = []

    class Client(FakeClient):
        def close(self) -> None:
            closed.append(True)
            super().close()

    seen: list[int] = []

    async def sink(readings: Sequence[Reading]) -> None:
        seen.append(len(readings))

    poller = ModbusPoller(make_config(), sink, clock=clock, client_factory=lambda _c: Client(device))
    task = asyncio.create_task(poller.run())
    for _ in range(20):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen
    assert closed == [True]
