"""Asset console pages: the tree, forms with inline errors, deletion with confirmation."""

from __future__ import annotations

import re

from tests.web.conftest import Browser
from tests.web.test_pages import FIELD_ERROR, _logged_in


def _create(browser: Browser, slug: str, **data: str) -> int:
    response = browser.post(f"/assets/{slug}/new", data={**data, "csrf_token": browser.csrf()}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("-", 1)[1])


def _plant(browser: Browser) -> dict[str, int]:
    site = _create(browser, "sites", name="Suzhou plant", description="Main works")
    area = _create(browser, "areas", name="Hall A", site_id=str(site))
    line = _create(browser, "lines", name="Line 1", area_id=str(area), kind="line")
    equipment = _create(browser, "equipment", name="CNC-01", line_id=str(line), manufacturer="Haas")
    tag = _create(browser, "tags", name="spindle_speed", unit="rpm", data_type="float", equipment_id=str(equipment))
    return {"site": site, "area": area, "line": line, "equipment": equipment, "tag": tag}


def test_tree_shows_every_level_with_tags(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    ids = _plant(browser)
    page = browser.get("/assets").text
    for name in ("Suzhou plant", "Hall A", "Line 1", "CNC-01", "spindle_speed [rpm]"):
        assert name in page
    assert f'id="equipment-{ids["equipment"]}"' in page
    assert page.index("Suzhou plant") < page.index("Hall A") < page.index("Line 1") < page.index("CNC-01")


def test_forms_show_validation_errors_next_to_the_field(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    ids = _plant(browser)
    token = browser.csrf()
    blank = browser.post("/assets/sites/new", data={"name": "  ", "csrf_token": token})
    assert blank.status_code == 422
    assert dict(FIELD_ERROR.findall(blank.text))["name"] == "This field is required."
    duplicate = browser.post(
        "/assets/areas/new", data={"name": "Hall A", "site_id": str(ids["site"]), "csrf_token": token}
    )
    assert duplicate.status_code == 422
    assert dict(FIELD_ERROR.findall(duplicate.text))["name"] == "The name Hall A is already taken here."
    wrong_kind = browser.post(
        f"/assets/lines/{ids['line']}", data={"name": "Line 1", "kind": "loop", "csrf_token": token}
    )
    assert wrong_kind.status_code == 422
    assert dict(FIELD_ERROR.findall(wrong_kind.text))["kind"].startswith("Must be one of")


def test_validation_errors_in_chinese(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    browser.post("/lang", data={"locale": "zh_CN", "csrf_token": browser.csrf()})
    response = browser.post("/assets/sites/new", data={"csrf_token": browser.csrf()})
    assert response.status_code == 422
    assert dict(FIELD_ERROR.findall(response.text))["name"] == "此字段为必填项。"
    assert "新建工厂" in response.text


def test_edit_changes_the_asset(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    ids = _plant(browser)
    form = browser.get(f"/assets/equipment/{ids['equipment']}").text
    assert 'value="Haas"' in form
    response = browser.post(
        f"/assets/equipment/{ids['equipment']}",
        data={"name": "CNC-02", "manufacturer": "DMG Mori", "csrf_token": browser.csrf()},
    )
    assert response.status_code == 200
    assert "CNC-02 saved." in response.text
    assert "DMG Mori" in response.text


def test_delete_asks_first_and_refuses_parents_with_children(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    ids = _plant(browser)
    token = browser.csrf()
    confirm = browser.post(f"/assets/sites/{ids['site']}/delete", data={"csrf_token": token})
    assert "Delete Suzhou plant?" in confirm.text
    refused = browser.post(f"/assets/sites/{ids['site']}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert "Site Suzhou plant still has areas; delete or move them first." in refused.text
    deleted = browser.post(f"/assets/equipment/{ids['equipment']}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert "CNC-01 deleted." in deleted.text
    assert "spindle_speed" not in deleted.text


def test_viewers_see_the_tree_but_cannot_edit(browser_factory, actor_factory) -> None:
    admin = actor_factory()
    editor = _logged_in(browser_factory(), admin)
    _plant(editor)
    viewer = _logged_in(browser_factory(), actor_factory("viewer", tenant=admin.tenant))
    page = viewer.get("/assets").text
    assert "CNC-01" in page
    assert "/assets/sites/new" not in page
    response = viewer.post("/assets/sites/new", data={"name": "Nope", "csrf_token": viewer.csrf()})
    assert response.status_code == 422
    assert "This needs the permission assets.edit." in response.text


def test_another_enterprises_assets_are_not_found(browser_factory, actor_factory) -> None:
    owner = _logged_in(browser_factory(), actor_factory())
    ids = _plant(owner)
    stranger = _logged_in(browser_factory(), actor_factory())
    assert stranger.get(f"/assets/sites/{ids['site']}").status_code == 404
    assert "Suzhou plant" not in stranger.get("/assets").text
    response = stranger.post(
        "/assets/areas/new", data={"name": "Intruder", "site_id": str(ids["site"]), "csrf_token": stranger.csrf()}
    )
    assert response.status_code == 404
    assert re.search(r"Site \d+ not found", response.text)
