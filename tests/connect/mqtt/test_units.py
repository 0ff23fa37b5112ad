"""Pure parts of MQTT ingest: payload fuzzing, topic parsing, Mosquitto file rendering, configuration."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hexmill.connect.mqtt.config import IngestConfig, telemetry_topic, topic_client_id
from hexmill.connect.mqtt.mosquitto import render_acl_file, render_password_file
from hexmill.connect.payload import parse_payload

NOW_US = 1_795_309_323_000_000
GOOD_TS = NOW_US // 1000 - 60_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_payload_never_raises_on_bytes(raw: bytes) -> None:
    parsed = parse_payload(raw, now_us=NOW_US, max_points=50)
    assert len(parsed.readings) <= 50
    assert all(r.reason for r in parsed.rejections)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parse_payload_never_raises_on_any_json(document: Any) -> None:
    parse_payload(json.dumps(document).encode(), now_us=NOW_US, max_points=50)


@settings(max_examples=200, deadline=None)
@given(
    good=st.dictionaries(
        st.text(min_size=1, max_size=20), st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=10
    ),
    bad=st.dictionaries(
        st.text(min_size=1, max_size=20).map(lambda s: "bad-" + s),
        st.sampled_from([None, [1], {"x": 1}, "x" * 1001, 2**60]),
        min_size=1,
        max_size=5,
    ),
)
def test_good_values_are_kept_beside_bad_ones(good: dict[str, float], bad: dict[str, Any]) -> None:
    records = [{"ts": GOOD_TS, "values": {**good, **bad}}, {"ts": "never", "values": {"x": 1}}, 17]
    parsed = parse_payload(json.dumps(records).encode(), now_us=NOW_US)
    assert {r.field: r.value for r in parsed.readings} == good
    assert len(parsed.rejections) == len(bad) + 2
    assert all(r.ts_us == GOOD_TS * 1000 for r in parsed.readings)


def test_the_points_cap_refuses_the_excess_and_keeps_the_rest() -> None:
    parsed = parse_payload(
        json.dumps({"ts": GOOD_TS, "values": {f"f{i}": i for i in range(10)}}).encode(), now_us=NOW_US, max_points=4
    )
    assert len(parsed.readings) == 4
    assert len(parsed.rejections) == 6


@pytest.mark.parametrize(
    ("topic", "client_id"),
    [
        ("hexmill/v1/dev-1/telemetry", "dev-1"),
        ("hexmill/v1/dev-1/telemetry/x", None),
        ("hexmill/v2/dev-1/telemetry", None),
        ("hexmill/v1/+/telemetry", None),
        ("hexmill/v1/#/telemetry", None),
        ("hexmill/v1//telemetry", None),
        ("/hexmill/v1/dev-1/telemetry", None),
    ],
)
def test_topic_names_the_device(topic: str, client_id: str | None) -> None:
    assert topic_client_id(topic) == client_id
    if client_id:
        assert telemetry_topic(client_id) == topic


def test_password_file_leaves_out_unsafe_names_and_foreign_hashes() -> None:
    text, skipped = render_password_file(
        [("dev-1", "$7$101$c2FsdA==$aGFzaA=="), ("dev+2", "$7$1$a$b"), ("#", "$7$1$a$b"), ("dev-3", "$6$plain")]
    )
    assert text == "dev-1:$7$101$c2FsdA==$aGFzaA==\n"
    assert skipped == 3


def test_acl_file_gives_devices_their_own_topic_and_the_ingest_user_the_shared_one() -> None:
    acl = render_acl_file(ingest_username="hexmill-ingest", group="g1")
    assert "pattern write hexmill/v1/%u/telemetry\n" in acl
    assert (
        "user hexmill-ingest\ntopic read hexmill/v1/+/telemetry\ntopic read $share/g1/hexmill/v1/+/telemetry\n" in acl
    )
    assert "readwrite" not in acl
    with pytest.raises(ValueError, match="unsafe"):
        render_acl_file(ingest_username="evil\ntopic readwrite #")


@pytest.mark.parametrize("field", ["client_id", "group"])
@pytest.mark.parametrize("value", ["a/b", "a+", "#"])
def test_config_refuses_ids_that_are_not_one_topic_level(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        IngestConfig(**{field: value})


def test_config_asks_for_two_batches_in_flight() -> None:
    config = IngestConfig(group="g", batch_max_messages=300)
    assert config.subscription == "$share/g/hexmill/v1/+/telemetry"
    assert config.receive_maximum == 600
