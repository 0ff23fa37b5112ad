"""The edge buffer: append/peek/ack, dead letters, reopening, and the drop-oldest bound as a property."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexmill.connect.edge.buffer import ROW_OVERHEAD, BufferLimits, EdgeBuffer
from hexmill.telemetry.points import Quality, Reading

T0 = 1_750_000_000_000_000


def readings(n: int, *, start: int = 0, field: str = "temp") -> list[Reading]:
    return [Reading(field, T0 + (start + i) * 1000, float(start + i)) for i in range(n)]


def test_append_commits_in_wal_with_full_sync(tmp_path: Path) -> None:
    buffer = EdgeBuffer(tmp_path / "b.db")
    buffer.append("press-1", readings(3))
    assert buffer._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert buffer._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # Another connection sees the rows at once: append returned after COMMIT.
    other = sqlite3.connect(tmp_path / "b.db")
    assert other.execute("SELECT count(*) FROM readings").fetchone()[0] == 3
    other.close()
    buffer.close()


def test_peek_is_oldest_first_and_ack_deletes_only_the_acknowledged(tmp_path: Path) -> None:
    buffer = EdgeBuffer(tmp_path / "b.db")
    buffer.append("a", readings(3))
    buffer.append("b", readings(2, field="rpm"))
    items = buffer.peek(10)
    assert [i.seq for i in items] == [1, 2, 3, 4, 5]
    assert [i.device for i in items] == ["a", "a", "a", "b", "b"]
    assert buffer.peek(10, exclude={"a"})[0].device == "b"
    assert buffer.ack([1, 4]) == 2
    assert [i.seq for i in buffer.peek(10)] == [2, 3, 5]
    assert buffer.ack([1, 4]) == 0  # acknowledging twice deletes nothing more
    counts = buffer.counts()
    assert (counts.rows, counts.acked, counts.appended) == (3, 2, 5)
    buffer.close()


def test_values_quality_and_flags_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    buffer = EdgeBuffer(path)
    stored = [
        Reading("f", T0, 1.5),
        Reading("i", T0, 7),
        Reading("b", T0, True),
        Reading("s", T0, "P-100"),
        Reading("n", T0, None, Quality.BAD),
        Reading("h", T0, 2.0, Quality.UNCERTAIN, historical=True),
    ]
    buffer.append("dev", stored)
    buffer.mark_historical([1])
    buffer.close()
    reopened = EdgeBuffer(path)
    back = [i.reading for i in reopened.peek(10)]
    assert back[1:] == stored[1:]
    assert back[0] == Reading("f", T0, 1.5, historical=True)
    assert type(back[1].value) is int and type(back[2].value) is bool
    assert reopened.last_seq() == 6
    reopened.close()


def test_dead_letter_moves_rows_with_the_reason(tmp_path: Path) -> None:
    buffer = EdgeBuffer(tmp_path / "b.db", BufferLimits(max_dead_letters=2))
    buffer.append("dev", readings(4))
    assert buffer.dead_letter([1, 2, 3], "HTTP 400: bad") == 3
    assert [i.seq for i in buffer.peek(10)] == [4]
    letters = buffer.dead_letters()
    assert [d.seq for d in letters] == [3, 2]  # newest first; the oldest went over the bound
    assert letters[0].reason == "HTTP 400: bad"
    counts = buffer.counts()
    assert (counts.rows, counts.dead_lettered, counts.dead_letters_dropped) == (1, 3, 1)
    buffer.close()


def test_overflow_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    buffer = EdgeBuffer(tmp_path / "b.db", BufferLimits(max_rows=5, max_bytes=None))
    assert buffer.append("dev", readings(4)) == 0
    assert buffer.append("dev", readings(3, start=4)) == 2
    kept = [i.reading.ts_us for i in buffer.peek(10)]
    assert kept == [T0 + k * 1000 for k in range(2, 7)]
    counts = buffer.counts()
    assert counts.dropped == 2
    assert counts.dropped_newest_ts_us == T0 + 1000
    # A batch larger than the whole buffer keeps only its newest readings.
    assert buffer.append("dev", readings(8, start=10)) == 8 - 5 + 5
    assert [i.reading.ts_us for i in buffer.peek(10)] == [T0 + k * 1000 for k in range(13, 18)]
    buffer.close()


def test_the_byte_bound_holds_too(tmp_path: Path) -> None:
    row = ROW_OVERHEAD + len("dev") + len("temp") + len("10.0")
    buffer = EdgeBuffer(tmp_path / "b.db", BufferLimits(max_rows=1000, max_bytes=row * 3))
    buffer.append("dev", readings(5, start=10))
    counts = buffer.counts()
    assert counts.rows == 3 and counts.bytes <= row * 3 and counts.dropped == 2
    buffer.close()


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        BufferLimits(max_rows=0)


# One operation: ("append", device index, how many) or ("ack", how many of the oldest peeked), or reopen.
_operation = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 2), st.integers(1, 9)),
    st.tuples(st.just("ack"), st.integers(0, 12), st.just(0)),
    st.tuples(st.just("reopen"), st.just(0), st.just(0)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operations=st.lists(_operation, max_size=25),
    max_rows=st.integers(1, 15),
    max_bytes=st.one_of(st.none(), st.integers(ROW_OVERHEAD + 20, 2000)),
)
def test_any_sequence_of_appends_and_acks_keeps_the_bound_and_the_books(
    operations: list[tuple[str, int, int]], max_rows: int, max_bytes: int | None
) -> None:
    limits = BufferLimits(max_rows=max_rows, max_bytes=max_bytes)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.db"
        buffer = EdgeBuffer(path, limits)
        appended = acked = next_ts = 0
        acked_seqs: set[int] = set()
        for op, a, b in operations:
            if op == "append":
                buffer.append(f"dev-{a}", readings(b, start=next_ts))
                appended += b
                next_ts += b
            elif op == "ack":
                seqs = [i.seq for i in buffer.peek(a)]
                acked += buffer.ack(seqs)
                acked_seqs.update(seqs)
            else:
                before = [i.seq for i in buffer.peek(1000)]
                buffer.close()
                buffer = EdgeBuffer(path, limits)
                assert [i.seq for i in buffer.peek(1000)] == before  # unacked rows survive reopening
            counts = buffer.counts()
            waiting = buffer.peek(1000)
            assert counts.rows == len(waiting) <= max_rows
            assert max_bytes is None or counts.bytes <= max_bytes
            assert not acked_seqs & {i.seq for i in waiting}  # acknowledged rows are gone
            assert counts.acked == acked
            assert counts.appended == appended == counts.rows + counts.acked + counts.dropped
            # Drop-oldest: every dropped row is older than every row still waiting.
            waiting_seqs = {i.seq for i in waiting}
            dropped_seqs = set(range(1, buffer.last_seq() + 1)) - waiting_seqs - acked_seqs
            assert len(dropped_seqs) <= counts.dropped
            if dropped_seqs and waiting_seqs:
                assert max(dropped_seqs) < min(waiting_seqs)
        buffer.close()
