"""Console pages of telemetry: an equipment's live values and trends, and the retention settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hexmill.assets import service as assets
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.views import LINK_LABELS
from hexmill.core.clock import utcnow
from hexmill.core.deps import DbSession
from hexmill.core.i18n import N_, gettext
from hexmill.core.params import MAX_ID
from hexmill.telemetry import service
from hexmill.telemetry.points import Quality, unpack_quality
from hexmill.telemetry.schemas import RetentionUpdate
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
HISTORY = timedelta(hours=1)
HISTORY_POINTS = 5000
MAX_DEVICES = 100
NUMERIC = ("float", "integer", "boolean")
QUALITY_LABELS = {
    "good": N_("Good"),
    "uncertain": N_("Uncertain"),
    "bad": N_("Bad"),
    "stale": N_("Stale"),
}
QUALITY_BADGES = {"good": "ok", "uncertain": "warn", "bad": "off", "stale": "off"}


@router.get("/telemetry/equipment/{equipment_id}")
def equipment_live(request: Request, equipment_id: int, db: DbSession, page: Console) -> Response:
    """Show an equipment's latest values with their quality, its devices, and live trends of its numbers."""
    ctx = page.ctx
    equipment = assets.get_equipment(db, ctx, min(max(equipment_id, 0), MAX_ID))
    series = service.equipment_series(db, ctx, equipment.id)
    store = service.open_store(request.app.state.settings)
    tenant = ctx.require_tenant()
    latest: dict[int, dict[str, Any]] = {}
    for p in store.latest(tenant, [s.id for s in series]):
        quality, historical = unpack_quality(p.quality)
        latest[p.series] = {
            "value": service.point_value(p),
            "ts": p.ts_us,
            "quality": quality.name.lower(),
            "historical": historical,
        }
    numeric = [s for s in series if s.data_type in NUMERIC]
    history: dict[int, list[tuple[int, float]]] = {s.id: [] for s in numeric}
    if numeric:
        end = utcnow()
        points = service.query_raw(
            db, ctx, store, tag_ids=[s.id for s in numeric], start=end - HISTORY, end=end, limit=HISTORY_POINTS
        )
        for p in points:
            if p.value is not None:
                history[p.series].append((p.ts_us // 1000, p.value))
    devices: list[Any] = []
    if ctx.can(registry.VIEW):
        devices, _ = registry.list_devices(db, ctx, filters={"equipment_id": equipment.id}, limit=MAX_DEVICES)
    return render(
        request,
        "telemetry/equipment.html",
        equipment=equipment,
        series=series,
        latest=latest,
        numeric=[{"id": s.id, "name": s.name, "unit": s.unit} for s in numeric],
        history={str(k): v for k, v in history.items()},
        devices=devices,
        link_labels=LINK_LABELS,
        quality_labels=QUALITY_LABELS,
        quality_badges=QUALITY_BADGES,
        labels={
            "quality": {k: gettext(v) for k, v in QUALITY_LABELS.items()},
            "links": {k: gettext(v) for k, v in LINK_LABELS.items()},
            "lost": gettext(N_("Connection to the server lost; retrying…")),
        },
        window_ms=int(HISTORY.total_seconds() * 1000),
        can_provision=ctx.can(registry.MANAGE),
        stale=Quality.STALE.name.lower(),
    )


def _retention_page(
    request: Request, page: Console, form: dict[str, Any], errors: FormErrors | None = None
) -> Response:
    return render(
        request,
        "telemetry/retention.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        can_manage=page.ctx.can(service.MANAGE),
    )


@router.get("/telemetry/retention")
def retention(request: Request, db: DbSession, page: Console) -> Response:
    """Show how long raw points and rollups are kept."""
    policy = service.get_retention(db, page.ctx)
    form = {"raw_days": policy.raw_days, "minute_days": policy.minute_days, "hour_days": policy.hour_days}
    return _retention_page(request, page, form)


@router.post("/telemetry/retention")
def save_retention(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Set the retention policy; invalid input comes back inline, next to the field."""
    page.ctx.require(service.MANAGE)
    data = values(form, ("raw_days", "minute_days", "hour_days"))
    try:
        body = validate(RetentionUpdate, data)
        attempt(db, lambda: service.set_retention(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _retention_page(request, page, data, exc.errors)
    return flash(request, redirect("/telemetry/retention"), N_("Retention saved."))
