"""The simulator as a Sparkplug B edge node: one device per machine, births, data and death certificate.

Topics, for group ``<group>`` and edge node ``<node>``: ``spBv1.0/<group>/NBIRTH/<node>``,
``spBv1.0/<group>/DBIRTH/<node>/<machine>``, ``spBv1.0/<group>/DDATA/<node>/<machine>`` and
``spBv1.0/<group>/NDEATH/<node>`` (the will). On each (re)connection the node publishes NBIRTH
(``bdSeq``, ``Node Control/Rebirth``) with seq 0 and a DBIRTH per machine with every field, then a
DDATA per machine with the fields that changed since. Metrics carry names (no aliases); floats are
Double, integers Int64, booleans Boolean and strings String. A Rebirth NCMD makes it publish its
births again; a clean stop publishes the NDEATH itself before disconnecting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

import paho.mqtt.client as mqtt

from hexmill.connect.simulator.mqtt_publisher import MqttLink
from hexmill.connect.simulator.plant import DataType, MachineSpec
from hexmill.connect.sparkplug.codec import (
    BD_SEQ,
    REBIRTH,
    SEQ_MODULUS,
    MessageType,
    MetricSpec,
    PayloadError,
    Topic,
    check_id,
    decode_payload,
    encode_payload,
)
from hexmill.connect.sparkplug.codec import DataType as MetricType
from hexmill.telemetry.points import Value

log = logging.getLogger(__name__)

_METRIC_TYPE: Mapping[DataType, MetricType] = {
    "float": MetricType.DOUBLE,
    "integer": MetricType.INT64,
    "boolean": MetricType.BOOLEAN,
    "string": MetricType.STRING,
}


class SparkplugPublisher:
    """Publish the plant as one Sparkplug B edge node whose devices are the machines."""

    def __init__(
        self,
        layout: Iterable[MachineSpec],
        *,
        group_id: str,
        node_id: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.group_id = check_id("group_id", group_id)
        self.node_id = check_id("edge_node_id", node_id)
        self._types = {
            machine.machine_id: {spec.name: _METRIC_TYPE[spec.data_type] for spec in machine.fields}
            for machine in layout
        }
        # paho's thread (connect, disconnect, NCMD) and the step loop share the sequence state.
        self._lock = threading.Lock()
        self._bd_seq = 0
        self._seq = 0
        self._needs_birth = True
        self._sent: dict[str, dict[str, Value]] = {}
        self._link = MqttLink(
            f"hexmill-sim-{node_id}",
            host=host,
            port=port,
            username=username,
            password=password,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
        )
        self._link.client.on_message = self._on_message
        self._set_will()

    def node_topic(self, message_type: MessageType) -> str:
        """Return this edge node's topic of one node message type."""
        return Topic.node(message_type, self.group_id, self.node_id).to_str()

    def device_topic(self, message_type: MessageType, machine_id: str) -> str:
        """Return one machine's topic of one device message type."""
        return Topic.device(message_type, self.group_id, self.node_id, machine_id).to_str()

    def _death(self) -> bytes:
        return encode_payload([MetricSpec(BD_SEQ, MetricType.INT64, self._bd_seq)], timestamp_ms=None)

    def _set_will(self) -> None:
        self._link.client.will_set(self.node_topic(MessageType.NDEATH), self._death(), qos=1, retain=False)

    def _on_connected(self, client: mqtt.Client) -> None:
        client.subscribe(self.node_topic(MessageType.NCMD), qos=1)
        with self._lock:
            self._needs_birth = True

    def _on_disconnected(self, client: mqtt.Client) -> None:
        with self._lock:
            # A new session is a new birth/death pair: the next NBIRTH and its will carry the next bdSeq.
            self._bd_seq = (self._bd_seq + 1) % SEQ_MODULUS
            self._set_will()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            payload = decode_payload(bytes(message.payload))
        except PayloadError as exc:
            log.warning("Sparkplug NCMD not decodable: %s", exc)
            return
        if any(metric.name == REBIRTH and metric.value is True for metric in payload.metrics):
            with self._lock:
                self._needs_birth = True

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) % SEQ_MODULUS
        return seq

    def _payload(self, machine_id: str, values: Mapping[str, Value], stamp: int) -> bytes:
        types = self._types[machine_id]
        metrics = [MetricSpec(name, types[name], value) for name, value in values.items() if name in types]
        return encode_payload(metrics, timestamp_ms=stamp, seq=self._next_seq())

    async def start(self) -> None:
        """Connect to the broker; the births go out with the first step after each connection."""
        await self._link.start()

    async def publish(self, now_s: float, values: Mapping[str, Mapping[str, Value]]) -> None:
        """Publish one step: births after a (re)connection or a rebirth request, else DDATA of the changes."""
        if not self._link.connected.is_set():
            return  # Sparkplug data without a birth in the same session means nothing to a host.
        stamp = round(now_s * 1000)
        machines = [machine_id for machine_id in values if machine_id in self._types]
        with self._lock:
            if self._needs_birth:
                self._needs_birth = False
                self._seq = 0
                node_metrics = [
                    MetricSpec(BD_SEQ, MetricType.INT64, self._bd_seq),
                    MetricSpec(REBIRTH, MetricType.BOOLEAN, False),
                ]
                birth = encode_payload(node_metrics, timestamp_ms=stamp, seq=self._next_seq())
                self._link.publish(self.node_topic(MessageType.NBIRTH), birth)
                for machine_id in machines:
                    payload = self._payload(machine_id, values[machine_id], stamp)
                    self._link.publish(self.device_topic(MessageType.DBIRTH, machine_id), payload)
                    self._sent[machine_id] = dict(values[machine_id])
                return
            for machine_id in machines:
                sent = self._sent.setdefault(machine_id, {})
                changed = {name: value for name, value in values[machine_id].items() if sent.get(name) != value}
                if changed:
                    payload = self._payload(machine_id, changed, stamp)
                    self._link.publish(self.device_topic(MessageType.DDATA, machine_id), payload)
                    sent.update(changed)

    async def stop(self) -> None:
        """Publish the NDEATH, let it arrive, then disconnect."""
        if self._link.connected.is_set():
            with self._lock:
                death = self._death()
            self._link.publish(self.node_topic(MessageType.NDEATH), death)
        await self._link.stop()
