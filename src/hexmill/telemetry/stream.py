"""Live values of one piece of equipment as server-sent events, found by polling the store.

The stream polls rather than listening: about once a second it reads the latest values of the
equipment's series (one indexed query on ``tlm_latest``) and the link states of its devices,
and sends an ``event: points`` when anything changed since the last event. Ingest may run in
another process (``hexmill ingest``, another replica) or on another backend, so an in-process
notification would miss it; a poll of a few rows works everywhere, needs no broker and no
LISTEN/NOTIFY, and costs one small query per open page per second. A comment line every
``HEARTBEAT_S`` keeps proxies from closing a quiet stream. The generator ends when the client
goes (Starlette cancels it on disconnect) or after ``MAX_STREAM_S``, after which the browser's
EventSource reconnects on its own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.registry import service as registry
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.tenancy import set_scope
from hexmill.telemetry.points import from_micros, unpack_quality
from hexmill.telemetry.service import SeriesInfo, point_value
from hexmill.telemetry.store import TelemetryStore

POLL_S: Final = 1.0
HEARTBEAT_S: Final = 15.0
MAX_STREAM_S: Final = 3600.0
MAX_DEVICES: Final = 100


@dataclass(frozen=True, slots=True)
class StreamSource:
    """What one stream watches: the caller, the equipment and its series."""

    ctx: Context
    equipment_id: int
    series: Sequence[SeriesInfo]


def snapshot(store: TelemetryStore, factory: sessionmaker[Session], source: StreamSource) -> dict[str, Any]:
    """Return the equipment's latest values and (with devices.view) its devices' link states."""
    tenant = source.ctx.require_tenant()
    names = {s.id: s.name for s in source.series}
    points = []
    for p in store.latest(tenant, list(names)):
        quality, historical = unpack_quality(p.quality)
        points.append(
            {
                "tag_id": p.series,
                "name": names[p.series],
                "ts": from_micros(p.ts_us).isoformat().replace("+00:00", "Z"),
                "ts_ms": p.ts_us // 1000,
                "value": point_value(p),
                "quality": quality.name.lower(),
                "historical": historical,
            }
        )
    devices = []
    if source.ctx.can(registry.VIEW):
        with transaction(factory) as db:
            set_scope(db, tenant)
            rows, _ = registry.list_devices(
                db, source.ctx, filters={"equipment_id": source.equipment_id}, limit=MAX_DEVICES
            )
            devices = [
                {
                    "id": d.id,
                    "name": d.name,
                    "link_state": d.link_state,
                    "last_seen_at": d.last_seen_at.isoformat().replace("+00:00", "Z") if d.last_seen_at else None,
                }
                for d in rows
            ]
    return {"equipment_id": source.equipment_id, "points": points, "devices": devices}


async def events(
    take: Callable[[], dict[str, Any]],
    *,
    poll_s: float = POLL_S,
    heartbeat_s: float = HEARTBEAT_S,
    max_s: float = MAX_STREAM_S,
) -> AsyncIterator[str]:
    """Yield SSE text: an ``event: points`` first and whenever ``take()`` answers differently."""
    started = last_sent = time.monotonic()
    previous: dict[str, Any] | None = None
    yield f"retry: {int(max(poll_s, 1.0) * 3000)}\n\n"
    while time.monotonic() - started < max_s:
        current = await run_in_threadpool(take)
        now = time.monotonic()
        if current != previous:
            previous = current
            last_sent = now
            yield f"event: points\ndata: {json.dumps(current, separators=(',', ':'))}\n\n"
        elif now - last_sent >= heartbeat_s:
            last_sent = now
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll_s)
