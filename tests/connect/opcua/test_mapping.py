"""OPC UA mapping: node-id syntax, StatusCode → quality, variant values → telemetry values (no I/O)."""

from __future__ import annotations

import base64
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.connect.opcua.mapping import (
    IdKind,
    NodeDescription,
    NodeIdSpec,
    Sample,
    ValueRefused,
    convert_value,
    format_node_id,
    parse_node_id,
    status_to_quality,
    to_reading,
)
from hexmill.telemetry.points import Quality

# A few real StatusCodes (OPC UA Part 4 §7.39 / Part 6 annex), by severity.
GOOD_CODES = [0x0000_0000, 0x00A2_0000, 0x002D_0000]  # Good, GoodClamped, GoodSubscriptionTransferred
UNCERTAIN_CODES = [
    0x4000_0000,
    0x4090_0000,
    0x408F_0000,
    0x4093_0000,
]  # Uncertain, LastUsableValue, NoCommunicationLastUsableValue, SensorNotAccurate
BAD_CODES = [
    0x8000_0000,
    0x808B_0000,
    0x8034_0000,
    0x808C_0000,
    0x8031_0000,
]  # Bad, SensorFailure, NodeIdUnknown, OutOfService, NoCommunication


@pytest.mark.parametrize("code", GOOD_CODES)
def test_good_status_codes_are_good(code: int) -> None:
    assert status_to_quality(code) is Quality.GOOD


@pytest.mark.parametrize("code", UNCERTAIN_CODES)
def test_uncertain_status_codes_are_uncertain(code: int) -> None:
    assert status_to_quality(code) is Quality.UNCERTAIN


@pytest.mark.parametrize("code", BAD_CODES)
def test_bad_status_codes_are_bad(code: int) -> None:
    assert status_to_quality(code) is Quality.BAD


def test_info_bits_do_not_change_the_quality() -> None:
    # Low 16 bits carry info (limit bits, overflow...), not severity.
    assert status_to_quality(0x0000_0400 | 0x0000_0100) is Quality.GOOD
    assert status_to_quality(0x4090_0000 | 0x0000_0480) is Quality.UNCERTAIN


def test_reserved_severity_counts_as_bad() -> None:
    assert status_to_quality(0xC000_0000) is Quality.BAD


@pytest.mark.parametrize("code", [-1, 0x1_0000_0000])
def test_status_codes_outside_32_bits_are_refused(code: int) -> None:
    with pytest.raises(ValueError, match="32-bit"):
        status_to_quality(code)


@given(st.integers(min_value=0, max_value=0xFFFF_FFFF))
def test_any_status_code_maps_to_the_quality_of_its_severity_bits(code: int) -> None:
    quality = status_to_quality(code)
    severity = code >> 30
    expected = {0: Quality.GOOD, 1: Quality.UNCERTAIN, 2: Quality.BAD, 3: Quality.BAD}[severity]
    assert quality is expected
    assert quality in {Quality.GOOD, Quality.UNCERTAIN, Quality.BAD}


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("i=2258", NodeIdSpec(0, IdKind.NUMERIC, "2258")),
        ("ns=2;s=Press.Temperature", NodeIdSpec(2, IdKind.STRING, "Press.Temperature")),
        ("ns=3;s=a;b=c", NodeIdSpec(3, IdKind.STRING, "a;b=c")),
        (
            "ns=1;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63",
            NodeIdSpec(1, IdKind.GUID, "72962b91-fa75-4ae6-8d28-b404dc7daf63"),
        ),
        ("ns=4;b=AAEC", NodeIdSpec(4, IdKind.OPAQUE, "AAEC")),
        ("ns=65535;i=4294967295", NodeIdSpec(65535, IdKind.NUMERIC, "4294967295")),
    ],
)
def test_node_ids_parse_to_canonical_parts(text: str, spec: NodeIdSpec) -> None:
    assert parse_node_id(text) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "identifier must be written"),
        ("ns=2", "followed by the identifier"),
        ("ns=2;x=1", "identifier must be written"),
        ("ns=;s=a", "namespace"),
        ("ns=02;s=a", "namespace"),
        ("ns=70000;s=a", "larger than 65535"),
        ("ns=2;s=", "1 to 4096"),
        ("i=-1", "whole number"),
        ("i=4294967296", "whole number"),
        ("i=1.5", "whole number"),
        ("g=not-a-guid", "guid"),
        ("b=***", "base64"),
        ("b=", "empty"),
        ("ns=2;s=" + "x" * 4097, "1 to 4096"),
    ],
)
def test_malformed_node_ids_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_node_id(text)


node_id_specs = st.one_of(
    st.builds(
        NodeIdSpec,
        st.integers(0, 0xFFFF),
        st.just(IdKind.NUMERIC),
        st.integers(0, 0xFFFF_FFFF).map(str),
    ),
    st.builds(NodeIdSpec, st.integers(0, 0xFFFF), st.just(IdKind.STRING), st.text(min_size=1, max_size=60)),
    st.builds(NodeIdSpec, st.integers(0, 0xFFFF), st.just(IdKind.GUID), st.uuids().map(str)),
    st.builds(
        NodeIdSpec,
        st.integers(0, 0xFFFF),
        st.just(IdKind.OPAQUE),
        st.binary(min_size=1, max_size=40).map(lambda b: base64.b64encode(b).decode()),
    ),
)


@given(node_id_specs)
def test_node_id_parser_accepts_what_it_formats(spec: NodeIdSpec) -> None:
    text = format_node_id(spec)
    assert parse_node_id(text) == spec
    assert str(parse_node_id(text)) == text


@given(st.uuids())
def test_guid_node_ids_are_canonicalised(value: uuid.UUID) -> None:
    assert parse_node_id(f"ns=1;g={str(value).upper()}").identifier == str(value)


@pytest.mark.parametrize(
    ("value", "variant_type", "scale", "expected"),
    [
        (21.5, "Double", None, 21.5),
        (7, "Int32", None, 7),
        (2**63, "UInt64", None, 2**63),
        (7, "Int32", 0.5, 3.5),
        (1.5, "Float", 10, 15.0),
        (True, "Boolean", None, True),
        (False, "Boolean", None, False),
        ("bracket-7", "String", None, "bracket-7"),
        (None, "Null", None, None),
    ],
)
def test_scalar_values_convert(value: object, variant_type: str, scale: float | None, expected: object) -> None:
    converted = convert_value(value, variant_type, scale=scale)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("value", "variant_type", "kwargs", "reason"),
    [
        ([1.0, 2.0], "Double", {}, "arrays are not supported (Double[2])"),
        ((), "Int32", {}, "arrays are not supported (Int32[0])"),
        (1.0, "Double", {"is_array": True}, "arrays are not supported"),
        (object(), "ExtensionObject", {}, "values of type ExtensionObject are not supported"),
        (b"\x00\x01", "ByteString", {}, "values of type ByteString are not supported"),
        (uuid.uuid4(), "Guid", {}, "values of type Guid are not supported"),
        (float("nan"), "Double", {}, "not a finite number"),
        (float("inf"), "Float", {}, "not a finite number"),
        (1e308, "Double", {"scale": 10.0}, "not a finite number"),
        (True, "Boolean", {"scale": 2.0}, "not to Boolean"),
        ("on", "String", {"scale": 2.0}, "not to String"),
    ],
)
def test_unsupported_values_are_refused_with_a_reason(
    value: object, variant_type: str, kwargs: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueRefused) as caught:
        convert_value(value, variant_type, **kwargs)  # type: ignore[arg-type]
    assert reason in caught.value.reason


NODE = NodeDescription("ns=2;s=Press.Temperature", "temp", scale=2.0)


def test_reading_takes_the_source_timestamp_first() -> None:
    sample = Sample(10.0, "Double", source_ts_us=1_000, server_ts_us=2_000)
    reading = to_reading(NODE, sample, received_us=3_000)
    assert (reading.field, reading.ts_us, reading.value, reading.quality) == ("temp", 1_000, 20.0, Quality.GOOD)


def test_reading_falls_back_to_server_then_receive_time() -> None:
    assert to_reading(NODE, Sample(1.0, "Double", server_ts_us=2_000), received_us=3_000).ts_us == 2_000
    assert to_reading(NODE, Sample(1.0, "Double"), received_us=3_000).ts_us == 3_000


def test_bad_sample_becomes_a_bad_reading_without_value() -> None:
    sample = Sample([1, 2], "Double", status=0x808B_0000, is_array=True, source_ts_us=5)
    reading = to_reading(NODE, sample, received_us=9)
    assert (reading.value, reading.quality, reading.ts_us) == (None, Quality.BAD, 5)


def test_uncertain_sample_keeps_its_value() -> None:
    reading = to_reading(NODE, Sample(4.0, "Double", status=0x4090_0000), received_us=9)
    assert (reading.value, reading.quality) == (8.0, Quality.UNCERTAIN)


def test_good_sample_with_an_array_is_refused() -> None:
    with pytest.raises(ValueRefused, match="arrays"):
        to_reading(NODE, Sample([1.0], "Double", is_array=True), received_us=9)
