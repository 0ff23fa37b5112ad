"""Page authentication from the console session cookie, CSRF checks and the console's route class."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.deps import (
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    DbSession,
    client_address,
    get_sessionmaker,
    get_settings_dep,
    session_limits,
)
from hexmill.core.errors import HexmillError, PermissionDenied
from hexmill.core.i18n import N_, set_locale
from hexmill.core.models import ConsoleSession, Tenant, User
from hexmill.core.security import same
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.web.templating import redirect, render

LOGIN_CSRF_COOKIE = "hexmill_login_csrf"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """The page needs a live console session and the request has none."""


@dataclass(frozen=True, slots=True)
class PageState:
    """Who is looking at a console page: their context, account, session and enterprises."""

    ctx: Context
    user: User
    row: ConsoleSession
    key: str
    tenants: list[Tenant]

    @property
    def csrf_token(self) -> str:
        """Return the session's CSRF token, which every POST must carry."""
        return self.row.csrf_token

    @property
    def tenant(self) -> Tenant | None:
        """Return the enterprise the session acts in, if any."""
        return next((t for t in self.tenants if t.id == self.ctx.tenant_id), None)


def load_page_state(request: Request) -> PageState | None:
    """Return the live console session of the request's cookie, or None (expired ones are deleted)."""
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return None
    with transaction(get_sessionmaker(request)) as db:
        set_scope(db, ALL_TENANTS)
        loaded = identity.load_console_session(db, key, session_limits(get_settings_dep(request)))
        if loaded is None:
            return None
        row, user = loaded
        tenants = identity.user_tenants(db, user)
        tenant_id = row.tenant_id
        # A membership or enterprise may have gone since the session chose it: fall back to
        # the first enterprise left (the platform admin may also act with none).
        if tenant_id not in {t.id for t in tenants}:
            tenant_id = None if user.is_platform_admin or not tenants else tenants[0].id
        if tenant_id is None and not user.is_platform_admin and tenants:
            tenant_id = tenants[0].id
        ctx = identity.build_context(db, user, tenant_id, client=client_address(request))
    return PageState(ctx=ctx, user=user, row=row, key=key, tenants=tenants)


async def read_form(request: Request) -> FormData:
    """Return the request's form fields (parsed once, cached by Starlette)."""
    if request.method in SAFE_METHODS:
        return FormData()
    return await request.form()


async def _page_state(request: Request) -> PageState:
    state = await run_in_threadpool(load_page_state, request)
    if state is None:
        raise LoginRequired
    request.state.page = state
    if state.row.locale:
        set_locale(state.row.locale)
    if request.method not in SAFE_METHODS:
        form = await read_form(request)
        try:
            check_csrf(request, form, state)
        except PermissionDenied:
            await form.close()  # uploaded files of a refused request are closed, not left to the collector
            raise
    return state


def check_csrf(request: Request, form: FormData, state: PageState) -> None:
    """Refuse a POST whose CSRF token (form field or htmx header) is not the session's."""
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD) or ""
    if not isinstance(sent, str) or not same(sent, state.csrf_token):
        raise PermissionDenied(N_("The form has expired. Reload the page and try again."))


def console_page(db: DbSession, state: Annotated[PageState, Depends(_page_state)]) -> PageState:
    """Authenticate a page request and scope its database session to the acting enterprise."""
    if state.ctx.tenant_id is not None or state.ctx.is_platform_admin:
        set_scope(db, state.ctx.scope)
    return state


Console = Annotated[PageState, Depends(console_page)]
Form = Annotated[FormData, Depends(read_form)]


def new_login_csrf() -> str:
    """Return a fresh token for the double-submit check of forms shown before login."""
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, form: FormData) -> None:
    """Refuse an anonymous POST whose form token does not match its cookie (double submit)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    sent = form.get(CSRF_FIELD) or ""
    if not cookie or not isinstance(sent, str) or not same(sent, cookie):
        raise PermissionDenied(N_("The form has expired. Reload the page and try again."))


def safe_next(target: str | None, default: str = "/") -> str:
    """Return ``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def login_redirect(request: Request) -> Response:
    """Send the browser to the login page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method not in SAFE_METHODS:
        target = "/"
    response = redirect(f"/login?next={quote(target, safe='/')}")
    if request.headers.get("hx-request"):
        response.headers["HX-Redirect"] = response.headers["location"]
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def error_page(request: Request, exc: HexmillError) -> Response:
    """Render a domain error as a console page in the user's language."""
    body = exc.render(request.url.path)
    return render(request, "error.html", status_code=exc.status, problem=body)


class ConsoleRoute(APIRoute):
    """A page route: a missing session redirects to login, domain errors render as pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler so failures answer with HTML rather than problem+json."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return login_redirect(request)
            except HexmillError as exc:
                return error_page(request, exc)

        return page_handler
