"""The embedded broker's grants for Sparkplug B: edge nodes as registry devices, hosts by password."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from amqtt.contexts import Action
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.limits import IngestLimits
from hexmill.connect.mqtt.broker import BrokerRuntime, Grant, allows
from hexmill.connect.mqtt.pipeline import TelemetryPipeline
from hexmill.telemetry.store import TelemetryStore
from tests.connect.conftest import Machine
from tests.connect.mqtt.helpers import payload, wait_for
from tests.connect.mqtt.test_broker import T0, Client, Running, _points

EDGE = Grant("edge", "dev-pack", group_id="plant", edge_node_id="line-2")
HOST = Grant("host", "scada")
JSON = Grant("json", "dev-json")
PUBLISH, SUBSCRIBE, RECEIVE = Action.PUBLISH, Action.SUBSCRIBE, Action.RECEIVE


@pytest.mark.parametrize(
    ("grant", "topic", "action", "allowed"),
    [
        # An edge node publishes its own births, data and deaths, and its devices'.
        (EDGE, "spBv1.0/plant/NBIRTH/line-2", PUBLISH, True),
        (EDGE, "spBv1.0/plant/NDEATH/line-2", PUBLISH, True),
        (EDGE, "spBv1.0/plant/DDATA/line-2/pack-2", PUBLISH, True),
        (EDGE, "spBv1.0/plant/DBIRTH/line-2/pack-2", PUBLISH, True),
        # ...not another node's or group's, not commands, not STATE, not JSON telemetry.
        (EDGE, "spBv1.0/plant/NBIRTH/line-3", PUBLISH, False),
        (EDGE, "spBv1.0/other/DDATA/line-2/pack-2", PUBLISH, False),
        (EDGE, "spBv1.0/plant/DDATA/line-2/+", PUBLISH, False),
        (EDGE, "spBv1.0/plant/NCMD/line-2", PUBLISH, False),
        (EDGE, "spBv1.0/STATE/scada", PUBLISH, False),
        (EDGE, "hexmill/v1/dev-pack/telemetry", PUBLISH, False),
        # It hears its own commands and the hosts' STATE, nothing else.
        (EDGE, "spBv1.0/plant/NCMD/line-2", SUBSCRIBE, True),
        (EDGE, "spBv1.0/plant/DCMD/line-2/+", SUBSCRIBE, True),
        (EDGE, "spBv1.0/STATE/+", SUBSCRIBE, True),
        (EDGE, "spBv1.0/plant/NCMD/line-2", RECEIVE, True),
        (EDGE, "spBv1.0/plant/DCMD/line-2/pack-2", RECEIVE, True),
        (EDGE, "spBv1.0/STATE/scada", RECEIVE, True),
        (EDGE, "spBv1.0/#", SUBSCRIBE, False),
        (EDGE, "spBv1.0/plant/NCMD/+", SUBSCRIBE, False),
        (EDGE, "spBv1.0/plant/DDATA/line-3/pack-9", RECEIVE, False),
        # A host reads the namespace and publishes its STATE and commands.
        (HOST, "spBv1.0/#", SUBSCRIBE, True),
        (HOST, "spBv1.0/plant/DDATA/line-2/pack-2", RECEIVE, True),
        (HOST, "spBv1.0/STATE/scada", PUBLISH, True),
        (HOST, "spBv1.0/plant/NCMD/line-2", PUBLISH, True),
        (HOST, "spBv1.0/plant/DCMD/line-2/pack-2", PUBLISH, True),
        (HOST, "spBv1.0/STATE/other-host", PUBLISH, False),
        (HOST, "spBv1.0/plant/NBIRTH/line-2", PUBLISH, False),
        (HOST, "spBv1.0/plant/NCMD/+", PUBLISH, False),
        (HOST, "#", SUBSCRIBE, False),
        (HOST, "hexmill/v1/+/telemetry", SUBSCRIBE, False),
        (HOST, "hexmill/v1/dev-json/telemetry", PUBLISH, False),
        # JSON devices are as before: their own telemetry topic, and nothing of Sparkplug.
        (JSON, "hexmill/v1/dev-json/telemetry", PUBLISH, True),
        (JSON, "hexmill/v1/dev-other/telemetry", PUBLISH, False),
        (JSON, "spBv1.0/plant/NBIRTH/line-2", PUBLISH, False),
        (JSON, "spBv1.0/#", SUBSCRIBE, False),
        (JSON, "spBv1.0/STATE/scada", RECEIVE, False),
    ],
)
def test_grants_decide_topics(grant: Grant, topic: str, action: Action, allowed: bool) -> None:
    assert allows(grant, topic, action) is allowed


class Listener(Client):
    """A client that remembers the topics of the messages it receives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.topics: list[str] = []
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)
        self.client.on_message = self._on_message

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.topics.append(message.topic)

    def subscribe(self, *filters: str) -> list[bool]:
        """Subscribe and return, per filter, whether the broker granted it."""
        self.subscribed.clear()
        self.client.subscribe([(f, 1) for f in filters])
        assert self.subscribed.wait(5)
        return [not reason.is_failure for reason in self.suback]


@pytest.fixture
def sparkplug_broker(session_factory: sessionmaker[Session], store: TelemetryStore) -> Iterator[Running]:
    """Run the embedded broker with one Sparkplug host, ``scada`` / ``host-pw``."""
    pipeline = TelemetryPipeline(session_factory, store, IngestLimits())
    running = Running(
        BrokerRuntime(session_factory, pipeline, batch_max_wait_ms=5, sparkplug_hosts={"scada": "host-pw"})
    )
    yield running
    running.stop()
    # amqtt's streams left behind at shutdown are reported when collected: here, under this test's filter.
    gc.collect()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # amqtt's teardown, as in test_broker
def test_an_edge_node_and_a_host_talk_through_the_broker(
    sparkplug_broker: Running, machine_factory: Callable[..., Machine], store: TelemetryStore
) -> None:
    port = sparkplug_broker.port
    pack = machine_factory(
        protocol="sparkplug", config={"group_id": "plant", "edge_node_id": "line-2", "device_id": "pack-2"}
    )
    json_device = machine_factory()
    cases = {
        "host, wrong password": Client(port, "scada", "not-it", client_id="h1"),
        "unknown host": Client(port, "scada-2", "host-pw", client_id="h2"),
        "edge, wrong secret": Client(port, pack.client_id, "not-it", client_id="e1"),
    }
    for client in cases.values():
        assert client.answered.wait(10)
        assert client.connack is not None and client.connack.is_failure
        client.close()

    host = Listener(port, "scada", "host-pw", client_id="scada-host")
    edge = Listener(port, pack.client_id, pack.secret, client_id="edge-line-2")
    other = Listener(port, json_device.client_id, json_device.secret)
    try:
        assert host.connected.wait(10) and edge.connected.wait(10) and other.connected.wait(10)
        assert host.subscribe("spBv1.0/#") == [True]
        assert edge.subscribe("spBv1.0/plant/NCMD/line-2", "spBv1.0/STATE/+", "spBv1.0/#") == [True, True, False]
        assert other.subscribe("spBv1.0/#") == [False]

        edge.publish(b"birth", topic="spBv1.0/plant/NBIRTH/line-2").wait_for_publish(5)
        edge.publish(b"not mine", topic="spBv1.0/plant/NBIRTH/line-3").wait_for_publish(5)
        # An edge node's credentials do not let it post JSON telemetry as its device.
        edge.publish(payload(T0, temperature=1.0), topic=f"hexmill/v1/{pack.client_id}/telemetry").wait_for_publish(5)
        host.publish(b"state", topic="spBv1.0/STATE/scada").wait_for_publish(5)
        host.publish(b"rebirth", topic="spBv1.0/plant/NCMD/line-2").wait_for_publish(5)

        wait_for(lambda: "spBv1.0/plant/NCMD/line-2" in edge.topics, 10, "the command to reach the edge node")
        wait_for(lambda: "spBv1.0/STATE/scada" in edge.topics, 10, "the host's STATE to reach the edge node")
        wait_for(lambda: "spBv1.0/plant/NBIRTH/line-2" in host.topics, 10, "the birth to reach the host")
        assert "spBv1.0/plant/NBIRTH/line-3" not in host.topics
        assert _points(store, pack) == []
        assert other.topics == []
    finally:
        for client in (host, edge, other):
            client.close()
