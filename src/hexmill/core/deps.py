"""FastAPI dependencies: the request's database session and the acting context."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from hexmill.core import identity
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.errors import NotAuthenticated, PermissionDenied, RateLimited
from hexmill.core.i18n import N_, negotiate, normalise, set_locale
from hexmill.core.models import User
from hexmill.core.security import same
from hexmill.core.tenancy import set_scope

SESSION_COOKIE = "hexmill_session"
CSRF_HEADER = "x-csrf-token"
TENANT_HEADER = "x-hexmill-tenant"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_sessionmaker(request: Request) -> sessionmaker[Session]:
    """Return the application's session factory."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


def get_settings_dep(request: Request) -> Settings:
    """Return the application's settings."""
    settings: Settings = request.app.state.settings
    return settings


def session_limits(settings: Settings) -> identity.SessionLimits:
    """Return the console session lifetimes configured for the installation."""
    return identity.SessionLimits(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


def client_address(request: Request) -> str | None:
    """Return the client's address as the server saw it."""
    return request.client.host if request.client else None


def _tenant_header(request: Request) -> int | None:
    raw = request.headers.get(TENANT_HEADER)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise NotAuthenticated(N_("The enterprise header must be a number."), field=TENANT_HEADER) from None


def authenticate(request: Request) -> Context:
    """Return the caller's context from a bearer token or a console session cookie.

    Authentication runs in its own short transaction (it may record failures, touch last-use
    times), so the request's own work commits or fails on its own.
    """
    factory = get_sessionmaker(request)
    settings = get_settings_dep(request)
    client = client_address(request)
    tenant_override = _tenant_header(request)
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, raw = auth.partition(" ")
        if scheme.lower() != "bearer" or not raw:
            raise NotAuthenticated(N_("Use an Authorization: Bearer token."))
        try:
            with transaction(factory) as db:
                return identity.authenticate_token(db, raw.strip(), client=client, tenant_override=tenant_override)
        except NotAuthenticated:
            with transaction(factory) as db:
                identity.record_auth_failure(db, action="auth.token", username=None, client=client)
            raise
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with transaction(factory) as db:
            set_scope(db, "*")
            loaded = identity.load_console_session(db, cookie, session_limits(settings))
            if loaded is not None:
                row, user = loaded
                if request.method not in SAFE_METHODS:
                    sent = request.headers.get(CSRF_HEADER, "")
                    if not same(sent, row.csrf_token):
                        raise PermissionDenied(N_("The form has expired. Reload the page and try again."))
                tenant_id = tenant_override if tenant_override is not None else row.tenant_id
                if row.locale:
                    set_locale(row.locale)
                return identity.build_context(db, user, tenant_id, client=client)
    raise NotAuthenticated(N_("Log in or send an API token."))


def login(request: Request, username: str, password: str) -> User:
    """Check a username and password; failures are audited and rate-limited."""
    factory = get_sessionmaker(request)
    settings = get_settings_dep(request)
    client = client_address(request)
    limits = identity.LoginLimits(
        max_failures=settings.login_max_failures, window=timedelta(seconds=settings.login_window_seconds)
    )
    try:
        with transaction(factory) as db:
            user = identity.authenticate_password(
                db, username=username, password=password, client=client, limits=limits
            )
            # Logins are rare and every replica sees them: a good moment to drop what has expired,
            # so the session and login-failure tables stay bounded without a scheduled job.
            identity.purge_expired(db, session_limits(settings), limits.window)
            return user
    except RateLimited:
        with transaction(factory) as db:
            identity.record_auth_failure(
                db, action="auth.login", username=username, client=client, result="rate_limited"
            )
        raise
    except NotAuthenticated:
        with transaction(factory) as db:
            identity.record_auth_failure(db, action="auth.login", username=username, client=client)
        raise


def get_db(request: Request) -> Iterator[Session]:
    """Yield the request's session; commit once after the route returns, before the response."""
    with transaction(get_sessionmaker(request)) as db:
        yield db


def get_context(request: Request, db: Annotated[Session, Depends(get_db, scope="function")]) -> Context:
    """Authenticate the caller and scope the request's session to their tenant."""
    ctx = authenticate(request)
    set_scope(db, ctx.scope)
    return ctx


def pick_locale(request: Request) -> None:
    """Set the request's locale from ``?lang=``, the ``hexmill_lang`` cookie or Accept-Language."""
    chosen = (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get("hexmill_lang"))
        or negotiate(request.headers.get("accept-language"))
    )
    set_locale(chosen or get_settings_dep(request).default_locale)


DbSession = Annotated[Session, Depends(get_db, scope="function")]
CurrentContext = Annotated[Context, Depends(get_context)]
