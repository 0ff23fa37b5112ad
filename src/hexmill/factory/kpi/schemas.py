"""Schemas of the factory KPIs as the API returns them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class FiguresRead(BaseModel):
    """The KPIs of one group; null where there was nothing to measure."""

    model_config = ConfigDict(from_attributes=True)

    lead_time_days: float | None
    delivery_cycle_days: float | None
    on_time_rate: float | None
    defect_rate: float | None
    scrap_rate: float | None
    labour_hours_per_unit: float | None
    inventory_turns: float | None
    lines_completed: int
    lines_on_time: int
    orders_completed: int


class PeriodRead(BaseModel):
    """The KPIs of one week or month, named by its first day."""

    start: date
    figures: FiguresRead


class LabelledRead(BaseModel):
    """The KPIs of one item or customer."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    figures: FiguresRead


class OverviewRead(BaseModel):
    """The factory's KPIs over a window, and which sources the caller could see."""

    since: date
    until: date
    grain: str
    sources: dict[str, bool]
    total: FiguresRead
    periods: list[PeriodRead]
    items: list[LabelledRead]
    customers: list[LabelledRead]
