"""API shapes of telemetry: series with latest values, raw points, buckets, retention."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from hexmill.core.schemas import Input, Output

Days = Annotated[int, Field(ge=1, le=36_500)]
Quality = Annotated[str, Field(description="good, uncertain, bad or stale.")]


class PointRead(Output):
    tag_id: int
    ts: datetime
    value: float | str | None = Field(description="The number, or the text of a text tag.")
    quality: Quality
    historical: bool = Field(description="Replayed late from an edge buffer, not live.")


class SeriesRead(Output):
    id: int = Field(description="The tag id, which is the series id.")
    equipment_id: int
    name: str
    unit: str
    data_type: str
    latest: PointRead | None


class BucketRead(Output):
    tag_id: int
    start: datetime
    count: int
    min: float | None
    max: float | None
    avg: float | None
    first: float | None
    last: float | None


class BucketsRead(Output):
    level: str = Field(description="The stored level the buckets were folded from: raw, 1m or 1h.")
    bucket_seconds: int
    buckets: list[BucketRead]


class RetentionRead(Output):
    raw_days: int
    minute_days: int
    hour_days: int


class RetentionUpdate(Input):
    raw_days: Days = Field(description="Days raw points are kept.")
    minute_days: Days = Field(description="Days 1-minute rollups are kept (at least raw_days).")
    hour_days: Days = Field(description="Days 1-hour rollups are kept (at least minute_days).")


class RetentionEnforced(Output):
    dropped: dict[str, list[str]] = Field(description="The chunks dropped, per level.")
