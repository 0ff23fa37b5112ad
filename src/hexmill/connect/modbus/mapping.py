"""Modbus register maps without I/O: point descriptions, merged read plans, decoding and encoding."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, NamedTuple

#: A decoded device value (bits become ``bool``, integers stay ``int`` unless scaled).
DeviceValue = bool | int | float

#: The most registers one read may ask for (Modbus application protocol, function codes 3 and 4).
MAX_REGISTERS = 125
#: The most coils or discrete inputs one read may ask for (function codes 1 and 2).
MAX_BITS = 2000
#: One past the highest Modbus address.
ADDRESS_SPACE = 65536


class Table(StrEnum):
    """The four Modbus data tables, each read by its own function code."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def is_bits(self) -> bool:
        """Return whether the table holds single bits (coils, discrete inputs)."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def max_count(self) -> int:
        """Return the protocol's limit on items per read of this table."""
        return MAX_BITS if self.is_bits else MAX_REGISTERS


class DataType(StrEnum):
    """How the bits or registers of one point are read as a value."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def width(self) -> int:
        """Return how many table items (bits or 16-bit registers) the value spans."""
        return _LAYOUT[self][1]

    @property
    def is_float(self) -> bool:
        """Return whether the raw value is an IEEE 754 float."""
        return self in (DataType.FLOAT32, DataType.FLOAT64)


class Order(StrEnum):
    """Which end comes first: of the two bytes in a register, or of the registers in a value."""

    BIG = "big"
    LITTLE = "little"


# struct format and width in registers (bits for BOOL) of each data type.
_LAYOUT: dict[DataType, tuple[str, int]] = {
    DataType.BOOL: ("?", 1),
    DataType.INT16: ("h", 1),
    DataType.UINT16: ("H", 1),
    DataType.INT32: ("i", 2),
    DataType.UINT32: ("I", 2),
    DataType.FLOAT32: ("f", 2),
    DataType.FLOAT64: ("d", 4),
}

_ENDIAN: dict[Order, Literal["big", "little"]] = {Order.BIG: "big", Order.LITTLE: "little"}

_INT_RANGE: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One device field: where it lives in the device's tables and how its raw data becomes a value.

    The engineering value is ``raw * scale + offset``; integer points stay integers while scale is 1
    and offset 0. ``byte_order`` orders the two bytes inside each register, ``word_order`` the
    registers of a 32- or 64-bit value (big/big is the Modbus convention).
    """

    field: str
    table: Table
    address: int
    data_type: DataType
    byte_order: Order = Order.BIG
    word_order: Order = Order.BIG
    scale: float = 1.0
    offset: float = 0.0

    @property
    def width(self) -> int:
        """Return how many bits or registers the point spans."""
        return self.data_type.width

    @property
    def end(self) -> int:
        """Return the address one past the point's last item."""
        return self.address + self.width

    @property
    def scaled(self) -> bool:
        """Return whether scale or offset change the raw value."""
        return self.scale != 1.0 or self.offset != 0.0


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` items of ``table`` from ``address``, covering ``points``."""

    table: Table
    address: int
    count: int
    points: tuple[PointSpec, ...]

    @property
    def end(self) -> int:
        """Return the address one past the block's last item."""
        return self.address + self.count


class Decoded(NamedTuple):
    """The outcome for one point of a block: its value, or why there is none."""

    field: str
    value: DeviceValue | None
    error: str | None = None


def plan_reads(
    points: Iterable[PointSpec],
    *,
    max_gap: int = 0,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
) -> list[ReadBlock]:
    """Group points into as few reads as the limits allow, per table, in address order.

    Points whose addresses are at most ``max_gap`` items apart share a read (the gap is read and
    thrown away), as long as the read stays within ``max_registers`` registers or ``max_bits`` bits.
    Overlapping points (one register read as two types) share a read too.

    Raises:
        ValueError: a limit is out of the protocol's range, or a point is wider than its limit.
    """
    if max_gap < 0:
        raise ValueError("max_gap must not be negative")
    if not 1 <= max_registers <= MAX_REGISTERS:
        raise ValueError(f"max_registers must be in 1..{MAX_REGISTERS}")
    if not 1 <= max_bits <= MAX_BITS:
        raise ValueError(f"max_bits must be in 1..{MAX_BITS}")
    by_table: dict[Table, list[PointSpec]] = {}
    for point in points:
        by_table.setdefault(point.table, []).append(point)
    blocks: list[ReadBlock] = []
    for table in Table:
        limit = max_bits if table.is_bits else max_registers
        members = sorted(by_table.get(table, ()), key=lambda p: (p.address, -p.width, p.field))
        blocks.extend(_plan_table(table, members, max_gap=max_gap, limit=limit))
    return blocks


def _plan_table(table: Table, points: list[PointSpec], *, max_gap: int, limit: int) -> list[ReadBlock]:
    """Cut address-sorted points of one table into reads greedily (optimal for sorted intervals)."""
    blocks: list[ReadBlock] = []
    current: list[PointSpec] = []
    start = end = 0
    for point in points:
        if point.width > limit:
            raise ValueError(f"{point.field}: {point.width} items do not fit a read of at most {limit}")
        new_end = max(end, point.end)
        if current and point.address - end <= max_gap and new_end - start <= limit:
            current.append(point)
            end = new_end
            continue
        if current:
            blocks.append(ReadBlock(table, start, end - start, tuple(current)))
        current, start, end = [point], point.address, point.end
    if current:
        blocks.append(ReadBlock(table, start, end - start, tuple(current)))
    return blocks


def decode(block: ReadBlock, values: Sequence[int] | Sequence[bool]) -> list[Decoded]:
    """Decode each point of ``block`` from the items a read returned, one outcome per point.

    A short or malformed answer never raises: each point it cannot serve gets an error saying why,
    and every point whose items are present and sound still gets its value.
    """
    return [_decode_point(block, point, values) for point in block.points]


def _decode_point(block: ReadBlock, point: PointSpec, values: Sequence[int] | Sequence[bool]) -> Decoded:
    """Decode one point, or say what is wrong with its part of the answer."""
    items = _point_items(block, point, values)
    if isinstance(items, str):
        return Decoded(point.field, None, items)
    if point.data_type is DataType.BOOL:
        return Decoded(point.field, bool(items[0]))
    try:
        value = decode_registers(point, items)
    except ValueError as exc:
        return Decoded(point.field, None, str(exc))
    return Decoded(point.field, value)


def _point_items(block: ReadBlock, point: PointSpec, values: Sequence[object]) -> list[int] | str:
    """Return the point's slice of the answer, checked item by item, or what is wrong with it."""
    first = point.address - block.address
    if first < 0 or point.end > block.end:
        return f"address {point.address} lies outside the read block"
    items = list(values[first : first + point.width])
    if len(items) < point.width:
        return f"answer too short: needs items {first}..{first + point.width - 1}, got {len(values)}"
    checked: list[int] = []
    for item in items:
        if point.data_type is DataType.BOOL:
            if not isinstance(item, int) or item not in (0, 1):
                return f"not a bit: {item!r}"
        elif isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 0xFFFF:
            return f"not a 16-bit register: {item!r}"
        checked.append(int(item))
    return checked


def decode_registers(point: PointSpec, registers: Sequence[int]) -> int | float:
    """Turn the registers of one point into its engineering value.

    Raises:
        ValueError: wrong register count, or the value is not a finite number.
    """
    fmt, width = _LAYOUT[point.data_type]
    if point.data_type is DataType.BOOL or len(registers) != width:
        raise ValueError(f"{point.field}: expected {width} registers of {point.data_type}, got {len(registers)}")
    ordered = list(registers) if point.word_order is Order.BIG else list(reversed(registers))
    raw_bytes = b"".join(reg.to_bytes(2, _ENDIAN[point.byte_order]) for reg in ordered)
    (raw,) = struct.unpack(">" + fmt, raw_bytes)
    if not point.scaled:
        if isinstance(raw, float) and not math.isfinite(raw):
            raise ValueError(f"not a finite number: {raw}")
        return int(raw) if isinstance(raw, int) else float(raw)
    value = raw * point.scale + point.offset
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {raw} * {point.scale} + {point.offset}")
    return float(value)


def encode(point: PointSpec, value: DeviceValue) -> list[int]:
    """Lay out an engineering value as the device would hold it, for simulators and tests.

    Returns the point's registers (a one-item ``[0]`` or ``[1]`` for bits), undoing scale and
    offset first (integer types round to the nearest step).

    Raises:
        ValueError: the value does not fit the point's type.
    """
    if point.data_type is DataType.BOOL:
        return [1 if value else 0]
    fmt, _width = _LAYOUT[point.data_type]
    raw: float | int = (value - point.offset) / point.scale if point.scaled else value
    if not point.data_type.is_float:
        if isinstance(raw, float):
            if not math.isfinite(raw):
                raise ValueError(f"{point.field}: {value!r} is not a finite number")
            raw = round(raw)
        low, high = _INT_RANGE[point.data_type]
        if not low <= int(raw) <= high:
            raise ValueError(f"{point.field}: {value!r} does not fit {point.data_type}")
        raw = int(raw)
    try:
        packed = struct.pack(">" + fmt, raw)
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"{point.field}: {value!r} does not fit {point.data_type}") from exc
    words = [packed[i : i + 2] for i in range(0, len(packed), 2)]
    registers = [int.from_bytes(word, _ENDIAN[point.byte_order]) for word in words]
    return registers if point.word_order is Order.BIG else list(reversed(registers))
