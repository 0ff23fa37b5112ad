"""The forwarder against real HTTP servers on 127.0.0.1: ack after 200, retry, dead letters, historical replays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hexmill.connect.base import Backoff
from hexmill.connect.edge.buffer import EdgeBuffer, now_us
from hexmill.connect.edge.forwarder import (
    Answer,
    Forwarder,
    ForwardSettings,
    HttpUplink,
    LinkStatus,
    Round,
    rfc3339,
)
from hexmill.connect.payload import parse_timestamp
from hexmill.telemetry.points import Quality, Reading, unpack_quality
from hexmill.telemetry.store import TelemetryStore
from tests.brokers import free_port
from tests.connect.conftest import Machine
from tests.connect.edge.conftest import TOKEN
from tests.connect.edge.receiver import Receiver

pytestmark = pytest.mark.anyio

FAST = ForwardSettings(batch_size=100, live_window_s=30, idle_s=0.01, backoff=Backoff(0.01, 0.05))


def sample(n: int, *, field: str = "temp", start_us: int | None = None) -> list[Reading]:
    base = start_us if start_us is not None else now_us() - 1_000_000
    return [Reading(field, base + i * 1000 + 7, 20.0 + i) for i in range(n)]


@pytest.fixture
def buffer(tmp_path: Path) -> Iterator[EdgeBuffer]:
    store = EdgeBuffer(tmp_path / "edge.db")
    yield store
    store.close()


def forwarder_for(buffer: EdgeBuffer, url: str, **tokens: str) -> Forwarder:
    return Forwarder(buffer, HttpUplink(url, timeout_s=5), tokens or {"press-1": TOKEN}, FAST)


def test_timestamps_go_as_rfc3339_with_microseconds() -> None:
    ts_us = 1_750_000_000_123_457
    assert rfc3339(ts_us) == "2025-06-15T15:06:40.123457Z"
    assert parse_timestamp(rfc3339(ts_us), ts_us) == ts_us  # the platform's parser lands on the same key


async def test_a_200_deletes_what_was_sent_and_sends_it_live(buffer: EdgeBuffer, receiver: Receiver) -> None:
    readings = [*sample(3), Reading("state", now_us(), "RUN", Quality.UNCERTAIN)]
    forwarder = forwarder_for(buffer, receiver.url)  # started first: what follows is buffered live
    buffer.append("press-1", readings)
    assert await forwarder.forward_once() is Round.SENT
    assert buffer.counts().rows == 0 and buffer.counts().acked == 4
    assert {k: (p.value, p.historical) for k, p in receiver.points.items()} == {
        (r.field, r.ts_us): (r.value, False) for r in readings
    }
    assert receiver.points[("state", readings[3].ts_us)].quality == "uncertain"
    assert forwarder.link is LinkStatus.UP
    assert await forwarder.forward_once() is Round.IDLE


async def test_a_500_keeps_the_readings_and_the_retry_marks_them_historical(
    buffer: EdgeBuffer, receiver: Receiver
) -> None:
    buffer.append("press-1", sample(5))
    forwarder = forwarder_for(buffer, receiver.url)
    receiver.status = 500
    assert await forwarder.forward_once() is Round.FAILED
    assert buffer.counts().rows == 5 and receiver.points == {}
    assert forwarder.link is LinkStatus.DOWN
    # Readings taken while the uplink is down are backlog too.
    buffer.append("press-1", sample(2, start_us=now_us()))
    receiver.status = None
    assert await forwarder.forward_once() is Round.SENT
    assert buffer.counts().rows == 0
    assert len(receiver.points) == 7
    assert all(p.historical for p in receiver.points.values())
    # Once the link is back, new readings are live again.
    fresh = sample(1, field="rpm", start_us=now_us())
    buffer.append("press-1", fresh)
    await forwarder.forward_once()
    assert receiver.points[("rpm", fresh[0].ts_us)].historical is False


async def test_connection_refused_keeps_everything_and_a_restart_replays_it_historical(
    buffer: EdgeBuffer, receiver: Receiver
) -> None:
    buffer.append("press-1", sample(4))
    nobody = f"http://127.0.0.1:{free_port()}"
    down = forwarder_for(buffer, nobody)
    for _ in range(3):
        assert await down.forward_once() is Round.FAILED
    assert buffer.counts().rows == 4 and down.stats.failures == 3
    assert "no answer" in down.stats.last_result
    # A new process (same buffer file) replays what an earlier one left, as historical.
    buffer.append("press-1", sample(1, field="rpm", start_us=now_us()))
    restarted = forwarder_for(buffer, receiver.url)
    assert await restarted.forward_once() is Round.SENT
    assert buffer.counts().rows == 0
    assert len(receiver.points) == 5 and all(p.historical for p in receiver.points.values())


async def test_a_400_is_bisected_to_the_bad_record_which_is_dead_lettered(
    buffer: EdgeBuffer, receiver: Receiver
) -> None:
    base = now_us() - 1_000_000
    buffer.append("press-1", [Reading("temp", base + i, 1.0 * i) for i in range(7)])
    buffer.append("press-1", [Reading("poison", base + 3, 1.0)])
    receiver.refuse_field = "poison"
    forwarder = forwarder_for(buffer, receiver.url)
    assert await forwarder.forward_once() is Round.SENT
    counts = buffer.counts()
    assert (counts.rows, counts.acked, counts.dead_lettered) == (0, 6, 2)
    # The poisoned record carried temp at base+3 too: both its readings went to dead letters, nothing looped.
    letters = buffer.dead_letters()
    assert {d.reading.field for d in letters} == {"temp", "poison"}
    assert all(d.reason == "HTTP 400: field poison refused" for d in letters)
    assert sorted(ts for _, ts in receiver.points) == [base + i for i in range(7) if i != 3]
    assert await forwarder.forward_once() is Round.IDLE


async def test_a_refused_token_holds_that_device_back_and_the_others_go_on(
    buffer: EdgeBuffer, receiver: Receiver
) -> None:
    buffer.append("wrong", sample(2))
    buffer.append("press-1", sample(2, field="rpm"))
    forwarder = forwarder_for(buffer, receiver.url, wrong="dev-x:nope", **{"press-1": TOKEN})
    assert await forwarder.forward_once() is Round.SENT
    assert {i.device for i in buffer.peek(10)} == {"wrong"}
    assert forwarder.stats.blocked["wrong"].startswith("HTTP 401")
    posts = receiver.posts
    assert await forwarder.forward_once() is Round.IDLE  # held back: no new request
    assert receiver.posts == posts
    assert buffer.counts().dead_lettered == 0


async def test_readings_that_waited_past_the_live_window_go_historical(buffer: EdgeBuffer, receiver: Receiver) -> None:
    old = sample(1)
    buffer.append("press-1", old, at_us=now_us() - 31_000_000)
    forwarder = forwarder_for(buffer, receiver.url)
    buffer.append("press-1", sample(1, field="rpm"))  # after the forwarder started: live
    await forwarder.forward_once()
    assert receiver.points[("temp", old[0].ts_us)].historical is True
    assert [p.historical for (f, _), p in receiver.points.items() if f == "rpm"] == [False]


async def test_unanswered_posts_count_as_failures_and_flag_the_readings(buffer: EdgeBuffer) -> None:
    class TimedOut:
        async def post(self, token: str, body: bytes) -> Answer:
            return Answer(None, error="timed out")

    buffer.append("press-1", sample(1))
    forwarder = Forwarder(buffer, TimedOut(), {"press-1": TOKEN}, FAST)
    assert await forwarder.forward_once() is Round.FAILED
    assert buffer.peek(1)[0].reading.historical is True  # flagged in the file: survives a restart


@contextmanager
def serving(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def test_the_real_platform_stores_forwarded_and_replayed_points(
    app: Any, machine_factory: Callable[..., Machine], store: TelemetryStore, buffer: EdgeBuffer
) -> None:
    machine = machine_factory(protocol="http")
    start = now_us() - 5_000_000
    buffer.append("cnc", [Reading("temperature", start + i * 1001, 30.0 + i) for i in range(3)])
    with serving(app) as url:
        # The first forwarder fails (nobody listens), so the second one replays historical.
        dead = forwarder_for(buffer, f"http://127.0.0.1:{free_port()}", cnc=machine.token)
        assert await dead.forward_once() is Round.FAILED
        forwarder = forwarder_for(buffer, url, cnc=machine.token)
        assert await forwarder.forward_once() is Round.SENT
        buffer.append("cnc", [Reading("spindle_speed", now_us(), 1200.0)])
        assert await forwarder.forward_once() is Round.SENT
    assert buffer.counts().rows == 0
    tag = machine.tags["temperature"]
    points = store.raw(machine.tenant_id, [tag], start, start + 10_000)
    assert [(p.ts_us, p.value) for p in points] == [(start + i * 1001, 30.0 + i) for i in range(3)]
    assert all(unpack_quality(p.quality) == (Quality.GOOD, True) for p in points)
    live = store.raw(machine.tenant_id, [machine.tags["spindle_speed"]], start, now_us() + 1)
    assert [unpack_quality(p.quality)[1] for p in live] == [False]
