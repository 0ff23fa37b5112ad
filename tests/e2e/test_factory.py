"""End to end in the browser: the factory scenario of tests/factory/test_scenario.py, clicked through the console.

Items, BOM and routing → purchased casing lots and bolts in stock → sales order → work order released → material
issued → operations reported on the shop floor with some scrap → finished serials received (the rest backflushed)
→ final inspection with one nonconformance, scrapped → shipment; then the genealogy of the shipped serial lists
both casing lots, and the factory overview shows the lead time and the defect rate.

Every step goes through a console page; none needs the API. The clock cannot be frozen in a live server, so the
KPI check is a lead time of some days (0.0 today) and the exact defect rate: one pump of three inspected.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_console import CHROMIUM, CHROMIUM_ARGS, _log_in, live_server  # noqa: F401 - live_server: fixture

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser

SHELF = "WH1/A"
LAST_ID = re.compile(r"/(\d+)$")


def _choose(select: Locator, text: str) -> None:
    """Select the one option whose label contains ``text`` (labels are "CODE · Name" and vary by page)."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    option = select.locator("option", has_text=text)
    expect(option).to_have_count(1)
    select.select_option(option.get_attribute("value"))


def _ok(page: Page, text: str) -> None:
    """Wait for the success message of the step just done."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    expect(page.locator(".alert.ok")).to_contain_text(text)


def _opened(page: Page, prefix: str) -> int:
    """Wait until the page shows the object created under ``prefix`` (e.g. "/sales/") and return its id."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    expect(page).to_have_url(re.compile(re.escape(prefix) + r"\d+(\?.*)?$"))
    found = LAST_ID.search(page.url.split("?", 1)[0])
    assert found, page.url
    return int(found.group(1))


def _master_data(page: Page, base: str, shots: Path) -> int:
    """Create the work centre, customer, supplier, the three items, the pump's BOM and routing; return PUMP's id."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/factory/work-centres/new")
    page.fill("#f-code", "ASM")
    page.fill("#f-name", "Assembly")
    page.click("button.primary")
    _ok(page, "Assembly created.")
    for code, name, customer in (("ACME", "Acme Pumps", True), ("CAST", "Casting Works", False)):
        page.goto(f"{base}/factory/parties/new")
        page.fill("#f-code", code)
        page.fill("#f-name", name)
        page.locator("#f-is_customer").set_checked(customer)
        page.locator("#f-is_supplier").set_checked(not customer)
        page.click("button.primary")
        _ok(page, f"{name} created.")
    items: dict[str, int] = {}
    for code, name, kind, tracking in (
        ("BOLT", "Bolt M8", "Raw material", "Not tracked"),
        ("CASING", "Casing", "Raw material", "By lot"),
        ("PUMP", "Pump", "Finished product", "By serial number"),
    ):
        page.goto(f"{base}/factory/items/new")
        page.fill("#f-code", code)
        page.fill("#f-name", name)
        page.select_option("#f-kind", label=kind)
        _choose(page.locator("#f-uom_id"), "pcs")
        page.select_option("#f-tracking", label=tracking)
        page.click("button.primary")
        _ok(page, f"{name} created.")
        items[code] = _opened(page, "/factory/items/")

    # The pump's page: a first BOM version (default), its two lines, then the two operations of its routing.
    page.locator("#bom summary").click()
    page.fill("#add-bom [name=version]", "1")
    page.locator("#add-bom button.primary").click()
    _ok(page, "BOM version saved.")
    lines = page.locator("table.bom-lines tbody")
    for code, quantity in (("CASING", "1"), ("BOLT", "4")):
        _choose(page.locator("#add-line [name=component_id]"), code)
        page.fill("#add-line [name=quantity]", quantity)
        page.locator("#add-line button.primary").click()
        expect(lines).to_contain_text(code)
    routing = page.locator("#routing tbody")
    for sequence, name in (("10", "Assemble"), ("20", "Test run")):
        expect(page.locator("#add-operation [name=sequence]")).to_have_value(sequence)
        page.fill("#add-operation [name=name]", name)
        _choose(page.locator("#add-operation [name=work_centre_id]"), "ASM")
        page.locator("#add-operation button.primary").click()
        expect(routing.locator("tr", has_text=name)).to_have_count(1)
    expect(page.locator("#bom-tree")).to_contain_text("CASING")
    expect(page.locator("#bom-tree")).to_contain_text("BOLT")
    page.screenshot(path=str(shots / "02-pump-bom-routing.png"), full_page=True)
    return items["PUMP"]


def _stock(page: Page, base: str, shots: Path) -> None:
    """Add a warehouse and a shelf, buy two casing lots (C-1, C-2) and post twenty bolts in from the supplier."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/inventory/warehouses")
    page.fill("#warehouse-form [name=code]", "WH1")
    page.fill("#warehouse-form [name=name]", "Main store")
    page.locator("#warehouse-form button.primary").click()
    _ok(page, "Warehouse WH1 added.")
    page.fill("#location-form [name=code]", SHELF)
    page.fill("#location-form [name=name]", "Shelf A")
    page.locator("#location-form button.primary").click()
    _ok(page, f"Location {SHELF} added.")

    # The casings are bought: one purchase order, received in two lots.
    page.goto(f"{base}/purchasing/new")
    page.fill("#f-number", "PO-1")
    _choose(page.locator("#f-supplier_id"), "CAST")
    _choose(page.locator("[name='lines.0.item_id']"), "CASING")
    page.fill("[name='lines.0.quantity']", "4")
    page.click("form[action='/purchasing/new'] button.primary")
    _ok(page, "Purchase order PO-1 created.")
    page.get_by_role("button", name="Confirm").click()
    receipts = page.locator("table.receipts tbody tr")
    for count, lot in enumerate(("C-1", "C-2"), start=1):
        page.fill("[name='lines.0.quantity']", "2")
        _choose(page.locator("[name='lines.0.location_id']"), SHELF)
        page.fill("[name='lines.0.lot_number']", lot)
        page.get_by_role("button", name="Post receipt").click()
        expect(receipts.locator("td a")).to_have_count(count)
    expect(page.locator("#status")).to_have_text("Received")

    # The bolts are not tracked: a plain move from the suppliers' location.
    page.goto(f"{base}/inventory/moves")
    _choose(page.locator("#f-item_id"), "BOLT")
    page.fill("#f-quantity", "20")
    _choose(page.locator("#f-from_location_id"), "virtual/supplier")
    _choose(page.locator("#f-to_location_id"), SHELF)
    page.click("form[action='/inventory/moves'] button.primary")
    _ok(page, "posted.")
    expect(page.locator("table.moves tbody tr")).to_have_count(3)
    page.screenshot(path=str(shots / "03-stock-moves.png"), full_page=True)


def _quality_plan(page: Page, base: str) -> None:
    """A final inspection plan of the pump: flow 10 l/min, 9 to 11, one sample."""
    page.goto(f"{base}/quality/plans/new")
    page.fill("#f-code", "PUMP-FINAL")
    page.fill("#f-name", "Pump final test")
    page.select_option("#f-stage", label="Final")
    _choose(page.locator("#f-item_id"), "PUMP")
    for field, value in (("name", "Flow"), ("unit", "l/min"), ("nominal", "10"), ("lsl", "9"), ("usl", "11")):
        page.fill(f"[name='characteristics.0.{field}']", value)
    page.select_option("[name='characteristics.0.kind']", label="Measured (variable)")
    page.fill("[name='characteristics.0.sample_size']", "1")
    page.get_by_role("button", name="Create plan").click()
    _ok(page, "Inspection plan PUMP-FINAL created.")


def _sales_order(page: Page, base: str, shots: Path) -> int:
    """A customer orders two pumps, due in a week; the order is confirmed. Return the order's id."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/sales/new")
    page.fill("#f-number", "SO-1")
    _choose(page.locator("#f-customer_id"), "ACME")
    _choose(page.locator("[name='lines.0.item_id']"), "PUMP")
    page.fill("[name='lines.0.quantity']", "2")
    due = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    page.fill("[name='lines.0.due_date']", due)
    page.get_by_role("button", name="Create draft").click()
    _ok(page, "Sales order SO-1 created.")
    order = _opened(page, "/sales/")
    page.get_by_role("button", name="Confirm").click()
    _ok(page, "Sales order confirmed.")
    expect(page.locator("#status")).to_have_text("Confirmed")
    page.screenshot(path=str(shots / "04-sales-order.png"), full_page=True)
    return order


def _produce(page: Page, base: str, shots: Path) -> int:  # noqa: PLR0915 - one work order, start to finish
    """Make three pumps: release, issue lot C-1 by hand, report both operations, receive SN-1..3. Return its id."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/production/scrap-reasons")
    page.fill("#f-code", "DENT")
    page.fill("#f-name", "Dented housing")
    page.locator("form[action='/production/scrap-reasons'] button.primary").click()
    expect(page.locator("table.reasons")).to_contain_text("Dented housing")

    page.goto(f"{base}/production/new")
    page.fill("#f-number", "WO-1")
    _choose(page.locator("#f-item_id"), "PUMP")
    page.fill("#f-quantity", "3")
    page.get_by_role("button", name="Create draft").click()
    _ok(page, "Work order WO-1 created.")
    wo = _opened(page, "/production/")
    page.get_by_role("button", name="Release").click()
    _ok(page, "Work order released.")
    expect(page.locator("#status")).to_have_text("Released")
    components = page.locator("table.components tbody")
    expect(components.locator("tr", has_text="CASING")).to_contain_text("3")
    expect(components.locator("tr", has_text="BOLT")).to_contain_text("12")

    # Two casings of lot C-1 by hand; the third is backflushed on receipt.
    _choose(page.locator("#issue [name=component_id]"), "CASING")
    page.fill("#issue [name=quantity]", "2")
    _choose(page.locator("#issue [name=location_id]"), SHELF)
    _choose(page.locator("#issue [name=lot_id]"), "C-1")
    page.locator("#issue button.primary").click()
    _ok(page, "Material issued.")
    expect(page.locator("table.issues tbody tr.issue-manual")).to_contain_text("C-1")

    # Assembly on the tablet at the work centre: three good, one dented housing scrapped.
    page.goto(f"{base}/production/shop-floor")
    _choose(page.locator("#f-work_centre_id"), "ASM")
    page.get_by_role("button", name="Show").click()
    card = page.locator("article.op-card", has_text="Assemble")
    card.get_by_role("button", name="Start").click()
    expect(card).to_have_class(re.compile(r"\brunning\b"))
    card.locator("[name=good_quantity]").fill("3")
    card.locator("[name=scrap_quantity]").fill("1")
    _choose(card.locator("[name=scrap_reason_id]"), "DENT")
    page.screenshot(path=str(shots / "05-shop-floor.png"), full_page=True)
    card.get_by_role("button", name="Finish").click()
    _ok(page, "Report recorded.")
    expect(card).to_have_count(0)  # a finished operation leaves the queue

    # The test run, reported from the work order's page.
    page.goto(f"{base}/production/{wo}")
    test_run = page.locator("table.operations tbody tr", has_text="Test run")
    test_run.get_by_role("button", name="Start").click()
    expect(test_run).to_contain_text("Running")
    test_run.locator("[name=good_quantity]").fill("3")
    test_run.get_by_role("button", name="Finish").click()
    expect(test_run).to_contain_text("Finished")
    assemble = page.locator("table.operations tbody tr", has_text="Assemble")
    expect(assemble).to_contain_text("Finished")
    expect(page.locator("table.reports tbody tr.report-finish")).to_have_count(2)

    # Finished goods in with their serial numbers; the components not yet issued are backflushed from the shelf.
    receive = page.locator("#receive")
    receive.locator("[name=quantity]").fill("3")
    _choose(receive.locator("[name=location_id]"), SHELF)
    receive.locator("[name=serial_numbers]").fill("SN-1\nSN-2\nSN-3")
    expect(receive.locator("[name=backflush]")).to_be_checked()
    _choose(receive.locator("[name=backflush_location_id]"), SHELF)
    receive.get_by_role("button", name="Post receipt").click()
    _ok(page, "Goods received.")
    expect(page.locator("#status")).to_have_text("Completed")
    expect(page.locator("#received")).to_have_text("3")
    expect(page.locator("table.issues tbody tr.issue-backflush", has_text="C-2")).to_have_count(1)
    expect(page.locator("table.receipts tbody")).to_contain_text("SN-1, SN-2, SN-3")
    page.screenshot(path=str(shots / "06-work-order.png"), full_page=True)
    return wo


def _inspect(page: Page, base: str, wo: int, shots: Path) -> None:
    """Final inspection of each pump: SN-3 is out of tolerance, its nonconformance is scrapped and closed."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    for serial, flow in (("SN-1", "10.2"), ("SN-2", "9.7"), ("SN-3", "11.6")):
        page.goto(f"{base}/quality/inspections/new")
        _choose(page.locator("#choose-plan [name=plan_id]"), "PUMP-FINAL")
        page.fill("#choose-plan [name=quantity]", "1")
        page.get_by_role("button", name="Show the results grid").click()
        grid = page.locator("table.results-grid input")
        expect(grid).to_have_count(1)
        expect(page.locator("#f-source_type")).to_have_value("final")
        page.fill("#f-source_id", str(wo))
        _choose(page.locator("#f-lot_id"), serial)
        _choose(page.locator("#f-location_id"), SHELF)
        grid.fill(flow)
        page.get_by_role("button", name="Record inspection").click()
        expect(page.locator("#result")).to_have_text("Fail" if serial == "SN-3" else "Pass")
    expect(page.locator(".alert.error")).to_contain_text("out of tolerance, nonconformance")
    page.screenshot(path=str(shots / "07-inspection-failed.png"), full_page=True)

    page.locator("dl.facts a[href^='/quality/nonconformances/']").click()
    _opened(page, "/quality/nonconformances/")
    expect(page.locator("#status")).to_have_text("Open")
    expect(page.locator("dl.facts")).to_contain_text("SN-3")
    page.select_option("[name='lines.0.kind']", "scrap")
    page.fill("[name='lines.0.quantity']", "1")
    page.get_by_role("button", name="Record disposition").click()
    _ok(page, "Disposition recorded.")
    expect(page.locator("#status")).to_have_text("Dispositioned")
    expect(page.locator("table.dispositions tr.disposition-scrap")).to_have_count(1)
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#status")).to_have_text("Closed")
    page.screenshot(path=str(shots / "08-nonconformance.png"), full_page=True)


def _ship(page: Page, base: str, order: int, shots: Path) -> None:
    """Ship SN-1 (planned, picked, shipped) and SN-2 (shipped straight from the plan): the order is delivered."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/sales/{order}")
    shipped = page.locator("table.deliveries tbody tr", has_text="Shipped")
    plan = page.locator(f"form[action='/sales/{order}/deliveries']")
    for count, serial in enumerate(("SN-1", "SN-2"), start=1):
        plan.locator("[name='lines.0.quantity']").fill("1")
        _choose(plan.locator("[name='lines.0.location_id']"), SHELF)
        _choose(plan.locator("[name='lines.0.lot_id']"), serial)
        plan.get_by_role("button", name="Plan delivery").click()
        _ok(page, "Delivery planned.")
        if serial == "SN-1":
            page.get_by_role("button", name="Pick").click()
            _ok(page, "Delivery picked")
        page.get_by_role("button", name="Ship", exact=True).click()
        _ok(page, "Delivery shipped.")
        expect(shipped).to_have_count(count)
    expect(page.locator("#status")).to_have_text("Delivered")
    expect(page.locator("table.lines td.delivered")).to_have_text("2")
    page.screenshot(path=str(shots / "09-shipped.png"), full_page=True)


def _trace(page: Page, base: str, shots: Path) -> None:
    """SN-1 is made of both casing lots; lot C-2 is in both shipped pumps."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/inventory/lots")
    page.fill("#f-number", "SN-1")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.lots tbody tr")).to_have_count(1)  # the filtered list is in before the click
    page.locator("table.lots").get_by_role("link", name="SN-1", exact=True).click()
    _opened(page, "/inventory/lots/")
    down = page.locator("ul.trace-down")
    for lot in ("C-1", "C-2"):
        expect(down.get_by_role("link", name=lot, exact=True)).to_have_count(1)
    page.screenshot(path=str(shots / "10-trace-sn1.png"), full_page=True)

    down.get_by_role("link", name="C-2", exact=True).click()
    expect(page.locator("h1")).to_contain_text("C-2")
    shipments = page.locator("table.shipments tbody tr")
    expect(shipments).to_have_count(2)
    for serial in ("SN-1", "SN-2"):
        expect(shipments.filter(has_text=serial)).to_have_count(1)
    expect(page.locator("ul.trace-up")).to_contain_text("SN-3")


def _kpis(page: Page, base: str, shots: Path) -> None:
    """The overview shows the lead time (some days, 0.0 today) and the defect rate: one of three inspected."""
    from playwright.sync_api import expect  # noqa: PLC0415 - only the browser tests need it

    page.goto(f"{base}/factory/overview")
    expect(page.locator("#kpi-lead-time .figure")).to_have_text(re.compile(r"^\s*\d+\.\d\s+days\s*$"))
    expect(page.locator("#kpi-defect-rate .figure")).to_have_text("33.3 %")
    expect(page.locator("#kpi-on-time .figure")).to_have_text("100.0 %")
    expect(page.locator("#kpi-scrap-rate .figure")).to_have_text("14.3 %")  # 3 + 3 good, 1 scrapped at assembly
    page.screenshot(path=str(shots / "11-overview.png"), full_page=True)


def test_factory_order_to_shipment(live_server: str, artifacts_dir: Path) -> None:  # noqa: F811 - the fixture
    """Click the whole factory story through the console, from master data to the KPIs."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only the browser tests need it

    shots = artifacts_dir / "factory"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(10_000)
        base = live_server
        _log_in(page, base, shots)
        _master_data(page, base, shots)
        _stock(page, base, shots)
        _quality_plan(page, base)
        order = _sales_order(page, base, shots)
        wo = _produce(page, base, shots)
        _inspect(page, base, wo, shots)
        _ship(page, base, order, shots)
        _trace(page, base, shots)
        _kpis(page, base, shots)
        context.close()
        browser.close()
