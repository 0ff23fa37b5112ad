"""REST API of the factory KPIs: ``GET /factory/kpis`` over a window, per period, item and customer."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from hexmill.core.clock import utcnow
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.errors import InvalidInput
from hexmill.core.i18n import N_
from hexmill.factory.kpi import service
from hexmill.factory.kpi.schemas import FiguresRead, LabelledRead, OverviewRead, PeriodRead

router = APIRouter(prefix="/factory")
TAG = "kpis"
MAX_DAYS = 3 * 366


def window(since: date | None, until: date | None) -> tuple[date, date]:
    """Return the window asked for (default: the twelve months up to today); refuse a reversed or too long one."""
    until = until or utcnow().date()
    since = since or (until - timedelta(days=365))
    if since > until:
        raise InvalidInput(N_("The start of the period is after its end."), field="since")
    if (until - since).days > MAX_DAYS:
        raise InvalidInput(N_("Ask for at most three years at a time."), field="since")
    return since, until


def as_read(overview: service.Overview) -> OverviewRead:
    """Return an overview as its API schema."""
    return OverviewRead(
        since=overview.since,
        until=overview.until,
        grain=overview.grain,
        sources=overview.sources,
        total=FiguresRead.model_validate(overview.total),
        periods=[PeriodRead(start=start, figures=FiguresRead.model_validate(f)) for start, f in overview.periods],
        items=[LabelledRead.model_validate(row) for row in overview.items],
        customers=[LabelledRead.model_validate(row) for row in overview.customers],
    )


@router.get("/kpis", response_model=OverviewRead, tags=[TAG])
def get_kpis(
    db: DbSession,
    ctx: CurrentContext,
    since: date | None = None,
    until: date | None = None,
    grain: Annotated[Literal["week", "month"], Query(description="Period of the series")] = "month",
) -> OverviewRead:
    """Return the factory KPIs: lead time, delivery cycle, on-time rate, defect, scrap, labour per unit, turns.

    Over the window (default: the last twelve months), per week or month, per item and per
    customer (the twenty busiest). Sources the caller may not read are left out and marked false
    in ``sources``.
    """
    first, last = window(since, until)
    return as_read(service.overview(db, ctx, since=first, until=last, grain=grain))
