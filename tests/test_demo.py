"""The demo park: seeding works once, is idempotent, and its logins open the console."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select

from hexmill.app import create_app
from hexmill.core.clock import utcnow
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.models import Membership, Tenant
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.demo import ENTERPRISES, seed_demo
from hexmill.factory.inventory import service as inventory
from hexmill.factory.sales import service as sales

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("demo")
    settings = Settings(data_dir=data, log_json=False, log_level="WARNING")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    # A month of factory history is enough to check what the demo shows; `hexmill demo` seeds a year.
    logins = seed_demo(engine, data_dir=data, console=Console(quiet=True), factory_days=30)
    yield settings, engine, logins
    engine.dispose()


def test_demo_seeds_a_park_of_enterprises_with_users(demo) -> None:  # type: ignore[no-untyped-def]
    _settings, engine, logins = demo
    with transaction(make_sessionmaker(engine)) as s:
        set_scope(s, ALL_TENANTS)
        tenants = s.scalar(select(func.count()).select_from(Tenant))
        members = s.scalar(select(func.count()).select_from(Membership))
    assert tenants == len(ENTERPRISES) >= 3
    assert members == sum(len(e.users) for e in ENTERPRISES)
    assert len(logins.users) == members + 1
    assert logins.password.startswith("demo-")
    assert len(logins.password) >= 14


def test_seeding_again_changes_nothing(demo) -> None:  # type: ignore[no-untyped-def]
    settings, engine, logins = demo
    again = seed_demo(engine, data_dir=settings.data_dir, console=Console(quiet=True))
    assert again.password == logins.password
    with transaction(make_sessionmaker(engine)) as s:
        set_scope(s, ALL_TENANTS)
        assert s.scalar(select(func.count()).select_from(Tenant)) == len(ENTERPRISES)


def test_demo_login_opens_the_console_with_the_asset_tree(demo) -> None:  # type: ignore[no-untyped-def]
    settings, _engine, logins = demo
    with TestClient(create_app(settings)) as browser:
        token = CSRF.search(browser.get("/login").text)
        assert token
        response = browser.post(
            "/login",
            data={"username": "rv.admin", "password": logins.password, "csrf_token": token.group(1), "next": "/"},
            follow_redirects=True,
        )
        assert response.status_code == 200
        assert "Lianyun RV" in response.text
        tree = browser.get("/assets")
        assert tree.status_code == 200
        assert "Chassis welding line" in tree.text
        assert "WR-01" in tree.text
        # Another enterprise's plant is not in this one's tree.
        assert "Weaving hall A" not in tree.text


def _login(browser: TestClient, username: str, password: str) -> None:
    token = CSRF.search(browser.get("/login").text)
    assert token
    response = browser.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=True,
    )
    assert response.status_code == 200


def test_the_machining_enterprise_has_a_factory_history(demo) -> None:  # type: ignore[no-untyped-def]
    _settings, engine, _logins = demo
    with transaction(make_sessionmaker(engine)) as s:
        set_scope(s, ALL_TENANTS)
        tenant = s.scalar(select(Tenant).where(Tenant.name == "Jinggong Precision Machining"))
        assert tenant is not None
        set_scope(s, tenant.id)
        ctx = Context.system(tenant.id)
        orders, total = sales.list_sales_orders(s, ctx, limit=1)
        assert total >= 3  # a month at the demo's few orders a week
        assert orders[0].created_at.date() < utcnow().date()
        assert inventory.verify_balances(s, ctx) == []
        others = s.scalar(select(Tenant).where(Tenant.name == "Lianyun RV Co., Ltd."))
        assert others is not None
        set_scope(s, others.id)
        assert sales.list_sales_orders(s, Context.system(others.id))[1] == 0


def test_the_factory_overview_shows_the_demo_figures(demo) -> None:  # type: ignore[no-untyped-def]
    settings, _engine, logins = demo
    with TestClient(create_app(settings)) as browser:
        _login(browser, "machining.admin", logins.password)
        page = browser.get("/factory/overview")
        assert page.status_code == 200
        assert 'id="kpi-on-time"' in page.text
        assert "FG-VALVE" in page.text  # the busiest items table has rows
        assert "Ningbo Pump Works" in page.text or "Hangzhou Tianhe" in page.text
        kpis = browser.get("/api/v1/factory/kpis")
        assert kpis.status_code == 200
        total = kpis.json()["total"]
        assert total["scrap_rate"] is not None
        assert total["lead_time_days"] is not None
        for page_path, number in (("/sales", "SO-"), ("/purchasing", "PO-")):
            listing = browser.get(page_path)
            assert listing.status_code == 200, page_path
            assert number in listing.text, page_path
