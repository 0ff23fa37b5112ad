"""MQTT ingest end to end through a real Mosquitto whose password and ACL files come from the registry sync."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from paho.mqtt import publish
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.mqtt.client import IngestClient
from hexmill.connect.mqtt.config import ConnectionFailed, IngestConfig, test_connection
from hexmill.connect.mqtt.pipeline import TelemetryPipeline
from hexmill.connect.mqtt.poller import IngestWorker
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.models import DeadLetter
from hexmill.connect.registry.models import Device as DeviceRow
from hexmill.connect.registry.service import DeviceCounters
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.tenancy import set_scope
from hexmill.telemetry.store import TelemetryStore
from tests.brokers import Mosquitto
from tests.connect.conftest import Machine
from tests.connect.mqtt.helpers import INGEST_PASSWORD, INGEST_USER, Device, SecuredBroker, payload, wait_for

pytestmark = [
    pytest.mark.slow,
    # tests/brokers.py leaves the broker's log file for the garbage collector to close.
    pytest.mark.filterwarnings(
        r"ignore:unclosed file <_io\.BufferedWriter name='[^']*mosquitto\.log'>:ResourceWarning"
    ),
]

T0 = int(time.time() * 1000) - 3_600_000  # an hour ago, in epoch ms: inside the accepted window


def _points(store: TelemetryStore, m: Machine, tag: str = "temperature") -> list[int]:
    return [p.ts_us for p in store.raw(m.tenant_id, [m.tags[tag]], 0, 2**62)]


def _letters(factory: sessionmaker[Session], m: Machine) -> list[DeadLetter]:
    with transaction(factory) as s:
        set_scope(s, m.tenant_id)
        return list(s.scalars(select(DeadLetter).where(DeadLetter.device_id == m.device_id)))


def _machines(machine_factory: Callable[..., Machine], broker: SecuredBroker, n: int) -> list[Machine]:
    machines = [machine_factory() for _ in range(n)]
    broker.sync()
    return machines


def test_published_points_are_stored_and_bad_records_dead_lettered(
    secured_broker: SecuredBroker,
    worker_factory: Callable[..., IngestWorker],
    machine_factory: Callable[..., Machine],
    session_factory: sessionmaker[Session],
    store: TelemetryStore,
) -> None:
    [m] = _machines(machine_factory, secured_broker, 1)
    worker = worker_factory()
    device = Device(secured_broker.port, m.client_id, m.secret)
    assert device.wait_connected()
    device.publish_all(
        [
            payload(T0, temperature=20.5, spindle_speed=1200),
            b'[{"ts": %d, "values": {"temperature": 21.5, "nope": 1}}, {"ts": "soon", "values": {"cycles": 1}}]'
            % (T0 + 1000),
            b"{not json",
        ]
    )
    wait_for(lambda: worker.stats.messages >= 3, 10, "three messages ingested")
    assert _points(store, m) == [T0 * 1000, (T0 + 1000) * 1000]
    assert len(_points(store, m, "spindle_speed")) == 1
    reasons = sorted(letter.location for letter in _letters(session_factory, m))
    assert reasons == ["$", "[1].ts", "values.nope"]
    device.close()


def test_two_workers_share_a_subscription_and_each_message_is_stored_once(
    secured_broker: SecuredBroker,
    worker_factory: Callable[..., IngestWorker],
    machine_factory: Callable[..., Machine],
    store: TelemetryStore,
) -> None:
    [m] = _machines(machine_factory, secured_broker, 1)
    # Rate caps off: this is about the shared subscription, the limits are below.
    workers = [
        worker_factory(f"ingest-{x}", batch_max_messages=10, device_messages_per_s=0, tenant_messages_per_s=0)
        for x in "ab"
    ]
    device = Device(secured_broker.port, m.client_id, m.secret)
    assert device.wait_connected()
    device.publish_all([payload(T0 + i, temperature=i) for i in range(400)])
    wait_for(lambda: sum(w.stats.messages for w in workers) >= 400, 20, "400 messages ingested")
    assert all(w.stats.messages > 40 for w in workers), [w.stats.messages for w in workers]
    assert sum(w.stats.messages for w in workers) == 400
    assert len(_points(store, m)) == 400
    device.close()


def test_a_device_cannot_publish_under_another_devices_id(
    secured_broker: SecuredBroker,
    worker_factory: Callable[..., IngestWorker],
    machine_factory: Callable[..., Machine],
    store: TelemetryStore,
) -> None:
    mine, theirs = _machines(machine_factory, secured_broker, 2)
    worker = worker_factory()
    device = Device(secured_broker.port, mine.client_id, mine.secret)
    assert device.wait_connected()
    foreign = device.publish(payload(T0, temperature=99.0), topic=f"hexmill/v1/{theirs.client_id}/telemetry")
    # Mosquitto 2.0 answers PUBACK "not authorized" (0x87) and drops the connection; the device comes back.
    wait_for(lambda: foreign.mid in device.pubacks or not device.connected.is_set(), 5, "the refusal")
    time.sleep(0.2)
    assert device.wait_connected()
    device.publish_all([payload(T0, temperature=1.0)])
    wait_for(lambda: worker.stats.messages >= 1, 10, "own message ingested")
    time.sleep(0.3)
    assert worker.stats.messages == 1
    assert _points(store, theirs) == []
    assert _points(store, mine) == [T0 * 1000]
    device.close()


def test_a_multi_filter_subscribe_gets_every_foreign_filter_refused(
    secured_broker: SecuredBroker, machine_factory: Callable[..., Machine]
) -> None:
    mine, theirs = _machines(machine_factory, secured_broker, 2)
    spy = Device(secured_broker.port, mine.client_id, mine.secret, clean_start=True)
    other = Device(secured_broker.port, theirs.client_id, theirs.secret, clean_start=True)
    assert spy.wait_connected()
    assert other.wait_connected()
    codes = spy.subscribe(f"hexmill/v1/{theirs.client_id}/telemetry", "hexmill/v1/+/telemetry", "#")
    other.publish_all([payload(T0, temperature=5.0)])
    time.sleep(0.5)
    # Mosquitto 2.0 grants the SUBACK and applies the read ACL on delivery: nothing foreign arrives.
    assert len(codes) == 3
    assert spy.received == []
    spy.close()
    other.close()


@pytest.mark.parametrize("username", ["+", "#", "dev-x/#", "hexmill/v1/+"])
def test_wildcard_usernames_are_refused(secured_broker: SecuredBroker, username: str) -> None:
    intruder = Device(secured_broker.port, username, "whatever", client_id="intruder", clean_start=True)
    assert intruder.answered.wait(5)
    assert intruder.connack is not None and intruder.connack.is_failure
    intruder.close()


def test_a_wildcard_client_id_gets_nothing_even_with_good_credentials(
    secured_broker: SecuredBroker,
    worker_factory: Callable[..., IngestWorker],
    machine_factory: Callable[..., Machine],
    store: TelemetryStore,
) -> None:
    mine, theirs = _machines(machine_factory, secured_broker, 2)
    worker = worker_factory()
    other = Device(secured_broker.port, theirs.client_id, theirs.secret, clean_start=True)
    for client_id in ("#", "dev+1"):
        device = Device(secured_broker.port, mine.client_id, mine.secret, client_id=client_id, clean_start=True)
        assert device.wait_connected()
        device.subscribe("#")
        own = device.publish(payload(T0, temperature=8.0))
        wait_for(lambda: own.mid in device.pubacks or not device.connected.is_set(), 5, "the refusal")  # noqa: B023
        assert other.wait_connected()
        other.publish_all([payload(T0, temperature=1.0)])
        time.sleep(0.3)
        assert device.received == []
        device.close()
    wait_for(lambda: worker.stats.messages >= 2, 10, "the other device's messages ingested")
    time.sleep(0.3)
    assert worker.stats.messages == 2
    assert _points(store, mine) == []
    other.close()


def test_a_revoked_device_with_a_persistent_session_can_no_longer_publish(
    secured_broker: SecuredBroker,
    worker_factory: Callable[..., IngestWorker],
    machine_factory: Callable[..., Machine],
    session_factory: sessionmaker[Session],
    store: TelemetryStore,
) -> None:
    [m] = _machines(machine_factory, secured_broker, 1)
    worker = worker_factory()
    device = Device(secured_broker.port, m.client_id, m.secret)
    assert device.wait_connected()
    device.publish_all([payload(T0, temperature=1.0)])
    wait_for(lambda: worker.stats.messages >= 1, 10, "first message ingested")
    with transaction(session_factory) as s:
        set_scope(s, m.tenant_id)
        registry.revoke_device(s, Context.system(m.tenant_id), m.device_id)
    result = secured_broker.sync()
    assert result.reloaded
    wait_for(lambda: not device.connected.is_set(), 5, "the broker to drop the revoked device")
    device.answered.clear()
    late = device.publish(payload(T0 + 1000, temperature=2.0))
    assert device.answered.wait(5), "the device did not try to reconnect"
    assert device.connack is not None and device.connack.is_failure
    time.sleep(0.5)
    assert late.rc != 0 or not late.is_published()
    assert _points(store, m) == [T0 * 1000]
    device.close()


def test_a_flooding_device_is_refused_without_hurting_another_enterprises_device(
    secured_broker: SecuredBroker,
    worker_factory: Callable[..., IngestWorker],
    machine_factory: Callable[..., Machine],
    session_factory: sessionmaker[Session],
    store: TelemetryStore,
) -> None:
    flood, calm = _machines(machine_factory, secured_broker, 2)
    assert flood.tenant_id != calm.tenant_id
    worker = worker_factory(device_messages_per_s=5)
    noisy = Device(secured_broker.port, flood.client_id, flood.secret)
    quiet = Device(secured_broker.port, calm.client_id, calm.secret)
    assert noisy.wait_connected()
    assert quiet.wait_connected()
    noisy.publish_all([payload(T0 + i, temperature=i) for i in range(100)])
    quiet.publish_all([payload(T0 + i * 1000, temperature=i) for i in range(4)])
    wait_for(lambda: worker.stats.messages >= 104, 10, "104 messages ingested")
    refused = worker.stats.refused["quota"]
    assert refused >= 80
    assert len(_points(store, flood)) == 100 - refused
    assert len(_points(store, calm)) == 4
    letters = _letters(session_factory, flood)
    assert len(letters) == refused
    assert all("faster than 5 messages per second" in letter.reason for letter in letters)
    noisy.close()
    quiet.close()


def test_connection_test_accepts_the_ingest_user_and_refuses_a_wrong_password(secured_broker: SecuredBroker) -> None:
    good = IngestConfig(port=secured_broker.port, username=INGEST_USER, password=INGEST_PASSWORD)
    test_connection(good)
    with pytest.raises(ConnectionFailed):
        test_connection(good.model_copy(update={"password": None}))


def test_device_counters_are_written_every_interval_and_when_the_worker_stops(
    secured_broker: SecuredBroker,
    machine_factory: Callable[..., Machine],
    session_factory: sessionmaker[Session],
    store: TelemetryStore,
) -> None:
    [m] = _machines(machine_factory, secured_broker, 1)

    def counted() -> tuple[int, int]:
        with transaction(session_factory) as s:
            set_scope(s, m.tenant_id)
            accepted, rejected = s.execute(
                select(DeviceRow.points_accepted, DeviceRow.records_rejected).where(DeviceRow.id == m.device_id)
            ).one()
            return accepted, rejected

    def start(interval: float) -> tuple[IngestWorker, threading.Event, threading.Thread]:
        config = IngestConfig(
            port=secured_broker.port,
            username=INGEST_USER,
            password=INGEST_PASSWORD,
            client_id="ingest-counters",
            group="g1",
            counters_interval_s=interval,
        )
        pipeline = TelemetryPipeline(session_factory, store, config.limits, counters=DeviceCounters(interval))
        worker, stop = IngestWorker(config, pipeline), threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        assert worker.client.wait_subscribed(10), "the ingest worker did not subscribe"
        return worker, stop, thread

    device = Device(secured_broker.port, m.client_id, m.secret)
    assert device.wait_connected()
    worker, stop, thread = start(0.5)
    device.publish_all([payload(T0, temperature=1.0, nope=2)])
    wait_for(lambda: counted() == (1, 1), 10, "the counters written after their interval")
    stop.set()
    thread.join(10)

    worker, stop, thread = start(300)
    device.publish_all([payload(T0 + 1, temperature=1.0, nope=2)])
    wait_for(lambda: worker.stats.messages >= 1, 10, "the second message ingested")
    assert counted() == (1, 1)  # stored and acknowledged, counters not yet written
    stop.set()
    thread.join(10)
    assert counted() == (2, 2)  # written when the worker stopped
    device.close()


@pytest.mark.xfail(
    strict=True,
    reason="Mosquitto 2.0.11 (Debian 12) strands shared-subscription messages of sessions restored offline",
)
def test_a_restored_offline_session_gets_what_the_group_was_sent_after_a_broker_restart(mosquitto: Mosquitto) -> None:
    """The broker defect behind the no-loss test's restart step, kept as a record: it passes once fixed.

    Two workers' persistent sessions share the subscription; both are offline when the broker
    restarts; messages published then are acknowledged to the publisher and should wait in the
    sessions. Debian's Mosquitto delivers none of them when the workers come back.
    """
    configs = [IngestConfig(port=mosquitto.port, username=None, client_id=f"restored-{n}") for n in range(2)]
    for config in configs:
        client = IngestClient(config)
        client.start()
        assert client.wait_subscribed(10)
        client.stop()
    mosquitto.restart()
    sent = {f"m{i}".encode() for i in range(50)}
    for body in sorted(sent):
        publish.single("hexmill/v1/dev-1/telemetry", body, qos=1, port=mosquitto.port)
    clients = [IngestClient(config) for config in configs]
    for client in clients:
        client.start()
    got: set[bytes] = set()
    deadline = time.monotonic() + 5
    try:
        while time.monotonic() < deadline and got != sent:
            for client in clients:
                batch = client.take(100, 0.05, 0.1)
                got |= {d.payload for d in batch}
                client.ack(batch)
    finally:
        for client in clients:
            client.stop()
    assert got == sent


def test_two_workers_hold_a_devices_rate_limit_together(
    secured_broker: SecuredBroker,
    worker_factory: Callable[..., IngestWorker],
    machine_factory: Callable[..., Machine],
    store: TelemetryStore,
) -> None:
    [m] = _machines(machine_factory, secured_broker, 1)
    # Two workers with limiters of their own, as two `hexmill ingest` processes have.
    workers = [
        worker_factory(f"ingest-{x}", device_messages_per_s=10, counters_interval_s=0.2, batch_max_messages=10)
        for x in "ab"
    ]
    wait_for(lambda: all(w.workers_alive == 2 for w in workers), 10, "each worker to see the other")
    device = Device(secured_broker.port, m.client_id, m.secret)
    assert device.wait_connected()
    device.publish_all([payload(T0 + i, temperature=i) for i in range(200)])
    wait_for(lambda: sum(w.stats.messages for w in workers) >= 200, 20, "200 messages ingested")
    accepted = len(_points(store, m))
    assert accepted == 200 - sum(w.stats.refused["quota"] for w in workers)
    # The limit's burst is 10 messages; each worker alone would have let 10 through (20 together),
    # plus what the buckets refill at 10 msg/s in all while the flood lasts.
    assert 5 <= accepted <= 16, accepted
    device.close()
