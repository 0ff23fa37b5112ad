"""The Sparkplug B 3.0 Host Application state machine: sessions, sequence checks, aliases, staleness (pure).

``HostApplication`` takes MQTT messages (topic and bytes) and the passing of time, and answers
with effects for the caller to carry out: readings to store, birth certificates to turn into tags,
link-state changes, refused metrics to count, and commands to publish. It does no I/O and reads
time only from the clocks it is given, so tests drive it with a fake clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from hexmill.connect.base import LinkState
from hexmill.connect.sparkplug.codec import (
    BD_SEQ,
    SEQ_MODULUS,
    DataType,
    MessageType,
    Metric,
    MetricRefused,
    Payload,
    PayloadError,
    Topic,
    TopicError,
    decode_payload,
    decode_state,
    encode_rebirth_command,
    encode_state,
    parse_topic,
)
from hexmill.telemetry.points import Quality, Reading, Value

logger = logging.getLogger(__name__)

_DATA_TYPES = frozenset({MessageType.DBIRTH, MessageType.DDATA, MessageType.NDATA, MessageType.DDEATH})


class DeviceKey(NamedTuple):
    """Which Sparkplug device a result belongs to; ``device_id`` is ``None`` for the edge node itself."""

    group_id: str
    edge_node_id: str
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """One metric as a birth certificate declares it: what the device registry makes a tag from."""

    name: str
    datatype: DataType
    alias: int | None = None
    is_transient: bool = False


@dataclass(frozen=True, slots=True)
class ReadingsReceived:
    """Readings of one node or device, to be stored (stale ones included)."""

    key: DeviceKey
    readings: tuple[Reading, ...]


@dataclass(frozen=True, slots=True)
class BirthReceived:
    """A birth certificate: every metric of one node or device, to create or refresh its tags."""

    key: DeviceKey
    metrics: tuple[MetricDefinition, ...]


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """A node or device came online or went away."""

    key: DeviceKey
    state: LinkState
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRefused:
    """A message, or some metrics of it, could not be used; each reason names what and why."""

    topic: str
    key: DeviceKey | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish an MQTT message (an NCMD, or this host's STATE)."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


Effect = ReadingsReceived | BirthReceived | LinkChanged | MessageRefused | Publish


@dataclass(slots=True)
class _Known:
    definition: MetricDefinition
    last: Value | None = None


@dataclass(slots=True)
class _Table:
    """The metrics one birth certificate declared, by name and by alias."""

    metrics: dict[str, _Known] = field(default_factory=dict)
    aliases: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Device:
    table: _Table
    online: bool = True


@dataclass(frozen=True, slots=True)
class _Incoming:
    """One decoded message of an edge node, as it waits in the reorder buffer."""

    parsed: Topic
    key: DeviceKey
    topic: str
    payload: Payload

    @property
    def message_type(self) -> MessageType:
        return self.parsed.message_type


@dataclass(slots=True)
class _Node:
    """One edge node session, from its NBIRTH to its NDEATH."""

    bd_seq: int | None
    expected_seq: int
    table: _Table
    online: bool = True
    devices: dict[str, _Device] = field(default_factory=dict)
    held: dict[int, _Incoming] = field(default_factory=dict)
    held_since: float | None = None
    resync: bool = False  # a rebirth was requested after a sequence gap; data waits for the NBIRTH


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class HostApplication:
    """Track every edge node's Sparkplug session and turn its messages into effects.

    ``reorder_timeout_s`` is how long an out-of-order message waits for the ones missing before
    it; when it runs out the host asks the node for a rebirth. The same interval spaces repeated
    rebirth requests to one node.
    """

    def __init__(
        self,
        host_id: str,
        *,
        reorder_timeout_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self.host_id = host_id
        self.state_topic = Topic.state(host_id).to_str()
        self.reorder_timeout_s = reorder_timeout_s
        self._monotonic = monotonic
        self._wall_ms = wall_ms
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._rebirth_asked: dict[tuple[str, str], float] = {}
        self._session_ms: int | None = None
        self._online = False

    # -- this host's own STATE ------------------------------------------------------------------

    def start_session(self) -> Publish:
        """Begin a connection: return the Will message (STATE offline) to register in CONNECT.

        The STATE online message published after CONNACK carries the same timestamp, as the
        specification requires, so edge nodes can tell this session's death from an older one.
        """
        self._session_ms = self._wall_ms()
        self._online = False
        return self._state(online=False)

    def online(self) -> list[Effect]:
        """Return the retained STATE online message to publish once the subscriptions are in place."""
        self._online = True
        return [self._state(online=True)]

    def offline(self) -> Publish:
        """Return the STATE offline message to publish before a clean disconnect."""
        self._online = False
        return self._state(online=False)

    def _state(self, *, online: bool) -> Publish:
        if self._session_ms is None:
            self._session_ms = self._wall_ms()
        return Publish(self.state_topic, encode_state(online=online, timestamp_ms=self._session_ms), 1, True)

    def connection_lost(self) -> list[Effect]:
        """Mark every node and device stale: while disconnected the host cannot know their state."""
        self._online = False
        effects: list[Effect] = []
        for key, node in self._nodes.items():
            if node.online:
                effects.extend(self._node_died(DeviceKey(*key), node, "host lost its broker connection"))
        self._nodes.clear()
        self._rebirth_asked.clear()
        return effects

    # -- messages ---------------------------------------------------------------------------------

    def handle(self, topic: str, data: bytes) -> list[Effect]:
        """Process one MQTT message of the ``spBv1.0`` namespace and return what follows from it."""
        try:
            parsed = parse_topic(topic)
        except TopicError as exc:
            return [MessageRefused(topic, None, (str(exc),))]
        if parsed.message_type is MessageType.STATE:
            return self._on_state(parsed, topic, data)
        if parsed.message_type in (MessageType.NCMD, MessageType.DCMD):
            return []  # commands of other host applications
        return self._on_edge_message(parsed, topic, data)

    def _on_edge_message(self, parsed: Topic, topic: str, data: bytes) -> list[Effect]:
        key = DeviceKey(str(parsed.group_id), str(parsed.edge_node_id), parsed.device_id)
        try:
            message = _Incoming(parsed, key, topic, decode_payload(data))
        except PayloadError as exc:
            return [MessageRefused(topic, key, (str(exc),))]
        if parsed.message_type is MessageType.NBIRTH:
            return self._on_nbirth(message)
        if parsed.message_type is MessageType.NDEATH:
            return self._on_ndeath(message)
        return self._sequenced(message, self._monotonic())

    def _on_state(self, parsed: Topic, topic: str, data: bytes) -> list[Effect]:
        if parsed.host_id != self.host_id:
            return []
        try:
            state = decode_state(data)
        except PayloadError as exc:
            return [MessageRefused(topic, None, (str(exc),))]
        if not state.online and self._online:
            # Someone (or an old Will) declared this host offline while it is connected: correct it.
            logger.warning("STATE offline seen for host %s while online; publishing online again", self.host_id)
            return self.online()
        return []

    def _sequenced(self, message: _Incoming, now: float) -> list[Effect]:
        """Put the sequenced messages of a node (DBIRTH, NDATA, DDATA, DDEATH) in order, then apply them."""
        key, seq = message.key, message.payload.seq
        node = self._nodes.get((key.group_id, key.edge_node_id))
        if node is None or not node.online or node.resync:
            reason = "awaiting rebirth" if node is not None and node.resync else "edge node has not been born"
            refused = MessageRefused(message.topic, key, (f"{message.message_type} dropped: {reason}",))
            return [refused, *self._ask_rebirth(key, now, reason)]
        if seq is None or not 0 <= seq < SEQ_MODULUS:
            return [MessageRefused(message.topic, key, (f"{message.message_type} has no valid seq",))]
        if seq != node.expected_seq:
            if seq in node.held:
                logger.info("Duplicate seq %s from %s/%s held", seq, key.group_id, key.edge_node_id)
            node.held[seq] = message
            if node.held_since is None:
                node.held_since = now
            return []
        effects = self._apply(node, message, now)
        progressed = False
        while node.online and not node.resync and node.expected_seq in node.held:
            effects.extend(self._apply(node, node.held.pop(node.expected_seq), now))
            progressed = True
        if not node.held:
            node.held_since = None
        elif progressed:
            node.held_since = now  # the gap moved: give the messages behind it a full timeout again
        return effects

    def _apply(self, node: _Node, message: _Incoming, now: float) -> list[Effect]:
        """Process one in-order message of an online node (DBIRTH, NDATA, DDATA, DDEATH)."""
        node.expected_seq = (node.expected_seq + 1) % SEQ_MODULUS
        if message.message_type is MessageType.NDATA:
            return self._data(node.table, message)
        key, device_id = message.key, str(message.key.device_id)  # device topics always name the device
        if message.message_type is MessageType.DBIRTH:
            table, effects = self._birth(message)
            node.devices[device_id] = _Device(table)
            return effects
        device = node.devices.get(device_id)
        if message.message_type is MessageType.DDEATH:
            if device is None or not device.online:
                return []
            device.online = False
            stale = _stale(key, device.table, message.payload.timestamp_ms or self._wall_ms())
            return [*stale, LinkChanged(key, LinkState.UNAVAILABLE, "device death certificate")]
        if device is None or not device.online:
            refused = MessageRefused(message.topic, key, ("DDATA dropped: device has not been born",))
            return [refused, *self._ask_rebirth(key, now, "device has not been born")]
        return self._data(device.table, message)

    def _on_nbirth(self, message: _Incoming) -> list[Effect]:
        key, payload = message.key, message.payload
        node_key = (key.group_id, key.edge_node_id)
        effects: list[Effect] = []
        old = self._nodes.get(node_key)
        if old is not None and old.online:
            for device_id, device in old.devices.items():
                if device.online:
                    effects.append(
                        LinkChanged(DeviceKey(*node_key, device_id), LinkState.UNAVAILABLE, "edge node rebirth")
                    )
        if payload.seq not in (0, None):
            logger.info("NBIRTH of %s/%s has seq %s, not 0", key.group_id, key.edge_node_id, payload.seq)
        if payload.bd_seq is None:
            effects.append(MessageRefused(message.topic, key, ("NBIRTH has no bdSeq metric: any NDEATH ends it",)))
        table, birth_effects = self._birth(message)
        self._nodes[node_key] = _Node(
            bd_seq=payload.bd_seq, expected_seq=((payload.seq or 0) + 1) % SEQ_MODULUS, table=table
        )
        self._rebirth_asked.pop(node_key, None)
        return effects + birth_effects

    def _on_ndeath(self, message: _Incoming) -> list[Effect]:
        key, payload = message.key, message.payload
        node = self._nodes.get((key.group_id, key.edge_node_id))
        if node is None or not node.online:
            return []
        if node.bd_seq is not None and payload.bd_seq != node.bd_seq:
            logger.info(
                "NDEATH of %s/%s with bdSeq %s ignored: the session has bdSeq %s",
                key.group_id,
                key.edge_node_id,
                payload.bd_seq,
                node.bd_seq,
            )
            return []
        return self._node_died(key, node, "edge node death certificate")

    def _node_died(self, key: DeviceKey, node: _Node, reason: str) -> list[Effect]:
        node.online = False
        node.held.clear()
        node.held_since = None
        ts_ms = self._wall_ms()  # an NDEATH's own timestamp dates from when its Will was registered
        effects: list[Effect] = [*_stale(key, node.table, ts_ms), LinkChanged(key, LinkState.UNAVAILABLE, reason)]
        for device_id, device in node.devices.items():
            if device.online:
                device.online = False
                device_key = DeviceKey(key.group_id, key.edge_node_id, device_id)
                effects.extend(_stale(device_key, device.table, ts_ms))
                effects.append(LinkChanged(device_key, LinkState.UNAVAILABLE, reason))
        return effects

    def _birth(self, message: _Incoming) -> tuple[_Table, list[Effect]]:
        """Build the metric table of a birth certificate; return it with its effects."""
        key, payload = message.key, message.payload
        table = _Table()
        reasons = [f"{refused.label}: {refused.reason}" for refused in payload.refused]
        readings: list[Reading] = []
        fallback_ms = payload.timestamp_ms or self._wall_ms()
        for metric in payload.metrics:
            if key.device_id is None and metric.name == BD_SEQ:
                continue
            problem = _declare(metric, table)
            if isinstance(problem, str):
                reasons.append(f"{metric.label}: {problem}")
                continue
            definition = problem
            table.metrics[definition.name] = _Known(definition, metric.value)
            if metric.alias is not None:
                table.aliases[metric.alias] = definition.name
            if not metric.is_transient:
                readings.append(_reading(definition.name, metric, fallback_ms))
        effects: list[Effect] = [
            BirthReceived(key, tuple(known.definition for known in table.metrics.values())),
            LinkChanged(key, LinkState.ONLINE),
        ]
        if readings:
            effects.append(ReadingsReceived(key, tuple(readings)))
        if reasons:
            effects.append(MessageRefused(message.topic, key, tuple(reasons)))
        return table, effects

    def _data(self, table: _Table, message: _Incoming) -> list[Effect]:
        """Resolve the metrics of an NDATA/DDATA against the birth table; return readings and refusals."""
        key, payload = message.key, message.payload
        reasons = [f"{refused.label}: {refused.reason}" for refused in payload.refused]
        readings: list[Reading] = []
        fallback_ms = payload.timestamp_ms or self._wall_ms()
        for metric in payload.metrics:
            try:
                name, resolved = _resolve(table, metric)
            except MetricRefused as exc:
                reasons.append(f"{metric.label}: {exc}")
                continue
            known = table.metrics[name]
            if not resolved.is_historical:
                known.last = resolved.value
            if not known.definition.is_transient and not resolved.is_transient:
                readings.append(_reading(name, resolved, fallback_ms))
        effects: list[Effect] = []
        if readings:
            effects.append(ReadingsReceived(key, tuple(readings)))
        if reasons:
            effects.append(MessageRefused(message.topic, key, tuple(reasons)))
        return effects

    # -- time -------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """Return the monotonic time at which ``tick`` has work to do, if any."""
        deadlines = [node.held_since + self.reorder_timeout_s for node in self._nodes.values() if node.held_since]
        return min(deadlines, default=None)

    def tick(self) -> list[Effect]:
        """Give up on sequence gaps older than the reorder timeout: drop what waited and ask for rebirth."""
        now = self._monotonic()
        effects: list[Effect] = []
        for (group_id, edge_node_id), node in self._nodes.items():
            if node.held_since is None or now - node.held_since < self.reorder_timeout_s:
                continue
            logger.warning(
                "Seq %s of %s/%s missing after %ss (%s messages held); requesting rebirth",
                node.expected_seq,
                group_id,
                edge_node_id,
                self.reorder_timeout_s,
                len(node.held),
            )
            node.held.clear()
            node.held_since = None
            node.resync = True
            effects.extend(self._ask_rebirth(DeviceKey(group_id, edge_node_id), now, "sequence gap", force=True))
        return effects

    def _ask_rebirth(self, key: DeviceKey, now: float, reason: str, *, force: bool = False) -> list[Effect]:
        node_key = (key.group_id, key.edge_node_id)
        last = self._rebirth_asked.get(node_key)
        if not force and last is not None and now - last < self.reorder_timeout_s:
            return []
        self._rebirth_asked[node_key] = now
        logger.info("Requesting rebirth of %s/%s: %s", key.group_id, key.edge_node_id, reason)
        topic = Topic.node(MessageType.NCMD, key.group_id, key.edge_node_id).to_str()
        return [Publish(topic, encode_rebirth_command(self._wall_ms()))]

    def known_devices(self) -> Iterable[DeviceKey]:
        """Yield every node and device with a live session."""
        for (group_id, edge_node_id), node in self._nodes.items():
            if node.online:
                yield DeviceKey(group_id, edge_node_id)
                for device_id, device in node.devices.items():
                    if device.online:
                        yield DeviceKey(group_id, edge_node_id, device_id)


def _declare(metric: Metric, table: _Table) -> MetricDefinition | str:
    """Return the definition a birth metric declares, or why it cannot be declared."""
    if metric.name is None:
        return "birth metric has no name"
    if metric.datatype is None:
        return "birth metric has no datatype"
    if metric.name in table.metrics:
        return "declared twice in the birth certificate"
    if metric.alias is not None and metric.alias in table.aliases:
        return f"alias {metric.alias} already belongs to {table.aliases[metric.alias]}"
    return MetricDefinition(metric.name, metric.datatype, metric.alias, metric.is_transient)


def _resolve(table: _Table, metric: Metric) -> tuple[str, Metric]:
    """Return the birth name of a data metric and the metric decoded with its birth datatype."""
    if metric.name is not None:
        name = metric.name
    else:
        found = table.aliases.get(metric.alias) if metric.alias is not None else None
        if found is None:
            raise MetricRefused("alias is not in the birth certificate")
        name = found
    known = table.metrics.get(name)
    if known is None:
        raise MetricRefused("metric is not in the birth certificate")
    datatype = known.definition.datatype
    if metric.datatype is not None and metric.datatype is not datatype:
        raise MetricRefused(f"datatype {metric.datatype.name} differs from {datatype.name} in the birth certificate")
    if metric.datatype is None or metric.name is None:
        return name, metric.with_datatype(datatype, name=name)
    return name, metric


def _reading(name: str, metric: Metric, fallback_ms: int) -> Reading:
    ts_ms = metric.timestamp_ms if metric.timestamp_ms is not None else fallback_ms
    return Reading(field=name, ts_us=ts_ms * 1000, value=metric.value, historical=metric.is_historical)


def _stale(key: DeviceKey, table: _Table, ts_ms: int) -> list[Effect]:
    """Return the last value of every metric of a table, marked stale, at ``ts_ms``."""
    readings = tuple(
        Reading(field=name, ts_us=ts_ms * 1000, value=known.last, quality=Quality.STALE)
        for name, known in table.metrics.items()
        if not known.definition.is_transient
    )
    return [ReadingsReceived(key, readings)] if readings else []
