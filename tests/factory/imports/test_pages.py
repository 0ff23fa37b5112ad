"""Console page of imports: the form with the kinds the user may import and the template links, a check
that shows every error in a table (row, column, reason), an import that shows the counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.factory.imports.conftest import ITEM_HEADER, Works, as_file, item_rows
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

ERROR_ROW = re.compile(r"<tr><td>(\d*)</td><td>([^<]*)</td><td>([^<]+)</td></tr>")


def test_factory_home_links_the_import_page(browser: Browser, works: Works) -> None:
    _logged_in(browser, works.plant.actor)
    assert 'href="/factory/import"' in browser.get("/factory").text


def test_form_lists_the_kinds_the_user_may_import(
    browser_factory: Callable[[], Browser], works: Works, actor_factory: Callable[..., Any]
) -> None:
    admin = _logged_in(browser_factory(), works.plant.actor)
    page = admin.get("/factory/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    for kind in ("parties", "items", "boms", "routings", "opening_stock", "purchase_orders", "sales_orders"):
        assert f'value="{kind}"' in page.text
        assert f"/api/v1/factory/imports/{kind}/template.xlsx" in page.text
    operator = _logged_in(browser_factory(), actor_factory("operator", tenant=works.plant.actor.tenant))
    text = operator.get("/factory/import").text
    assert 'value="opening_stock"' in text and 'value="items"' not in text
    # The template link works with the console session.
    assert operator.get("/api/v1/factory/imports/opening_stock/template.csv").status_code == 200
    viewer = _logged_in(browser_factory(), actor_factory("viewer", tenant=works.plant.actor.tenant))
    assert viewer.get("/factory/import").status_code == 403


def test_check_shows_every_error_then_import_shows_the_counts(browser: Browser, works: Works) -> None:
    _logged_in(browser, works.plant.actor)
    token = browser.csrf("/factory/import")
    rows = item_rows(works, 5)
    rows[1][5], rows[3][3] = "perhaps", "furlong"
    before = works.count_items()
    bad = browser.post(
        "/factory/import",
        data={"csrf_token": token, "kind": "items", "action": "import"},
        files={"file": ("items.csv", as_file(ITEM_HEADER, rows))},
    )
    assert bad.status_code == 422
    assert "Nothing was imported; errors found: 2." in bad.text
    found = ERROR_ROW.findall(bad.text)
    assert [(r, c) for r, c, _ in found] == [("3", "allow_negative"), ("5", "uom")]
    assert found[1][2] == "Unknown unit furlong."
    assert works.count_items() == before

    rows[1][5], rows[3][3] = "no", works.uom
    data = as_file(ITEM_HEADER, rows, "xlsx")
    checked = browser.post(
        "/factory/import",
        data={"csrf_token": token, "kind": "items", "action": "check"},
        files={"file": ("items.xlsx", data)},
    )
    assert checked.status_code == 200
    assert "The file is fine; nothing was kept" in checked.text
    assert works.count_items() == before
    done = browser.post(
        "/factory/import",
        data={"csrf_token": token, "kind": "items", "action": "import"},
        files={"file": ("items.xlsx", data)},
    )
    assert done.status_code == 200
    assert 'id="import-result"' in done.text and "<td>Items</td><td>5</td>" in done.text
    assert works.count_items() == before + 5


def test_missing_file_or_kind_is_said_on_the_form(browser: Browser, works: Works) -> None:
    _logged_in(browser, works.plant.actor)
    token = browser.csrf("/factory/import")
    no_file = browser.post("/factory/import", data={"csrf_token": token, "kind": "items", "action": "check"})
    assert no_file.status_code == 422 and "Choose a file to upload." in no_file.text
    no_kind = browser.post(
        "/factory/import",
        data={"csrf_token": token, "kind": "widgets"},
        files={"file": ("x.csv", b"code\n")},
    )
    assert no_kind.status_code == 422 and "Choose what to import." in no_kind.text
    # With a file: the refused request's upload is closed (warnings are errors: a leak would fail here).
    expired = browser.post(
        "/factory/import", data={"csrf_token": "nope", "kind": "items"}, files={"file": ("x.csv", b"code\n")}
    )
    assert expired.status_code == 403
