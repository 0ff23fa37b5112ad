"""Sparkplug B codec: topics, datatypes, per-metric refusals, the schema, and fuzzing of codec and host."""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hexmill.connect.sparkplug import proto
from hexmill.connect.sparkplug.codec import (
    DataType,
    MessageType,
    MetricSpec,
    PayloadError,
    Topic,
    TopicError,
    decode_payload,
    encode_payload,
    encode_rebirth_command,
    parse_topic,
)
from hexmill.connect.sparkplug.config import SparkplugHostConfig
from hexmill.connect.sparkplug.host import MessageRefused, ReadingsReceived

from .helpers import FakeClock, dbirth, device_topic, make_host, nbirth, node_topic

PROTO_FILE = Path(proto.__file__).with_name("sparkplug_b.proto")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spBv1.0/plant/NBIRTH/edge-1", Topic(MessageType.NBIRTH, "plant", "edge-1")),
        ("spBv1.0/plant/DDATA/edge-1/oven", Topic(MessageType.DDATA, "plant", "edge-1", "oven")),
        ("spBv1.0/STATE/scada", Topic(MessageType.STATE, host_id="scada")),
    ],
)
def test_topics_parse_and_format_back(text: str, expected: Topic) -> None:
    assert parse_topic(text) == expected
    assert expected.to_str() == text


@pytest.mark.parametrize(
    "text",
    [
        "spAv1.0/plant/NBIRTH/edge-1",
        "spBv1.0/plant/NBIRTH",
        "spBv1.0/plant/BOGUS/edge-1",
        "spBv1.0/plant/NBIRTH/edge-1/oven",  # a node message with a device level
        "spBv1.0/plant/DDATA/edge-1/oven/x",
        "spBv1.0/plant/DDATA//oven",
        "spBv1.0/STATE/a/b",
    ],
)
def test_bad_topics_are_refused(text: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(text)


def test_topic_builders_refuse_wildcards() -> None:
    with pytest.raises(TopicError, match="contains #"):
        Topic.device(MessageType.DDATA, "plant", "edge#", "oven")
    with pytest.raises(TopicError):
        Topic.node(MessageType.DDATA, "plant", "edge")


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        (DataType.INT8, -128),
        (DataType.INT8, 127),
        (DataType.INT16, -2),
        (DataType.INT32, -(2**31)),
        (DataType.INT64, -(2**63)),
        (DataType.UINT8, 255),
        (DataType.UINT32, 2**32 - 1),
        (DataType.UINT64, 2**64 - 1),
        (DataType.FLOAT, 1.5),
        (DataType.DOUBLE, -1e300),
        (DataType.BOOLEAN, True),
        (DataType.STRING, "中文 ok"),
        (DataType.TEXT, "long text"),
        (DataType.UUID, "0f8fad5b-d9cb-469f-a165-70867728950e"),
        (DataType.DATETIME, 1_700_000_000_000),
    ],
)
def test_values_round_trip_per_datatype(datatype: DataType, value: object) -> None:
    payload = decode_payload(encode_payload([MetricSpec("m", datatype, value)], timestamp_ms=1, seq=0))  # type: ignore[arg-type]
    (metric,) = payload.metrics
    assert (metric.datatype, metric.value) == (datatype, value)


def test_signed_integers_sign_extended_to_the_field_width_decode_too() -> None:
    message = proto.payload_class()()
    for name, datatype, field, raw in [
        ("a", DataType.INT8, "int_value", 2**32 - 1),  # -1 sent as 32-bit two's complement
        ("b", DataType.INT16, "long_value", 2**64 - 2),  # -2 sent in a 64-bit field
        ("c", DataType.INT8, "int_value", 300),  # does not fit
    ]:
        metric = message.metrics.add(name=name, datatype=int(datatype))
        setattr(metric, field, raw)
    payload = decode_payload(message.SerializeToString())
    assert [(m.name, m.value) for m in payload.metrics] == [("a", -1), ("b", -2)]
    assert [(r.name, r.reason) for r in payload.refused] == [("c", "INT8 value 300 is out of range")]


def test_unsupported_metrics_refused_with_reasons_good_ones_kept() -> None:
    message = proto.payload_class()()
    message.timestamp, message.seq = 5, 1
    message.metrics.add(name="good", datatype=int(DataType.DOUBLE), double_value=2.5)
    dataset = message.metrics.add(name="table", datatype=int(DataType.DATASET))
    dataset.dataset_value.num_of_columns = 1
    message.metrics.add(name="template", datatype=int(DataType.TEMPLATE)).template_value.version = "1"
    message.metrics.add(name="array", datatype=int(DataType.INT32ARRAY), bytes_value=b"\x01\x00\x00\x00")
    message.metrics.add(name="blob", datatype=int(DataType.BYTES), bytes_value=b"\x00")
    message.metrics.add(name="odd", datatype=99, int_value=1)
    message.metrics.add(name="nan", datatype=int(DataType.FLOAT), float_value=float("nan"))
    message.metrics.add(name="mismatch", datatype=int(DataType.BOOLEAN), string_value="yes")
    message.metrics.add(name="empty", datatype=int(DataType.INT32))
    message.metrics.add(datatype=int(DataType.INT32), int_value=3)
    payload = decode_payload(message.SerializeToString())
    assert [(m.name, m.value) for m in payload.metrics] == [("good", 2.5)]
    assert {r.label: r.reason for r in payload.refused} == {
        "table": "datatype DATASET is not supported",
        "template": "datatype TEMPLATE is not supported",
        "array": "datatype INT32ARRAY is not supported",
        "blob": "datatype BYTES is not supported",
        "odd": "unknown datatype 99",
        "nan": "FLOAT value nan is not a finite number",
        "mismatch": "BOOLEAN value sent in string_value",
        "empty": "has no value and is not marked null",
        "metrics[9]": "has neither name nor alias",
    }


def test_garbage_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        decode_payload(b"\x0a\xff")


def test_encode_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_payload([MetricSpec("m", DataType.UINT8, 256)], timestamp_ms=1)
    with pytest.raises(ValueError, match="cannot be encoded"):
        encode_payload([MetricSpec("m", DataType.DATASET, 1)], timestamp_ms=1)
    with pytest.raises(ValueError, match="seq"):
        encode_payload([], timestamp_ms=1, seq=256)


def test_rebirth_command_carries_the_node_control_metric() -> None:
    (metric,) = decode_payload(encode_rebirth_command(42)).metrics
    assert (metric.name, metric.datatype, metric.value) == ("Node Control/Rebirth", DataType.BOOLEAN, True)


def _proto_fields(text: str) -> set[tuple[str, str, str, int]]:
    """Read (message path, type, field, number) of every field of a .proto file (this file's subset of the syntax)."""
    fields: set[tuple[str, str, str, int]] = set()
    scopes: list[str] = []
    text = re.sub(r"//[^\n]*", "", text)
    for token in re.finditer(
        r"(message|oneof|enum)\s+(\w+)\s*\{|\}|(?:(optional|repeated)\s+)?(\w+)\s+(\w+)\s*=\s*(\d+);", text
    ):
        if token.group(1):
            scopes.append(token.group(1) + ":" + token.group(2))
        elif token.group(0) == "}":
            scopes.pop()
        elif scopes and not scopes[-1].startswith("enum:"):
            path = ".".join(s.split(":")[1] for s in scopes if s.startswith("message:"))
            fields.add((path, token.group(4), token.group(5), int(token.group(6))))
    return fields


def _descriptor_fields() -> set[tuple[str, str, str, int]]:
    from google.protobuf import descriptor_pb2  # noqa: PLC0415

    names = {v: k.removeprefix("TYPE_").lower() for k, v in descriptor_pb2.FieldDescriptorProto.Type.items()}
    fields: set[tuple[str, str, str, int]] = set()

    def walk(message: descriptor_pb2.DescriptorProto, path: str) -> None:
        for item in message.field:
            type_ = item.type_name.rsplit(".", 1)[-1] if item.type_name else names[item.type]
            fields.add((path, type_, item.name, item.number))
        for nested in message.nested_type:
            walk(nested, f"{path}.{nested.name}")

    for message in proto.file_descriptor().message_type:
        walk(message, message.name)
    return fields


def test_runtime_schema_matches_the_proto_file() -> None:
    text = PROTO_FILE.read_text()
    assert _descriptor_fields() == _proto_fields(text)
    enum = dict(re.findall(r"(\w+) = (\d+);", text.split("enum DataType", 1)[1].split("}", 1)[0]))
    assert {name: int(number) for name, number in enum.items()} == {n: i for i, n in enumerate(proto.DATATYPE_NAMES)}
    assert [d.name for d in DataType] == [n.upper() for n in proto.DATATYPE_NAMES]


def test_config_validates_host_id_and_group() -> None:
    config = SparkplugHostConfig(host_id="scada-1", group_id="plant")
    assert config.subscriptions == ("spBv1.0/STATE/scada-1", "spBv1.0/plant/#")
    for bad in ("a/b", "a+", "#", ""):
        with pytest.raises(ValidationError):
            SparkplugHostConfig(host_id=bad)
    with pytest.raises(ValidationError):
        SparkplugHostConfig(host_id="ok", group_id="+")


# -- fuzzing ----------------------------------------------------------------------------------------

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)


_VALUE_FIELDS = [None, "int_value", "long_value", "float_value", "double_value", "boolean_value", "string_value"]


def _fill_metric(draw: st.DrawFn, metric: Any) -> bool:
    """Fill one protobuf metric with arbitrary content; return whether it is a plainly good Double metric."""
    name = draw(st.one_of(st.none(), st.sampled_from(["Temperature", "Count", "bdSeq", "x"])))
    if name is not None:
        metric.name = name
    if draw(st.booleans()):
        metric.alias = draw(st.integers(0, 2**64 - 1))
    if draw(st.booleans()):
        metric.datatype = draw(st.integers(0, 2**32 - 1))
    metric.is_null = draw(st.booleans())
    metric.is_historical = draw(st.booleans())
    field, value = draw(st.sampled_from(_VALUE_FIELDS)), draw(_scalar)
    if field is not None and value is not None:
        with contextlib.suppress(TypeError, ValueError, OverflowError):  # protobuf refused it: no value then
            setattr(metric, field, value)
    if draw(st.booleans()):
        metric.bytes_value = draw(st.binary(max_size=4))
    return (
        metric.HasField("name")
        and metric.HasField("datatype")
        and metric.datatype == DataType.DOUBLE
        and metric.WhichOneof("value") == "double_value"
        and math.isfinite(metric.double_value)
    )


@st.composite
def wrong_payloads(draw: st.DrawFn) -> tuple[bytes, int]:
    """Build valid protobuf Sparkplug payloads with arbitrary (mostly wrong) metrics; return them and the good count."""
    message = proto.payload_class()()
    if draw(st.booleans()):
        message.seq = draw(st.integers(0, 2**64 - 1))
    if draw(st.booleans()):
        message.timestamp = draw(st.integers(0, 2**64 - 1))
    good = sum(_fill_metric(draw, message.metrics.add()) for _ in range(draw(st.integers(0, 6))))
    return message.SerializeToString(), good


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_through_codec_and_host(data: bytes) -> None:
    try:
        payload = decode_payload(data)
    except PayloadError:
        payload = None
    if payload is not None:
        assert all(r.reason for r in payload.refused)
    host = make_host(FakeClock())
    host.handle(node_topic(MessageType.NBIRTH), nbirth(1))
    host.handle(device_topic(MessageType.DBIRTH, "oven"), dbirth(1))
    for kind in (MessageType.DDATA, MessageType.DBIRTH, MessageType.DDEATH):
        host.handle(device_topic(kind, "oven"), data)
    for kind in (MessageType.NDATA, MessageType.NDEATH, MessageType.NBIRTH):
        host.handle(node_topic(kind), data)
    host.handle("spBv1.0/STATE/hexmill-test", data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wrong_payloads())
def test_wrong_payloads_refuse_each_bad_metric_and_keep_the_good(case: tuple[bytes, int]) -> None:
    data, good = case
    payload = decode_payload(data)
    parsed = proto.payload_class().FromString(data)
    assert len(payload.metrics) + len(payload.refused) == len(parsed.metrics)
    assert all(r.reason for r in payload.refused)
    assert sum(1 for m in payload.metrics if m.datatype is DataType.DOUBLE and m.name is not None) >= good

    host = make_host(FakeClock())
    host.handle(node_topic(MessageType.NBIRTH), nbirth(1))
    for kind in (MessageType.DBIRTH, MessageType.DDATA, MessageType.NBIRTH, MessageType.NDATA, MessageType.NDEATH):
        topic = device_topic(kind, "oven") if kind.is_device else node_topic(kind)
        for effect in host.handle(topic, data):
            if isinstance(effect, MessageRefused):
                assert all(effect.reasons)
            if isinstance(effect, ReadingsReceived):
                assert all(r.field for r in effect.readings)
    host.tick()
