"""The demo park: seeding works once, is idempotent, and its logins open the console."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select

from hexmill.app import create_app
from hexmill.core.config import Settings
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.models import Membership, Tenant
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.demo import ENTERPRISES, seed_demo

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("demo")
    settings = Settings(data_dir=data, log_json=False, log_level="WARNING")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    logins = seed_demo(engine, data_dir=data, console=Console(quiet=True))
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
