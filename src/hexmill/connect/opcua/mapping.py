"""OPC UA node → device field descriptions, node-id syntax, StatusCode → quality and value conversion (no I/O)."""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from hexmill.telemetry.points import Quality, Reading, Value

#: Largest value of an OPC UA namespace index (UInt16) and numeric identifier (UInt32).
MAX_NAMESPACE = 0xFFFF
MAX_NUMERIC_ID = 0xFFFF_FFFF
#: OPC UA limits string identifiers to 4096 characters (Part 3 §8.2.4).
MAX_STRING_ID = 4096

_NAMESPACE_RE = re.compile(r"ns=(0|[1-9][0-9]{0,4});")
_NUMERIC_RE = re.compile(r"0|[1-9][0-9]{0,9}")


class IdKind(StrEnum):
    """The identifier type of a node id, as written in its string form."""

    NUMERIC = "i"
    STRING = "s"
    GUID = "g"
    OPAQUE = "b"


@dataclass(frozen=True, slots=True)
class NodeIdSpec:
    """A parsed node id: namespace index, identifier type and identifier text in canonical form."""

    namespace: int
    kind: IdKind
    identifier: str

    def __str__(self) -> str:
        return format_node_id(self)


def parse_node_id(text: str) -> NodeIdSpec:
    """Parse ``ns=<n>;<i|s|g|b>=<id>`` (``ns=`` optional, meaning 0) into its canonical parts.

    Raises:
        ValueError: the text is not a node id; the message says what is wrong.
    """
    rest = text
    namespace = 0
    if rest.startswith("ns="):
        match = _NAMESPACE_RE.match(rest)
        if match is None:
            raise ValueError("namespace must be written ns=<0..65535>; followed by the identifier")
        namespace = int(match.group(1))
        if namespace > MAX_NAMESPACE:
            raise ValueError(f"namespace index {namespace} is larger than {MAX_NAMESPACE}")
        rest = rest[match.end() :]
    kind_letter, equals, identifier = rest[:1], rest[1:2], rest[2:]
    if equals != "=" or kind_letter not in {k.value for k in IdKind}:
        raise ValueError("identifier must be written i=<number>, s=<text>, g=<guid> or b=<base64>")
    kind = IdKind(kind_letter)
    return NodeIdSpec(namespace, kind, _canonical_identifier(kind, identifier))


def _canonical_identifier(kind: IdKind, identifier: str) -> str:
    if kind is IdKind.NUMERIC:
        if not _NUMERIC_RE.fullmatch(identifier) or int(identifier) > MAX_NUMERIC_ID:
            raise ValueError(f"numeric identifier must be a whole number from 0 to {MAX_NUMERIC_ID}")
        return identifier
    if kind is IdKind.STRING:
        if not identifier or len(identifier) > MAX_STRING_ID:
            raise ValueError(f"string identifier must have 1 to {MAX_STRING_ID} characters")
        return identifier
    if kind is IdKind.GUID:
        try:
            return str(uuid.UUID(identifier))
        except ValueError:
            raise ValueError("guid identifier must look like 72962b91-fa75-4ae6-8d28-b404dc7daf63") from None
    try:
        raw = base64.b64decode(identifier, validate=True)
    except binascii.Error:
        raise ValueError("opaque identifier must be base64") from None
    if not raw:
        raise ValueError("opaque identifier must not be empty")
    return base64.b64encode(raw).decode("ascii")


def format_node_id(spec: NodeIdSpec) -> str:
    """Write a node id in the standard string form (``ns=`` left out for namespace 0)."""
    prefix = f"ns={spec.namespace};" if spec.namespace else ""
    return f"{prefix}{spec.kind.value}={spec.identifier}"


# StatusCode severity lives in the two top bits (OPC UA Part 4 §7.39): 00 Good, 01 Uncertain, 10 Bad.
# 11 is reserved; a code that claims it cannot be trusted, so it counts as Bad.
_SEVERITY_SHIFT = 30
_SEVERITY_QUALITY = (Quality.GOOD, Quality.UNCERTAIN, Quality.BAD, Quality.BAD)


def status_to_quality(status_code_value: int) -> Quality:
    """Return the point quality of a 32-bit OPC UA StatusCode, from its severity bits.

    Raises:
        ValueError: the number does not fit in 32 bits.
    """
    if not 0 <= status_code_value <= 0xFFFF_FFFF:
        raise ValueError(f"status code {status_code_value} is not a 32-bit unsigned number")
    return _SEVERITY_QUALITY[status_code_value >> _SEVERITY_SHIFT]


class ValueRefused(ValueError):
    """A node's value cannot become a telemetry point; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NodeDescription:
    """One mapped node: which node to read, the device field it feeds and an optional scale factor."""

    node_id: str
    field: str
    scale: float | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one node as the server sent it, already free of the protocol library's types.

    ``variant_type`` is the OPC UA built-in type name (``Double``, ``String``, ``ExtensionObject``...).
    Timestamps are microseconds since the Unix epoch, ``None`` when the server left them out.
    """

    value: object
    variant_type: str
    status: int = 0
    is_array: bool = False
    source_ts_us: int | None = None
    server_ts_us: int | None = None


@dataclass(frozen=True, slots=True)
class BrowseNode:
    """One node of the server's address space, as the node picker shows it."""

    node_id: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str | None
    has_children: bool
    children: tuple[BrowseNode, ...] = ()


def convert_value(
    value: object, variant_type: str, *, is_array: bool = False, scale: float | None = None
) -> Value | None:
    """Turn a variant's Python value into a telemetry value, scaled when asked.

    Raises:
        ValueRefused: the value is an array, a structure or another type a point cannot hold.
    """
    if is_array or isinstance(value, list | tuple):
        size = len(value) if isinstance(value, list | tuple) else "?"
        raise ValueRefused(f"arrays are not supported ({variant_type}[{size}])")
    if value is None:
        return None
    if isinstance(value, bool):
        if scale is not None:
            raise ValueRefused("a scale applies to numbers, not to Boolean values")
        return value
    if isinstance(value, int):
        return value if scale is None else _finite(value * scale)
    if isinstance(value, float):
        return _finite(value if scale is None else value * scale)
    if isinstance(value, str):
        if scale is not None:
            raise ValueRefused("a scale applies to numbers, not to String values")
        return value
    raise ValueRefused(f"values of type {variant_type} are not supported")


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise ValueRefused(f"{number} is not a finite number")
    return number


def to_reading(node: NodeDescription, sample: Sample, *, received_us: int) -> Reading:
    """Turn a sample of a mapped node into a reading, stamped at source, server or receive time.

    A Bad sample carries no value: the server says it has none worth keeping.

    Raises:
        ValueRefused: a Good or Uncertain sample holds a value a point cannot hold.
    """
    quality = status_to_quality(sample.status)
    ts_us = next(ts for ts in (sample.source_ts_us, sample.server_ts_us, received_us) if ts is not None)
    if quality is Quality.BAD:
        return Reading(node.field, ts_us, None, quality)
    value = convert_value(sample.value, sample.variant_type, is_array=sample.is_array, scale=node.scale)
    return Reading(node.field, ts_us, value, quality)
