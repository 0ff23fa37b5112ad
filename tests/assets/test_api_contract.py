"""Contract tests of the asset API: CRUD per resource, 401 without credentials, 403 without
permission, 404 for another enterprise's objects (never their data), 409 on clashes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.assets.conftest import API, World

PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Resource:
    """How to create, change and filter one kind of object through the API."""

    path: str
    key: str
    create: Callable[[dict[str, int]], dict[str, Any]]
    update: dict[str, Any]
    list_filter: Callable[[dict[str, int]], dict[str, Any]]

    def __str__(self) -> str:
        return self.path


RESOURCES = [
    Resource("sites", "site", lambda ids: {"name": "Wuxi plant"}, {"description": "Second plant"}, lambda ids: {}),
    Resource(
        "areas",
        "area",
        lambda ids: {"site_id": ids["site"], "name": "Hall 2"},
        {"name": "Hall 2b"},
        lambda ids: {"site_id": ids["site"]},
    ),
    Resource(
        "lines",
        "line",
        lambda ids: {"area_id": ids["area"], "name": "Assembly"},
        {"kind": "work_centre"},
        lambda ids: {"area_id": ids["area"], "kind": "line"},
    ),
    Resource(
        "equipment-types",
        "equipment_type",
        lambda ids: {"name": "Robot arm", "manufacturer": "Estun"},
        {"model": "ER20"},
        lambda ids: {"manufacturer": "estun"},
    ),
    Resource(
        "equipment",
        "equipment",
        lambda ids: {"line_id": ids["line"], "name": "M-02", "serial_number": "X9"},
        {"description": "Moved in 2024"},
        lambda ids: {"line_id": ids["line"], "serial_number": "X9"},
    ),
    Resource(
        "tags",
        "tag",
        lambda ids: {"equipment_id": ids["equipment"], "name": "temp", "unit": "degC"},
        {"unit": "K"},
        lambda ids: {"equipment_id": ids["equipment"], "name": "tem"},
    ),
]


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the asset API, with real ids of ``ids`` in the paths."""
    out = [
        ("GET", "/assets/tree"),
        ("GET", "/assets/export?format=json"),
        ("POST", "/assets/import"),
        ("GET", f"/equipment/{ids['equipment']}/aas?format=json"),
        ("POST", "/equipment/aas"),
    ]
    for res in RESOURCES:
        one = f"/{res.path}/{ids[res.key]}"
        out += [("GET", f"/{res.path}"), ("POST", f"/{res.path}"), ("GET", one), ("PATCH", one), ("DELETE", one)]
    return out


WRITES = {"POST", "PATCH", "DELETE"}


# -- CRUD --------------------------------------------------------------------------------------


@pytest.mark.parametrize("res", RESOURCES, ids=str)
def test_crud_works(client: TestClient, world: World, res: Resource) -> None:
    h = world.headers
    created = client.post(f"{API}/{res.path}", json=res.create(world.ids), headers=h)
    assert created.status_code == 201, created.text
    obj = created.json()
    for key, value in res.create(world.ids).items():
        assert obj[key] == value
    url = f"{API}/{res.path}/{obj['id']}"
    assert client.get(url, headers=h).json() == obj

    listed = client.get(f"{API}/{res.path}", params=res.list_filter(world.ids), headers=h)
    assert listed.status_code == 200
    page = listed.json()
    assert obj["id"] in [item["id"] for item in page["items"]]
    assert page["total"] == len(page["items"])

    patched = client.patch(url, json=res.update, headers=h)
    assert patched.status_code == 200, patched.text
    for key, value in res.update.items():
        assert patched.json()[key] == value
    assert client.get(url, headers=h).json()[next(iter(res.update))] == next(iter(res.update.values()))

    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).status_code == 404


@pytest.mark.parametrize("res", RESOURCES, ids=str)
def test_list_is_paginated_and_filtered(client: TestClient, world: World, res: Resource) -> None:
    h = world.headers
    client.post(f"{API}/{res.path}", json=res.create(world.ids), headers=h)
    full = client.get(f"{API}/{res.path}", headers=h).json()
    assert full["total"] >= 1
    first = client.get(f"{API}/{res.path}", params={"limit": 1, "offset": 0}, headers=h).json()
    assert len(first["items"]) == 1
    assert first["total"] == full["total"]
    assert first["limit"] == 1
    nothing = client.get(f"{API}/{res.path}", params={"name": "no-such-name-anywhere"}, headers=h).json()
    assert nothing == {"items": [], "total": 0, "offset": 0, "limit": 50}


def test_list_filters_narrow_by_parent(client: TestClient, world: World) -> None:
    h = world.headers
    other_site = client.post(f"{API}/sites", json={"name": "Other"}, headers=h).json()["id"]
    client.post(f"{API}/areas", json={"site_id": other_site, "name": "Elsewhere"}, headers=h)
    areas = client.get(f"{API}/areas", params={"site_id": world.ids["site"]}, headers=h).json()["items"]
    assert [a["name"] for a in areas] == ["Hall 1"]
    templates = client.get(f"{API}/tags", params={"equipment_type_id": world.ids["equipment_type"]}, headers=h).json()[
        "items"
    ]
    assert [t["name"] for t in templates] == ["spindle_speed"]
    for junk in ("x", str(2**80)):
        bad = client.get(f"{API}/areas", params={"site_id": junk}, headers=h)
        assert bad.status_code == 422
        assert bad.json()["field"] == "site_id"


def test_equipment_from_a_type_copies_its_tag_templates(client: TestClient, world: World) -> None:
    h = world.headers
    tags = client.get(f"{API}/tags", params={"equipment_id": world.ids["equipment"]}, headers=h).json()["items"]
    assert sorted((t["name"], t["unit"], t["data_type"]) for t in tags) == [
        ("door_open", "", "boolean"),
        ("spindle_speed", "rpm", "float"),
    ]
    machine = client.get(f"{API}/equipment/{world.ids['equipment']}", headers=h).json()
    assert (machine["manufacturer"], machine["model"]) == ("DMG MORI", "DMU 50 3rd")
    # The copies are the machine's own: changing the template leaves them alone.
    client.patch(f"{API}/tags/{world.ids['type_tag']}", json={"unit": "1/min"}, headers=h)
    tags = client.get(
        f"{API}/tags", params={"equipment_id": world.ids["equipment"], "name": "spindle"}, headers=h
    ).json()["items"]
    assert [t["unit"] for t in tags] == ["rpm"]


def test_tree_nests_the_hierarchy(client: TestClient, world: World, world_factory) -> None:
    world_factory()  # another enterprise, whose tree must not show
    tree = client.get(f"{API}/assets/tree", headers=world.headers)
    assert tree.status_code == 200
    assert tree.json() == [
        {
            "id": world.ids["site"],
            "name": "Suzhou plant",
            "areas": [
                {
                    "id": world.ids["area"],
                    "name": "Hall 1",
                    "lines": [
                        {
                            "id": world.ids["line"],
                            "name": "Milling",
                            "kind": "work_centre",
                            "equipment": [
                                {
                                    "id": world.ids["equipment"],
                                    "name": "M-01",
                                    "equipment_type_id": world.ids["equipment_type"],
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ]


def test_tree_takes_a_fixed_number_of_queries(client: TestClient, world: World) -> None:
    h = world.headers
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "asset_" in statement:
            statements.append(statement)

    app_engine = client.app.state.engine  # type: ignore[attr-defined]
    event.listen(app_engine, "before_cursor_execute", count)
    try:
        client.get(f"{API}/assets/tree", headers=h)
        small = len(statements)
        for n in range(3):
            area = client.post(f"{API}/areas", json={"site_id": world.ids["site"], "name": f"A{n}"}, headers=h).json()
            line = client.post(f"{API}/lines", json={"area_id": area["id"], "name": "L"}, headers=h).json()
            client.post(f"{API}/equipment", json={"line_id": line["id"], "name": "E"}, headers=h)
        statements.clear()
        client.get(f"{API}/assets/tree", headers=h)
    finally:
        event.remove(app_engine, "before_cursor_execute", count)
    assert len(statements) == small == 4


# -- 409: names unique within their parent; parents with children are kept -----------------------


@pytest.mark.parametrize("res", RESOURCES, ids=str)
def test_duplicate_name_within_parent_is_a_conflict(client: TestClient, world: World, res: Resource) -> None:
    h = world.headers
    assert client.post(f"{API}/{res.path}", json=res.create(world.ids), headers=h).status_code == 201
    again = client.post(f"{API}/{res.path}", json=res.create(world.ids), headers=h)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith(PROBLEM)
    assert again.json()["field"] == "name"
    assert again.json()["type"] == "urn:hexmill:problem:conflict"


def test_same_name_under_another_parent_is_fine(client: TestClient, world: World) -> None:
    h = world.headers
    site2 = client.post(f"{API}/sites", json={"name": "Site two"}, headers=h).json()["id"]
    response = client.post(f"{API}/areas", json={"site_id": site2, "name": "Hall 1"}, headers=h)
    assert response.status_code == 201
    moved = client.patch(f"{API}/areas/{response.json()['id']}", json={"site_id": world.ids["site"]}, headers=h)
    assert moved.status_code == 409
    assert moved.json()["field"] == "name"


def test_rename_onto_a_sibling_is_a_conflict(client: TestClient, world: World) -> None:
    h = world.headers
    other = client.post(f"{API}/sites", json={"name": "Site two"}, headers=h).json()["id"]
    response = client.patch(f"{API}/sites/{other}", json={"name": "Suzhou plant"}, headers=h)
    assert response.status_code == 409
    assert response.json()["field"] == "name"


@pytest.mark.parametrize(
    "case",
    [
        ("site", "sites", "areas", "Suzhou plant"),
        ("area", "areas", "lines", "Hall 1"),
        ("line", "lines", "equipment", "Milling"),
        ("equipment_type", "equipment-types", "equipment", "DMU 50"),
    ],
)
def test_deleting_a_parent_with_children_is_refused(client: TestClient, world: World, case: tuple) -> None:
    key, path, field, word = case
    response = client.delete(f"{API}/{path}/{world.ids[key]}", headers=world.headers)
    assert response.status_code == 409
    assert response.json()["field"] == field
    assert word in response.json()["detail"]
    assert client.get(f"{API}/{path}/{world.ids[key]}", headers=world.headers).status_code == 200


def test_deleting_equipment_takes_its_tags(client: TestClient, world: World) -> None:
    h = world.headers
    assert client.delete(f"{API}/equipment/{world.ids['equipment']}", headers=h).status_code == 204
    assert client.get(f"{API}/tags/{world.ids['tag']}", headers=h).status_code == 404
    assert client.get(f"{API}/tags/{world.ids['type_tag']}", headers=h).status_code == 200
    assert client.delete(f"{API}/lines/{world.ids['line']}", headers=h).status_code == 204


# -- 422: input validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("sites", {"name": "x" * 201}, "name"),
        ("sites", {"name": "   "}, "name"),
        ("sites", {"name": "ok", "colour": "red"}, "colour"),
        ("sites", {"name": "bad\x00name"}, "name"),
        ("sites", {"name": "ok", "description": "d" * 2001}, "description"),
        ("lines", {"area_id": 1, "name": "L", "kind": "loop"}, "kind"),
        ("tags", {"equipment_id": 1, "name": "t", "data_type": "complex"}, "data_type"),
        ("tags", {"equipment_id": 1, "name": "t", "unit": "u" * 33}, "unit"),
        ("equipment", {"line_id": 1, "name": "e", "serial_number": "s" * 101}, "serial_number"),
        ("equipment-types", {"name": "t", "manufacturer": "m" * 201}, "manufacturer"),
    ],
)
def test_invalid_input_names_the_field(client: TestClient, world: World, path: str, body: dict, field: str) -> None:
    response = client.post(f"{API}/{path}", json=body, headers=world.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == field


def test_tag_needs_exactly_one_owner(client: TestClient, world: World) -> None:
    both = {"equipment_id": world.ids["equipment"], "equipment_type_id": world.ids["equipment_type"], "name": "t"}
    assert client.post(f"{API}/tags", json=both, headers=world.headers).status_code == 422
    assert client.post(f"{API}/tags", json={"name": "t"}, headers=world.headers).status_code == 422


# -- 401: no credentials ------------------------------------------------------------------------


def test_every_endpoint_needs_credentials(client: TestClient, world: World) -> None:
    for method, path in endpoints(world.ids):
        response = client.request(method, f"{API}{path}", json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["type"] == "urn:hexmill:problem:not-authenticated"
        assert "Suzhou" not in response.text


# -- 403: roles and token scopes ---------------------------------------------------------------


def test_operator_reads_but_cannot_write(client: TestClient, world: World, actor_factory) -> None:
    operator = actor_factory("operator", tenant=world.actor.tenant)
    for method, path in endpoints(world.ids):
        response = client.request(method, f"{API}{path}", json={}, headers=operator.headers)
        if method in WRITES:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"
        else:
            assert response.status_code == 200, (method, path, response.text)
    assert client.get(f"{API}/sites/{world.ids['site']}", headers=world.headers).json()["name"] == "Suzhou plant"


def test_a_token_without_asset_scopes_can_do_nothing(client: TestClient, world: World, actor_factory) -> None:
    # A token's scopes narrow its user's rights; an empty list in core means "all", so the
    # narrowest asset-free token is one scoped to something else.
    scoped = actor_factory("tenant_admin", tenant=world.actor.tenant, scopes=["users.view"])
    for method, path in endpoints(world.ids):
        response = client.request(method, f"{API}{path}", json={}, headers=scoped.headers)
        assert response.status_code == 403, (method, path, response.text)
        assert "Suzhou" not in response.text


def test_a_view_scoped_token_cannot_write(client: TestClient, world: World, actor_factory) -> None:
    scoped = actor_factory("tenant_admin", tenant=world.actor.tenant, scopes=["assets.view"])
    response = client.post(f"{API}/sites", json={"name": "Sneaky"}, headers=scoped.headers)
    assert response.status_code == 403
    assert client.get(f"{API}/sites", headers=scoped.headers).status_code == 200


def test_maintenance_role_may_edit(client: TestClient, world: World, actor_factory) -> None:
    maintenance = actor_factory("maintenance", tenant=world.actor.tenant)
    response = client.patch(
        f"{API}/equipment/{world.ids['equipment']}", json={"serial_number": "S2"}, headers=maintenance.headers
    )
    assert response.status_code == 200
    assert response.json()["serial_number"] == "S2"


# -- 404: another enterprise's objects ----------------------------------------------------------


def test_another_enterprises_objects_are_not_found(client: TestClient, world: World, world_factory) -> None:
    intruder = world_factory()
    for method, path in endpoints(world.ids):
        if "/" not in path.strip("/").split("?")[0] or path.startswith(("/assets", "/equipment/aas")):
            continue  # lists and collection endpoints have no id to probe
        response = client.request(method, f"{API}{path}", json={}, headers=intruder.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["type"] == "urn:hexmill:problem:not-found"
        assert "Suzhou" not in response.text
    # The objects are untouched and still the owner's.
    for res in RESOURCES:
        assert client.get(f"{API}/{res.path}/{world.ids[res.key]}", headers=world.headers).status_code == 200


@pytest.mark.parametrize("res", RESOURCES, ids=str)
def test_lists_show_only_the_own_enterprise(client: TestClient, world: World, world_factory, res: Resource) -> None:
    other = world_factory()
    mine = {
        i["id"] for i in client.get(f"{API}/{res.path}", params={"limit": 500}, headers=world.headers).json()["items"]
    }
    theirs = {
        i["id"] for i in client.get(f"{API}/{res.path}", params={"limit": 500}, headers=other.headers).json()["items"]
    }
    assert world.ids[res.key] in mine
    assert other.ids[res.key] in theirs
    assert not mine & theirs


@pytest.mark.parametrize(
    "case",
    [
        ("areas", lambda ids: {"site_id": ids["site"], "name": "x"}, "site_id"),
        ("lines", lambda ids: {"area_id": ids["area"], "name": "x"}, "area_id"),
        ("equipment", lambda ids: {"line_id": ids["line"], "name": "x"}, "line_id"),
        ("tags", lambda ids: {"equipment_id": ids["equipment"], "name": "x"}, "equipment_id"),
        ("tags", lambda ids: {"equipment_type_id": ids["equipment_type"], "name": "x"}, "equipment_type_id"),
    ],
)
def test_cannot_attach_to_another_enterprises_parent(client: TestClient, world: World, world_factory, case) -> None:
    path, body, field = case
    intruder = world_factory()
    response = client.post(f"{API}/{path}", json=body(world.ids), headers=intruder.headers)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert "Suzhou" not in response.text
    assert "Milling" not in response.text


def test_cannot_move_into_another_enterprises_parent(client: TestClient, world: World, world_factory) -> None:
    intruder = world_factory()
    response = client.patch(
        f"{API}/areas/{intruder.ids['area']}", json={"site_id": world.ids["site"]}, headers=intruder.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "site_id"


def test_writes_are_audited(client: TestClient, world: World) -> None:
    audit = client.get(f"{API}/audit", params={"action": "assets.", "limit": 500}, headers=world.headers).json()
    actions = {e["action"] for e in audit["items"]}
    assert {
        "assets.site.create",
        "assets.area.create",
        "assets.line.create",
        "assets.equipment_type.create",
        "assets.equipment.create",
        "assets.tag.create",
    } <= actions
