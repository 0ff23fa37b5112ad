"""End to end: provision a device in the console, send telemetry with its token, watch the value arrive live."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from hexmill.app import create_app
from hexmill.assets import service as assets
from hexmill.core import identity
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from tests.e2e.test_console import CHROMIUM, CHROMIUM_ARGS, PASSWORD, USERNAME, _free_port

pytestmark = pytest.mark.browser


def _seed(url: str) -> int:
    """Create an enterprise with its admin and one machine with a spindle-speed tag; return the machine's id."""
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as db:
        set_scope(db, ALL_TENANTS)
        acme = identity.create_tenant(db, Context.system(), name="Acme Precision Machining")
        user = identity.create_platform_user(
            db, Context.system(), username=USERNAME, password=PASSWORD, display_name="Wang Li"
        )
        set_scope(db, acme.id)
        ctx = Context.system(acme.id)
        identity.add_member(db, ctx, user=user, role_name="tenant_admin")
        site = assets.create_site(db, ctx, name="Suzhou plant")
        area = assets.create_area(db, ctx, site_id=site.id, name="Hall 1")
        line = assets.create_line(db, ctx, area_id=area.id, name="Milling")
        machine = assets.create_equipment(db, ctx, line_id=line.id, name="CNC-01")
        assets.create_tag(db, ctx, equipment_id=machine.id, name="spindle_speed", unit="rpm")
        machine_id = machine.id
    engine.dispose()
    return machine_id


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """Serve a seeded hexmill on 127.0.0.1; yield its base URL and the machine's id."""
    url = f"sqlite:///{tmp_path / 'hexmill.db'}"
    machine = _seed(url)
    settings = Settings(
        database_url=url, data_dir=tmp_path, secret_key="e2e-only-secret", log_json=False, log_level="WARNING"
    )
    app = create_app(settings)
    app.state.stream_poll_s = 0.2
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="hexmill-e2e-telemetry", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", machine
    # Open event streams end when the server stops.
    server.should_exit = True
    thread.join(timeout=10)


def test_provision_send_and_watch_live(live: tuple[str, int], artifacts_dir: Path) -> None:
    """Log in, provision a device (secret shown once), post telemetry with its token, see it live."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415 - only the browser tests need it

    base, machine = live
    shots = artifacts_dir / "telemetry"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{base}/devices")
        page.fill("#f-username", USERNAME)
        page.fill("#f-password", PASSWORD)
        page.click("button.primary")
        expect(page).to_have_url(f"{base}/devices")

        page.get_by_role("link", name="+ New device").click()
        expect(page.locator("h1")).to_have_text("New device")
        page.fill("#f-name", "Gateway 1")
        page.select_option("#f-equipment_id", str(machine))
        page.select_option("#f-protocol", "http")
        page.get_by_role("button", name="Provision").click()
        expect(page.locator("#device-token")).to_be_visible()
        token = page.locator("#device-token").inner_text().strip()
        secret = page.locator("#device-secret").inner_text().strip()
        assert token.endswith(":" + secret)
        page.screenshot(path=str(shots / "01-secret-once.png"), full_page=True)
        page.reload()
        expect(page.locator("h1")).to_contain_text("Gateway 1")
        expect(page.locator("#device-secret")).to_have_count(0)
        assert secret not in page.content()

        page.get_by_role("link", name="Live data of CNC-01").click()
        expect(page).to_have_url(f"{base}/telemetry/equipment/{machine}")
        row = page.locator("tr[data-tag]", has_text="spindle_speed")
        expect(row.locator(".value")).to_have_text("—")
        expect(page.locator("#trend canvas")).to_have_count(1)

        sent = httpx.post(
            f"{base}/api/v1/telemetry", json={"values": {"spindle_speed": 4321.5}}, headers={"X-Device-Token": token}
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["accepted"] == 1
        # The page does not reload: the value arrives through the event stream.
        expect(row.locator(".value")).to_have_text("4321.5")
        expect(row.locator(".quality")).to_have_text("Good")
        expect(page.locator("tr[data-device]", has_text="Gateway 1")).to_contain_text("Online")
        page.screenshot(path=str(shots / "02-live-value.png"), full_page=True)
        context.close()
        browser.close()
