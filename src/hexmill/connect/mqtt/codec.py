"""MQTT 5 packets, as far as the ingest consumer (and the load generator) speaks them: pure functions.

The consumer receives tens of thousands of PUBLISH packets a second; decoding them is a topic, a
packet id and a slice, nothing more, so it is done here rather than through a general client
library that builds a properties object per message (see docs/benchmarks.md, "MQTT ingest").
What is spoken: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH (both ways, QoS 0 and 1), PUBACK,
PINGREQ/PINGRESP and DISCONNECT (OASIS MQTT Version 5.0, §2 to §3). Everything read from the wire is
checked; a packet that does not parse raises ``ProtocolError`` and never anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
SUBSCRIBE: Final = 8
SUBACK: Final = 9
PINGREQ: Final = 12
PINGRESP: Final = 13
DISCONNECT: Final = 14

#: The largest remaining length MQTT can express (four length bytes).
MAX_REMAINING: Final = 268_435_455
PINGREQ_PACKET: Final = b"\xc0\x00"
#: DISCONNECT with reason "normal disconnection": the session (and its unacknowledged messages) stays.
DISCONNECT_PACKET: Final = b"\xe0\x00"

_PUBACK = struct.Struct("!BBH")

#: Reason codes a consumer meets (§2.4), for messages a person reads.
REASONS: Final[dict[int, str]] = {
    0x00: "success",
    0x01: "granted QoS 1",
    0x02: "granted QoS 2",
    0x04: "disconnect with will message",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8C: "bad authentication method",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x91: "packet identifier in use",
    0x93: "receive maximum exceeded",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9E: "shared subscriptions not supported",
    0x9F: "connection rate exceeded",
    0xA2: "wildcard subscriptions not supported",
}

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
# Property identifiers (§2.2.2.2) by the form of their value.
_FIXED_PROPS: Final[dict[int, struct.Struct]] = {
    **dict.fromkeys((0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A), struct.Struct("!B")),
    **dict.fromkeys((0x13, 0x21, 0x22, 0x23), _U16),
    **dict.fromkeys((0x02, 0x11, 0x18, 0x27), _U32),
}
_VARINT_PROPS = frozenset({0x0B})
_TEXT_PROPS = frozenset({0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F})
_BINARY_PROPS = frozenset({0x09, 0x16})
_PAIR_PROPS = frozenset({0x26})

SESSION_EXPIRY: Final = 0x11
ASSIGNED_CLIENT_ID: Final = 0x12
SERVER_KEEP_ALIVE: Final = 0x13
REASON_STRING: Final = 0x1F
RECEIVE_MAXIMUM: Final = 0x21


class ProtocolError(Exception):
    """Bytes from the peer that are not a valid MQTT 5 packet (the connection must be closed)."""


def reason_text(code: int) -> str:
    """Return the name of a reason code, with its number."""
    return f"{REASONS.get(code, 'reason')} (0x{code:02X})"


# -- encoding -------------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    """Return ``value`` as a variable byte integer (§1.5.5)."""
    if not 0 <= value <= MAX_REMAINING:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 0xFFFF:
        raise ValueError("a string of more than 65,535 bytes")
    return _U16.pack(len(raw)) + raw


def _binary(value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError("binary data of more than 65,535 bytes")
    return _U16.pack(len(value)) + value


def _packet(header: int, body: bytes) -> bytes:
    return bytes((header,)) + varint(len(body)) + body


def connect_packet(
    client_id: str,
    *,
    keepalive_s: int,
    clean_start: bool,
    session_expiry_s: int = 0,
    receive_maximum: int | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """Return a CONNECT packet (no will, no authentication exchange)."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0) | (0x02 * clean_start)
    props = b""
    if session_expiry_s:
        props += bytes((SESSION_EXPIRY,)) + _U32.pack(session_expiry_s)
    if receive_maximum is not None:
        props += bytes((RECEIVE_MAXIMUM,)) + _U16.pack(receive_maximum)
    body = _text("MQTT") + bytes((5, flags)) + _U16.pack(keepalive_s) + varint(len(props)) + props
    body += _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _binary(password.encode())
    return _packet(CONNECT << 4, body)


def subscribe_packet(packet_id: int, topic_filter: str, qos: int) -> bytes:
    """Return a SUBSCRIBE packet for one filter at ``qos`` (no local, retain handling: defaults)."""
    return _packet(SUBSCRIBE << 4 | 0x02, _U16.pack(packet_id) + b"\x00" + _text(topic_filter) + bytes((qos,)))


def publish_packet(topic: str, payload: bytes, *, qos: int = 0, packet_id: int = 0, dup: bool = False) -> bytes:
    """Return a PUBLISH packet without properties."""
    header = PUBLISH << 4 | (0x08 * dup) | (qos << 1)
    body = _text(topic) + (_U16.pack(packet_id) if qos else b"") + b"\x00" + payload
    return _packet(header, body)


def puback_packets(packet_ids: list[int]) -> bytes:
    """Return PUBACKs with reason "success" for ``packet_ids``, one after another (§3.4.2.1: reason omitted)."""
    pack = _PUBACK.pack
    return b"".join([pack(0x40, 2, mid) for mid in packet_ids])


# -- decoding -------------------------------------------------------------------------------------


def split_packets(buf: bytes | bytearray, limit: int = MAX_REMAINING) -> tuple[list[tuple[int, int, int]], int]:
    """Return ``(first byte, body start, body end)`` of each complete packet at the start of ``buf``.

    The second value is how many bytes those packets take; an incomplete packet at the end is left
    for the next read. A remaining length longer than four bytes or above ``limit`` is refused.
    """
    packets: list[tuple[int, int, int]] = []
    pos, size = 0, len(buf)
    while pos + 2 <= size:
        length, shift, index = 0, 0, pos + 1
        while True:
            if index >= size:
                return packets, pos
            byte = buf[index]
            length |= (byte & 0x7F) << shift
            index += 1
            if byte < 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("a remaining length of more than four bytes")
        if length > limit:
            raise ProtocolError(f"a packet of {length} bytes, more than the {limit} accepted")
        end = index + length
        if end > size:
            break
        packets.append((buf[pos], index, end))
        pos = end
    return packets, pos


def _read_varint(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= end:
            raise ProtocolError("a variable byte integer runs past the packet")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("a variable byte integer of more than four bytes")


def _read_u16(buf: bytes | bytearray, pos: int, end: int) -> int:
    if pos + 2 > end:
        raise ProtocolError("a two-byte integer runs past the packet")
    return buf[pos] << 8 | buf[pos + 1]


def _read_text(buf: bytes | bytearray, pos: int, end: int) -> tuple[str, int]:
    size = _read_u16(buf, pos, end)
    stop = pos + 2 + size
    if stop > end:
        raise ProtocolError("a string runs past the packet")
    try:
        return bytes(buf[pos + 2 : stop]).decode(), stop
    except UnicodeDecodeError as exc:
        raise ProtocolError("a string that is not UTF-8") from exc


def _read_value(ident: int, buf: bytes | bytearray, pos: int, stop: int) -> tuple[object, int]:
    """Return the value of property ``ident`` at ``pos`` and where it ends."""
    fixed = _FIXED_PROPS.get(ident)
    if fixed is not None:
        if pos + fixed.size > stop:
            raise ProtocolError(f"property 0x{ident:02X} runs past the properties")
        return fixed.unpack_from(buf, pos)[0], pos + fixed.size
    if ident in _VARINT_PROPS:
        return _read_varint(buf, pos, stop)
    if ident in _TEXT_PROPS:
        return _read_text(buf, pos, stop)
    if ident in _BINARY_PROPS:
        size = _read_u16(buf, pos, stop)
        if pos + 2 + size > stop:
            raise ProtocolError(f"property 0x{ident:02X} runs past the properties")
        return bytes(buf[pos + 2 : pos + 2 + size]), pos + 2 + size
    if ident in _PAIR_PROPS:
        key, pos = _read_text(buf, pos, stop)
        text, pos = _read_text(buf, pos, stop)
        return (key, text), pos
    raise ProtocolError(f"unknown property 0x{ident:02X}")


def read_properties(buf: bytes | bytearray, pos: int, end: int) -> tuple[dict[int, object], int]:
    """Return the properties at ``pos`` (user properties as a list of pairs) and where they end."""
    length, pos = _read_varint(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise ProtocolError("properties run past the packet")
    props: dict[int, object] = {}
    pairs: list[object] = []
    while pos < stop:
        ident, pos = _read_varint(buf, pos, stop)
        value, pos = _read_value(ident, buf, pos, stop)
        if ident in _PAIR_PROPS:
            pairs.append(value)
            props[ident] = pairs
        else:
            props[ident] = value
    return props, stop


@dataclass(frozen=True, slots=True)
class Publish:
    """An incoming PUBLISH: its topic, packet id (0 at QoS 0), QoS, DUP flag and payload."""

    topic: str
    packet_id: int
    qos: int
    dup: bool
    payload: bytes


def decode_publish(first: int, buf: bytes | bytearray, start: int, end: int) -> Publish:
    """Decode the PUBLISH whose body is ``buf[start:end]`` (``first`` is its first byte)."""
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("a PUBLISH with QoS 3")
    topic, pos = _read_text(buf, start, end)
    if not topic:
        raise ProtocolError("a PUBLISH without a topic name (topic aliases are not accepted)")
    packet_id = 0
    if qos:
        packet_id = _read_u16(buf, pos, end)
        if packet_id == 0:
            raise ProtocolError("a PUBLISH with packet identifier 0")
        pos += 2
    if pos < end and buf[pos] == 0:  # no properties: the usual case, skip the general reader
        pos += 1
    else:
        _props, pos = read_properties(buf, pos, end)
    return Publish(topic, packet_id, qos, bool(first & 0x08), bytes(buf[pos:end]))


@dataclass(frozen=True, slots=True)
class Ack:
    """A CONNACK, SUBACK or DISCONNECT: its reason codes and properties."""

    reasons: tuple[int, ...]
    properties: dict[int, object] = field(default_factory=dict)
    session_present: bool = False
    packet_id: int = 0

    @property
    def failed(self) -> bool:
        """Whether any reason code is a failure (0x80 and above)."""
        return any(code >= 0x80 for code in self.reasons)

    def describe(self) -> str:
        """Return the reasons as a person reads them, with the server's reason string if it sent one."""
        text = ", ".join(reason_text(code) for code in self.reasons)
        extra = self.properties.get(REASON_STRING)
        return f"{text}: {extra}" if extra else text


def decode_connack(buf: bytes | bytearray, start: int, end: int) -> Ack:
    """Decode a CONNACK body."""
    if end - start < 2:
        raise ProtocolError("a CONNACK shorter than its header")
    if buf[start] & 0xFE:
        raise ProtocolError("a CONNACK with reserved flags set")
    props, _ = read_properties(buf, start + 2, end) if end - start > 2 else ({}, end)
    return Ack((buf[start + 1],), props, session_present=bool(buf[start] & 1))


def decode_suback(buf: bytes | bytearray, start: int, end: int) -> Ack:
    """Decode a SUBACK body."""
    packet_id = _read_u16(buf, start, end)
    props, pos = read_properties(buf, start + 2, end)
    if pos >= end:
        raise ProtocolError("a SUBACK without reason codes")
    return Ack(tuple(buf[pos:end]), props, packet_id=packet_id)


def decode_disconnect(buf: bytes | bytearray, start: int, end: int) -> Ack:
    """Decode a DISCONNECT body (empty means "normal disconnection")."""
    if start == end:
        return Ack((0,))
    props, _ = read_properties(buf, start + 1, end) if end - start > 1 else ({}, end)
    return Ack((buf[start],), props)
