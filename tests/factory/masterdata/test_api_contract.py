"""Contract tests of the master-data API: CRUD per resource, 401 without credentials, 403 without
permission, 404 for another enterprise's objects (never their data), 409/422 on clashes and bad input,
a BOM cycle refused and named, a conversion without factor refused naming both units, CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v1/factory"
PROBLEM = "application/problem+json"
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
SECRET = "Zhongshan Gearworks"


@dataclass
class World:
    """One enterprise's master data: units, items A → B → C, a party, BOM, work centre, operation."""

    actor: Any
    ids: dict[str, int]

    @property
    def headers(self) -> dict[str, str]:
        """Return the headers of the enterprise's admin."""
        headers: dict[str, str] = self.actor.headers
        return headers


def _post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> int:
    response = client.post(f"{API}/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


@pytest.fixture
def world_factory(client: TestClient, actor_factory: Callable[..., Any]) -> Callable[..., World]:
    """Build master data for a new tenant admin (in a new enterprise unless one is given)."""

    def make(**actor_kwargs: Any) -> World:
        actor = actor_factory("tenant_admin", **actor_kwargs)
        h = actor.headers
        units = client.get(f"{API}/uoms", params={"limit": 500}, headers=h).json()["items"]
        ids = {f"uom_{u['code']}": u["id"] for u in units}
        ids["uom"] = _post(client, h, "uoms", {"code": "box", "name": "Box", "category": "count"})
        pcs = ids["uom_pcs"]
        ids["item"] = _post(client, h, "items", {"code": "A", "name": SECRET, "kind": "finished", "uom_id": pcs})
        ids["item_b"] = _post(client, h, "items", {"code": "B", "name": "Gear", "kind": "semi_finished", "uom_id": pcs})
        ids["item_c"] = _post(
            client, h, "items", {"code": "C", "name": "Steel", "kind": "raw", "uom_id": ids["uom_kg"]}
        )
        ids["conversion"] = _post(
            client,
            h,
            "conversions",
            {"from_uom_id": ids["uom"], "to_uom_id": pcs, "factor": "12", "item_id": ids["item_b"]},
        )
        ids["party"] = _post(client, h, "parties", {"code": "P1", "name": SECRET, "is_customer": True})
        ids["bom"] = _post(client, h, "boms", {"item_id": ids["item"], "version": "1", "is_default": True})
        ids["bom_line"] = _post(client, h, f"boms/{ids['bom']}/lines", {"component_id": ids["item_b"], "quantity": "2"})
        ids["bom_b"] = _post(client, h, "boms", {"item_id": ids["item_b"], "version": "1", "is_default": True})
        _post(
            client,
            h,
            f"boms/{ids['bom_b']}/lines",
            {"component_id": ids["item_c"], "quantity": "500", "uom_id": ids["uom_g"], "scrap_factor": "0.2"},
        )
        ids["work_centre"] = _post(
            client, h, "work-centres", {"code": "WC1", "name": SECRET, "timezone": "Asia/Shanghai"}
        )
        ids["operation"] = _post(
            client,
            h,
            "operations",
            {
                "item_id": ids["item"],
                "sequence": 10,
                "name": "Assemble",
                "work_centre_id": ids["work_centre"],
                "run_minutes": "1.5",
            },
        )
        return World(actor=actor, ids=ids)

    return make


@pytest.fixture
def world(world_factory: Callable[..., World]) -> World:
    """Return master data of a fresh enterprise."""
    return world_factory()


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
    Resource(
        "uoms",
        "uom",
        lambda ids: {"code": "crate", "name": "Crate", "category": "count"},
        {"name": "Wooden crate"},
        lambda ids: {"category": "count", "code": "cra"},
    ),
    Resource(
        "conversions",
        "conversion",
        lambda ids: {"from_uom_id": ids["uom"], "to_uom_id": ids["uom_pcs"], "factor": "24", "item_id": ids["item"]},
        {"factor": "30"},
        lambda ids: {"item_id": ids["item"]},
    ),
    Resource(
        "items",
        "item",
        lambda ids: {"code": "D", "name": "Bolt", "kind": "raw", "uom_id": ids["uom_pcs"], "tracking": "lot"},
        {"name": "Bolt M8"},
        lambda ids: {"code": "D", "kind": "raw"},
    ),
    Resource(
        "parties",
        "party",
        lambda ids: {"code": "S1", "name": "Steel mill", "is_supplier": True, "email": "sales@mill.example"},
        {"phone": "+86 21 5555 0101"},
        lambda ids: {"is_supplier": "true", "name": "mill"},
    ),
    Resource(
        "boms",
        "bom",
        lambda ids: {"item_id": ids["item_c"], "version": "2", "effective_from": "2026-01-01"},
        {"description": "Alternative"},
        lambda ids: {"item_id": ids["item_c"]},
    ),
    Resource(
        "operations",
        "operation",
        lambda ids: {"item_id": ids["item_b"], "sequence": 20, "name": "Mill", "work_centre_id": ids["work_centre"]},
        {"name": "Mill teeth"},
        lambda ids: {"item_id": ids["item_b"]},
    ),
    Resource(
        "work-centres",
        "work_centre",
        lambda ids: {"code": "WC2", "name": "Paint shop", "parallel_capacity": 2},
        {"name": "Paint line"},
        lambda ids: {"code": "WC2"},
    ),
]


def endpoints(ids: dict[str, int]) -> list[tuple[str, str]]:
    """Return every endpoint of the master-data API, with real ids of ``ids`` in the paths."""
    out = [
        ("GET", f"/items/{ids['item']}/options"),
        ("PUT", f"/items/{ids['item']}/options"),
        ("GET", f"/items/{ids['item_b']}/convert?quantity=1&from_uom_id={ids['uom']}&to_uom_id={ids['uom_pcs']}"),
        ("GET", f"/items/{ids['item']}/bom-tree"),
        ("POST", f"/boms/{ids['bom']}/lines"),
        ("PATCH", f"/boms/{ids['bom']}/lines/{ids['bom_line']}"),
        ("DELETE", f"/boms/{ids['bom']}/lines/{ids['bom_line']}"),
        ("PUT", f"/work-centres/{ids['work_centre']}/calendar"),
        ("GET", f"/work-centres/{ids['work_centre']}/intervals?start=2026-11-23T00:00:00Z&end=2026-11-24T00:00:00Z"),
    ]
    for res in RESOURCES:
        one = f"/{res.path}/{ids[res.key]}"
        out += [("GET", f"/{res.path}"), ("GET", f"/{res.path}.csv"), ("POST", f"/{res.path}")]
        out += [("GET", one), ("PATCH", one), ("DELETE", one)]
    return out


# -- CRUD --------------------------------------------------------------------------------------


@pytest.mark.parametrize("res", RESOURCES, ids=str)
def test_crud_works(client: TestClient, world: World, res: Resource) -> None:
    h = world.headers
    created = client.post(f"{API}/{res.path}", json=res.create(world.ids), headers=h)
    assert created.status_code == 201, created.text
    obj = created.json()
    for key, value in res.create(world.ids).items():
        assert str(obj[key]) == str(value) or obj[key] == value
    url = f"{API}/{res.path}/{obj['id']}"
    assert client.get(url, headers=h).json() == obj

    listed = client.get(f"{API}/{res.path}", params=res.list_filter(world.ids), headers=h)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert obj["id"] in [item["id"] for item in page["items"]]
    assert page["total"] == len(page["items"])

    exported = client.get(f"{API}/{res.path}.csv", params=res.list_filter(world.ids), headers=h)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert str(obj["id"]) in [r["id"] for r in rows]
    assert len(rows) == page["total"]

    patched = client.patch(url, json=res.update, headers=h)
    assert patched.status_code == 200, patched.text
    for key, value in res.update.items():
        assert str(patched.json()[key]) == str(value)

    assert client.delete(url, headers=h).status_code == 204
    assert client.get(url, headers=h).status_code == 404


def test_bom_cycle_is_refused_and_named(client: TestClient, world: World) -> None:
    h = world.headers
    bom_c = _post(client, h, "boms", {"item_id": world.ids["item_c"], "version": "1"})
    response = client.post(
        f"{API}/boms/{bom_c}/lines", json={"component_id": world.ids["item"], "quantity": "1"}, headers=h
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["field"] == "component_id"
    assert "C → A → B → C" in body["detail"]
    itself = client.post(
        f"{API}/boms/{bom_c}/lines", json={"component_id": world.ids["item_c"], "quantity": "1"}, headers=h
    )
    assert itself.status_code == 422
    assert "C → C" in itself.json()["detail"]


def test_conversion_without_factor_is_refused_naming_both_units(client: TestClient, world: World) -> None:
    h = world.headers
    response = client.get(
        f"{API}/items/{world.ids['item']}/convert",
        params={"quantity": "1", "from_uom_id": world.ids["uom"], "to_uom_id": world.ids["uom_pcs"]},
        headers=h,
    )
    assert response.status_code == 422
    assert "box" in response.json()["detail"]
    assert "pcs" in response.json()["detail"]
    line = client.post(
        f"{API}/boms/{world.ids['bom']}/lines",
        json={"component_id": world.ids["item_c"], "quantity": "1", "uom_id": world.ids["uom_m"]},
        headers=h,
    )
    assert line.status_code == 422
    assert "m" in line.json()["detail"]
    assert "kg" in line.json()["detail"]
    ok = client.get(
        f"{API}/items/{world.ids['item_b']}/convert",
        params={"quantity": "2", "from_uom_id": world.ids["uom"], "to_uom_id": world.ids["uom_pcs"]},
        headers=h,
    )
    assert ok.status_code == 200
    assert ok.json()["quantity"] == "24"


def test_bom_tree_explodes_all_levels_in_base_units(client: TestClient, world: World) -> None:
    tree = client.get(f"{API}/items/{world.ids['item']}/bom-tree", params={"quantity": "3"}, headers=world.headers)
    assert tree.status_code == 200, tree.text
    rows = [(r["level"], r["component_code"], float(r["quantity"]), r["uom_code"]) for r in tree.json()]
    # 3 A need 6 B; each B needs 500 g = 0.5 kg of C with 20 % scrap: 6 * 0.5 / 0.8 = 3.75 kg.
    assert rows == [(1, "B", 6.0, "pcs"), (2, "C", 3.75, "kg")]


def test_item_options_and_conditional_lines(client: TestClient, world: World) -> None:
    h = world.headers
    client.patch(f"{API}/items/{world.ids['item']}", json={"configurable": True}, headers=h)
    options = client.put(
        f"{API}/items/{world.ids['item']}/options",
        json={
            "groups": [
                {
                    "code": "colour",
                    "name": "Colour",
                    "values": [{"code": "red", "name": "Red"}, {"code": "blue", "name": "Blue"}],
                }
            ]
        },
        headers=h,
    )
    assert options.status_code == 200, options.text
    red = next(v["id"] for v in options.json()[0]["values"] if v["code"] == "red")
    paint = _post(
        client, h, "items", {"code": "PAINT-R", "name": "Red paint", "kind": "raw", "uom_id": world.ids["uom_l"]}
    )
    _post(
        client, h, f"boms/{world.ids['bom']}/lines", {"component_id": paint, "quantity": "0.1", "option_value_id": red}
    )
    plain = client.get(f"{API}/items/{world.ids['item']}/bom-tree", headers=h).json()
    assert "PAINT-R" not in [r["component_code"] for r in plain]
    red_tree = client.get(f"{API}/items/{world.ids['item']}/bom-tree", params={"options": red}, headers=h).json()
    assert "PAINT-R" in [r["component_code"] for r in red_tree]


def test_calendar_and_intervals(client: TestClient, world: World) -> None:
    h = world.headers
    wc = world.ids["work_centre"]
    cal = {
        "timezone": "Europe/Berlin",
        "shifts": [{"weekday": 5, "start": "22:00", "end": "06:00", "name": "Night"}],
        "holidays": [{"day": "2026-12-25", "name": "Christmas"}],
    }
    assert client.put(f"{API}/work-centres/{wc}/calendar", json=cal, headers=h).status_code == 200
    got = client.get(
        f"{API}/work-centres/{wc}/intervals",
        params={"start": "2026-03-28T00:00:00+01:00", "end": "2026-03-30T00:00:00+02:00"},
        headers=h,
    )
    assert got.status_code == 200, got.text
    assert [i["hours"] for i in got.json()] == [7.0]
    bad = client.put(f"{API}/work-centres/{wc}/calendar", json={**cal, "timezone": "Mars/Olympus"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["field"].endswith("timezone")
    naive = client.get(
        f"{API}/work-centres/{wc}/intervals",
        params={"start": "2026-03-28T00:00:00", "end": "2026-03-29T00:00:00"},
        headers=h,
    )
    assert naive.status_code == 422


def test_work_centre_links_to_assets_of_the_own_enterprise_only(
    client: TestClient, world: World, actor_factory: Callable[..., Any]
) -> None:
    h = world.headers
    site = client.post("/api/v1/sites", json={"name": "Plant"}, headers=h).json()["id"]
    area = client.post("/api/v1/areas", json={"site_id": site, "name": "Hall"}, headers=h).json()["id"]
    line = client.post(
        "/api/v1/lines", json={"area_id": area, "name": "Paint", "kind": "work_centre"}, headers=h
    ).json()["id"]
    linked = client.post(f"{API}/work-centres", json={"code": "L1", "name": "Linked", "asset_line_id": line}, headers=h)
    assert linked.status_code == 201, linked.text
    assert linked.json()["asset_line_id"] == line
    other = actor_factory("tenant_admin")
    response = client.post(
        f"{API}/work-centres", json={"code": "L1", "name": "x", "asset_line_id": line}, headers=other.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "asset_line_id"


def test_party_partner_must_be_an_enterprise_on_the_platform(
    client: TestClient, world: World, tenant_factory: Callable[..., Any]
) -> None:
    h = world.headers
    partner = tenant_factory()
    ok = client.post(
        f"{API}/parties",
        json={"code": "P2", "name": "Partner", "is_supplier": True, "partner_tenant_id": partner.id},
        headers=h,
    )
    assert ok.status_code == 201, ok.text
    bad = client.post(
        f"{API}/parties",
        json={"code": "P3", "name": "Ghost", "is_supplier": True, "partner_tenant_id": 2**31 - 1},
        headers=h,
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "partner_tenant_id"
    no_role = client.post(f"{API}/parties", json={"code": "P4", "name": "Nobody"}, headers=h)
    assert no_role.status_code == 422


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("items", {"code": "X", "name": "X", "kind": "gadget", "uom_id": 1}, "kind"),
        ("items", {"code": "X", "name": "X", "kind": "raw"}, "uom_id"),
        ("uoms", {"code": "q", "name": "Q", "category": "colour"}, "category"),
        ("work-centres", {"code": "W", "name": "W", "timezone": "Nowhere/City"}, "timezone"),
        ("work-centres", {"code": "W", "name": "W", "efficiency_pct": "0"}, "efficiency_pct"),
    ],
)
def test_invalid_input_names_the_field(
    client: TestClient, world: World, path: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"{API}/{path}", json=body, headers=world.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"].endswith(field)


def test_scrap_factor_of_one_is_refused(client: TestClient, world: World) -> None:
    response = client.post(
        f"{API}/boms/{world.ids['bom']}/lines",
        json={"component_id": world.ids["item_c"], "quantity": "1", "scrap_factor": "1"},
        headers=world.headers,
    )
    assert response.status_code == 422
    assert response.json()["field"].endswith("scrap_factor")


def test_duplicate_code_is_a_conflict(client: TestClient, world: World) -> None:
    body = {"code": "A", "name": "Again", "kind": "raw", "uom_id": world.ids["uom_pcs"]}
    response = client.post(f"{API}/items", json=body, headers=world.headers)
    assert response.status_code == 409
    assert response.json()["field"] == "code"


def test_deleting_a_component_in_use_is_refused(client: TestClient, world: World) -> None:
    response = client.delete(f"{API}/items/{world.ids['item_b']}", headers=world.headers)
    assert response.status_code == 409


# -- 401 / 403 / 404 ---------------------------------------------------------------------------


def test_every_endpoint_needs_credentials(client: TestClient, world: World) -> None:
    for method, path in endpoints(world.ids):
        response = client.request(method, f"{API}{path}", json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert SECRET not in response.text


def test_operator_reads_but_cannot_write(client: TestClient, world: World, actor_factory: Callable[..., Any]) -> None:
    operator = actor_factory("operator", tenant=world.actor.tenant)
    for method, path in endpoints(world.ids):
        response = client.request(method, f"{API}{path}", json={}, headers=operator.headers)
        if method in WRITES:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"] == "urn:hexmill:problem:permission-denied"
        else:
            assert response.status_code == 200, (method, path, response.text)


def test_a_token_without_factory_scopes_can_do_nothing(
    client: TestClient, world: World, actor_factory: Callable[..., Any]
) -> None:
    scoped = actor_factory("tenant_admin", tenant=world.actor.tenant, scopes=["users.view"])
    for method, path in endpoints(world.ids):
        response = client.request(method, f"{API}{path}", json={}, headers=scoped.headers)
        assert response.status_code == 403, (method, path, response.text)
        assert SECRET not in response.text


def test_planner_may_edit(client: TestClient, world: World, actor_factory: Callable[..., Any]) -> None:
    planner = actor_factory("planner", tenant=world.actor.tenant)
    response = client.patch(f"{API}/items/{world.ids['item_c']}", json={"name": "Steel S235"}, headers=planner.headers)
    assert response.status_code == 200


def test_another_enterprises_objects_are_not_found(
    client: TestClient, world: World, world_factory: Callable[..., World]
) -> None:
    intruder = world_factory()
    for method, path in endpoints(world.ids):
        if "/" not in path.strip("/").split("?")[0]:
            continue  # lists and collection endpoints have no id to probe
        response = client.request(method, f"{API}{path}", json={}, headers=intruder.headers)
        assert response.status_code in {404, 422}, (method, path, response.text)
        if response.status_code == 422:
            # A body the endpoint refuses before looking (PUT/POST with {}); probe again with a valid one.
            continue
        assert response.json()["type"] == "urn:hexmill:problem:not-found"
        assert SECRET not in response.text
    probes = [
        ("PUT", f"/items/{world.ids['item']}/options", {"groups": []}),
        ("POST", f"/boms/{world.ids['bom']}/lines", {"component_id": intruder.ids["item_c"], "quantity": "1"}),
        (
            "PUT",
            f"/work-centres/{world.ids['work_centre']}/calendar",
            {"timezone": "UTC", "shifts": [], "holidays": []},
        ),
    ]
    for method, path, body in probes:
        response = client.request(method, f"{API}{path}", json=body, headers=intruder.headers)
        assert response.status_code == 404, (method, path, response.text)
    for res in RESOURCES:
        assert client.get(f"{API}/{res.path}/{world.ids[res.key]}", headers=world.headers).status_code == 200


@pytest.mark.parametrize("res", RESOURCES, ids=str)
def test_lists_show_only_the_own_enterprise(
    client: TestClient, world: World, world_factory: Callable[..., World], res: Resource
) -> None:
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


def test_cannot_use_another_enterprises_items(
    client: TestClient, world: World, world_factory: Callable[..., World]
) -> None:
    intruder = world_factory()
    response = client.post(
        f"{API}/boms/{intruder.ids['bom']}/lines",
        json={"component_id": world.ids["item_c"], "quantity": "1"},
        headers=intruder.headers,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "component_id"
    assert SECRET not in response.text
