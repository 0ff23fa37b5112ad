"""The telemetry store on both backends: idempotent writes, exact rollups, latest values, chunks.

SQLite runs on a file in tmp_path. PostgreSQL runs when ``HEXMILL_TEST_PG_URL`` names a server
(required under CI), on a fresh database per module owned by the unprivileged ``hexmill_app``
role, so row-level security binds the store as it does in production. Tests on one database
keep apart by taking tenant and series ids no other test uses.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexmill.telemetry.blocks import fold
from hexmill.telemetry.buckets import pick_level, points_as_frame
from hexmill.telemetry.chunks import DAY_US, HOUR_US, MINUTE_US, Level, chunk_of
from hexmill.telemetry.pg_store import PostgresStore, conninfo
from hexmill.telemetry.points import Quality, quality_code, to_micros
from hexmill.telemetry.sqlite_store import SqliteStore
from hexmill.telemetry.store import PointRow, RollupFrame, StoredPoint, TelemetryStore
from tests.conftest import PG_ENV, _pg_database

BASE = to_micros(datetime(2027, 1, 1, tzinfo=UTC))  # a midnight, a month's and a year's start at once
_ids = itertools.count(1)

Opener = Callable[[], TelemetryStore]


@pytest.fixture(scope="module")
def pg_url() -> str:
    """Create this module's PostgreSQL database (owned by the application role) and return its URL."""
    if not os.environ.get(PG_ENV):
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"{PG_ENV} not set: no PostgreSQL server for this run")
    return _pg_database(os.environ[PG_ENV], "tlm_" + os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Return a function opening the store under test (again and again, on the same data)."""
    opened: list[TelemetryStore] = []
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")

        def make() -> TelemetryStore:
            opened.append(PostgresStore(url))
            return opened[-1]
    else:

        def make() -> TelemetryStore:
            opened.append(SqliteStore(tmp_path / "telemetry.db"))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> TelemetryStore:
    """Return the store under test."""
    return open_store()


def fresh() -> tuple[int, list[int]]:
    """Return a tenant id and three series ids that no other test in this process uses."""
    n = os.getpid() % 10_000 * 1000 + next(_ids)
    return n, [n * 10 + k for k in range(3)]


def p(series: int, ts: int, value: float | None = 1.0, text: str | None = None, quality: int = 0) -> PointRow:
    return (series, ts, value, text, quality)


def everything(store: TelemetryStore, tenant: int, series: list[int]) -> list[StoredPoint]:
    return store.raw(tenant, series, BASE - 400 * DAY_US, BASE + 400 * DAY_US)


# ---------------------------------------------------------------------------------------------
# Idempotent writes
# ---------------------------------------------------------------------------------------------


def test_writing_the_same_batch_twice_stores_it_once(store: TelemetryStore) -> None:
    tenant, (a, b, _) = fresh()
    batch = [p(a, BASE + i * 1_000_000, float(i)) for i in range(50)] + [p(b, BASE + 5, 7.0)]
    assert store.write(tenant, batch) == 51
    first = everything(store, tenant, [a, b])
    store.write(tenant, batch)
    assert everything(store, tenant, [a, b]) == first
    assert len(first) == 51


def test_a_later_copy_of_a_point_wins(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    store.write(tenant, [p(a, BASE, 1.0), p(a, BASE + 1, 2.0)])
    store.write(tenant, [p(a, BASE, 10.0, quality=2)])
    assert [(x.ts_us, x.value, x.quality) for x in everything(store, tenant, [a])] == [
        (BASE, 10.0, 2),
        (BASE + 1, 2.0, 0),
    ]


def test_duplicates_within_a_batch_keep_the_last_copy(store: TelemetryStore) -> None:
    tenant, (a, b, _) = fresh()
    store.write(tenant, [p(a, BASE, 1.0), p(b, BASE, 5.0), p(a, BASE, 2.0), p(a, BASE, 3.0)])
    assert [(x.series, x.value) for x in everything(store, tenant, [a, b])] == [(a, 3.0), (b, 5.0)]
    assert [x.value for x in store.latest(tenant, [a])] == [3.0]
    store.refresh_rollups()
    (minute,) = rows(store.rollups(tenant, Level.MINUTE, [a], BASE, BASE + MINUTE_US))
    assert (minute.count, minute.sum, minute.first, minute.last) == (1, 3.0, 3.0, 3.0)


def test_a_batch_across_midnight_lands_in_both_days(store: TelemetryStore) -> None:
    tenant, (a, b, _) = fresh()
    late, early = BASE - 1, BASE
    # Out of order and interleaved, with a duplicate on each side of midnight.
    batch = [p(a, early, 1.0), p(b, late, 2.0), p(a, late, 3.0), p(a, early, 4.0), p(b, late, 5.0)]
    store.write(tenant, batch)
    assert [(x.series, x.ts_us, x.value) for x in everything(store, tenant, [a, b])] == [
        (a, late, 3.0),
        (a, early, 4.0),
        (b, late, 5.0),
    ]
    names = [c.name for c in store.chunks(tenant, Level.RAW)]
    assert names == [f"raw_{tenant}_20261231", f"raw_{tenant}_20270101"]


def test_an_empty_batch_writes_nothing(store: TelemetryStore) -> None:
    tenant, _ = fresh()
    assert store.write(tenant, []) == 0
    assert store.chunks(tenant) == []


def test_text_values_and_quality_codes_round_trip(store: TelemetryStore) -> None:
    tenant, (a, b, _) = fresh()
    odd = quality_code(Quality.UNCERTAIN, historical=True)
    store.write(tenant, [p(a, BASE, None, "程序 42 «auto»", odd), p(b, BASE, -0.5, None, int(Quality.STALE))])
    assert everything(store, tenant, [a, b]) == [
        StoredPoint(a, BASE, None, "程序 42 «auto»", odd),
        StoredPoint(b, BASE, -0.5, None, int(Quality.STALE)),
    ]
    assert store.latest(tenant, [a, b]) == everything(store, tenant, [a, b])


def test_reads_are_scoped_by_tenant(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    other, _ = fresh()
    store.write(tenant, [p(a, BASE, 1.0)])
    store.refresh_rollups()
    assert everything(store, other, [a]) == []
    assert store.latest(other, [a]) == []
    assert rows(store.rollups(other, Level.MINUTE, [a], BASE - DAY_US, BASE + DAY_US)) == []


# ---------------------------------------------------------------------------------------------
# Latest values
# ---------------------------------------------------------------------------------------------


def test_latest_value_only_moves_forward(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    store.write(tenant, [p(a, BASE + 10, 1.0), p(a, BASE + 20, 2.0), p(a, BASE + 15, 3.0)])
    assert [(x.ts_us, x.value) for x in store.latest(tenant, [a])] == [(BASE + 20, 2.0)]
    store.write(tenant, [p(a, BASE + 5, 9.0)])  # late data
    assert [(x.ts_us, x.value) for x in store.latest(tenant, [a])] == [(BASE + 20, 2.0)]
    store.write(tenant, [p(a, BASE + 20, 4.0)])  # a correction of the newest point
    assert [(x.ts_us, x.value) for x in store.latest(tenant, [a])] == [(BASE + 20, 4.0)]
    store.write(tenant, [p(a, BASE + 21, None, "stopped")])
    assert [(x.ts_us, x.text) for x in store.latest(tenant, [a])] == [(BASE + 21, "stopped")]


def test_mark_quality_changes_only_the_named_series(store: TelemetryStore) -> None:
    tenant, (a, b, c) = fresh()
    store.write(tenant, [p(a, BASE), p(b, BASE)])
    store.mark_quality(tenant, [a, c], int(Quality.STALE))
    assert [(x.series, x.quality) for x in store.latest(tenant, [a, b, c])] == [(a, 3), (b, 0)]


# ---------------------------------------------------------------------------------------------
# Rollups, exact against brute force
# ---------------------------------------------------------------------------------------------

Final = dict[tuple[int, int], tuple[float | None, str | None, int]]


def brute_rollups(final: Final, width: int) -> dict[tuple[int, int], tuple[Any, ...]]:
    """Aggregate the stored points per series and bucket of ``width`` the obvious way."""
    groups: dict[tuple[int, int], list[tuple[int, float | None]]] = defaultdict(list)
    for (series, ts), (value, _, _) in final.items():
        groups[(series, ts - ts % width)].append((ts, value))
    out: dict[tuple[int, int], tuple[Any, ...]] = {}
    for key, members in groups.items():
        numbers = sorted((ts, v) for ts, v in members if v is not None)
        values = [v for _, v in numbers]
        if not numbers:
            continue  # a bucket of text points only has nothing to aggregate and is not kept
        out[key] = (
            len(values),
            min(values),
            max(values),
            sum(values),
            numbers[0][0],
            numbers[0][1],
            numbers[-1][0],
            numbers[-1][1],
        )
    return out


class Row(NamedTuple):
    series: int
    bucket_us: int
    count: int  # type: ignore[assignment]  # shadows tuple.count, which nothing here calls
    min: float
    max: float
    sum: float
    first_ts: int
    first: float
    last_ts: int
    last: float


def rows(frame: RollupFrame) -> list[Row]:
    return [Row(*r) for r in frame.tolist()]


def stored(frame: RollupFrame) -> dict[tuple[int, int], tuple[Any, ...]]:
    return {(row[0], row[1]): tuple(row[2:]) for row in frame.tolist()}


def point_rows(series: list[int]) -> st.SearchStrategy[PointRow]:
    """Points within 90 minutes of BASE (so across a day, a month and a year), numbers or text."""
    numeric = st.tuples(st.integers(-1000, 1000).map(float), st.none())
    # The store takes text as the ingest pipeline hands it over: UTF-8 without NUL (ingest refuses
    # NUL and lone surrogates per value, so they never reach a batch).
    textual = st.tuples(
        st.none(), st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=5)
    )
    return st.builds(
        lambda s, sec, us, vt, q: (s, BASE + sec * 1_000_000 + us, vt[0], vt[1], q),
        st.sampled_from(series[:2]),
        st.integers(-90 * 60, 90 * 60),
        st.sampled_from([0, 1, 999_999]),
        st.one_of(numeric, numeric, textual),
        st.sampled_from([0, 1, 2, 3, 0x10]),
    )


batches_strategy = st.lists(
    st.tuples(st.lists(point_rows([1, 2]), min_size=1, max_size=30), st.booleans()), min_size=1, max_size=4
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches_strategy, widths=st.lists(st.sampled_from([1, 2, 5, 7, 30, 60, 90, 120, 1440]), max_size=3))
def test_rollups_equal_brute_force_after_late_and_out_of_order_batches(
    store: TelemetryStore, batches: list[tuple[list[PointRow], bool]], widths: list[int]
) -> None:
    tenant, ids = fresh()
    # The strategy draws series 1 and 2; map them onto this example's own ids.
    final: Final = {}
    for batch, refresh_after in batches:
        rows = [(ids[s - 1], ts, v, x, q) for s, ts, v, x, q in batch]
        store.write(tenant, rows)
        for s, ts, v, x, q in rows:
            final[(s, ts)] = (v, x, q)
        if refresh_after:
            store.refresh_rollups()  # later batches then arrive late for buckets already rolled up
    store.refresh_rollups()
    assert store.pending_rollups() == 0
    series = ids[:2]
    lo, hi = BASE - DAY_US, BASE + DAY_US
    # Values are whole numbers, so sums are exact whatever order either side adds them in.
    assert stored(store.rollups(tenant, Level.MINUTE, series, lo, hi)) == brute_rollups(final, MINUTE_US)
    assert stored(store.rollups(tenant, Level.HOUR, series, lo, hi)) == brute_rollups(final, HOUR_US)
    raw = everything(store, tenant, series)
    assert {(x.series, x.ts_us): (x.value, x.text, x.quality) for x in raw} == final
    for minutes in widths:
        width = minutes * MINUTE_US
        level = pick_level(width)
        a = lo - lo % width
        expected = fold(points_as_frame(raw), width).tolist()
        assert fold(store.rollups(tenant, level, series, a, hi), width).tolist() == expected


def test_rollups_of_a_known_minute(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    t = BASE + 3 * MINUTE_US
    store.write(tenant, [p(a, t + 30, 5.0), p(a, t + 10, -1.0), p(a, t + 20, None, "x"), p(a, t + 59_999_999, 2.0)])
    assert store.pending_rollups() >= 1
    store.refresh_rollups()
    (row,) = store.rollups(tenant, Level.MINUTE, [a], t, t + MINUTE_US).tolist()
    assert row == (a, t, 3, -1.0, 5.0, 6.0, t + 10, -1.0, t + 59_999_999, 2.0)
    (hour,) = store.rollups(tenant, Level.HOUR, [a], BASE, BASE + HOUR_US).tolist()
    assert (hour[1], hour[2], hour[5], hour[7], hour[9]) == (BASE, 3, 6.0, -1.0, 2.0)


def test_rollups_follow_corrections_and_late_data(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    store.write(tenant, [p(a, BASE + i * 10_000_000, float(i)) for i in range(12)])  # two minutes
    store.refresh_rollups()
    store.write(tenant, [p(a, BASE + 10_000_000, 100.0), p(a, BASE + 5_000_000, -3.0)])
    store.refresh_rollups()
    first, second = rows(store.rollups(tenant, Level.MINUTE, [a], BASE, BASE + HOUR_US))
    assert (first.count, first.min, first.max, first.sum) == (7, -3.0, 100.0, 111.0)
    assert (first.first_ts, first.first) == (BASE, 0.0)
    assert (second.count, second.last) == (6, 11.0)
    (hour,) = rows(store.rollups(tenant, Level.HOUR, [a], BASE, BASE + HOUR_US))
    assert (hour.count, hour.max, hour.sum) == (13, 100.0, 111.0 + 51.0)


def test_rollups_cross_month_and_year_chunks(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    store.write(tenant, [p(a, BASE - 1, 1.0), p(a, BASE, 2.0)])
    store.refresh_rollups()
    minutes = rows(store.rollups(tenant, Level.MINUTE, [a], BASE - HOUR_US, BASE + HOUR_US))
    hours = rows(store.rollups(tenant, Level.HOUR, [a], BASE - HOUR_US, BASE + HOUR_US))
    assert [(r.bucket_us, r.sum) for r in minutes] == [(BASE - MINUTE_US, 1.0), (BASE, 2.0)]
    assert [(r.bucket_us, r.sum) for r in hours] == [(BASE - HOUR_US, 1.0), (BASE, 2.0)]
    assert [c.name for c in store.chunks(tenant, Level.MINUTE)] == [f"m1_{tenant}_202612", f"m1_{tenant}_202701"]
    assert [c.name for c in store.chunks(tenant, Level.HOUR)] == [f"h1_{tenant}_2026", f"h1_{tenant}_2027"]


def test_a_crash_between_write_and_refresh_converges(open_store: Opener) -> None:
    tenant, (a, b, _) = fresh()
    store = open_store()
    rows = [p(a, BASE + i * 7_000_000, float(i % 5)) for i in range(40)] + [p(b, BASE + 1, 4.0)]
    store.write(tenant, rows)
    store.close()  # gone before refreshing: the dirty marks were committed with the points
    again = open_store()
    assert again.pending_rollups() > 0
    again.refresh_rollups()
    final: Final = {(s, ts): (v, x, q) for s, ts, v, x, q in rows}
    got = stored(again.rollups(tenant, Level.MINUTE, [a, b], BASE, BASE + HOUR_US))
    assert got == brute_rollups(final, MINUTE_US)


def test_a_killed_writer_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    # A child process writes, then dies without closing or refreshing (SQLite only: a local file).
    path = tmp_path / "telemetry.db"
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from hexmill.telemetry.sqlite_store import SqliteStore
        store = SqliteStore(Path({str(path)!r}))
        store.write(1, [(5, {BASE} + i * 1_000_000, float(i), None, 0) for i in range(300)])
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)  # noqa: S603 - our own script
    store = SqliteStore(path)
    try:
        assert len(store.raw(1, [5], BASE, BASE + DAY_US)) == 300
        store.refresh_rollups()
        assert [r.count for r in rows(store.rollups(1, Level.MINUTE, [5], BASE, BASE + HOUR_US))] == [60] * 5
        assert store.integrity_check() == "ok"
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# Chunks and retention
# ---------------------------------------------------------------------------------------------


def test_retention_drops_whole_chunks_and_nothing_newer(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    other, (z, _, _) = fresh()
    days = [BASE + d * DAY_US + 12 * HOUR_US for d in range(4)]
    store.write(tenant, [p(a, ts + k * MINUTE_US, 1.0) for ts in days for k in range(3)])
    store.write(other, [p(z, days[0], 1.0)])
    store.refresh_rollups()
    # Pending refreshes: one of a day that goes, one of the day that straddles the horizon.
    store.write(tenant, [p(a, days[0] + 30 * MINUTE_US, 2.0), p(a, days[2] - HOUR_US, 3.0)])
    horizon = days[2]  # noon of the third day: its chunk is not wholly older, so it stays
    dropped = store.drop_chunks(tenant, Level.RAW, horizon)
    assert dropped == [chunk_of(tenant, Level.RAW, ts).name for ts in days[:2]]
    kept = everything(store, tenant, [a])
    # The day straddling the horizon keeps its points older than the horizon: no row was deleted.
    assert [x.ts_us for x in kept] == sorted(
        [days[2] - HOUR_US] + [ts + k * MINUTE_US for ts in days[2:] for k in range(3)]
    )
    assert [c.name for c in store.chunks(tenant, Level.RAW)] == [
        chunk_of(tenant, Level.RAW, ts).name for ts in days[2:]
    ]
    # Rollups outlive raw points, and a refresh pending for a dropped day does not recreate it.
    store.refresh_rollups()
    minutes = rows(store.rollups(tenant, Level.MINUTE, [a], BASE, BASE + 5 * DAY_US))
    assert len(minutes) == 13
    assert [m.sum for m in minutes if m.bucket_us < days[1]] == [1.0, 1.0, 1.0]
    assert [m.sum for m in minutes if m.bucket_us == days[2] - HOUR_US] == [3.0]
    assert everything(store, other, [z]) != []  # another tenant's chunk of the same day stays


def test_retention_of_rollups_is_separate(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    store.write(tenant, [p(a, BASE - 40 * DAY_US, 1.0), p(a, BASE, 1.0)])
    store.refresh_rollups()
    assert store.drop_chunks(tenant, Level.MINUTE, BASE) == [f"m1_{tenant}_202611"]
    assert store.drop_chunks(tenant, Level.HOUR, BASE) == [f"h1_{tenant}_2026"]
    assert len(everything(store, tenant, [a])) == 2
    hours = rows(store.rollups(tenant, Level.HOUR, [a], BASE - 50 * DAY_US, BASE + DAY_US))
    assert [r.bucket_us for r in hours] == [BASE]


def test_integrity_check_passes(store: TelemetryStore) -> None:
    tenant, (a, _, _) = fresh()
    store.write(tenant, [p(a, BASE)])
    assert store.integrity_check() == "ok"  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# PostgreSQL row-level security
# ---------------------------------------------------------------------------------------------

TABLES = ["tlm_raw", "tlm_m1", "tlm_h1", "tlm_latest", "tlm_dirty", "tlm_chunks"]


def test_another_tenants_transaction_sees_none_of_the_rows(pg_url: str) -> None:
    tenant, (a, _, _) = fresh()
    other, _ = fresh()
    store = PostgresStore(pg_url)
    try:
        store.write(tenant, [p(a, BASE), p(a, BASE + HOUR_US)])
        store.refresh_rollups()
        store.write(tenant, [p(a, BASE + 2 * HOUR_US)])  # leaves a dirty mark
    finally:
        store.close()
    with psycopg.connect(conninfo(pg_url)) as conn:
        counts: dict[str, list[int]] = {}
        for scope in (str(other), str(tenant), ""):
            with conn.transaction():
                conn.execute("SELECT set_config('hexmill.tenant_id', %s, true)", (scope,))
                counts[scope] = [
                    _count(conn.execute(f"SELECT count(*) FROM {t} WHERE tenant_id = %s", (tenant,)).fetchone())
                    for t in TABLES
                ]
        assert counts[str(other)] == [0] * len(TABLES)
        assert counts[""] == [0] * len(TABLES)
        assert all(n > 0 for n in counts[str(tenant)])
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("SELECT set_config('hexmill.tenant_id', %s, true)", (str(other),))
            conn.execute(
                "INSERT INTO tlm_raw (tenant_id, series, ts, quality) VALUES (%s, %s, %s, 0)", (tenant, a, BASE)
            )


def _count(row: tuple[Any, ...] | None) -> int:
    assert row is not None
    return int(row[0])
