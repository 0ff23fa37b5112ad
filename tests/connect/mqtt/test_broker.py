"""The embedded amqtt broker: device authentication, topic ACLs, and telemetry committed before PUBACK."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, cast

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.limits import IngestLimits
from hexmill.connect.mqtt.broker import BrokerRuntime, EmbeddedBroker, start_embedded_broker
from hexmill.connect.mqtt.pipeline import TelemetryPipeline
from hexmill.connect.registry import service as registry
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.tenancy import set_scope
from hexmill.telemetry.store import PointRow, TelemetryStore
from tests.brokers import free_port
from tests.connect.conftest import Machine
from tests.connect.mqtt.helpers import payload, wait_for

pytestmark = [
    pytest.mark.slow,
    # amqtt leaves its per-connection tasks pending when the broker shuts down under load; the
    # asyncio "Task was destroyed but it is pending" report comes from amqtt's teardown, not ours.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

T0 = int(time.time() * 1000) - 3_600_000


class FlakyStore:
    """A telemetry store whose next ``failures`` writes fail as if the disk were gone."""

    def __init__(self, store: TelemetryStore) -> None:
        self._store = store
        self.failures = 0

    def write(self, tenant_id: int, rows: list[PointRow]) -> int:
        """Fail while failures remain, else write through."""
        if self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return self._store.write(tenant_id, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class Running:
    """An embedded broker on its own event loop thread."""

    def __init__(self, runtime: BrokerRuntime) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        started: Future[EmbeddedBroker] = asyncio.run_coroutine_threadsafe(
            start_embedded_broker(runtime, port=self.port), self.loop
        )
        self.broker = started.result(10)

    def stop(self) -> None:
        """Stop the broker and its loop."""
        asyncio.run_coroutine_threadsafe(self.broker.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def flaky_store(store: TelemetryStore) -> FlakyStore:
    """Wrap the test store so a test can make writes fail."""
    return FlakyStore(store)


@pytest.fixture
def embedded(session_factory: sessionmaker[Session], flaky_store: FlakyStore) -> Iterator[Running]:
    """Run the embedded broker, ingesting into the (flaky) test store."""
    pipeline = TelemetryPipeline(session_factory, cast(TelemetryStore, flaky_store), IngestLimits())
    running = Running(BrokerRuntime(session_factory, pipeline, batch_max_wait_ms=5))
    yield running
    running.stop()


class Client:
    """A paho MQTT 3.1.1 client (amqtt speaks 3.1.1)."""

    def __init__(self, port: int, username: str, password: str, *, client_id: str | None = None) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or username, protocol=paho.MQTTv311, clean_session=False
        )
        self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(1, 1)
        self.username = username
        self.connack: ReasonCode | None = None
        self.answered = threading.Event()
        self.connected = threading.Event()
        self.disconnects = 0
        self.suback: list[ReasonCode] = []
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.connect_async("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.connack = reason
        self.answered.set()
        if not reason.is_failure:
            self.connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.disconnects += 1
        self.connected.clear()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        self.suback = reasons
        self.subscribed.set()

    def publish(self, body: bytes, topic: str | None = None) -> paho.MQTTMessageInfo:
        """Publish with QoS 1 to the device's telemetry topic (or ``topic``)."""
        return self.client.publish(topic or f"hexmill/v1/{self.username}/telemetry", body, qos=1)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def _points(store: TelemetryStore, m: Machine) -> list[int]:
    return [p.ts_us for p in store.raw(m.tenant_id, [m.tags["temperature"]], 0, 2**62)]


def test_devices_log_in_with_their_registry_credentials_only(
    embedded: Running, machine_factory: Callable[..., Machine], session_factory: sessionmaker[Session]
) -> None:
    m, revoked, http = machine_factory(), machine_factory(), machine_factory(protocol="http")
    with transaction(session_factory) as s:
        set_scope(s, revoked.tenant_id)
        registry.revoke_device(s, Context.system(revoked.tenant_id), revoked.device_id)
    cases = {
        "good": Client(embedded.port, m.client_id, m.secret),
        "wrong secret": Client(embedded.port, m.client_id, "not-the-secret", client_id="x1"),
        "wildcard client id": Client(embedded.port, m.client_id, m.secret, client_id="a#"),
        "wildcard username": Client(embedded.port, "#", m.secret, client_id="x2"),
        "revoked": Client(embedded.port, revoked.client_id, revoked.secret),
        "not an MQTT device": Client(embedded.port, http.client_id, http.secret),
    }
    for client in cases.values():
        assert client.answered.wait(10)
    refused = {name for name, c in cases.items() if c.connack is not None and c.connack.is_failure}
    assert refused == set(cases) - {"good"}
    for client in cases.values():
        client.close()


def test_a_device_publishes_its_own_topic_only_and_subscribes_to_nothing(
    embedded: Running, machine_factory: Callable[..., Machine], store: TelemetryStore
) -> None:
    mine, theirs = machine_factory(), machine_factory()
    device = Client(embedded.port, mine.client_id, mine.secret)
    assert device.connected.wait(10)
    device.client.subscribe(
        [(f"hexmill/v1/{mine.client_id}/telemetry", 1), (f"hexmill/v1/{theirs.client_id}/telemetry", 1), ("#", 1)]
    )
    assert device.subscribed.wait(5)
    assert [r.is_failure for r in device.suback] == [True, True, True]
    device.publish(payload(T0, temperature=9.0), topic=f"hexmill/v1/{theirs.client_id}/telemetry").wait_for_publish(5)
    device.publish(payload(T0, temperature=1.0)).wait_for_publish(5)
    assert _points(store, mine) == [T0 * 1000]
    assert _points(store, theirs) == []
    device.close()


def test_the_puback_comes_after_the_points_are_committed(
    embedded: Running, machine_factory: Callable[..., Machine], store: TelemetryStore
) -> None:
    m = machine_factory()
    device = Client(embedded.port, m.client_id, m.secret)
    assert device.connected.wait(10)
    for i in range(20):
        device.publish(payload(T0 + i, temperature=float(i))).wait_for_publish(5)
        # The PUBACK is in: the point must already be readable.
        assert len(_points(store, m)) == i + 1
    device.close()


def test_a_failed_commit_sends_no_puback_and_the_device_sends_again(
    embedded: Running, machine_factory: Callable[..., Machine], store: TelemetryStore, flaky_store: FlakyStore
) -> None:
    m = machine_factory()
    device = Client(embedded.port, m.client_id, m.secret)
    assert device.connected.wait(10)
    flaky_store.failures = 1
    info = device.publish(payload(T0, temperature=3.0))
    wait_for(lambda: device.disconnects >= 1, 10, "the broker to drop the unacknowledged device")
    assert _points(store, m) == []
    info.wait_for_publish(15)  # paho resends the unacknowledged publish on the resumed session
    assert _points(store, m) == [T0 * 1000]
    device.close()


def test_a_device_revoked_while_connected_is_dropped_unacknowledged(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    pipeline = TelemetryPipeline(session_factory, store, IngestLimits())
    runtime = BrokerRuntime(session_factory, pipeline, batch_max_wait_ms=5)
    runtime.authenticator.ttl = 0.0  # check the registry on every message
    running = Running(runtime)
    try:
        m = machine_factory()
        device = Client(running.port, m.client_id, m.secret)
        assert device.connected.wait(10)
        device.publish(payload(T0, temperature=1.0)).wait_for_publish(5)
        with transaction(session_factory) as s:
            set_scope(s, m.tenant_id)
            registry.revoke_device(s, Context.system(m.tenant_id), m.device_id)
        late = device.publish(payload(T0 + 1000, temperature=2.0))
        wait_for(lambda: device.disconnects >= 1, 10, "the broker to drop the revoked device")
        time.sleep(0.5)
        assert not late.is_published()
        assert _points(store, m) == [T0 * 1000]
        device.close()
    finally:
        running.stop()
