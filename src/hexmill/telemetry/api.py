"""REST API of telemetry: series and latest values, raw points, buckets, exports, retention, live stream."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession, get_sessionmaker
from hexmill.core.params import MAX_ID
from hexmill.telemetry import service, stream
from hexmill.telemetry.buckets import as_buckets
from hexmill.telemetry.points import from_micros, unpack_quality
from hexmill.telemetry.schemas import (
    BucketRead,
    BucketsRead,
    PointRead,
    RetentionEnforced,
    RetentionRead,
    RetentionUpdate,
    SeriesRead,
)
from hexmill.telemetry.store import StoredPoint, TelemetryStore

router = APIRouter()
TAG = "telemetry"
DEFAULT_SPAN = timedelta(hours=1)


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may read telemetry (checked before the input)."""
    ctx.require(service.VIEW)
    return ctx


def manager(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may set retention (checked before the input)."""
    ctx.require(service.MANAGE)
    return ctx


def store_of(request: Request) -> TelemetryStore:
    """Return the deployment's telemetry store."""
    return service.open_store(request.app.state.settings)


Viewer = Annotated[Context, Depends(viewer)]
Manager = Annotated[Context, Depends(manager)]
Store = Annotated[TelemetryStore, Depends(store_of)]
TagIds = Annotated[
    list[Annotated[int, Query(ge=1, le=MAX_ID)]],
    Query(alias="tag_id", description="A tag (series) id; repeat for several.", max_length=service.MAX_SERIES),
]
EquipmentId = Annotated[int, Query(ge=1, le=MAX_ID, description="The equipment whose tags to read.")]
Start = Annotated[AwareDatetime | None, Query(description="Start of the range (RFC 3339); default: end − 1 h.")]
End = Annotated[AwareDatetime | None, Query(description="End of the range, exclusive (RFC 3339); default: now.")]


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or utcnow()
    return start or end - DEFAULT_SPAN, end


def point_read(p: StoredPoint) -> PointRead:
    """Return the API form of a stored point."""
    quality, historical = unpack_quality(p.quality)
    return PointRead(
        tag_id=p.series,
        ts=from_micros(p.ts_us),
        value=service.point_value(p),
        quality=quality.name.lower(),
        historical=historical,
    )


@router.get("/telemetry/series", response_model=list[SeriesRead], tags=[TAG])
def list_series(equipment_id: EquipmentId, db: DbSession, ctx: Viewer, store: Store) -> list[SeriesRead]:
    """List the series (tags) of one piece of equipment with the latest value of each."""
    series = service.equipment_series(db, ctx, equipment_id)
    latest = {p.series: point_read(p) for p in store.latest(ctx.require_tenant(), [s.id for s in series])}
    return [
        SeriesRead(
            id=s.id,
            equipment_id=s.equipment_id,
            name=s.name,
            unit=s.unit,
            data_type=s.data_type,
            latest=latest.get(s.id),
        )
        for s in series
    ]


@router.get("/telemetry/raw", response_model=list[PointRead], tags=[TAG])
def get_raw(
    *,
    tag_ids: TagIds,
    db: DbSession,
    ctx: Viewer,
    store: Store,
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_RAW)] = 10_000,
) -> list[PointRead]:
    """Return raw points of the tags in [start, end), by tag then time, at most ``limit``."""
    a, b = _range(start, end)
    return [point_read(p) for p in service.query_raw(db, ctx, store, tag_ids=tag_ids, start=a, end=b, limit=limit)]


@router.get("/telemetry/buckets", response_model=BucketsRead, tags=[TAG])
def get_buckets(
    *,
    tag_ids: TagIds,
    db: DbSession,
    ctx: Viewer,
    store: Store,
    bucket: Annotated[int, Query(ge=1, le=366 * 86_400, description="Bucket width in seconds.")],
    start: Start = None,
    end: End = None,
) -> BucketsRead:
    """Return min, max, avg, count, first and last per tag and bucket.

    Buckets whose width is a whole number of hours are folded from the stored 1-hour rollups,
    whole minutes from the 1-minute rollups, anything else from raw points; ``level`` says which.
    """
    a, b = _range(start, end)
    level, buckets = service.query_buckets(
        db, ctx, store, tag_ids=tag_ids, start=a, end=b, bucket=timedelta(seconds=bucket)
    )
    return BucketsRead(
        level=level.value,
        bucket_seconds=bucket,
        buckets=[
            BucketRead(
                tag_id=x.series,
                start=from_micros(x.start_us),
                count=x.count,
                min=x.min,
                max=x.max,
                avg=x.avg,
                first=x.first,
                last=x.last,
            )
            for x in as_buckets(buckets)
        ],
    )


@router.get("/telemetry/latest", response_model=list[PointRead], tags=[TAG])
def get_latest(tag_ids: TagIds, db: DbSession, ctx: Viewer, store: Store) -> list[PointRead]:
    """Return the newest point of each tag that has one."""
    return [point_read(p) for p in service.query_latest(db, ctx, store, tag_ids=tag_ids)]


@router.get(
    "/telemetry/export",
    tags=[TAG],
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
            "description": "Raw points: tag_id, tag, ts, value, text, quality, historical.",
        }
    },
)
def export_points(
    *,
    tag_ids: TagIds,
    db: DbSession,
    ctx: Viewer,
    store: Store,
    start: Start = None,
    end: End = None,
    fmt: Annotated[Literal["csv", "parquet"], Query(alias="format")] = "csv",
) -> Response:
    """Export raw points of the tags in [start, end) as CSV (streamed) or Parquet."""
    a, b = _range(start, end)
    disposition = {"Content-Disposition": f'attachment; filename="telemetry.{fmt}"'}
    if fmt == "parquet":
        body = service.export_parquet(db, ctx, store, tag_ids=tag_ids, start=a, end=b)
        return Response(body, media_type="application/vnd.apache.parquet", headers=disposition)
    rows = service.export_csv(db, ctx, store, tag_ids=tag_ids, start=a, end=b)
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=disposition)


@router.get("/telemetry/retention", response_model=RetentionRead, tags=[TAG])
def get_retention(db: DbSession, ctx: Viewer) -> Any:
    """Return how many days raw points and each rollup are kept."""
    return service.get_retention(db, ctx)


@router.put("/telemetry/retention", response_model=RetentionRead, tags=[TAG])
def set_retention(body: RetentionUpdate, db: DbSession, ctx: Manager) -> Any:
    """Set how many days raw points and each rollup are kept; rollups must outlive what they sum."""
    return service.set_retention(db, ctx, **body.model_dump())


@router.post("/telemetry/retention/enforce", response_model=RetentionEnforced, tags=[TAG])
def enforce_retention(db: DbSession, ctx: Manager, store: Store) -> RetentionEnforced:
    """Drop the enterprise's chunks that lie wholly beyond its horizons now; list what went."""
    return RetentionEnforced(dropped=service.enforce_retention(db, ctx, store))


@router.get(
    "/telemetry/stream",
    tags=[TAG],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}},
)
def stream_equipment(equipment_id: EquipmentId, request: Request, db: DbSession, ctx: Viewer, store: Store) -> Any:
    """Stream the equipment's latest values and device link states as server-sent events.

    An ``event: points`` carries ``{"equipment_id", "points": [...], "devices": [...]}``; one is
    sent at once and then whenever a value or a link state changes (checked about once a second).
    """
    source = stream.StreamSource(ctx, equipment_id, service.equipment_series(db, ctx, equipment_id))
    take = partial(stream.snapshot, store, get_sessionmaker(request), source)
    poll_s = float(getattr(request.app.state, "stream_poll_s", stream.POLL_S))
    return StreamingResponse(
        stream.events(take, poll_s=poll_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
