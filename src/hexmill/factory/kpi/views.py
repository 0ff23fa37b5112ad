"""Console page of the factory KPIs: the factory overview with charts per period, items and customers."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError
from hexmill.factory.kpi import measures, service
from hexmill.factory.kpi.api import window
from hexmill.web.auth import Console, ConsoleRoute
from hexmill.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _series(overview: service.Overview) -> dict[str, Any]:
    """Return the chart data: one list per KPI over the periods (null where nothing was measured)."""
    keys = ("lead_time_days", "delivery_cycle_days", "on_time_rate", "defect_rate", "scrap_rate")
    return {
        "periods": [start.isoformat() for start, _f in overview.periods],
        **{key: [getattr(f, key) for _start, f in overview.periods] for key in keys},
    }


@router.get("/factory/overview")
def overview_page(request: Request, db: DbSession, page: Console) -> Response:
    """Show the factory's KPIs over a window (default: the last twelve months)."""
    page.ctx.require_tenant()
    page.ctx.require(service.VIEW)
    grain: measures.Grain = "week" if request.query_params.get("grain") == "week" else "month"
    error = ""
    try:
        since, until = window(_date(request.query_params.get("since")), _date(request.query_params.get("until")))
    except HexmillError as exc:
        error = exc.render()["detail"]
        since, until = window(None, None)
    overview = service.overview(db, page.ctx, since=since, until=until, grain=grain)
    return render(request, "kpi/overview.html", overview=overview, series=_series(overview), grain=grain, error=error)
