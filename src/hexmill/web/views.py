"""Console shell: mounting, login and logout, language and enterprise switches, the home page."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from hexmill.core import identity
from hexmill.core.db import transaction
from hexmill.core.deps import SESSION_COOKIE, DbSession, client_address, get_sessionmaker, get_settings_dep, login
from hexmill.core.errors import HexmillError
from hexmill.core.i18n import N_, get_locale, normalise, set_locale
from hexmill.core.models import ConsoleSession
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.web import admin
from hexmill.web.auth import (
    LOGIN_CSRF_COOKIE,
    Console,
    ConsoleRoute,
    Form,
    PageState,
    check_csrf,
    check_login_csrf,
    load_page_state,
    new_login_csrf,
    safe_next,
)
from hexmill.web.forms import domain_errors
from hexmill.web.templating import LANG_COOKIE, STATIC_DIR, flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def mount(app: FastAPI) -> None:
    """Mount the console pages, the domains' pages and the static files on ``app``."""
    app.include_router(router)
    app.include_router(admin.router)
    from hexmill.assets.views import router as asset_pages  # noqa: PLC0415 - pages load when mounted, not on import
    from hexmill.connect.registry.views import router as device_pages  # noqa: PLC0415 - as above
    from hexmill.factory.imports.views import router as import_pages  # noqa: PLC0415 - as above
    from hexmill.factory.inventory.views import router as inventory_pages  # noqa: PLC0415 - as above
    from hexmill.factory.kpi.views import router as kpi_pages  # noqa: PLC0415 - as above
    from hexmill.factory.maintenance.views import router as maintenance_pages  # noqa: PLC0415 - as above
    from hexmill.factory.masterdata.views import router as factory_pages  # noqa: PLC0415 - as above
    from hexmill.factory.production.views import router as production_pages  # noqa: PLC0415 - as above
    from hexmill.factory.purchasing.views import router as purchasing_pages  # noqa: PLC0415 - as above
    from hexmill.factory.quality.views import router as quality_pages  # noqa: PLC0415 - as above
    from hexmill.factory.sales.views import router as sales_pages  # noqa: PLC0415 - as above
    from hexmill.telemetry.views import router as telemetry_pages  # noqa: PLC0415 - as above

    app.include_router(asset_pages)
    app.include_router(device_pages)
    app.include_router(telemetry_pages)
    app.include_router(inventory_pages)
    # Before master data: its /factory/{slug} list pages would otherwise take /factory/import and /overview.
    app.include_router(import_pages)
    app.include_router(kpi_pages)
    app.include_router(factory_pages)
    app.include_router(purchasing_pages)
    app.include_router(sales_pages)
    app.include_router(production_pages)
    app.include_router(quality_pages)
    app.include_router(maintenance_pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def _cookie_secure(request: Request) -> bool:
    return bool(get_settings_dep(request).cookie_secure)


# -- login and logout -------------------------------------------------------------------------


def _login_page(
    request: Request, *, error: str = "", username: str = "", next_url: str = "/", status_code: int = 200
) -> Response:
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        status_code=status_code,
        anon_csrf=token,
        error=error,
        username=username,
        next_url=safe_next(next_url),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        secure=_cookie_secure(request),
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    """Show the login form (or go home when already logged in)."""
    state = await run_in_threadpool(load_page_state, request)
    if state is not None:
        return redirect(safe_next(next))
    return _login_page(request, next_url=next)


@router.post("/login")
async def login_submit(request: Request, form: Form) -> Response:
    """Check the credentials, open a console session and set its cookie."""
    check_login_csrf(request, form)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or "/"))
    try:
        user = await run_in_threadpool(login, request, username, password)
    except HexmillError as exc:
        return _login_page(
            request,
            error=domain_errors(exc).summary,
            username=username,
            next_url=next_url,
            status_code=exc.status,
        )
    chosen = normalise(request.cookies.get(LANG_COOKIE))

    def _start() -> str:
        with transaction(get_sessionmaker(request)) as db:
            set_scope(db, ALL_TENANTS)
            _row, key = identity.start_console_session(db, user, locale=chosen)
            return key

    key = await run_in_threadpool(_start)
    response = redirect(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        key,
        httponly=True,
        samesite="lax",
        path="/",
        secure=_cookie_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, page: Console) -> Response:
    """End the console session for good: its row is deleted, the cookie worthless."""
    set_scope(db, ALL_TENANTS)
    identity.end_console_session(db, page.key, client=client_address(request))
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return flash(request, response, N_("You have been logged out."))


# -- language and enterprise ------------------------------------------------------------------


@router.post("/lang")
async def switch_language(request: Request, form: Form) -> Response:
    """Switch the console's language; stored on the session (when logged in) and in a cookie."""
    locale = normalise(str(form.get("locale") or "")) or get_locale()
    state = await run_in_threadpool(load_page_state, request)
    if state is None:
        check_login_csrf(request, form)
    else:
        check_csrf(request, form, state)

        def _store() -> None:
            with transaction(get_sessionmaker(request)) as db:
                set_scope(db, ALL_TENANTS)
                row = db.get(ConsoleSession, state.row.id)
                if row is not None:
                    identity.set_console_locale(db, row, locale)

        await run_in_threadpool(_store)
    set_locale(locale)
    response = redirect(safe_next(str(form.get("next") or "/")))
    response.set_cookie(
        LANG_COOKIE,
        locale,
        max_age=365 * 24 * 3600,
        samesite="lax",
        path="/",
        secure=_cookie_secure(request),
    )
    return response


@router.post("/tenant")
def switch_tenant(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Switch the enterprise the console session acts in (members only; the platform admin: any)."""
    raw = str(form.get("tenant_id") or "").strip()
    tenant_id = int(raw) if raw.isdigit() else None
    set_scope(db, ALL_TENANTS)
    row = db.get(ConsoleSession, page.row.id)
    if row is None:
        return redirect("/login")
    identity.switch_console_tenant(db, row, page.user, tenant_id)
    response = redirect(safe_next(str(form.get("next") or "/")))
    return flash(request, response, N_("Switched enterprise."))


# -- home ---------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, page: Console) -> Response:
    """Show the start page: who you are, where you act, where to go next."""
    return render(request, "home.html", sections=_sections(page))


def _sections(page: PageState) -> list[dict[str, str]]:
    ctx = page.ctx
    out: list[dict[str, str]] = []
    if ctx.tenant_id is not None and ctx.can("assets.view"):
        out.append({"href": "/assets", "title": N_("Assets"), "text": N_("Sites, areas, lines, equipment and tags.")})
    if ctx.tenant_id is not None and ctx.can("factory.view"):
        out.append(
            {"href": "/factory", "title": N_("Factory"), "text": N_("Items, BOMs, routings, work centres, partners.")}
        )
    if ctx.tenant_id is not None and ctx.can("devices.view"):
        out.append({"href": "/devices", "title": N_("Devices"), "text": N_("Data sources of machines.")})
    if ctx.tenant_id is not None and ctx.can("users.view"):
        out.append({"href": "/admin/users", "title": N_("Users"), "text": N_("Who may log in, with which role.")})
    if ctx.tenant_id is not None:
        out.append({"href": "/admin/roles", "title": N_("Roles"), "text": N_("Named sets of permissions.")})
        out.append({"href": "/tokens", "title": N_("API tokens"), "text": N_("Keys for scripts and integrations.")})
    if ctx.can("audit.view"):
        out.append({"href": "/audit", "title": N_("Audit log"), "text": N_("Every change and every login.")})
    if ctx.is_platform_admin:
        out.append({"href": "/platform/parks", "title": N_("Parks"), "text": N_("Industrial parks and regions.")})
        out.append(
            {
                "href": "/platform/enterprises",
                "title": N_("Enterprises"),
                "text": N_("The enterprises on the platform."),
            }
        )
    return out
