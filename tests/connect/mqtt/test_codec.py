"""The MQTT 5 packet codec of the ingest consumer: round trips, chunked streams and hostile bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.connect.mqtt import codec

topics = st.text(min_size=1, max_size=80).filter(lambda t: len(t.encode()) <= 0xFFFF)
publishes = st.tuples(topics, st.binary(max_size=300), st.sampled_from([0, 1]), st.integers(1, 0xFFFF), st.booleans())


def _decode_all(stream: bytes) -> list[codec.Publish]:
    packets, used = codec.split_packets(stream)
    assert used == len(stream)
    return [codec.decode_publish(first, stream, start, end) for first, start, end in packets]


@given(st.lists(publishes, max_size=20))
def test_publishes_round_trip(messages: list[tuple[str, bytes, int, int, bool]]) -> None:
    stream = b"".join(
        codec.publish_packet(topic, body, qos=qos, packet_id=mid, dup=dup) for topic, body, qos, mid, dup in messages
    )
    decoded = _decode_all(stream)
    assert [(p.topic, p.payload, p.qos, p.packet_id, p.dup) for p in decoded] == [
        (topic, payload, qos, mid if qos else 0, dup) for topic, payload, qos, mid, dup in messages
    ]


@given(st.lists(publishes, min_size=1, max_size=10), st.lists(st.integers(1, 400), max_size=30))
def test_a_stream_read_in_any_chunks_gives_the_same_packets(
    messages: list[tuple[str, bytes, int, int, bool]], cuts: list[int]
) -> None:
    stream = b"".join(codec.publish_packet(t, p, qos=q, packet_id=m, dup=d) for t, p, q, m, d in messages)
    buf, got, pos = bytearray(), [], 0
    for size in [*cuts, len(stream)]:
        buf += stream[pos : pos + size]
        pos += size
        packets, used = codec.split_packets(buf)
        got += [codec.decode_publish(first, buf, start, end) for first, start, end in packets]
        del buf[:used]
    assert not buf
    assert got == _decode_all(stream)


@given(st.binary(max_size=200))
def test_hostile_bytes_raise_only_protocol_errors(data: bytes) -> None:
    try:
        packets, _ = codec.split_packets(data)
        for first, start, end in packets:
            kind = first >> 4
            if kind == codec.PUBLISH:
                codec.decode_publish(first, data, start, end)
            elif kind == codec.CONNACK:
                codec.decode_connack(data, start, end)
            elif kind == codec.SUBACK:
                codec.decode_suback(data, start, end)
            else:
                codec.decode_disconnect(data, start, end)
    except codec.ProtocolError:
        pass


@given(st.integers(1, codec.MAX_REMAINING))
def test_remaining_lengths_round_trip(length: int) -> None:
    header = b"\x30" + codec.varint(length)
    # Nothing of the body yet: the packet is incomplete, not an error, and nothing is consumed.
    assert codec.split_packets(header) == ([], 0)
    assert len(codec.varint(length)) == 1 + (length > 127) + (length > 16_383) + (length > 2_097_151)


def test_a_five_byte_remaining_length_is_refused() -> None:
    with pytest.raises(codec.ProtocolError, match="more than four bytes"):
        codec.split_packets(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(ValueError, match="does not fit"):
        codec.varint(codec.MAX_REMAINING + 1)


def test_a_packet_above_the_limit_is_refused_before_its_body_arrives() -> None:
    with pytest.raises(codec.ProtocolError, match="more than the 100 accepted"):
        codec.split_packets(b"\x30" + codec.varint(101), limit=100)


def test_publish_with_properties_is_decoded_past_them() -> None:
    props = b"\x01\x01" + b"\x23\x00\x05" + b"\x26\x00\x01k\x00\x01v"  # payload format, topic alias, user property
    body = b"\x00\x03a/b" + b"\x00\x07" + codec.varint(len(props)) + props + b"data"
    stream = bytes((0x32,)) + codec.varint(len(body)) + body
    (message,) = _decode_all(stream)
    assert (message.topic, message.packet_id, message.qos, message.payload) == ("a/b", 7, 1, b"data")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x00\x00\x00", "without a topic name"),
        (b"\x00\x03a/b\x00\x00\x00", "packet identifier 0"),
        (b"\x00\x09a/b", "runs past the packet"),
        (b"\x00\x02\xff\xfe\x00\x01\x00", "not UTF-8"),
        (b"\x00\x01a\x00\x01\x02\x7f\x00", "unknown property 0x7F"),
    ],
)
def test_bad_publishes_name_what_is_wrong(body: bytes, error: str) -> None:
    stream = bytes((0x32,)) + codec.varint(len(body)) + body
    packets, _ = codec.split_packets(stream)
    with pytest.raises(codec.ProtocolError, match=error):
        codec.decode_publish(packets[0][0], stream, packets[0][1], packets[0][2])


def test_qos_3_is_refused() -> None:
    with pytest.raises(codec.ProtocolError, match="QoS 3"):
        codec.decode_publish(0x36, b"\x00\x01a\x00\x01\x00", 0, 6)


def test_connack_reads_session_present_refusals_and_server_properties() -> None:
    props = b"\x13\x00\x3c" + b"\x1f\x00\x04busy" + b"\x21\x00\x0a"
    body = b"\x01\x00" + codec.varint(len(props)) + props
    ack = codec.decode_connack(body, 0, len(body))
    assert ack.session_present and not ack.failed
    assert ack.properties == {codec.SERVER_KEEP_ALIVE: 60, codec.REASON_STRING: "busy", codec.RECEIVE_MAXIMUM: 10}
    refused = codec.decode_connack(b"\x00\x86\x00", 0, 3)
    assert refused.failed and refused.describe() == "bad user name or password (0x86)"
    with pytest.raises(codec.ProtocolError, match="reserved flags"):
        codec.decode_connack(b"\x02\x00\x00", 0, 3)


def test_suback_and_disconnect_say_why() -> None:
    suback = codec.decode_suback(b"\x00\x01\x00\x01\x87", 0, 5)
    assert suback.packet_id == 1 and suback.reasons == (0x01, 0x87) and suback.failed
    assert suback.describe() == "granted QoS 1 (0x01), not authorized (0x87)"
    assert codec.decode_disconnect(b"", 0, 0).reasons == (0,)
    taken = codec.decode_disconnect(b"\x8e\x00", 0, 2)
    assert taken.failed and "session taken over" in taken.describe()
    assert codec.reason_text(0xFE) == "reason (0xFE)"


def test_outgoing_packets_have_the_layout_of_the_standard() -> None:
    assert codec.puback_packets([1, 0x1234]) == b"\x40\x02\x00\x01\x40\x02\x12\x34"
    assert codec.subscribe_packet(1, "$share/g/a/+", 1) == b"\x82\x12\x00\x01\x00\x00\x0c$share/g/a/+\x01"
    packet = codec.connect_packet(
        "c1",
        keepalive_s=30,
        clean_start=False,
        session_expiry_s=86_400,
        receive_maximum=1000,
        username="u",
        password="p",
    )
    body = packet[2:]
    assert packet[0] == 0x10 and packet[1] == len(body)
    assert body[:7] == b"\x00\x04MQTT\x05" and body[7] == 0xC0  # user name and password, clean start off
    assert struct.unpack("!H", body[8:10]) == (30,)
    assert body[10:19] == b"\x08\x11\x00\x01\x51\x80\x21\x03\xe8"  # session expiry 86,400 s, receive maximum 1,000
    assert body[19:] == b"\x00\x02c1\x00\x01u\x00\x01p"
