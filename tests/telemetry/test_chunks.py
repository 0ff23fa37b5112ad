"""Chunk arithmetic: every instant falls in exactly one chunk per level, named after its period."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.telemetry.chunks import DAY_US, HOUR_US, MINUTE_US, Level, bucket_start, chunk_of, chunks_between
from hexmill.telemetry.points import to_micros

Y2000 = to_micros(datetime(2000, 1, 1, tzinfo=UTC))
Y2200 = to_micros(datetime(2200, 1, 1, tzinfo=UTC))
instants = st.integers(Y2000, Y2200)


def us(*parts: int) -> int:
    year, month, day, hour, minute, second = (*parts, 0, 0, 0)[:6]
    return to_micros(datetime(year, month, day, hour, minute, second, tzinfo=UTC))


@given(instants, st.sampled_from(list(Level)))
def test_every_instant_lies_in_its_chunk(ts: int, level: Level) -> None:
    chunk = chunk_of(7, level, ts)
    assert chunk.start_us <= ts < chunk.end_us
    assert chunk.tenant_id == 7
    assert chunk.level is level
    # The chunk is the same whichever of its instants asks for it.
    assert chunk_of(7, level, chunk.start_us) == chunk
    assert chunk_of(7, level, chunk.end_us - 1) == chunk
    assert chunk_of(7, level, chunk.end_us).start_us == chunk.end_us


def test_midnight_starts_a_new_raw_chunk() -> None:
    before = chunk_of(3, Level.RAW, us(2026, 11, 22, 23, 59, 59) + 999_999)
    after = chunk_of(3, Level.RAW, us(2026, 11, 23))
    assert before.name == "raw_3_20261122"
    assert after.name == "raw_3_20261123"
    assert before.end_us == after.start_us == us(2026, 11, 23)
    assert after.end_us - after.start_us == DAY_US


@pytest.mark.parametrize(
    ("moment", "name", "start", "end"),
    [
        ((2026, 1, 31, 23, 59), "m1_5_202601", (2026, 1, 1), (2026, 2, 1)),
        ((2026, 2, 1), "m1_5_202602", (2026, 2, 1), (2026, 3, 1)),
        ((2028, 2, 29, 12), "m1_5_202802", (2028, 2, 1), (2028, 3, 1)),
        ((2026, 12, 31, 23, 59), "m1_5_202612", (2026, 12, 1), (2027, 1, 1)),
        ((2027, 1, 1), "m1_5_202701", (2027, 1, 1), (2027, 2, 1)),
    ],
)
def test_minute_rollups_are_chunked_by_calendar_month(
    moment: tuple[int, ...], name: str, start: tuple[int, ...], end: tuple[int, ...]
) -> None:
    chunk = chunk_of(5, Level.MINUTE, us(*moment))
    assert chunk.name == name
    assert (chunk.start_us, chunk.end_us) == (us(*start), us(*end))


def test_hour_rollups_are_chunked_by_year() -> None:
    last = chunk_of(5, Level.HOUR, us(2026, 12, 31, 23))
    first = chunk_of(5, Level.HOUR, us(2027, 1, 1))
    assert (last.name, first.name) == ("h1_5_2026", "h1_5_2027")
    assert last.end_us == first.start_us == us(2027, 1, 1)


def test_chunk_names_differ_by_tenant() -> None:
    ts = us(2026, 11, 22, 8)
    assert chunk_of(1, Level.RAW, ts).name != chunk_of(11, Level.RAW, ts).name


@given(instants, st.integers(1, 120 * DAY_US), st.sampled_from(list(Level)))
def test_chunks_between_tile_the_range(start: int, length: int, level: Level) -> None:
    chunks = chunks_between(2, level, start, start + length)
    assert chunks[0].start_us <= start
    assert chunks[-1].end_us >= start + length
    assert all(a.end_us == b.start_us for a, b in itertools.pairwise(chunks))
    assert len({c.name for c in chunks}) == len(chunks)


def test_chunks_between_an_empty_range_is_empty() -> None:
    ts = us(2026, 11, 22)
    assert chunks_between(2, Level.RAW, ts, ts) == []


@given(instants, st.sampled_from([MINUTE_US, HOUR_US, DAY_US, 7 * MINUTE_US]))
def test_bucket_start_floors_to_the_width(ts: int, width: int) -> None:
    start = bucket_start(ts, width)
    assert start <= ts < start + width
    assert start % width == 0
