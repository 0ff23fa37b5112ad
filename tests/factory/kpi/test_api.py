"""The KPI API and the factory overview page: windows, permissions per source, the page's charts."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from hexmill.core.clock import utcnow
from hexmill.factory.inventory import service as inventory
from tests.factory.inventory.conftest import Plant
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

API = "/api/v1/factory/kpis"
FIGURES = (
    "lead_time_days",
    "delivery_cycle_days",
    "on_time_rate",
    "defect_rate",
    "scrap_rate",
    "labour_hours_per_unit",
    "inventory_turns",
)


def test_an_enterprise_without_history_has_no_figures_rather_than_zeros(
    client: TestClient, actor_factory: Callable[..., Any]
) -> None:
    admin = actor_factory("tenant_admin")
    body = client.get(API, params={"since": "2026-01-01", "until": "2026-03-31"}, headers=admin.headers).json()
    assert body["sources"] == {"delivery": True, "production": True, "quality": True, "inventory": True}
    assert all(body["total"][k] is None for k in FIGURES)
    assert [p["start"] for p in body["periods"]] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    weekly = client.get(
        API, params={"since": "2026-03-02", "until": "2026-03-15", "grain": "week"}, headers=admin.headers
    )
    assert [p["start"] for p in weekly.json()["periods"]] == ["2026-03-02", "2026-03-09"]


def test_sources_the_caller_may_not_read_are_left_out(client: TestClient, actor_factory: Callable[..., Any]) -> None:
    fitter = actor_factory("maintenance")  # sees master data and machines, not orders, production or quality
    body = client.get(API, headers=fitter.headers)
    assert body.status_code == 200, body.text
    assert body.json()["sources"] == {"delivery": False, "production": False, "quality": False, "inventory": False}


def test_kpis_need_the_factory_view_permission(client: TestClient, actor_factory: Callable[..., Any]) -> None:
    narrow = actor_factory("tenant_admin", scopes=["assets.view"])
    assert client.get(API, headers=narrow.headers).status_code == 403
    assert client.get(API).status_code == 401


def test_a_reversed_or_too_long_window_is_refused_naming_the_field(
    client: TestClient, actor_factory: Callable[..., Any]
) -> None:
    admin = actor_factory("tenant_admin")
    reversed_ = client.get(API, params={"since": "2026-05-01", "until": "2026-04-01"}, headers=admin.headers)
    assert reversed_.status_code == 422
    assert reversed_.json()["field"] == "since"
    too_long = client.get(API, params={"since": "2020-01-01", "until": "2026-04-01"}, headers=admin.headers)
    assert too_long.status_code == 422


def test_overview_page_shows_the_cards_and_charts(browser: Browser, actor_factory: Callable[..., Any]) -> None:
    admin = actor_factory("tenant_admin")
    _logged_in(browser, admin)
    page = browser.get("/factory/overview", params={"since": "2026-01-01", "until": "2026-06-30"})
    assert page.status_code == 200
    for anchor in ("kpi-lead-time", "kpi-on-time", "kpi-defect-rate", "chart-delivery", "chart-quality"):
        assert f'id="{anchor}"' in page.text
    assert (
        '"periods": ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01"]' in page.text
    )
    bad = browser.get("/factory/overview", params={"since": "2026-05-01", "until": "2026-01-01"})
    assert bad.status_code == 200
    assert "The start of the period is after its end." in bad.text


def test_another_enterprises_history_is_invisible(client: TestClient, plant_factory: Callable[..., Plant]) -> None:
    ours, theirs = plant_factory(), plant_factory()
    theirs.receive("bolt", "10")
    with theirs.session() as (s, ctx):
        inventory.post_move(
            s, ctx, item_id=theirs.ids["bolt"], quantity=Decimal(4), from_location_id=theirs.ids["a"],
            to_location_id=theirs.ids["customer"],
        )  # fmt: skip
    today = utcnow().date().isoformat()
    window = {"since": today, "until": today}
    assert client.get(API, params=window, headers=theirs.headers).json()["total"]["inventory_turns"] is not None
    mine = client.get(API, params=window, headers=ours.headers).json()
    assert mine["total"]["inventory_turns"] is None
    assert mine["items"] == []
