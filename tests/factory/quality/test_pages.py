"""Quality console pages: the nonconformance list (open first) and an NC's disposition form, the plan form
with errors on the row they concern, the inspection results grid opening an NC, defect codes, and the
capability and Pareto chart pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hexmill.factory.inventory import service as inventory
from hexmill.factory.quality import service
from hexmill.factory.quality.service import DispositionSpec
from tests.factory.inventory.conftest import Plant
from tests.factory.quality.conftest import bolt_results
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

FIELD_ERROR = re.compile(r'<p class="field-error" id="e-([\w.]+)">([^<]+)</p>')
D = Decimal


def _nc(lab: Plant, quantity: str = "10", **kwargs: Any) -> int:
    fields: dict[str, Any] = {
        "item_id": lab.ids["bolt"],
        "location_id": lab.ids["a"],
        "quantity": D(quantity),
        "stage": "receipt",
        "supplier_id": lab.ids["vendor"],
        "defect_code_id": lab.ids["scratch"],
    }
    with lab.session() as (s, ctx):
        return service.create_nonconformance(s, ctx, **{**fields, **kwargs}).id


def test_menu_links_quality_only_with_the_permission(
    browser_factory: Callable[[], Browser], lab: Plant, actor_factory: Callable[..., Any]
) -> None:
    admin = _logged_in(browser_factory(), lab.actor)
    assert 'href="/quality"' in admin.get("/").text
    outsider = _logged_in(browser_factory(), actor_factory("maintenance", tenant=lab.actor.tenant))
    assert 'href="/quality"' not in outsider.get("/").text
    assert outsider.get("/quality").status_code == 403


def test_nonconformance_list_shows_open_first_with_filters_and_csv(browser: Browser, lab: Plant) -> None:
    lab.receive("bolt", "10")
    settled = _nc(lab, "1")
    open_nc = _nc(lab, "2")
    with lab.session() as (s, ctx):
        service.disposition(s, ctx, settled, lines=[DispositionSpec("use_as_is", D(1), approver="QA")])
    _logged_in(browser, lab.actor)
    page = browser.get("/quality")
    assert page.status_code == 200
    assert page.text.index(f'id="nc-{open_nc}"') < page.text.index(f'id="nc-{settled}"')
    assert "/api/v1/factory/quality/nonconformances.csv" in page.text
    only_open = browser.get("/quality", params={"status": "open"}).text
    assert f'id="nc-{open_nc}"' in only_open and f'id="nc-{settled}"' not in only_open


def test_disposition_form_errors_name_the_row_then_moves_stock_and_closes(browser: Browser, lab: Plant) -> None:
    lab.receive("bolt", "30")
    nc_id = _nc(lab, "10")
    _logged_in(browser, lab.actor)
    page = browser.get(f"/quality/nonconformances/{nc_id}")
    assert page.status_code == 200
    assert f"/quality/nonconformances/{nc_id}/disposition" in page.text
    token = browser.csrf(f"/quality/nonconformances/{nc_id}")
    form = {
        "csrf_token": token,
        "lines.0.kind": "scrap",
        "lines.0.quantity": "4",
        # Row 2 is left empty; row 3 reworks too much.
        "lines.2.kind": "rework",
        "lines.2.quantity": "7",
        "lines.2.to_location_id": str(lab.ids["b"]),
    }
    over = browser.post(f"/quality/nonconformances/{nc_id}/disposition", data=form)
    assert over.status_code == 422
    errors = dict(FIELD_ERROR.findall(over.text))
    assert list(errors) == ["lines.2.quantity"], errors
    assert "more than the affected quantity of 10" in errors["lines.2.quantity"]
    missing = browser.post(
        f"/quality/nonconformances/{nc_id}/disposition",
        data={**form, "lines.2.quantity": "3", "lines.2.to_location_id": ""},
    )
    assert "lines.2.to_location_id" in dict(FIELD_ERROR.findall(missing.text))
    done = browser.post(
        f"/quality/nonconformances/{nc_id}/disposition",
        data={**form, "lines.2.quantity": "3", "lines.3.kind": "return", "lines.3.quantity": "3"},
    )
    assert done.status_code == 200, done.text
    assert "Disposition recorded." in done.text
    assert 'class="disposition-scrap"' in done.text and 'class="disposition-return"' in done.text
    with lab.session() as (s, ctx):
        rows, _ = inventory.stock_on_hand(s, ctx, filters={"item_id": lab.ids["bolt"]})
        assert {r.location_id: r.on_hand for r in rows} == {lab.ids["a"]: D(20), lab.ids["b"]: D(3)}
    closed = browser.post(f"/quality/nonconformances/{nc_id}/close", data={"csrf_token": token})
    assert "Nonconformance closed." in closed.text


def test_raise_nonconformance_form(browser: Browser, lab: Plant) -> None:
    _logged_in(browser, lab.actor)
    token = browser.csrf("/quality/nonconformances/new")
    form = {"csrf_token": token, "stage": "other", "item_id": str(lab.ids["steel"]), "location_id": str(lab.ids["a"])}
    bad = browser.post("/quality/nonconformances/new", data={**form, "quantity": "2"})
    assert bad.status_code == 422
    assert "lot_id" in dict(FIELD_ERROR.findall(bad.text))  # steel is lot-tracked
    made = browser.post(
        "/quality/nonconformances/new",
        data={**form, "quantity": "2", "lot_id": str(lab.ids["steel-1"])},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    assert made.headers["location"].startswith("/quality/nonconformances/")


def test_new_plan_form_errors_name_the_row_then_creates(browser: Browser, lab: Plant) -> None:
    _logged_in(browser, lab.actor)
    token = browser.csrf("/quality/plans/new")
    form = {
        "csrf_token": token,
        "code": "QP-PAGE",
        "name": "Final check",
        "stage": "final",
        "characteristics.0.name": "Weight",
        "characteristics.0.kind": "variable",
        "characteristics.0.lsl": "5",
        "characteristics.0.usl": "6",
        "characteristics.0.sample_size": "2",
        # Row 2 is left empty; row 3's limits are the wrong way round.
        "characteristics.2.name": "Height",
        "characteristics.2.kind": "variable",
        "characteristics.2.lsl": "9",
        "characteristics.2.usl": "8",
        "characteristics.2.sample_pct": "10",
    }
    bad = browser.post("/quality/plans/new", data=form)
    assert bad.status_code == 422
    errors = dict(FIELD_ERROR.findall(bad.text))
    assert list(errors) == ["characteristics.2.usl"], errors
    made = browser.post("/quality/plans/new", data={**form, "characteristics.2.usl": "10"}, follow_redirects=False)
    assert made.status_code == 303, made.text
    plan_page = browser.get(made.headers["location"])
    assert "QP-PAGE" in plan_page.text and "Height" in plan_page.text
    assert "/quality/capability/" in plan_page.text
    plans = browser.get("/quality/plans", params={"stage": "final"}).text
    assert "QP-PAGE" in plans and "/api/v1/factory/quality/plans.csv" in plans


def test_inspection_grid_records_results_and_opens_a_nonconformance(browser: Browser, lab: Plant) -> None:
    ids = lab.ids
    _logged_in(browser, lab.actor)
    chooser = browser.get("/quality/inspections/new")
    assert chooser.status_code == 200 and 'id="choose-plan"' in chooser.text
    grid = browser.get("/quality/inspections/new", params={"plan_id": ids["plan"]})
    diameter, surface = ids["diameter"], ids["surface"]
    for cell in (f"r.{diameter}.1", f"r.{diameter}.3", f"r.{surface}.1"):
        assert f'name="{cell}"' in grid.text
    assert f'name="r.{diameter}.4"' not in grid.text
    token = browser.csrf(f"/quality/inspections/new?plan_id={ids['plan']}")
    form = {
        "csrf_token": token,
        "plan_id": str(ids["plan"]),
        "source_type": "receipt",
        "item_id": str(ids["bolt"]),
        "location_id": str(ids["a"]),
        "quantity": "25",
        f"r.{diameter}.1": "10",
        f"r.{diameter}.2": "abc",
        f"r.{diameter}.3": "10.8",
        f"r.{surface}.1": "true",
    }
    bad = browser.post("/quality/inspections/new", data=form)
    assert bad.status_code == 422
    assert list(dict(FIELD_ERROR.findall(bad.text))) == [f"r.{diameter}.2"]
    done = browser.post("/quality/inspections/new", data={**form, f"r.{diameter}.2": "10.1"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = browser.get(done.headers["location"])
    assert "nonconformance" in page.text.lower() and 'id="result"' in page.text
    with lab.session() as (s, ctx):
        rows, total = service.list_nonconformances(s, ctx)
        assert total == 1 and rows[0].characteristics == "Diameter" and rows[0].quantity == D(25)
    listed = browser.get("/quality/inspections", params={"result": "fail"}).text
    assert f"/quality/nonconformances/{rows[0].id}" in listed


def test_defect_codes_page(browser: Browser, lab: Plant) -> None:
    _logged_in(browser, lab.actor)
    page = browser.get("/quality/defect-codes")
    assert "D-SCR" in page.text and "D-DIM" in page.text
    token = browser.csrf("/quality/defect-codes")
    dup = browser.post("/quality/defect-codes", data={"csrf_token": token, "code": "D-SCR", "name": "Again"})
    assert dup.status_code == 422 and "code" in dict(FIELD_ERROR.findall(dup.text))
    added = browser.post("/quality/defect-codes", data={"csrf_token": token, "code": "D-NEW", "name": "Crack"})
    assert "Defect code D-NEW added." in added.text
    with lab.session() as (s, ctx):
        rows, _ = service.list_defect_codes(s, ctx, filters={"code": "D-NEW"})
    deleted = browser.post(f"/quality/defect-codes/{rows[0].id}/delete", data={"csrf_token": token})
    assert "Defect code deleted." in deleted.text and "D-NEW" not in deleted.text.split("</h1>", 1)[1]


def test_capability_and_pareto_pages(browser: Browser, lab: Plant) -> None:
    lab.receive("bolt", "100")
    for values in (("10", "10.1", "9.9"), ("10.2", "9.8", "11")):
        with lab.session() as (s, ctx):
            service.create_inspection(
                s,
                ctx,
                source_type="receipt",
                item_id=lab.ids["bolt"],
                location_id=lab.ids["a"],
                quantity=D(10),
                results=bolt_results(lab, values),
            )
    _nc(lab, "4")
    _logged_in(browser, lab.actor)
    cap = browser.get(f"/quality/capability/{lab.ids['diameter']}")
    assert cap.status_code == 200
    assert '<dd id="n">6</dd>' in cap.text
    assert "echarts.min.js" in cap.text and 'id="capability-data"' in cap.text
    assert '"lsl": "9.500000"' in cap.text and '"usl": "10.500000"' in cap.text
    assert browser.get(f"/quality/capability/{lab.ids['surface']}").status_code == 422
    pareto = browser.get("/quality/pareto")
    assert pareto.status_code == 200
    assert "echarts.min.js" in pareto.text and 'id="pareto-data"' in pareto.text
    table = pareto.text.split('<table class="pareto">', 1)[1]
    # One NC each: the tie goes to the larger quantity (the failed inspection's 10 over the 4 raised by hand).
    assert table.index("D-DIM") < table.index("D-SCR")
    assert "100.00" in table
