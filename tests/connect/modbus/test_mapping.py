"""Register maps: hand-computed layouts, round-trip and planning properties, fuzzed answers."""

from __future__ import annotations

import itertools
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexmill.connect.modbus.mapping import (
    MAX_BITS,
    MAX_REGISTERS,
    DataType,
    Decoded,
    Order,
    PointSpec,
    ReadBlock,
    Table,
    decode,
    decode_registers,
    encode,
    plan_reads,
)

HR = Table.HOLDING_REGISTER
REGISTER_TYPES = [t for t in DataType if t is not DataType.BOOL]


def point(
    data_type: DataType,
    *,
    address: int = 0,
    byte_order: Order = Order.BIG,
    word_order: Order = Order.BIG,
    scale: float = 1.0,
    offset: float = 0.0,
    table: Table = HR,
    field: str = "p",
) -> PointSpec:
    return PointSpec(field, table, address, data_type, byte_order, word_order, scale, offset)


# --- hand-computed layouts ---------------------------------------------------------------------

# 123.456 as IEEE 754 single precision is 0x42F6E979.
FLOAT32_123_456 = {
    (Order.BIG, Order.BIG): [0x42F6, 0xE979],
    (Order.BIG, Order.LITTLE): [0xE979, 0x42F6],
    (Order.LITTLE, Order.BIG): [0xF642, 0x79E9],
    (Order.LITTLE, Order.LITTLE): [0x79E9, 0xF642],
}


@pytest.mark.parametrize(("byte_order", "word_order"), list(FLOAT32_123_456))
def test_float32_in_all_four_orders(byte_order: Order, word_order: Order) -> None:
    spec = point(DataType.FLOAT32, byte_order=byte_order, word_order=word_order)
    registers = FLOAT32_123_456[(byte_order, word_order)]
    assert encode(spec, 123.456) == registers
    assert decode_registers(spec, registers) == pytest.approx(123.456, rel=1e-7)


def test_int32_negative_big_and_word_swapped() -> None:
    # -2 is 0xFFFFFFFE; -123456789 is 0xF8A432EB.
    assert decode_registers(point(DataType.INT32), [0xFFFF, 0xFFFE]) == -2
    assert decode_registers(point(DataType.INT32), [0xF8A4, 0x32EB]) == -123456789
    assert decode_registers(point(DataType.INT32, word_order=Order.LITTLE), [0x32EB, 0xF8A4]) == -123456789
    assert encode(point(DataType.INT32, word_order=Order.LITTLE), -123456789) == [0x32EB, 0xF8A4]


def test_sixteen_bit_types() -> None:
    assert decode_registers(point(DataType.INT16), [0xFF38]) == -200
    assert decode_registers(point(DataType.UINT16), [0xFF38]) == 65336
    assert decode_registers(point(DataType.UINT16, byte_order=Order.LITTLE), [0x3412]) == 0x1234
    # Word order means nothing for one register.
    assert decode_registers(point(DataType.INT16, word_order=Order.LITTLE), [0xFF38]) == -200


def test_uint32_and_float64() -> None:
    assert decode_registers(point(DataType.UINT32), [0xFFFF, 0xFFFE]) == 4294967294
    # 1.5 as a double is 0x3FF8000000000000.
    assert decode_registers(point(DataType.FLOAT64), [0x3FF8, 0, 0, 0]) == 1.5
    assert decode_registers(point(DataType.FLOAT64, word_order=Order.LITTLE), [0, 0, 0, 0x3FF8]) == 1.5
    assert encode(point(DataType.FLOAT64, byte_order=Order.LITTLE), 1.5) == [0xF83F, 0, 0, 0]


def test_scale_and_offset() -> None:
    # A temperature in tenths of a degree with a -40 °C offset: raw 653 -> 25.3 °C.
    spec = point(DataType.INT16, scale=0.1, offset=-40.0)
    value = decode_registers(spec, [653])
    assert isinstance(value, float)
    assert value == pytest.approx(25.3)
    assert encode(spec, 25.3) == [653]
    assert decode_registers(point(DataType.UINT16, scale=2.0), [21]) == 42.0
    # Unscaled integers stay integers.
    assert isinstance(decode_registers(point(DataType.UINT16), [21]), int)


def test_encode_refuses_values_out_of_range() -> None:
    with pytest.raises(ValueError, match="does not fit int16"):
        encode(point(DataType.INT16), 40000)
    with pytest.raises(ValueError, match="does not fit uint32"):
        encode(point(DataType.UINT32), -1)
    with pytest.raises(ValueError, match="does not fit float32"):
        encode(point(DataType.FLOAT32), 1e300)


def test_non_finite_float_is_a_point_error() -> None:
    nan = list(struct.unpack(">2H", struct.pack(">f", math.nan)))
    block = ReadBlock(HR, 0, 3, (point(DataType.FLOAT32, field="bad"), point(DataType.UINT16, address=2, field="ok")))
    assert decode(block, [*nan, 7]) == [
        Decoded("bad", None, "not a finite number: nan"),
        Decoded("ok", 7),
    ]


def test_bits_decode_to_bool() -> None:
    spec_a = point(DataType.BOOL, table=Table.COIL, address=10, field="a")
    spec_b = point(DataType.BOOL, table=Table.COIL, address=12, field="b")
    block = ReadBlock(Table.COIL, 10, 3, (spec_a, spec_b))
    assert decode(block, [True, False, False]) == [Decoded("a", True), Decoded("b", False)]
    assert encode(spec_a, True) == [1]
    assert encode(spec_a, False) == [0]


# --- plan_reads --------------------------------------------------------------------------------


def test_contiguous_points_merge_into_one_read_per_table() -> None:
    specs = [
        point(DataType.FLOAT32, address=0, field="a"),
        point(DataType.UINT16, address=2, field="b"),
        point(DataType.INT32, address=5, field="c"),  # gap of 2 registers
        point(DataType.FLOAT64, address=100, field="far"),
        point(DataType.BOOL, table=Table.COIL, address=3, field="k1"),
        point(DataType.BOOL, table=Table.COIL, address=8, field="k2"),  # gap of 4 bits
    ]
    blocks = plan_reads(specs, max_gap=4)
    assert [(b.table, b.address, b.count, [p.field for p in b.points]) for b in blocks] == [
        (Table.COIL, 3, 6, ["k1", "k2"]),
        (HR, 0, 7, ["a", "b", "c"]),
        (HR, 100, 4, ["far"]),
    ]
    # Without a gap allowance both gaps split their reads.
    assert len(plan_reads(specs, max_gap=0)) == 5


def test_plan_respects_the_request_limit() -> None:
    specs = [point(DataType.UINT16, address=a, field=f"r{a}") for a in range(300)]
    blocks = plan_reads(specs, max_gap=0)
    assert [(b.address, b.count) for b in blocks] == [(0, 125), (125, 125), (250, 50)]
    assert [b.count for b in plan_reads(specs, max_gap=0, max_registers=100)] == [100, 100, 100]


def test_plan_refuses_bad_limits() -> None:
    with pytest.raises(ValueError, match="max_registers"):
        plan_reads([], max_registers=126)
    with pytest.raises(ValueError, match="do not fit"):
        plan_reads([point(DataType.FLOAT64)], max_registers=3)


@st.composite
def register_points(draw: st.DrawFn) -> PointSpec:
    data_type = draw(st.sampled_from(list(DataType)))
    table = draw(
        st.sampled_from(
            [Table.COIL, Table.DISCRETE_INPUT] if data_type is DataType.BOOL else [HR, Table.INPUT_REGISTER]
        )
    )
    address = draw(st.integers(0, 65536 - data_type.width))
    return point(data_type, table=table, address=address, field=f"f{draw(st.integers(0, 10**9))}")


point_lists = st.lists(register_points(), max_size=60, unique_by=lambda p: p.field)
# Clustered addresses, so merging actually happens.
clustered = st.lists(
    st.builds(
        lambda t, a, f: point(t, address=a, field=f"f{f}"),
        st.sampled_from(REGISTER_TYPES),
        st.integers(0, 400),
        st.integers(0, 10**9),
    ),
    max_size=80,
    unique_by=lambda p: p.field,
)


@given(
    specs=st.one_of(point_lists, clustered),
    max_gap=st.integers(0, 30),
    max_registers=st.integers(4, MAX_REGISTERS),
    max_bits=st.integers(1, MAX_BITS),
)
@settings(max_examples=300)
def test_plan_covers_every_point_once_within_limits(
    specs: list[PointSpec], max_gap: int, max_registers: int, max_bits: int
) -> None:
    blocks = plan_reads(specs, max_gap=max_gap, max_registers=max_registers, max_bits=max_bits)
    planned = [p for b in blocks for p in b.points]
    assert sorted(p.field for p in planned) == sorted(p.field for p in specs)
    assert len(blocks) <= len(specs)
    for block in blocks:
        assert 1 <= block.count <= (max_bits if block.table.is_bits else max_registers)
        assert block.end <= 65536
        for p in block.points:
            assert p.table is block.table
            assert block.address <= p.address
            assert p.end <= block.end
        # A block is no wider than its points: it starts at one and ends with one.
        assert block.address == min(p.address for p in block.points)
        assert block.end == max(p.end for p in block.points)
    # Greedy is as few as possible: the next block of a table could not have joined the one before.
    for before, after in itertools.pairwise(blocks):
        if before.table is after.table:
            first = after.points[0]
            limit = max_bits if before.table.is_bits else max_registers
            assert first.address - before.end > max_gap or max(before.end, first.end) - before.address > limit


# --- round trip ----------------------------------------------------------------------------------


def values_for(data_type: DataType) -> st.SearchStrategy[int | float]:
    if data_type is DataType.FLOAT32:
        return st.floats(width=32, allow_nan=False, allow_infinity=False)
    if data_type is DataType.FLOAT64:
        return st.floats(allow_nan=False, allow_infinity=False)
    bits = {DataType.INT16: 16, DataType.UINT16: 16, DataType.INT32: 32, DataType.UINT32: 32}[data_type]
    signed = data_type in (DataType.INT16, DataType.INT32)
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else st.integers(0, 2**bits - 1)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[PointSpec, int | float]:
    data_type = draw(st.sampled_from(REGISTER_TYPES))
    spec = point(
        data_type,
        address=draw(st.integers(0, 20)),
        byte_order=draw(st.sampled_from(list(Order))),
        word_order=draw(st.sampled_from(list(Order))),
    )
    return spec, draw(values_for(data_type))


@given(typed_values())
def test_encode_decode_round_trip(case: tuple[PointSpec, int | float]) -> None:
    spec, value = case
    registers = encode(spec, value)
    assert len(registers) == spec.width
    assert all(0 <= r <= 0xFFFF for r in registers)
    decoded = decode_registers(spec, registers)
    assert decoded == value
    assert type(decoded) is type(value)
    block = ReadBlock(spec.table, spec.address, spec.width, (spec,))
    assert decode(block, registers) == [Decoded(spec.field, value)]


@given(
    case=typed_values(),
    scale=st.sampled_from([0.001, 0.1, 0.5, 2.0, 10.0]),
    offset=st.sampled_from([0.0, -40.0, 273.15, 1000.0]),
)
def test_scaled_round_trip(case: tuple[PointSpec, int | float], scale: float, offset: float) -> None:
    spec, raw = case
    if spec.data_type.is_float and abs(raw) > 1e30:
        return  # scaling would overflow float32 on the way back; the range check is tested above
    scaled = point(spec.data_type, byte_order=spec.byte_order, word_order=spec.word_order, scale=scale, offset=offset)
    engineering = raw * scale + offset
    decoded = decode_registers(scaled, encode(scaled, engineering))
    if spec.data_type.is_float:
        tolerance = abs(engineering) * 1e-6 + abs(offset) * 1e-6 + 1e-30
        assert decoded == pytest.approx(engineering, rel=1e-6, abs=tolerance)
    else:
        assert decoded == pytest.approx(engineering, rel=1e-9, abs=scale * 1e-6)


@given(st.booleans(), st.sampled_from([Table.COIL, Table.DISCRETE_INPUT]))
def test_bool_round_trip(value: bool, table: Table) -> None:
    spec = point(DataType.BOOL, table=table)
    block = ReadBlock(table, 0, 1, (spec,))
    assert decode(block, [bool(b) for b in encode(spec, value)]) == [Decoded("p", value)]


# --- fuzzed answers ------------------------------------------------------------------------------

junk_item = st.one_of(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),  # mostly sound registers, so good points turn up
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.none(),
    st.floats(),
    st.text(max_size=3),
)


@st.composite
def block_and_answer(draw: st.DrawFn) -> tuple[ReadBlock, list[object]]:
    specs = draw(
        st.lists(
            st.builds(
                lambda t, a, f: point(t, address=a, field=f"f{f}"),
                st.sampled_from(list(DataType)),
                st.integers(0, 40),
                st.integers(0, 10**6),
            ),
            min_size=1,
            max_size=12,
            unique_by=lambda p: p.field,
        )
    )
    start = min(p.address for p in specs)
    count = max(p.end for p in specs) - start
    block = ReadBlock(HR, start, count, tuple(specs))
    answer = draw(st.lists(junk_item, max_size=count + 3))
    return block, answer


def _sound_slice(block: ReadBlock, spec: PointSpec, answer: list[object]) -> list[int] | None:
    items = answer[spec.address - block.address : spec.end - block.address]
    if len(items) < spec.width:
        return None
    if spec.data_type is DataType.BOOL:
        ok = all(isinstance(i, int) and i in (0, 1) for i in items)
    else:
        ok = all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= 0xFFFF for i in items)
    return [int(i) for i in items if isinstance(i, int)] if ok else None


@given(block_and_answer())
@settings(max_examples=400)
def test_fuzzed_answers_give_one_clear_outcome_per_point(case: tuple[ReadBlock, list[object]]) -> None:
    block, answer = case
    outcomes = decode(block, answer)  # type: ignore[arg-type]  # deliberately malformed
    assert [o.field for o in outcomes] == [p.field for p in block.points]
    for spec, outcome in zip(block.points, outcomes, strict=True):
        assert (outcome.value is None) != (outcome.error is None)
        sound = _sound_slice(block, spec, answer)
        if sound is None:
            assert outcome.error
            continue
        if spec.data_type is DataType.BOOL:
            assert outcome == Decoded(spec.field, bool(sound[0]))
            continue
        raw = struct.unpack(">" + {2: "f", 4: "d"}.get(spec.width, "h"), struct.pack(f">{spec.width}H", *sound))[0]
        if spec.data_type.is_float and not math.isfinite(raw):
            assert outcome.error == f"not a finite number: {raw}"
        else:
            assert outcome.error is None
            assert outcome.value == decode_registers(spec, sound)


@given(payload=st.binary(max_size=20), specs=st.lists(st.sampled_from(REGISTER_TYPES), min_size=1, max_size=4))
def test_truncated_byte_payload_fails_only_the_points_it_cannot_serve(payload: bytes, specs: list[DataType]) -> None:
    # A response cut short mid-frame: whole registers survive, the rest is missing.
    registers = [int.from_bytes(payload[i : i + 2], "big") for i in range(0, len(payload) - 1, 2)]
    points, address = [], 0
    for i, data_type in enumerate(specs):
        points.append(point(data_type, address=address, field=f"p{i}"))
        address += data_type.width
    block = ReadBlock(HR, 0, address, tuple(points))
    for spec, outcome in zip(points, decode(block, registers), strict=True):
        if spec.end > len(registers):
            assert outcome.value is None
            assert outcome.error is not None
            assert "answer too short" in outcome.error
        elif outcome.error is None:
            assert outcome.value == decode_registers(spec, registers[spec.address : spec.end])
        else:
            assert "not a finite number" in outcome.error
