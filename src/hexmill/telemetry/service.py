"""The telemetry domain's logic: the store of a deployment, queries, exports and retention.

Reads need ``telemetry.view`` and retention changes ``telemetry.manage``. A series is an
equipment tag: queries take tag ids, look them up through the asset service (which answers
NotFound for another enterprise's tags), and only then ask the store, always with the tenant.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from hexmill.assets import service as assets
from hexmill.core import audit
from hexmill.core.clock import utcnow
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.errors import FieldError, InvalidInput
from hexmill.core.i18n import N_
from hexmill.telemetry.blocks import fold
from hexmill.telemetry.buckets import pick_level, points_as_frame
from hexmill.telemetry.chunks import Level
from hexmill.telemetry.models import RetentionPolicy
from hexmill.telemetry.points import from_micros, to_micros, unpack_quality
from hexmill.telemetry.store import RollupFrame, StoredPoint, TelemetryStore

VIEW = "telemetry.view"
MANAGE = "telemetry.manage"
MAX_SERIES: Final = 200
MAX_BUCKETS: Final = 100_000
MAX_RAW: Final = 100_000

log = logging.getLogger(__name__)

_stores: dict[str, TelemetryStore] = {}
_stores_lock = threading.Lock()


def open_store(settings: Settings) -> TelemetryStore:
    """Return the deployment's telemetry store (one per process and location, opened on first use).

    With PostgreSQL as the application database, telemetry lives in the same database; with
    SQLite, in ``telemetry.db`` beside it (ADR 0006).
    """
    url = settings.resolved_database_url
    key = url if url.startswith("postgresql") else str(settings.data_dir.resolve() / "telemetry.db")
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            if url.startswith("postgresql"):
                from hexmill.telemetry.pg_store import PostgresStore  # noqa: PLC0415 - only PostgreSQL deployments

                store = PostgresStore(url)
            else:
                from hexmill.telemetry.sqlite_store import SqliteStore  # noqa: PLC0415 - only SQLite deployments

                store = SqliteStore(settings.data_dir / "telemetry.db")
            _stores[key] = store
        return store


def close_stores() -> None:
    """Close every store this process opened (tests, shutdown)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


class RollupRefresher:
    """Keeps a store's rollups current in the background, so queries rarely find work pending.

    Queries still refresh what is pending before they read (``query_buckets``), so answers are
    exact either way; this only moves the work off the request path. A failed refresh is logged
    and retried at the next tick; what is dirty stays dirty until a refresh commits.
    """

    def __init__(self, store: TelemetryStore, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RollupRefresher:
        """Start refreshing every ``interval_s`` seconds (nothing when it is 0)."""
        if self.interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rollup-refresher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the refresh under way, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.store.refresh_rollups()
            except Exception:
                log.exception("telemetry rollup refresh failed; retrying in %.0f s", self.interval_s)


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A series as queries present it: the tag, its equipment, unit and type."""

    id: int
    equipment_id: int
    name: str
    unit: str
    data_type: str


def _range_error(message: str, field: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, field=field, errors=[FieldError(message, field=field, params=params)], **params)


def _check_range(start: datetime, end: datetime) -> tuple[int, int]:
    if end <= start:
        raise _range_error(N_("The end of the range must be after its start."), "end")
    return to_micros(start), to_micros(end)


def resolve_series(session: Session, ctx: Context, tag_ids: Sequence[int]) -> list[SeriesInfo]:
    """Look up tags of the enterprise as series; NotFound for any that is missing or foreign."""
    ctx.require(VIEW)
    if not tag_ids:
        raise _range_error(N_("Name at least one tag."), "tag_id")
    if len(set(tag_ids)) > MAX_SERIES:
        raise _range_error(N_("Ask for at most %(n)s tags at once."), "tag_id", n=MAX_SERIES)
    found = []
    for tag_id in dict.fromkeys(tag_ids):
        tag = assets.get_tag(session, ctx, tag_id)
        if tag.equipment_id is None:
            raise _range_error(N_("Tag templates of equipment types have no data."), "tag_id")
        found.append(SeriesInfo(tag.id, tag.equipment_id, tag.name, tag.unit, tag.data_type))
    return found


def equipment_series(session: Session, ctx: Context, equipment_id: int) -> list[SeriesInfo]:
    """Return the series (tags) of one piece of equipment."""
    ctx.require(VIEW)
    assets.get_equipment(session, ctx, equipment_id)
    tags, _ = assets.list_tags(session, ctx, filters={"equipment_id": equipment_id}, limit=500)
    return [SeriesInfo(t.id, equipment_id, t.name, t.unit, t.data_type) for t in tags]


def query_raw(
    session: Session,
    ctx: Context,
    store: TelemetryStore,
    *,
    tag_ids: Sequence[int],
    start: datetime,
    end: datetime,
    limit: int = 10_000,
) -> list[StoredPoint]:
    """Return raw points of the tags in ``[start, end)``, by tag then time, at most ``limit``."""
    series = resolve_series(session, ctx, tag_ids)
    a, b = _check_range(start, end)
    return store.raw(ctx.require_tenant(), [s.id for s in series], a, b, limit=min(limit, MAX_RAW))


def query_buckets(
    session: Session,
    ctx: Context,
    store: TelemetryStore,
    *,
    tag_ids: Sequence[int],
    start: datetime,
    end: datetime,
    bucket: timedelta,
) -> tuple[Level, RollupFrame]:
    """Return min/max/sum/count/first/last per bucket as a frame, reading the best stored level for the width."""
    series = resolve_series(session, ctx, tag_ids)
    a, b = _check_range(start, end)
    width = int(bucket.total_seconds() * 1_000_000)
    if width < 1_000_000:
        raise _range_error(N_("Buckets are at least one second wide."), "bucket")
    if (b - a) // width > MAX_BUCKETS:
        raise _range_error(N_("That asks for too many buckets; widen them or shorten the range."), "bucket")
    tenant = ctx.require_tenant()
    ids = [s.id for s in series]
    level = pick_level(width)
    # Align the range to whole buckets so the first and last bucket are complete.
    a -= a % width
    if store.pending_rollups():
        store.refresh_rollups()
    if level is Level.RAW:
        frame = points_as_frame(store.raw(tenant, ids, a, b, limit=MAX_RAW * 10))
    else:
        frame = store.rollups(tenant, level, ids, a, b)
    return level, fold(frame, width)


def query_latest(session: Session, ctx: Context, store: TelemetryStore, *, tag_ids: Sequence[int]) -> list[StoredPoint]:
    """Return the newest point of each tag that has one."""
    series = resolve_series(session, ctx, tag_ids)
    return store.latest(ctx.require_tenant(), [s.id for s in series])


def point_value(point: StoredPoint) -> float | str | None:
    """Return a point's value as users see it: the number, or the text."""
    return point.value if point.value is not None else point.text


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------

EXPORT_COLUMNS: Final = ("tag_id", "tag", "ts", "value", "text", "quality", "historical")


def _export_rows(
    store: TelemetryStore, tenant: int, series: Sequence[SeriesInfo], a: int, b: int
) -> Iterator[list[tuple[Any, ...]]]:
    names = {s.id: s.name for s in series}
    for page in store.iter_raw(tenant, [s.id for s in series], a, b):
        out = []
        for p in page:
            quality, historical = unpack_quality(p.quality)
            out.append(
                (p.series, names[p.series], from_micros(p.ts_us), p.value, p.text, quality.name.lower(), historical)
            )
        yield out


def export_csv(
    session: Session, ctx: Context, store: TelemetryStore, *, tag_ids: Sequence[int], start: datetime, end: datetime
) -> Iterator[str]:
    """Yield a CSV export of raw points, a page at a time (RFC 3339 timestamps in UTC)."""
    series = resolve_series(session, ctx, tag_ids)
    a, b = _check_range(start, end)
    tenant = ctx.require_tenant()

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for page in _export_rows(store, tenant, series, a, b):
            for row in page:
                writer.writerow([row[0], row[1], row[2].isoformat().replace("+00:00", "Z"), *row[3:]])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return generate()


def export_parquet(
    session: Session, ctx: Context, store: TelemetryStore, *, tag_ids: Sequence[int], start: datetime, end: datetime
) -> bytes:
    """Return a Parquet file of raw points (timestamps in µs, UTC)."""
    import pyarrow as pa  # noqa: PLC0415 - only exports need Arrow
    import pyarrow.parquet as pq  # noqa: PLC0415 - as above

    series = resolve_series(session, ctx, tag_ids)
    a, b = _check_range(start, end)
    schema = pa.schema(
        [
            ("tag_id", pa.int64()),
            ("tag", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("value", pa.float64()),
            ("text", pa.string()),
            ("quality", pa.string()),
            ("historical", pa.bool_()),
        ]
    )
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema) as writer:
        for page in _export_rows(store, ctx.require_tenant(), series, a, b):
            columns = list(zip(*page, strict=True))
            writer.write_table(
                pa.Table.from_arrays(
                    [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
                )
            )
    return sink.getvalue()


# ---------------------------------------------------------------------------------------------
# Retention
# ---------------------------------------------------------------------------------------------


def get_retention(session: Session, ctx: Context) -> RetentionPolicy:
    """Return the enterprise's retention policy (the defaults until someone sets one)."""
    ctx.require(VIEW)
    tenant = ctx.require_tenant()
    policy = session.scalar(select(RetentionPolicy))
    return policy or RetentionPolicy(tenant_id=tenant, raw_days=90, minute_days=400, hour_days=3650)


def set_retention(
    session: Session, ctx: Context, *, raw_days: int, minute_days: int, hour_days: int
) -> RetentionPolicy:
    """Set how many days raw points and each rollup are kept; rollups must outlive what they sum."""
    ctx.require(MANAGE)
    tenant = ctx.require_tenant()
    errors = [
        FieldError(N_("Keep data at least one day."), field=name)
        for name, days in (("raw_days", raw_days), ("minute_days", minute_days), ("hour_days", hour_days))
        if days < 1
    ]
    if minute_days < raw_days:
        errors.append(FieldError(N_("Keep 1-minute rollups at least as long as raw points."), field="minute_days"))
    if hour_days < minute_days:
        errors.append(FieldError(N_("Keep 1-hour rollups at least as long as 1-minute rollups."), field="hour_days"))
    if errors:
        raise InvalidInput(N_("The retention policy has errors."), errors=errors)
    policy = session.scalar(select(RetentionPolicy))
    if policy is None:
        policy = RetentionPolicy(tenant_id=tenant)
        session.add(policy)
    policy.raw_days, policy.minute_days, policy.hour_days = raw_days, minute_days, hour_days
    policy.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        ctx,
        "telemetry.retention.set",
        object_type="retention",
        object_id=policy.id,
        detail={"raw_days": raw_days, "minute_days": minute_days, "hour_days": hour_days},
    )
    return policy


def enforce_retention(
    session: Session, ctx: Context, store: TelemetryStore, *, now: datetime | None = None
) -> dict[str, list[str]]:
    """Drop the enterprise's chunks that lie wholly beyond its horizons; return what was dropped."""
    ctx.require(MANAGE)
    policy = get_retention(session, ctx)
    tenant = ctx.require_tenant()
    moment = now or utcnow()
    store.refresh_rollups()
    dropped = {
        level.value: store.drop_chunks(tenant, level, to_micros(moment - timedelta(days=days)))
        for level, days in (
            (Level.RAW, policy.raw_days),
            (Level.MINUTE, policy.minute_days),
            (Level.HOUR, policy.hour_days),
        )
    }
    if any(dropped.values()):
        audit.record(session, ctx, "telemetry.retention.enforce", object_type="retention", detail=dropped)
    return dropped
