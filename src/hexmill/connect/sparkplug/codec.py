"""Sparkplug B 3.0 topics and payloads: parse and format topics, decode and encode payloads (pure).

Decoding never raises on a bad metric: each metric hexmill cannot use is refused with a reason,
and the good metrics beside it are kept. Encoding is public so that tests and the plant
simulator can speak Sparkplug B with the same code the host reads it with::

    payload = encode_payload(
        [MetricSpec("Temperature", DataType.DOUBLE, 21.5, alias=1)], timestamp_ms=now_ms, seq=3
    )
    client.publish(Topic.device(MessageType.DDATA, "plant", "edge-1", "oven").to_str(), payload)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from google.protobuf.message import DecodeError

from hexmill.connect.sparkplug.proto import payload_class
from hexmill.telemetry.points import Value

#: First level of every Sparkplug B topic.
NAMESPACE = "spBv1.0"
#: Name of the NBIRTH/NDEATH metric that pairs a birth with its death certificate.
BD_SEQ = "bdSeq"
#: The node control metric a host sets to true in an NCMD to make an edge node publish its births again.
REBIRTH = "Node Control/Rebirth"
#: Sequence numbers count 0..255 and wrap.
SEQ_MODULUS = 256

_FORBIDDEN_ID_CHARS = frozenset("/+#")


class TopicError(ValueError):
    """The topic is not a Sparkplug B topic hexmill understands."""


class PayloadError(ValueError):
    """The payload cannot be decoded at all (not protobuf, or not a Sparkplug B payload)."""


class MessageType(StrEnum):
    """The verbs of the Sparkplug B topic namespace."""

    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    NDATA = "NDATA"
    DDATA = "DDATA"
    NCMD = "NCMD"
    DCMD = "DCMD"
    STATE = "STATE"

    @property
    def is_device(self) -> bool:
        """Tell whether the topic of this message type names a device."""
        return self in _DEVICE_TYPES


_DEVICE_TYPES = frozenset({MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA, MessageType.DCMD})


class DataType(IntEnum):
    """Sparkplug B metric data types, numbered as in the specification."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19
    PROPERTYSET = 20
    PROPERTYSETLIST = 21
    INT8ARRAY = 22
    INT16ARRAY = 23
    INT32ARRAY = 24
    INT64ARRAY = 25
    UINT8ARRAY = 26
    UINT16ARRAY = 27
    UINT32ARRAY = 28
    UINT64ARRAY = 29
    FLOATARRAY = 30
    DOUBLEARRAY = 31
    BOOLEANARRAY = 32
    STRINGARRAY = 33
    DATETIMEARRAY = 34

    @property
    def supported(self) -> bool:
        """Tell whether hexmill turns values of this type into readings."""
        return self in _SUPPORTED


# How each supported type travels: the protobuf value field it belongs in and, for integers, the
# width and signedness. Signed integers travel as unsigned two's complement of their own width
# (specification 3.0); decoding masks to the width, so senders that used 32 bits also decode right.
_INTS: dict[DataType, tuple[int, bool]] = {
    DataType.INT8: (8, True),
    DataType.INT16: (16, True),
    DataType.INT32: (32, True),
    DataType.INT64: (64, True),
    DataType.UINT8: (8, False),
    DataType.UINT16: (16, False),
    DataType.UINT32: (32, False),
    DataType.UINT64: (64, False),
    DataType.DATETIME: (64, False),
}
_FIELD_OF: dict[DataType, str] = {
    DataType.INT8: "int_value",
    DataType.INT16: "int_value",
    DataType.INT32: "int_value",
    DataType.UINT8: "int_value",
    DataType.UINT16: "int_value",
    DataType.UINT32: "int_value",
    DataType.INT64: "long_value",
    DataType.UINT64: "long_value",
    DataType.DATETIME: "long_value",
    DataType.FLOAT: "float_value",
    DataType.DOUBLE: "double_value",
    DataType.BOOLEAN: "boolean_value",
    DataType.STRING: "string_value",
    DataType.TEXT: "string_value",
    DataType.UUID: "string_value",
}
_SUPPORTED = frozenset(_FIELD_OF)
# Some edge nodes put 32-bit integers in long_value or doubles in float_value; accept the sibling field.
_ALSO_ACCEPTED = {"int_value": "long_value", "long_value": "int_value", "float_value": "double_value"}
_ALSO_ACCEPTED["double_value"] = "float_value"


@dataclass(frozen=True, slots=True)
class Topic:
    """One parsed Sparkplug B topic.

    ``group_id`` and ``edge_node_id`` are set on every topic but STATE; ``device_id`` on device
    topics only; ``host_id`` on STATE only.
    """

    message_type: MessageType
    group_id: str | None = None
    edge_node_id: str | None = None
    device_id: str | None = None
    host_id: str | None = None

    @classmethod
    def node(cls, message_type: MessageType, group_id: str, edge_node_id: str) -> Topic:
        """Return the topic of an edge node message (NBIRTH, NDEATH, NDATA, NCMD)."""
        if message_type.is_device or message_type is MessageType.STATE:
            raise TopicError(f"{message_type} is not an edge node message")
        _check_id("group_id", group_id)
        _check_id("edge_node_id", edge_node_id)
        return cls(message_type, group_id, edge_node_id)

    @classmethod
    def device(cls, message_type: MessageType, group_id: str, edge_node_id: str, device_id: str) -> Topic:
        """Return the topic of a device message (DBIRTH, DDEATH, DDATA, DCMD)."""
        if not message_type.is_device:
            raise TopicError(f"{message_type} is not a device message")
        _check_id("group_id", group_id)
        _check_id("edge_node_id", edge_node_id)
        _check_id("device_id", device_id)
        return cls(message_type, group_id, edge_node_id, device_id)

    @classmethod
    def state(cls, host_id: str) -> Topic:
        """Return the STATE topic of a Host Application."""
        _check_id("host_id", host_id)
        return cls(MessageType.STATE, host_id=host_id)

    def to_str(self) -> str:
        """Format the topic as published on MQTT."""
        if self.message_type is MessageType.STATE:
            return f"{NAMESPACE}/STATE/{self.host_id}"
        parts = [NAMESPACE, self.group_id, self.message_type.value, self.edge_node_id]
        if self.device_id is not None:
            parts.append(self.device_id)
        return "/".join(str(part) for part in parts)


def check_id(name: str, value: str) -> str:
    """Return ``value`` if it is a valid Sparkplug id element; raise ``ValueError`` naming ``name`` if not."""
    _check_id(name, value)
    return value


def _check_id(name: str, value: str) -> None:
    if not value:
        raise TopicError(f"{name} is empty")
    bad = sorted(_FORBIDDEN_ID_CHARS.intersection(value))
    if bad:
        raise TopicError(f"{name} {value!r} contains {' '.join(bad)}")


def parse_topic(topic: str) -> Topic:
    """Parse an MQTT topic of the Sparkplug B namespace; raise ``TopicError`` if it is not one."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        raise TopicError(f"not in the {NAMESPACE} namespace: {topic!r}")
    if len(parts) == 3 and parts[1] == "STATE":
        return Topic.state(parts[2])
    if len(parts) not in (4, 5):
        raise TopicError(f"wrong number of topic levels: {topic!r}")
    try:
        message_type = MessageType(parts[2])
    except ValueError:
        raise TopicError(f"unknown message type {parts[2]!r}") from None
    if len(parts) == 5:
        return Topic.device(message_type, parts[1], parts[3], parts[4])
    return Topic.node(message_type, parts[1], parts[3])


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of a decoded payload; ``value`` is ``None`` when the metric is null.

    ``datatype`` is ``None`` when the payload left it out (data messages may: the birth
    certificate holds it); the value is then decoded from its protobuf field alone, and
    ``with_datatype`` decodes it again once the datatype is known.
    """

    name: str | None
    alias: int | None
    datatype: DataType | None
    value: Value | None
    timestamp_ms: int | None = None
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False
    #: The protobuf value field the value came in and its raw content, kept for ``with_datatype``.
    value_field: str | None = field(default=None, repr=False)
    raw_value: int | float | bool | str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """Name the metric for a message: its name, else its alias."""
        return self.name if self.name is not None else f"alias {self.alias}"

    def with_datatype(self, datatype: DataType, *, name: str | None = None) -> Metric:
        """Return this metric decoded as ``datatype`` (and named ``name``); raise ``MetricRefused`` if it cannot be."""
        value = None if self.is_null else _value(datatype, self.value_field, self.raw_value)
        return Metric(
            name=name if name is not None else self.name,
            alias=self.alias,
            datatype=datatype,
            value=value,
            timestamp_ms=self.timestamp_ms,
            is_null=self.is_null,
            is_historical=self.is_historical,
            is_transient=self.is_transient,
            value_field=self.value_field,
            raw_value=self.raw_value,
        )


class MetricRefused(ValueError):
    """One metric cannot become a reading; the message says why."""


@dataclass(frozen=True, slots=True)
class RefusedMetric:
    """A metric of a payload that hexmill refused, with where it was and why."""

    index: int
    name: str | None
    alias: int | None
    reason: str

    @property
    def label(self) -> str:
        """Name the metric for a message: its name, else its alias, else its position."""
        if self.name is not None:
            return self.name
        return f"alias {self.alias}" if self.alias is not None else f"metrics[{self.index}]"


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded Sparkplug B payload: the metrics hexmill can use, and those it refused."""

    timestamp_ms: int | None
    seq: int | None
    metrics: tuple[Metric, ...]
    refused: tuple[RefusedMetric, ...] = ()
    uuid: str | None = None

    @property
    def bd_seq(self) -> int | None:
        """Return the birth/death sequence number of an NBIRTH or NDEATH, if it carries one."""
        for metric in self.metrics:
            if metric.name == BD_SEQ and isinstance(metric.value, int) and not isinstance(metric.value, bool):
                return metric.value
        return None


def _value(datatype: DataType, value_field: str | None, raw: int | float | bool | str | None) -> Value:
    """Decode one raw protobuf value as ``datatype``; raise ``MetricRefused`` if it does not fit."""
    if not datatype.supported:
        raise MetricRefused(f"datatype {datatype.name} is not supported")
    expected = _FIELD_OF[datatype]
    if value_field is None:
        raise MetricRefused("has no value and is not marked null")
    if value_field not in (expected, _ALSO_ACCEPTED.get(expected)):
        raise MetricRefused(f"{datatype.name} value sent in {value_field}")
    if datatype in _INTS:
        bits, signed = _INTS[datatype]
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise MetricRefused(f"{datatype.name} value is not an integer")
        return _integer(datatype, raw, bits, signed=signed)
    if datatype in (DataType.FLOAT, DataType.DOUBLE):
        if not isinstance(raw, float) or not math.isfinite(raw):
            raise MetricRefused(f"{datatype.name} value {raw!r} is not a finite number")
        return raw
    if datatype is DataType.BOOLEAN:
        if not isinstance(raw, bool):
            raise MetricRefused("Boolean value is not a boolean")
        return raw
    if not isinstance(raw, str):
        raise MetricRefused(f"{datatype.name} value is not a string")
    return raw


def _integer(datatype: DataType, raw: int, bits: int, *, signed: bool) -> int:
    """Decode an integer sent as unsigned two's complement of its own width, or sign-extended to its field's."""
    if raw < (1 << bits):
        return raw - (1 << bits) if signed and raw >= (1 << (bits - 1)) else raw
    if signed:
        # Older edge nodes sign-extend small negative numbers to the 32 or 64 bits of the protobuf field.
        for width in (32, 64):
            if width > bits and (1 << width) - (1 << (bits - 1)) <= raw < (1 << width):
                return raw - (1 << width)
    raise MetricRefused(f"{datatype.name} value {raw} is out of range")


def _naive_value(value_field: str | None, raw: int | float | bool | str | None) -> Value:
    """Decode a raw value whose datatype is not known yet, by its protobuf field alone."""
    if value_field is None or raw is None:
        raise MetricRefused("has no value and is not marked null")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise MetricRefused(f"value {raw!r} is not a finite number")
    return raw


_SCALAR_FIELDS = frozenset({"int_value", "long_value", "float_value", "double_value", "boolean_value", "string_value"})


def _metric(message: Any) -> Metric:
    """Turn one protobuf metric into a ``Metric``; raise ``MetricRefused`` if hexmill cannot use it."""
    name = message.name if message.HasField("name") else None
    alias = message.alias if message.HasField("alias") else None
    if name is None and alias is None:
        raise MetricRefused("has neither name nor alias")
    datatype: DataType | None = None
    if message.HasField("datatype"):
        try:
            datatype = DataType(message.datatype)
        except ValueError:
            raise MetricRefused(f"unknown datatype {message.datatype}") from None
        if datatype is DataType.UNKNOWN:
            datatype = None
        elif not datatype.supported:
            raise MetricRefused(f"datatype {datatype.name} is not supported")
    value_field = message.WhichOneof("value")
    if value_field is not None and value_field not in _SCALAR_FIELDS:
        raise MetricRefused(f"{value_field} values are not supported")
    raw = getattr(message, value_field) if value_field is not None else None
    is_null = message.is_null
    metric = Metric(
        name=name,
        alias=alias,
        datatype=None,
        value=None,
        timestamp_ms=message.timestamp if message.HasField("timestamp") else None,
        is_null=is_null,
        is_historical=message.is_historical,
        is_transient=message.is_transient,
        value_field=value_field,
        raw_value=raw,
    )
    if datatype is not None:
        return metric.with_datatype(datatype)
    if is_null:
        return metric
    value = _naive_value(value_field, raw)
    return Metric(
        name=name,
        alias=alias,
        datatype=None,
        value=value,
        timestamp_ms=metric.timestamp_ms,
        is_historical=metric.is_historical,
        is_transient=metric.is_transient,
        value_field=value_field,
        raw_value=raw,
    )


def decode_payload(data: bytes) -> Payload:
    """Decode a Sparkplug B protobuf payload, refusing each unusable metric with a reason.

    Raises:
        PayloadError: the bytes are not a Sparkplug B payload at all.
    """
    message = payload_class()()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise PayloadError(f"not a Sparkplug B payload: {exc}") from None
    metrics: list[Metric] = []
    refused: list[RefusedMetric] = []
    for index, item in enumerate(message.metrics):
        try:
            metrics.append(_metric(item))
        except MetricRefused as exc:
            refused.append(
                RefusedMetric(
                    index=index,
                    name=item.name if item.HasField("name") else None,
                    alias=item.alias if item.HasField("alias") else None,
                    reason=str(exc),
                )
            )
    return Payload(
        timestamp_ms=message.timestamp if message.HasField("timestamp") else None,
        seq=message.seq if message.HasField("seq") else None,
        metrics=tuple(metrics),
        refused=tuple(refused),
        uuid=message.uuid if message.HasField("uuid") else None,
    )


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric to encode: name (or alias only), datatype and value (``None`` sends a null)."""

    name: str | None
    datatype: DataType
    value: Value | None
    alias: int | None = None
    timestamp_ms: int | None = None
    is_historical: bool = False
    is_transient: bool = False


def _encode_raw(datatype: DataType, value: Value) -> tuple[str, int | float | bool | str]:
    """Return the protobuf field and raw content ``value`` travels in as ``datatype``."""
    if not datatype.supported:
        raise ValueError(f"datatype {datatype.name} cannot be encoded")
    field_name = _FIELD_OF[datatype]
    if datatype in _INTS:
        bits, signed = _INTS[datatype]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{datatype.name} needs an int, not {value!r}")
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1))) if signed else (0, (1 << bits))
        if not low <= value < high:
            raise ValueError(f"{value} does not fit {datatype.name}")
        return field_name, value % (1 << bits)
    if datatype in (DataType.FLOAT, DataType.DOUBLE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{datatype.name} needs a number, not {value!r}")
        return field_name, float(value)
    if datatype is DataType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"Boolean needs a bool, not {value!r}")
        return field_name, value
    if not isinstance(value, str):
        raise ValueError(f"{datatype.name} needs a str, not {value!r}")
    return field_name, value


def encode_payload(
    metrics: Iterable[MetricSpec],
    *,
    timestamp_ms: int | None,
    seq: int | None = None,
    include_datatypes: bool = True,
) -> bytes:
    """Encode a Sparkplug B payload.

    Args:
        metrics: the metrics to send, in order.
        timestamp_ms: the payload timestamp, milliseconds since the Unix epoch (UTC).
        seq: the sequence number (0-255); leave it out of NDEATH, NCMD and DCMD.
        include_datatypes: send each metric's datatype (births must; data messages may omit it).

    Raises:
        ValueError: a value does not fit its datatype, or the datatype cannot be encoded.
    """
    message = payload_class()()
    if timestamp_ms is not None:
        message.timestamp = timestamp_ms
    if seq is not None:
        if not 0 <= seq < SEQ_MODULUS:
            raise ValueError(f"seq {seq} is outside 0..255")
        message.seq = seq
    for spec in metrics:
        item = message.metrics.add()
        if spec.name is not None:
            item.name = spec.name
        if spec.alias is not None:
            item.alias = spec.alias
        if spec.timestamp_ms is not None:
            item.timestamp = spec.timestamp_ms
        if include_datatypes:
            item.datatype = int(spec.datatype)
        if spec.is_historical:
            item.is_historical = True
        if spec.is_transient:
            item.is_transient = True
        if spec.value is None:
            item.is_null = True
        else:
            field_name, raw = _encode_raw(spec.datatype, spec.value)
            setattr(item, field_name, raw)
    data: bytes = message.SerializeToString()
    return data


def encode_rebirth_command(timestamp_ms: int) -> bytes:
    """Encode the NCMD payload that asks an edge node to publish its birth certificates again."""
    return encode_payload([MetricSpec(REBIRTH, DataType.BOOLEAN, True)], timestamp_ms=timestamp_ms)


def encode_state(*, online: bool, timestamp_ms: int) -> bytes:
    """Encode a Host Application STATE payload (JSON, specification 3.0)."""
    return json.dumps({"online": online, "timestamp": timestamp_ms}, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class HostState:
    """A decoded STATE payload."""

    online: bool
    timestamp_ms: int


def decode_state(data: bytes) -> HostState:
    """Decode a STATE payload; raise ``PayloadError`` if it is not one."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("STATE payload is not JSON") from None
    if not isinstance(document, dict):
        raise PayloadError("STATE payload is not a JSON object")
    online, timestamp = document.get("online"), document.get("timestamp")
    if not isinstance(online, bool) or not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise PayloadError("STATE payload needs a boolean online and an integer timestamp")
    return HostState(online=online, timestamp_ms=timestamp)
