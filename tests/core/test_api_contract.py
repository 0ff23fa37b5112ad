"""Contract tests of the core API: CRUD, 401 without credentials, 403 without permission,
404 for another tenant's objects (never their data)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"

ENDPOINTS = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/parks"),
    ("POST", "/api/v1/parks"),
    ("GET", "/api/v1/parks/1"),
    ("PATCH", "/api/v1/parks/1"),
    ("DELETE", "/api/v1/parks/1"),
    ("GET", "/api/v1/tenants"),
    ("POST", "/api/v1/tenants"),
    ("GET", "/api/v1/tenants/1"),
    ("PATCH", "/api/v1/tenants/1"),
    ("DELETE", "/api/v1/tenants/1"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/1"),
    ("PATCH", "/api/v1/users/1"),
    ("DELETE", "/api/v1/users/1"),
    ("GET", "/api/v1/roles"),
    ("POST", "/api/v1/roles"),
    ("GET", "/api/v1/roles/1"),
    ("PATCH", "/api/v1/roles/1"),
    ("DELETE", "/api/v1/roles/1"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens/1"),
    ("DELETE", "/api/v1/tokens/1"),
    ("GET", "/api/v1/audit"),
    ("POST", "/api/v1/me/password"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_needs_credentials(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == "urn:hexmill:problem:not-authenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_or_garbled_token_is_refused(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    assert client.get("/api/v1/me", headers=actor.headers).status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": actor.headers["Authorization"] + "x"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    token_id = client.get("/api/v1/tokens", headers=actor.headers).json()[0]["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=actor.headers).status_code == 204
    assert client.get("/api/v1/me", headers=actor.headers).status_code == 401


# -- parks: platform admin only for writes ---------------------------------------------------------


def test_parks_crud_by_platform_admin(client: TestClient, actor_factory) -> None:
    admin = actor_factory(platform_admin=True)
    created = client.post(
        "/api/v1/parks", json={"name": f"Park {admin.user.id}", "region_code": "320500"}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    park = created.json()
    assert client.get(f"/api/v1/parks/{park['id']}", headers=admin.headers).json()["name"] == park["name"]
    patched = client.patch(f"/api/v1/parks/{park['id']}", json={"description": "Suzhou"}, headers=admin.headers)
    assert patched.json()["description"] == "Suzhou"
    assert park["id"] in [p["id"] for p in client.get("/api/v1/parks", headers=admin.headers).json()]
    assert client.delete(f"/api/v1/parks/{park['id']}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/parks/{park['id']}", headers=admin.headers).status_code == 404


def test_tenant_admin_cannot_write_parks(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    response = client.post("/api/v1/parks", json={"name": "Not mine"}, headers=actor.headers)
    assert response.status_code == 403
    assert response.json()["type"] == "urn:hexmill:problem:permission-denied"


# -- tenants ---------------------------------------------------------------------------------------


def test_tenants_crud_by_platform_admin(client: TestClient, actor_factory) -> None:
    admin = actor_factory(platform_admin=True)
    body = {
        "name": f"Textile {admin.user.id}",
        "registry_id": f"91320500MA1{admin.user.id:07d}"[:18].ljust(18, "X"),
        "size_class": "small",
        "industry_code": "C17",
        "region_code": "320500",
    }
    created = client.post("/api/v1/tenants", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    assert client.get(f"/api/v1/tenants/{tid}", headers=admin.headers).json()["size_class"] == "small"
    assert (
        client.patch(f"/api/v1/tenants/{tid}", json={"size_class": "medium"}, headers=admin.headers).json()[
            "size_class"
        ]
        == "medium"
    )
    assert tid in [t["id"] for t in client.get("/api/v1/tenants", headers=admin.headers).json()]
    assert client.delete(f"/api/v1/tenants/{tid}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/tenants/{tid}", headers=admin.headers).status_code == 404


def test_tenant_admin_sees_and_edits_only_own_tenant(client: TestClient, actor_factory, tenant_factory) -> None:
    actor = actor_factory()
    other = tenant_factory()
    listed = client.get("/api/v1/tenants", headers=actor.headers).json()
    assert [t["id"] for t in listed] == [actor.tenant.id]
    assert client.get(f"/api/v1/tenants/{other.id}", headers=actor.headers).status_code == 404
    assert (
        client.patch(f"/api/v1/tenants/{other.id}", json={"size_class": "large"}, headers=actor.headers).status_code
        == 404
    )
    own = client.patch(f"/api/v1/tenants/{actor.tenant.id}", json={"industry_code": "C34"}, headers=actor.headers)
    assert own.status_code == 200
    assert own.json()["industry_code"] == "C34"
    # Moving itself into a park or deactivating itself is the platform's call.
    assert (
        client.patch(f"/api/v1/tenants/{actor.tenant.id}", json={"is_active": False}, headers=actor.headers).status_code
        == 403
    )
    assert client.post("/api/v1/tenants", json={"name": "x"}, headers=actor.headers).status_code == 403
    assert client.delete(f"/api/v1/tenants/{actor.tenant.id}", headers=actor.headers).status_code == 403


def test_viewer_cannot_edit_tenant(client: TestClient, actor_factory) -> None:
    viewer = actor_factory("viewer")
    assert (
        client.patch(
            f"/api/v1/tenants/{viewer.tenant.id}", json={"industry_code": "C1"}, headers=viewer.headers
        ).status_code
        == 403
    )


# -- users ---------------------------------------------------------------------------------------


def test_users_crud(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    name = f"op{admin.user.id}x"
    created = client.post(
        "/api/v1/users",
        json={"username": name, "password": "long enough pw", "role": "operator"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    uid = created.json()["user_id"]
    assert created.json()["role"] == "operator"
    assert client.get(f"/api/v1/users/{uid}", headers=admin.headers).json()["username"] == name
    changed = client.patch(
        f"/api/v1/users/{uid}", json={"role": "planner", "display_name": "Li Lei"}, headers=admin.headers
    )
    assert changed.json()["role"] == "planner"
    assert changed.json()["display_name"] == "Li Lei"
    assert name in [u["username"] for u in client.get("/api/v1/users", headers=admin.headers).json()]
    assert client.delete(f"/api/v1/users/{uid}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/users/{uid}", headers=admin.headers).status_code == 404


def test_users_of_another_tenant_are_invisible(client: TestClient, actor_factory) -> None:
    mine, theirs = actor_factory(), actor_factory()
    uid = theirs.user.id
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(
            method, f"/api/v1/users/{uid}", json={"role": "viewer"} if method == "PATCH" else None, headers=mine.headers
        )
        assert response.status_code == 404
        assert theirs.user.username not in response.text
    assert theirs.user.username not in client.get("/api/v1/users", headers=mine.headers).text


def test_viewer_cannot_manage_users(client: TestClient, actor_factory) -> None:
    viewer = actor_factory("viewer")
    assert client.get("/api/v1/users", headers=viewer.headers).status_code == 200
    response = client.post(
        "/api/v1/users",
        json={"username": "nope1", "password": "long enough pw", "role": "viewer"},
        headers=viewer.headers,
    )
    assert response.status_code == 403
    assert client.delete(f"/api/v1/users/{viewer.user.id}", headers=viewer.headers).status_code == 403


def test_operator_cannot_even_list_users(client: TestClient, actor_factory) -> None:
    operator = actor_factory("operator")
    assert client.get("/api/v1/users", headers=operator.headers).status_code == 403


def test_short_password_and_unknown_role_are_refused(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    short = client.post(
        "/api/v1/users", json={"username": "shorty", "password": "abc", "role": "viewer"}, headers=admin.headers
    )
    assert short.status_code == 422
    assert short.json()["field"] == "password"
    unknown = client.post(
        "/api/v1/users",
        json={"username": "norole", "password": "long enough pw", "role": "emperor"},
        headers=admin.headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "role"


def test_duplicate_username_is_a_conflict_naming_the_field(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    body = {"username": f"dup{admin.user.id}", "password": "long enough pw", "role": "viewer"}
    assert client.post("/api/v1/users", json=body, headers=admin.headers).status_code == 201
    again = client.post("/api/v1/users", json=body, headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["field"] == "username"


# -- roles ---------------------------------------------------------------------------------------


def test_roles_crud(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    builtin = {r["name"] for r in client.get("/api/v1/roles", headers=admin.headers).json() if r["builtin"]}
    assert {"tenant_admin", "planner", "operator", "quality", "maintenance", "viewer"} <= builtin
    created = client.post(
        "/api/v1/roles", json={"name": "inspector", "permissions": ["assets.view"]}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    patched = client.patch(
        f"/api/v1/roles/{rid}", json={"permissions": ["assets.view", "audit.view"]}, headers=admin.headers
    )
    assert patched.json()["permissions"] == ["assets.view", "audit.view"]
    assert client.get(f"/api/v1/roles/{rid}", headers=admin.headers).json()["name"] == "inspector"
    assert client.delete(f"/api/v1/roles/{rid}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/roles/{rid}", headers=admin.headers).status_code == 404


def test_a_custom_role_grants_exactly_its_permissions(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    client.post("/api/v1/roles", json={"name": "auditor", "permissions": ["audit.view"]}, headers=admin.headers)
    auditor = actor_factory("auditor", tenant=admin.tenant)
    assert client.get("/api/v1/audit", headers=auditor.headers).status_code == 200
    assert client.get("/api/v1/users", headers=auditor.headers).status_code == 403


def test_builtin_roles_are_read_only_and_held_roles_stay(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    roles = client.get("/api/v1/roles", headers=admin.headers).json()
    viewer_id = next(r["id"] for r in roles if r["name"] == "viewer")
    assert (
        client.patch(f"/api/v1/roles/{viewer_id}", json={"permissions": []}, headers=admin.headers).status_code == 409
    )
    assert client.delete(f"/api/v1/roles/{viewer_id}", headers=admin.headers).status_code == 409
    rid = client.post("/api/v1/roles", json={"name": "held", "permissions": []}, headers=admin.headers).json()["id"]
    actor_factory("held", tenant=admin.tenant)
    assert client.delete(f"/api/v1/roles/{rid}", headers=admin.headers).status_code == 409


def test_roles_of_another_tenant_are_invisible(client: TestClient, actor_factory) -> None:
    mine, theirs = actor_factory(), actor_factory()
    rid = client.post("/api/v1/roles", json={"name": "secret_role", "permissions": []}, headers=theirs.headers).json()[
        "id"
    ]
    assert client.get(f"/api/v1/roles/{rid}", headers=mine.headers).status_code == 404
    assert client.patch(f"/api/v1/roles/{rid}", json={"description": "x"}, headers=mine.headers).status_code == 404
    assert client.delete(f"/api/v1/roles/{rid}", headers=mine.headers).status_code == 404
    assert "secret_role" not in client.get("/api/v1/roles", headers=mine.headers).text


def test_unknown_permissions_are_refused(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    response = client.post(
        "/api/v1/roles", json={"name": "weird", "permissions": ["nuclear.launch"]}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "permissions"


def test_planner_cannot_manage_roles(client: TestClient, actor_factory) -> None:
    planner = actor_factory("planner")
    assert (
        client.post("/api/v1/roles", json={"name": "x1", "permissions": []}, headers=planner.headers).status_code == 403
    )


# -- tokens --------------------------------------------------------------------------------------


def test_tokens_crud_and_secret_shown_once(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    created = client.post("/api/v1/tokens", json={"name": "scada", "scopes": ["assets.view"]}, headers=actor.headers)
    assert created.status_code == 201, created.text
    secret = created.json()["token"]
    tid = created.json()["id"]
    assert secret.startswith("hxm_")
    fetched = client.get(f"/api/v1/tokens/{tid}", headers=actor.headers)
    assert "token" not in fetched.json()
    assert secret not in client.get("/api/v1/tokens", headers=actor.headers).text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()
    assert me["permissions"] == ["assets.view"]
    assert client.delete(f"/api/v1/tokens/{tid}", headers=actor.headers).status_code == 204
    assert client.get(f"/api/v1/tokens/{tid}", headers=actor.headers).json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_scoped_token_cannot_exceed_its_scopes(client: TestClient, actor_factory) -> None:
    narrow = actor_factory(scopes=["assets.view"])
    assert client.get("/api/v1/users", headers=narrow.headers).status_code == 403
    assert client.get("/api/v1/audit", headers=narrow.headers).status_code == 403


def test_a_token_cannot_hold_more_than_its_user(client: TestClient, actor_factory) -> None:
    viewer = actor_factory("viewer")
    response = client.post(
        "/api/v1/tokens", json={"name": "greedy", "scopes": ["users.manage"]}, headers=viewer.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "scopes"


def test_an_expired_token_is_refused(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    past = client.post(
        "/api/v1/tokens", json={"name": "old", "expires_at": "2001-01-01T00:00:00Z"}, headers=actor.headers
    )
    assert past.status_code == 422
    assert past.json()["field"] == "expires_at"


def test_tokens_of_others_are_invisible(client: TestClient, actor_factory) -> None:
    mine, theirs = actor_factory(), actor_factory()
    colleague = actor_factory("viewer", tenant=mine.tenant)
    their_id = client.get("/api/v1/tokens", headers=theirs.headers).json()[0]["id"]
    colleague_id = client.get("/api/v1/tokens", headers=colleague.headers).json()[0]["id"]
    assert client.get(f"/api/v1/tokens/{their_id}", headers=mine.headers).status_code == 404
    assert client.delete(f"/api/v1/tokens/{their_id}", headers=mine.headers).status_code == 404
    # Within the tenant, tokens.manage sees a colleague's token; the colleague can't see the admin's.
    assert client.get(f"/api/v1/tokens/{colleague_id}", headers=mine.headers).status_code == 200
    my_id = client.get("/api/v1/tokens", headers=mine.headers).json()
    admin_token = next(t["id"] for t in my_id if t["user_id"] == mine.user.id)
    assert client.get(f"/api/v1/tokens/{admin_token}", headers=colleague.headers).status_code == 404


# -- audit ---------------------------------------------------------------------------------------


def test_writes_are_audited_and_filterable(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    client.post("/api/v1/roles", json={"name": "audited", "permissions": []}, headers=admin.headers)
    page = client.get("/api/v1/audit", params={"action": "role."}, headers=admin.headers).json()
    assert page["total"] >= 1
    entry = page["items"][0]
    assert entry["action"] == "role.create"
    assert entry["username"] == admin.user.username
    assert entry["tenant_id"] == admin.tenant.id
    assert entry["result"] == "success"
    assert all(item["action"].startswith("role.") for item in page["items"])


def test_audit_of_another_tenant_is_invisible(client: TestClient, actor_factory) -> None:
    mine, theirs = actor_factory(), actor_factory()
    client.post("/api/v1/roles", json={"name": "their_secret", "permissions": []}, headers=theirs.headers)
    text = client.get("/api/v1/audit", params={"limit": 500}, headers=mine.headers).text
    assert "their_secret" not in text
    assert theirs.user.username not in text
    # A tenant admin's tenant_id filter cannot reach across either.
    other = client.get("/api/v1/audit", params={"tenant_id": theirs.tenant.id}, headers=mine.headers).json()
    assert all(item["tenant_id"] == mine.tenant.id for item in other["items"])


def test_failed_token_logins_are_audited_for_the_platform(client: TestClient, actor_factory) -> None:
    admin = actor_factory(platform_admin=True)
    since = client.get("/api/v1/audit", params={"limit": 1}, headers=admin.headers).json()["items"][0]["at"]
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer hxm_deadbeef_nope"}).status_code == 401
    page = client.get(
        "/api/v1/audit", params={"action": "auth.token", "result": "failure", "since": since}, headers=admin.headers
    ).json()
    assert page["total"] >= 1
    assert page["items"][0]["tenant_id"] is None
    # A tenant admin does not see platform-level entries.
    tenant_admin = actor_factory()
    mine = client.get("/api/v1/audit", params={"action": "auth.token"}, headers=tenant_admin.headers).json()
    assert mine["total"] == 0


def test_viewer_cannot_read_audit(client: TestClient, actor_factory) -> None:
    viewer = actor_factory("viewer")
    assert client.get("/api/v1/audit", headers=viewer.headers).status_code == 403


def test_audit_filter_with_a_bad_date_names_the_filter(client: TestClient, actor_factory) -> None:
    admin = actor_factory()
    response = client.get("/api/v1/audit", params={"since": "yesterday"}, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "since"


def test_a_token_with_empty_scopes_holds_no_permission(client: TestClient, actor_factory) -> None:
    empty = actor_factory(scopes=[])
    me = client.get("/api/v1/me", headers=empty.headers)
    assert me.status_code == 200
    assert me.json()["permissions"] == []
    assert client.get("/api/v1/audit", headers=empty.headers).status_code == 403
