"""Console pages: login, logout, sessions, CSRF, language and enterprise switches, admin pages."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from hexmill.core.clock import utcnow
from hexmill.core.db import transaction
from hexmill.core.deps import SESSION_COOKIE
from hexmill.core.models import ConsoleSession, Membership, Role
from hexmill.core.security import digest
from hexmill.core.tenancy import set_scope
from tests.conftest import unique
from tests.web.conftest import Browser

FIELD_ERROR = re.compile(r'<p class="field-error" id="e-(\w+)">([^<]+)</p>')


def _row(session_factory, key: str) -> ConsoleSession | None:  # type: ignore[no-untyped-def]
    with transaction(session_factory) as db:
        return db.scalar(select(ConsoleSession).where(ConsoleSession.key_hash == digest(key)))


def _logged_in(browser: Browser, actor) -> Browser:  # type: ignore[no-untyped-def]
    response = browser.login(actor.user.username)
    assert response.status_code == 303, response.text
    return browser


# -- login, logout, sessions ----------------------------------------------------------------


def test_pages_redirect_to_login_without_a_session(browser: Browser) -> None:
    response = browser.get("/admin/users?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/users%3Fx%3D1"


def test_login_with_the_right_password_opens_a_session(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    response = browser.login(actor.user.username)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert browser.cookies.get(SESSION_COOKIE)
    home = browser.get("/")
    assert home.status_code == 200
    assert actor.user.username in home.text
    assert actor.tenant.name in home.text


def test_login_with_a_wrong_password_is_refused_and_says_why(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    response = browser.login(actor.user.username, "not the password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert SESSION_COOKIE not in browser.cookies


def test_login_error_is_translated(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    browser.cookies.set("hexmill_lang", "zh_CN")
    response = browser.login(actor.user.username, "not the password")
    assert response.status_code == 401
    assert "用户名或密码错误。" in response.text
    assert '<html lang="zh-CN">' in response.text


def test_login_without_the_form_token_is_refused(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    response = browser.post("/login", data={"username": actor.user.username, "password": "x"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in browser.cookies


def test_login_is_rate_limited_after_repeated_failures(browser: Browser, actor_factory, settings) -> None:
    actor = actor_factory()
    for _ in range(settings.login_max_failures):
        assert browser.login(actor.user.username, "wrong").status_code == 401
    response = browser.login(actor.user.username)  # even the right password, for now
    assert response.status_code == 429
    assert "Too many failed logins" in response.text
    assert SESSION_COOKIE not in browser.cookies


def test_next_only_redirects_within_the_site(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    token = browser.csrf("/login")
    response = browser.post(
        "/login",
        data={
            "username": actor.user.username,
            "password": "correct horse battery",
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_logout_ends_the_session_for_good(browser_factory, actor_factory, session_factory) -> None:
    actor = actor_factory()
    browser = _logged_in(browser_factory(), actor)
    key = browser.cookies[SESSION_COOKIE]
    assert _row(session_factory, key) is not None
    response = browser.post("/logout", data={"csrf_token": browser.csrf()}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert _row(session_factory, key) is None
    thief = browser_factory()
    thief.cookies.set(SESSION_COOKIE, key)
    assert thief.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_idle_session_expires(browser: Browser, actor_factory, session_factory, settings) -> None:
    actor = actor_factory()
    _logged_in(browser, actor)
    key = browser.cookies[SESSION_COOKIE]
    assert browser.get("/", follow_redirects=False).status_code == 200
    with transaction(session_factory) as db:
        db.execute(
            update(ConsoleSession)
            .where(ConsoleSession.key_hash == digest(key))
            .values(last_seen_at=utcnow() - timedelta(minutes=settings.session_idle_minutes + 1))
        )
    response = browser.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert _row(session_factory, key) is None


# -- CSRF -----------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    _logged_in(browser, actor)
    response = browser.post("/platform/parks", data={"name": unique("park")})
    assert response.status_code == 403
    assert "The form has expired" in response.text
    response = browser.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert browser.get("/", follow_redirects=False).status_code == 200  # still logged in


def test_htmx_requests_send_the_token_as_a_header(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    _logged_in(browser, actor)
    home = browser.get("/").text
    token = browser.csrf()
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in home
    response = browser.post(
        "/admin/roles",
        data={"name": "shift_lead", "permissions": ["assets.view"]},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
        follow_redirects=False,
    )
    assert response.status_code == 303


# -- language and enterprise ----------------------------------------------------------------


def test_language_switch_renders_chinese(browser: Browser, actor_factory, session_factory) -> None:
    actor = actor_factory()
    _logged_in(browser, actor)
    response = browser.post(
        "/lang", data={"locale": "zh_CN", "next": "/admin/users", "csrf_token": browser.csrf()}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users"
    assert browser.cookies["hexmill_lang"] == "zh_CN"
    assert _row(session_factory, browser.cookies[SESSION_COOKIE]).locale == "zh_CN"
    page = browser.get("/admin/users").text
    assert '<html lang="zh-CN">' in page
    for text in ("用户", "新建用户", "退出登录", "审计日志", "创建用户"):
        assert text in page
    assert "Create user" not in page


def test_language_switch_on_the_login_page(browser: Browser) -> None:
    token = browser.csrf("/login")
    response = browser.post("/lang", data={"locale": "zh_CN", "next": "/login", "csrf_token": token})
    assert response.status_code == 200
    assert "登录 hexmill" in response.text


def test_tenant_switch_refused_for_a_non_member(
    browser: Browser, actor_factory, tenant_factory, session_factory
) -> None:
    actor = actor_factory()
    other = tenant_factory()
    _logged_in(browser, actor)
    response = browser.post("/tenant", data={"tenant_id": str(other.id), "csrf_token": browser.csrf()})
    assert response.status_code == 404
    assert _row(session_factory, browser.cookies[SESSION_COOKIE]).tenant_id == actor.tenant.id


def test_tenant_switch_for_a_member_of_two(browser: Browser, actor_factory, tenant_factory, session_factory) -> None:
    actor = actor_factory()
    second = tenant_factory()
    with transaction(session_factory) as db:
        set_scope(db, second.id)
        role = db.scalar(select(Role).where(Role.name == "viewer"))
        db.add(Membership(tenant_id=second.id, user_id=actor.user.id, role_id=role.id))
    _logged_in(browser, actor)
    home = browser.get("/").text
    assert second.name in home  # offered in the switcher
    response = browser.post(
        "/tenant",
        data={"tenant_id": str(second.id), "csrf_token": browser.csrf(), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _row(session_factory, browser.cookies[SESSION_COOKIE]).tenant_id == second.id
    assert f"You are working in {second.name}." in browser.get("/").text


# -- admin pages ----------------------------------------------------------------------------


def test_user_form_shows_errors_inline(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    response = browser.post(
        "/admin/users",
        data={"username": "x", "password": "short", "role": "viewer", "csrf_token": browser.csrf()},
    )
    assert response.status_code == 422
    errors = dict(FIELD_ERROR.findall(response.text))
    assert errors["username"] == "Not in the expected format."
    assert 'value="x"' in response.text  # what was typed stays
    response = browser.post(
        "/admin/users",
        data={"username": unique("u"), "password": "short", "role": "viewer", "csrf_token": browser.csrf()},
    )
    assert dict(FIELD_ERROR.findall(response.text))["password"] == "Too short."


def test_inline_errors_are_translated(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    browser.cookies.set("hexmill_lang", "zh_CN")
    response = browser.post("/lang", data={"locale": "zh_CN", "csrf_token": browser.csrf()})
    response = browser.post(
        "/admin/users", data={"username": "", "password": "", "role": "viewer", "csrf_token": browser.csrf()}
    )
    assert response.status_code == 422
    assert dict(FIELD_ERROR.findall(response.text))["username"] == "此字段为必填项。"


def test_users_admin_create_change_deactivate_remove(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    name = unique("worker")
    response = browser.post(
        "/admin/users",
        data={"username": name, "password": "long enough password", "role": "operator", "csrf_token": browser.csrf()},
    )
    assert response.status_code == 200
    assert f"User {name} created." in response.text
    uid = re.search(rf"<td>{name}</td>.*?/admin/users/(\d+)/role", response.text, re.S).group(1)
    token = browser.csrf()
    assert (
        "Role changed." in browser.post(f"/admin/users/{uid}/role", data={"role": "planner", "csrf_token": token}).text
    )
    page = browser.post(f"/admin/users/{uid}/active", data={"is_active": "0", "csrf_token": token}).text
    assert "User deactivated." in page
    confirm = browser.post(f"/admin/users/{uid}/remove", data={"csrf_token": token})
    assert "Please confirm" in confirm.text  # without JavaScript, a confirmation page first
    page = browser.post(f"/admin/users/{uid}/remove", data={"csrf_token": token, "confirm": "yes"}).text
    assert "User removed." in page
    assert name not in page


def test_roles_builtin_read_only_and_own_roles_editable(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    page = browser.get("/admin/roles").text
    assert "Read the audit log" in page  # permission labels shown
    token = browser.csrf()
    response = browser.post(
        "/admin/roles", data={"name": "Bad Name", "permissions": ["assets.view"], "csrf_token": token}
    )
    assert response.status_code == 422
    assert "name" in dict(FIELD_ERROR.findall(response.text))
    response = browser.post(
        "/admin/roles", data={"name": "inspector", "permissions": ["assets.view", "audit.view"], "csrf_token": token}
    )
    assert "Role inspector created." in response.text
    role_id = re.search(r'href="/admin/roles/(\d+)">inspector<', response.text).group(1)
    form = browser.get(f"/admin/roles/{role_id}").text
    assert 'value="audit.view" checked' in form
    builtin_id = re.search(r'href="/admin/roles/(\d+)">viewer<', response.text).group(1)
    assert "Built-in roles are read-only." in browser.get(f"/admin/roles/{builtin_id}").text
    refused = browser.post(f"/admin/roles/{builtin_id}", data={"name": "viewer", "csrf_token": token})
    assert "Built-in roles cannot be changed." in refused.text


def test_tokens_show_the_secret_once_and_revoke(browser: Browser, actor_factory, client) -> None:
    _logged_in(browser, actor_factory())
    token = browser.csrf()
    response = browser.post("/tokens", data={"name": "plc-bridge", "csrf_token": token})
    assert response.status_code == 201
    secret = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', response.text).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = browser.get("/tokens").text
    assert "plc-bridge" in listing
    assert secret not in listing
    token_id = re.search(r'action="/tokens/(\d+)/revoke"', listing).group(1)
    page = browser.post(f"/tokens/{token_id}/revoke", data={"csrf_token": token, "confirm": "yes"}).text
    assert "Token plc-bridge revoked." in page
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_audit_page_uses_the_api_filters_and_pages(browser: Browser, actor_factory) -> None:
    actor = actor_factory()
    _logged_in(browser, actor)
    token = browser.csrf()
    for n in range(3):
        browser.post("/admin/roles", data={"name": f"r{n}x", "permissions": [], "csrf_token": token})
    page = browser.get("/audit?action=role.create").text
    assert page.count("<code>role.create</code>") == 3
    assert "<code>token.create</code>" not in page
    bad = browser.get("/audit?since=yesterday")
    assert bad.status_code == 422
    assert dict(FIELD_ERROR.findall(bad.text))["since"] == "Not a valid value."


def test_audit_page_paginates(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    token = browser.csrf()
    for n in range(51):
        browser.post(
            "/admin/roles", data={"name": f"p{n}x", "permissions": [], "csrf_token": token}, follow_redirects=False
        )
    first = browser.get("/audit?action=role.").text
    assert first.count("<code>role.create</code>") == 50
    assert "offset=50" in first
    second = browser.get("/audit?action=role.&offset=50").text
    assert second.count("<code>role.create</code>") == 1


def test_platform_pages_need_the_platform_admin(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory())
    assert browser.get("/platform/parks").status_code == 403
    assert browser.get("/platform/enterprises").status_code == 403


def test_platform_admin_manages_parks_and_enterprises(browser: Browser, actor_factory) -> None:
    _logged_in(browser, actor_factory(platform_admin=True))
    token = browser.csrf()
    park = unique("park")
    assert f"Park {park} created." in browser.post("/platform/parks", data={"name": park, "csrf_token": token}).text
    enterprise = unique("ent")
    bad = browser.post("/platform/enterprises", data={"name": enterprise, "registry_id": "123", "csrf_token": token})
    assert bad.status_code == 422
    assert "registry_id" in dict(FIELD_ERROR.findall(bad.text))
    page = browser.post(
        "/platform/enterprises", data={"name": enterprise, "size_class": "small", "csrf_token": token}
    ).text
    assert f"Enterprise {enterprise} created." in page
    tenant_id = re.search(rf'<td>{enterprise}</td>.*?href="/platform/enterprises/(\d+)"', page, re.S).group(1)
    page = browser.post(
        f"/platform/enterprises/{tenant_id}", data={"name": enterprise + "-x", "csrf_token": token}
    ).text
    assert f"Enterprise {enterprise}-x saved." in page


def test_platform_admin_audit_page_names_the_enterprise(browser_factory, actor_factory) -> None:
    admin = actor_factory(platform_admin=True)
    browser = browser_factory()
    assert browser.login(admin.user.username).status_code == 303
    page = browser.get("/audit")
    assert page.status_code == 200
    assert admin.tenant.name in page.text
