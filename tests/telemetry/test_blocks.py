"""Columnar blocks of the embedded store: encoding, merging, compaction and the upgrade of old files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hexmill.telemetry import blocks
from hexmill.telemetry.chunks import HOUR_US, MINUTE_US, Level
from hexmill.telemetry.service import RollupRefresher
from hexmill.telemetry.sqlite_store import COMPACT_AT, SqliteStore

BASE = 1_798_761_600_000_000  # 2027-01-01T00:00:00Z

timestamps = st.lists(st.integers(-(2**52), 2**52), min_size=1, max_size=300, unique=True).map(sorted)
numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.none())


@given(timestamps, st.data())
def test_a_segment_round_trips_exactly(ts: list[int], data: st.DataObject) -> None:
    values = data.draw(st.lists(numbers, min_size=len(ts), max_size=len(ts)))
    quality = data.draw(st.lists(st.integers(0, 255), min_size=len(ts), max_size=len(ts)))
    texts = data.draw(st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=len(ts), max_size=len(ts)))
    t = np.array(ts, dtype=np.int64)
    v = np.array(values, dtype=np.float64)
    encoded = blocks.encode_segment(t, v, np.array(quality, dtype=np.uint8))
    got_t, got_v, got_q = blocks.decode_segment(encoded, len(ts), ts[0])
    assert got_t.tolist() == ts
    assert [None if np.isnan(x) else x for x in got_v.tolist()] == values
    assert got_q.tolist() == quality
    assert blocks.decode_texts(blocks.encode_texts(texts), len(ts)) == texts


def test_regular_points_compress_well() -> None:
    n = 3600
    ts = BASE + np.arange(n, dtype=np.int64) * 1_000_000
    values = np.round(20 + np.cumsum(np.random.default_rng(1).normal(0, 0.05, n)), 2)
    size = len(blocks.encode_segment(ts, values, np.zeros(n, dtype=np.uint8)))
    assert size < 6 * n  # 17 bytes a point before packing; the timestamps and qualities all but vanish


@given(st.binary(max_size=64), st.integers(0, 50))
def test_arbitrary_bytes_either_decode_whole_or_are_refused_with_a_reason(data: bytes, n: int) -> None:
    try:
        ts, values, quality = blocks.decode_segment(data, n, 0)
    except blocks.BlockError as exc:
        assert "segment" in str(exc)
    else:  # only bytes that really are a segment of n points get here
        assert (ts.size, values.size, quality.size) == (n, n, n)


def test_a_damaged_segment_is_refused() -> None:
    ts = BASE + np.arange(10, dtype=np.int64) * 1_000_000
    good = blocks.encode_segment(ts, np.arange(10, dtype=np.float64), np.zeros(10, dtype=np.uint8))
    with pytest.raises(blocks.BlockError, match="decompress"):
        blocks.decode_segment(good[:-3], 10, BASE)
    with pytest.raises(blocks.BlockError, match="expected 187"):
        blocks.decode_segment(good, 11, BASE)
    with pytest.raises(blocks.BlockError, match="texts"):
        blocks.decode_texts(blocks.encode_texts(["a", None]), 3)


def test_the_newest_copy_of_a_point_wins_whatever_the_input_order() -> None:
    series = np.array([1, 1, 2, 1], dtype=np.int64)
    ts = np.array([5, 5, 5, 7], dtype=np.int64)
    seq = np.array([9, 3, 1, 2], dtype=np.int64)
    assert blocks.last_per_key(series, ts, tiebreak=seq).tolist() == [0, 3, 2]
    assert blocks.last_per_key(series, ts).tolist() == [1, 3, 2]  # without a tiebreak: the later row


def test_many_small_writes_are_merged_at_refresh_and_lose_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    try:
        for k in range(3 * COMPACT_AT):
            store.write(1, [(7, BASE + (k * 10 + i) * 1_000_000, float(k * 10 + i), None, 0) for i in range(10)])
        store.write(1, [(7, BASE + 5_000_000, -1.0, None, 0)])  # a correction, newer than all of them
        with store._read() as cur:
            before = cur.execute(f"SELECT count(*) FROM raw_1_{20270101}").fetchone()[0]
        store.refresh_rollups()
        with store._read() as cur:
            after = cur.execute(f"SELECT count(*) FROM raw_1_{20270101}").fetchone()[0]
        assert (before, after) == (3 * COMPACT_AT + 1, 1)
        points = store.raw(1, [7], BASE, BASE + HOUR_US)
        assert [p.value for p in points] == [float(i) if i != 5 else -1.0 for i in range(30 * COMPACT_AT)]
        # A write after the merge still wins over the merged segment.
        store.write(1, [(7, BASE + 5_000_000, 42.0, None, 0)])
        assert store.raw(1, [7], BASE + 5_000_000, BASE + 5_000_001)[0].value == 42.0
        store.refresh_rollups()
        (minute,) = store.rollups(1, Level.MINUTE, [7], BASE, BASE + MINUTE_US).tolist()
        assert minute[2:4] == (60, 0.0)  # count, min: the -1 was corrected away
    finally:
        store.close()


def test_columns_and_rows_store_the_same(tmp_path: Path) -> None:
    by_rows, by_columns = SqliteStore(tmp_path / "r.db"), SqliteStore(tmp_path / "c.db")
    try:
        rows = [
            (s, BASE + i * 250_000, float(i) if i % 3 else None, None if i % 3 else f"t{i}", i % 4)
            for s in (1, 2)
            for i in range(50)
        ]
        by_rows.write(1, rows)
        s, ts, v, x, q = zip(*rows, strict=True)
        by_columns.write_columns(
            1, np.array(s), np.array(ts), np.array(v, dtype=np.float64), np.array(q, dtype=np.uint8), list(x)
        )
        assert by_rows.raw(1, [1, 2], BASE, BASE + HOUR_US) == by_columns.raw(1, [1, 2], BASE, BASE + HOUR_US)
        assert by_rows.latest(1, [1, 2]) == by_columns.latest(1, [1, 2])
    finally:
        by_rows.close()
        by_columns.close()


def _row_layout_file(path: Path) -> None:
    """Write a file as the first version of the store laid it out: a row per point and per bucket."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE tlm_chunks (name TEXT PRIMARY KEY, tenant_id INTEGER NOT NULL, level TEXT NOT NULL,
            start_us INTEGER NOT NULL, end_us INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE tlm_latest (series INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, ts INTEGER NOT NULL,
            value REAL, text TEXT, quality INTEGER NOT NULL);
        CREATE TABLE tlm_dirty (tenant_id INTEGER NOT NULL, level TEXT NOT NULL, series INTEGER NOT NULL,
            bucket INTEGER NOT NULL, PRIMARY KEY (level, tenant_id, series, bucket)) WITHOUT ROWID;
        CREATE TABLE raw_3_20270101 (series INTEGER NOT NULL, ts INTEGER NOT NULL, tenant_id INTEGER NOT NULL,
            value REAL, text TEXT, quality INTEGER NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID;
        CREATE TABLE h1_3_2026 (series INTEGER NOT NULL, bucket INTEGER NOT NULL, tenant_id INTEGER NOT NULL,
            count INTEGER NOT NULL, min REAL, max REAL, sum REAL, first_ts INTEGER, first REAL, last_ts INTEGER,
            last REAL, PRIMARY KEY (series, bucket)) WITHOUT ROWID;
        """
    )
    conn.executemany(
        "INSERT INTO tlm_chunks VALUES (?, 3, ?, ?, ?)",
        [("raw_3_20270101", "raw", BASE, BASE + 24 * HOUR_US), ("h1_3_2026", "1h", BASE - 365 * 24 * HOUR_US, BASE)],
    )
    conn.executemany(
        "INSERT INTO raw_3_20270101 VALUES (9, ?, 3, ?, ?, 0)",
        [(BASE + i * 1_000_000, float(i) if i != 2 else None, "on" if i == 2 else None) for i in range(5)],
    )
    # An hour of last year kept only as a rollup (its raw day is gone), and a minute still dirty.
    conn.execute(
        "INSERT INTO h1_3_2026 VALUES (9, ?, 3, 2, 1.0, 3.0, 4.0, ?, 1.0, ?, 3.0)",
        (BASE - HOUR_US, BASE - HOUR_US, BASE - 1),
    )
    conn.execute("INSERT INTO tlm_dirty VALUES (3, '1m', 9, ?)", (BASE,))
    conn.commit()
    conn.close()


def test_a_file_of_the_row_layout_is_converted_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _row_layout_file(path)
    store = SqliteStore(path)
    try:
        points = store.raw(3, [9], BASE, BASE + HOUR_US)
        assert [(p.value, p.text) for p in points] == [(0.0, None), (1.0, None), (None, "on"), (3.0, None), (4.0, None)]
        assert store.pending_rollups() == 1
        store.refresh_rollups()
        hours = store.rollups(3, Level.HOUR, [9], BASE - HOUR_US, BASE + HOUR_US).tolist()
        assert [(h[1], h[2], h[5]) for h in hours] == [(BASE - HOUR_US, 2, 4.0), (BASE, 4, 8.0)]
        assert store.integrity_check() == "ok"
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(n.endswith("_v1") for n in names)
    SqliteStore(path).close()  # opening a converted file again changes nothing


@pytest.mark.parametrize("n", [1, 2, 1000])
def test_rollup_of_points_matches_python(n: int) -> None:
    rng = np.random.default_rng(n)
    ts = np.sort(rng.choice(10 * MINUTE_US, size=n, replace=False)).astype(np.int64) + BASE
    values = rng.integers(-100, 100, n).astype(np.float64)
    values[rng.random(n) < 0.2] = np.nan
    got = blocks.rollup(np.zeros(n, dtype=np.int64), ts, values, MINUTE_US).tolist()
    expected = []
    for m in sorted({int(t - t % MINUTE_US) for t, v in zip(ts, values, strict=True) if not np.isnan(v)}):
        pts = [
            (int(t), float(v)) for t, v in zip(ts, values, strict=True) if m <= t < m + MINUTE_US and not np.isnan(v)
        ]
        vs = [v for _, v in pts]
        expected.append((0, m, len(vs), min(vs), max(vs), sum(vs), pts[0][0], pts[0][1], pts[-1][0], pts[-1][1]))
    assert got == expected


def test_the_background_refresher_brings_rollups_up_to_date(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    refresher = RollupRefresher(store, 0.05).start()
    try:
        store.write(1, [(4, BASE + i * 1_000_000, float(i), None, 0) for i in range(120)])
        for _ in range(400):
            if store.pending_rollups() == 0:
                break
            threading.Event().wait(0.05)
        assert store.pending_rollups() == 0
        assert [r[2] for r in store.rollups(1, Level.MINUTE, [4], BASE, BASE + HOUR_US).tolist()] == [60, 60]
    finally:
        refresher.stop()
        store.close()
    assert RollupRefresher(store, 0).start()._thread is None  # 0 s: off
