"""End to end: the console in headless Chromium against a live server on a fresh SQLite database."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from hexmill.app import create_app
from hexmill.core import identity
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import ALL_TENANTS, set_scope

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
USERNAME = "wang.li"
PASSWORD = "correct horse battery"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as db:
        set_scope(db, ALL_TENANTS)
        system = Context.system()
        acme = identity.create_tenant(db, system, name="Acme Precision Machining")
        identity.create_tenant(db, system, name="Beta Tooling")
        user = identity.create_platform_user(
            db, system, username=USERNAME, password=PASSWORD, display_name="Wang Li", is_platform_admin=True
        )
        set_scope(db, acme.id)
        identity.add_member(db, Context.system(acme.id), user=user, role_name="tenant_admin")
    engine.dispose()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """Serve a freshly seeded hexmill on 127.0.0.1 and a free port; yield its base URL."""
    url = f"sqlite:///{tmp_path / 'hexmill.db'}"
    _seed(url)
    settings = Settings(
        database_url=url, data_dir=tmp_path, secret_key="e2e-only-secret", log_json=False, log_level="WARNING"
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="hexmill-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _log_in(page, base: str, shots: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/assets")
    expect(page).to_have_url(f"{base}/login?next=/assets")
    page.fill("#f-username", USERNAME)
    page.fill("#f-password", "wrong password")
    page.click("button.primary")
    expect(page.locator(".alert.error")).to_have_text("Wrong username or password.")
    page.screenshot(path=str(shots / "01-login-error.png"))
    page.fill("#f-username", USERNAME)
    page.fill("#f-password", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(f"{base}/assets")


def _switch_to_chinese(page, shots: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".sidebar")).to_contain_text("审计日志")
    page.get_by_role("link", name="首页").click()
    expect(page.locator("h1")).to_have_text("欢迎，Wang Li")
    page.screenshot(path=str(shots / "02-home-zh.png"))


def _build_plant(page, shots: Path) -> None:  # type: ignore[no-untyped-def]
    """Build site → area → line → equipment → tag from the tree, one level at a time."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.get_by_role("link", name="资产", exact=True).click()
    page.get_by_role("link", name="+ 新建工厂").click()
    page.click("button.primary")  # empty: the error appears next to the field
    expect(page.locator("#e-name")).to_have_text("此字段为必填项。")
    page.screenshot(path=str(shots / "03-inline-error-zh.png"))
    page.fill("#f-name", "苏州工厂")
    page.fill("#f-description", "主厂区")
    page.click("button.primary")
    expect(page.locator(".alert.ok")).to_have_text("已创建 苏州工厂。")
    page.get_by_role("link", name="+ 区域").click()
    page.fill("#f-name", "一号车间")
    page.click("button.primary")
    page.get_by_role("link", name="+ 产线").click()
    page.fill("#f-name", "装配线 A")
    page.select_option("#f-kind", "line")
    page.click("button.primary")
    page.get_by_role("link", name="+ 设备").click()
    page.fill("#f-name", "CNC-01 加工中心")
    page.fill("#f-manufacturer", "Haas")
    page.fill("#f-model", "VF-2")
    page.click("button.primary")
    expect(page.locator(".alert.ok")).to_have_text("已创建 CNC-01 加工中心。")
    page.get_by_role("link", name="+ 测点").click()
    page.fill("#f-name", "spindle_speed")
    page.fill("#f-unit", "rpm")
    page.click("button.primary")
    tree = page.locator("ul.tree")
    for text in ("苏州工厂", "一号车间", "装配线 A", "CNC-01 加工中心", "spindle_speed [rpm]"):
        expect(tree).to_contain_text(text)
    page.screenshot(path=str(shots / "04-tree-zh.png"), full_page=True)


def _check_audit(page, shots: Path) -> None:  # type: ignore[no-untyped-def]
    """Find every step in the audit log, then filter it as the API does."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.get_by_role("link", name="审计日志").click()
    log = page.locator("table.audit")
    for action in ("assets.site.create", "assets.area.create", "assets.line.create", "assets.equipment.create"):
        expect(log).to_contain_text(action)
    page.screenshot(path=str(shots / "05-audit-zh.png"), full_page=True)
    page.fill("#f-action", "assets.equipment")
    page.get_by_role("button", name="筛选").click()
    expect(log.locator("tbody tr")).to_have_count(1)
    expect(log).to_contain_text("CNC-01 加工中心")


def test_console_scenario(live_server: str, artifacts_dir: Path) -> None:
    """Log in, switch to Chinese, build site → area → line → equipment, find it in the tree and the audit log."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415 - only the browser tests need it

    shots = artifacts_dir / "console"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(10_000)
        _log_in(page, live_server, shots)
        _switch_to_chinese(page, shots)
        _build_plant(page, shots)
        _check_audit(page, shots)

        # Tablet width: the menu folds above the content.
        page.set_viewport_size({"width": 820, "height": 1180})
        page.get_by_role("link", name="资产", exact=True).click()
        expect(page.locator("ul.tree")).to_contain_text("CNC-01 加工中心")
        page.screenshot(path=str(shots / "06-tree-tablet.png"), full_page=True)

        # Log out: the session is over.
        page.get_by_role("button", name="退出登录").click()
        expect(page.locator(".alert.ok")).to_have_text("您已退出登录。")
        page.goto(f"{live_server}/assets")
        expect(page).to_have_url(f"{live_server}/login?next=/assets")
        context.close()
        browser.close()
