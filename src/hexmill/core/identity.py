"""Identity and access: parks, tenants, users, memberships, roles, API tokens, console sessions.

Every write is one named function that also writes its audit entry; lookups answer "not found"
for both missing and forbidden objects.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hexmill.core import audit
from hexmill.core.clock import as_utc, utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotAuthenticated, NotFound, RateLimited
from hexmill.core.i18n import N_
from hexmill.core.models import (
    ApiToken,
    ConsoleSession,
    LoginAttempt,
    Membership,
    Park,
    Role,
    Tenant,
    User,
)
from hexmill.core.permissions import BUILTIN_ROLES, PERMISSION_CODES
from hexmill.core.security import (
    MIN_PASSWORD_LENGTH,
    digest,
    hash_password,
    needs_rehash,
    new_secret,
    verify_password,
)
from hexmill.core.tenancy import ALL_TENANTS, set_scope, widened

TOKEN_PREFIX = "hxm_"  # noqa: S105 - the public marker of hexmill tokens, not a secret
T = TypeVar("T", Park, Tenant, Role)

# ---------------------------------------------------------------------------------------------
# Parks and tenants (platform level)
# ---------------------------------------------------------------------------------------------


def _flush_unique(session: Session, field: str, value: object) -> None:
    """Flush, turning a unique-constraint violation into a Conflict naming the field."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(N_("%(value)s is already taken."), field=field, value=value) from exc


def _save_changes(
    session: Session, ctx: Context, obj: T, fields: dict[str, Any], kind: str, *, tenant_id: int | None = None
) -> T:
    """Apply validated ``fields`` to ``obj``, flush (a taken name is a Conflict) and audit ``<kind>.update``."""
    for key, value in fields.items():
        setattr(obj, key, value)
    _flush_unique(session, "name", fields.get("name"))
    audit.record(
        session,
        ctx,
        f"{kind}.update",
        object_type=kind,
        object_id=getattr(obj, "id", None),
        tenant_id=tenant_id,
        detail=fields,
    )
    return obj


def list_parks(session: Session, ctx: Context) -> list[Park]:
    """Return every park; parks are public within the platform."""
    return list(session.scalars(select(Park).order_by(Park.name)))


def get_park(session: Session, ctx: Context, park_id: int) -> Park:
    """Return one park or raise NotFound."""
    park = session.get(Park, park_id)
    if park is None:
        raise NotFound(N_("Park %(id)s not found."), id=park_id)
    return park


def create_park(session: Session, ctx: Context, **fields: Any) -> Park:
    """Create a park (platform admin)."""
    ctx.require_platform_admin()
    park = Park(**fields)
    session.add(park)
    _flush_unique(session, "name", fields.get("name"))
    audit.record(session, ctx, "park.create", object_type="park", object_id=park.id, detail=fields)
    return park


def update_park(session: Session, ctx: Context, park_id: int, **fields: Any) -> Park:
    """Change a park (platform admin)."""
    ctx.require_platform_admin()
    return _save_changes(session, ctx, get_park(session, ctx, park_id), fields, "park")


def delete_park(session: Session, ctx: Context, park_id: int) -> None:
    """Delete a park; its tenants stay, without a park (platform admin)."""
    ctx.require_platform_admin()
    park = get_park(session, ctx, park_id)
    session.delete(park)
    audit.record(session, ctx, "park.delete", object_type="park", object_id=park_id)


def list_tenants(session: Session, ctx: Context) -> list[Tenant]:
    """Return the tenants the context may see: all for the platform admin, else its own."""
    stmt = select(Tenant).order_by(Tenant.name)
    if not ctx.is_platform_admin:
        stmt = stmt.where(Tenant.id == ctx.require_tenant())
    return list(session.scalars(stmt))


def get_tenant(session: Session, ctx: Context, tenant_id: int) -> Tenant:
    """Return one tenant the context may see, or raise NotFound."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or (not ctx.is_platform_admin and tenant_id != ctx.tenant_id):
        raise NotFound(N_("Enterprise %(id)s not found."), id=tenant_id)
    return tenant


def get_partner_tenant(session: Session, ctx: Context, tenant_id: int) -> Tenant:
    """Return another active enterprise the context's enterprise may name as a business partner.

    Any member may name any active enterprise of the platform (a customer or supplier record says
    nothing about the partner's data); a missing or inactive one, or the own one, is NotFound.
    """
    own = ctx.require_tenant()
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not tenant.is_active or tenant.id == own:
        raise NotFound(N_("Enterprise %(id)s not found."), id=tenant_id)
    return tenant


def _check_park(session: Session, park_id: int | None) -> None:
    if park_id is not None and session.get(Park, park_id) is None:
        raise InvalidInput(
            N_("Park %(id)s does not exist."),
            field="park_id",
            id=park_id,
            errors=[FieldError(N_("No such park."), field="park_id")],
        )


def create_tenant(session: Session, ctx: Context, **fields: Any) -> Tenant:
    """Create an enterprise (platform admin)."""
    ctx.require_platform_admin()
    _check_park(session, fields.get("park_id"))
    tenant = Tenant(**fields)
    session.add(tenant)
    _flush_unique(session, "name", fields.get("name"))
    ensure_builtin_roles(session, tenant.id)
    audit.record(
        session,
        ctx,
        "tenant.create",
        object_type="tenant",
        object_id=tenant.id,
        tenant_id=tenant.id,
        detail=fields,
    )
    return tenant


def update_tenant(session: Session, ctx: Context, tenant_id: int, **fields: Any) -> Tenant:
    """Change an enterprise's profile (its own admin, or the platform admin for every field)."""
    tenant = get_tenant(session, ctx, tenant_id)
    ctx.require("tenant.manage")
    platform_only = {"park_id", "is_active"} & set(fields)
    if platform_only and not ctx.is_platform_admin:
        ctx.require_platform_admin()
    _check_park(session, fields.get("park_id"))
    return _save_changes(session, ctx, tenant, fields, "tenant", tenant_id=tenant.id)


def delete_tenant(session: Session, ctx: Context, tenant_id: int) -> None:
    """Delete an enterprise and everything it owns (platform admin)."""
    ctx.require_platform_admin()
    tenant = get_tenant(session, ctx, tenant_id)
    with widened(session):
        session.delete(tenant)
        session.flush()
    audit.record(session, ctx, "tenant.delete", object_type="tenant", object_id=tenant_id, tenant_id=tenant_id)


# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------


def ensure_builtin_roles(session: Session, tenant_id: int | None = None) -> None:
    """Create or refresh the built-in roles of one tenant, or of every tenant (idempotent).

    Each enterprise holds its own read-only copy of the built-ins, so every role row belongs
    to exactly one tenant and the tenant wall has no shared rows to make exceptions for.
    """
    with widened(session):
        tenant_ids = [tenant_id] if tenant_id is not None else list(session.scalars(select(Tenant.id)))
        stmt = select(Role).where(Role.builtin.is_(True), Role.tenant_id.in_(tenant_ids))
        existing = {(r.tenant_id, r.name): r for r in session.scalars(stmt)}
        for tid in tenant_ids:
            for name, (description, perms) in BUILTIN_ROLES.items():
                role = existing.get((tid, name))
                if role is None:
                    session.add(
                        Role(
                            tenant_id=tid,
                            name=name,
                            description=description,
                            permissions=sorted(perms),
                            builtin=True,
                        )
                    )
                else:
                    role.permissions = sorted(perms)
                    role.description = description
        session.flush()


def list_roles(session: Session, ctx: Context) -> list[Role]:
    """Return the built-in roles and the active tenant's own."""
    ctx.require_tenant()
    stmt = select(Role).order_by(Role.builtin.desc(), Role.name)
    return list(session.scalars(stmt))


def get_role(session: Session, ctx: Context, role_id: int) -> Role:
    """Return a built-in role or one of the tenant's own, else NotFound."""
    role = session.scalar(select(Role).where(Role.id == role_id))
    if role is None:
        raise NotFound(N_("Role %(id)s not found."), id=role_id)
    return role


def get_role_by_name(session: Session, ctx: Context, name: str) -> Role:
    """Return the tenant's role called ``name``."""
    role = session.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise InvalidInput(
            N_("Role %(name)s does not exist."),
            field="role",
            name=name,
            errors=[FieldError(N_("No such role."), field="role")],
        )
    return role


def _check_permissions(perms: list[str]) -> list[str]:
    unknown = sorted(set(perms) - PERMISSION_CODES)
    if unknown:
        raise InvalidInput(
            N_("Unknown permissions: %(codes)s."),
            field="permissions",
            codes=", ".join(unknown),
            errors=[FieldError(N_("Unknown permission."), field="permissions")],
        )
    return sorted(set(perms))


def create_role(session: Session, ctx: Context, *, name: str, description: str = "", permissions: list[str]) -> Role:
    """Define a role of the active tenant."""
    ctx.require("roles.manage")
    tenant_id = ctx.require_tenant()
    role = Role(tenant_id=tenant_id, name=name, description=description, permissions=_check_permissions(permissions))
    session.add(role)
    _flush_unique(session, "name", name)
    audit.record(session, ctx, "role.create", object_type="role", object_id=role.id, detail={"name": name})
    return role


def _own_role(session: Session, ctx: Context, role_id: int) -> Role:
    role = get_role(session, ctx, role_id)
    if role.builtin:
        raise Conflict(N_("Built-in roles cannot be changed."), field="role")
    return role


def update_role(session: Session, ctx: Context, role_id: int, **fields: Any) -> Role:
    """Change one of the tenant's own roles."""
    ctx.require("roles.manage")
    role = _own_role(session, ctx, role_id)
    if "permissions" in fields:
        fields["permissions"] = _check_permissions(fields["permissions"])
    return _save_changes(session, ctx, role, fields, "role")


def delete_role(session: Session, ctx: Context, role_id: int) -> None:
    """Delete one of the tenant's own roles, if no member holds it."""
    ctx.require("roles.manage")
    role = _own_role(session, ctx, role_id)
    in_use = session.scalar(select(func.count()).select_from(Membership).where(Membership.role_id == role.id))
    if in_use:
        raise Conflict(N_("The role is held by %(n)s users."), field="role", n=in_use)
    session.delete(role)
    audit.record(session, ctx, "role.delete", object_type="role", object_id=role_id)


# ---------------------------------------------------------------------------------------------
# Users and memberships
# ---------------------------------------------------------------------------------------------


def check_password(password: str, field: str = "password") -> None:
    """Refuse passwords that are too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("The password needs at least %(n)s characters."),
            field=field,
            n=MIN_PASSWORD_LENGTH,
            errors=[FieldError(N_("Too short."), field=field)],
        )


def create_platform_user(
    session: Session,
    ctx: Context,
    *,
    username: str,
    password: str,
    display_name: str = "",
    email: str | None = None,
    is_platform_admin: bool = False,
    locale: str | None = None,
) -> User:
    """Create a user account with no membership (platform admin, CLI)."""
    ctx.require_platform_admin()
    check_password(password)
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name,
        email=email,
        is_platform_admin=is_platform_admin,
        locale=locale,
    )
    session.add(user)
    _flush_unique(session, "username", username)
    audit.record(
        session,
        ctx,
        "user.create",
        object_type="user",
        object_id=user.id,
        detail={"username": username, "is_platform_admin": is_platform_admin},
    )
    return user


def add_member(session: Session, ctx: Context, *, user: User, role_name: str) -> Membership:
    """Give an existing user a place in the active tenant with a role."""
    ctx.require("users.manage")
    tenant_id = ctx.require_tenant()
    role = get_role_by_name(session, ctx, role_name)
    membership = Membership(tenant_id=tenant_id, user_id=user.id, role_id=role.id)
    session.add(membership)
    _flush_unique(session, "username", user.username)
    audit.record(
        session,
        ctx,
        "membership.create",
        object_type="user",
        object_id=user.id,
        detail={"username": user.username, "role": role.name},
    )
    return membership


def create_member(
    session: Session,
    ctx: Context,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    email: str | None = None,
) -> Membership:
    """Create a new user and make them a member of the active tenant."""
    ctx.require("users.manage")
    ctx.require_tenant()
    role_obj = get_role_by_name(session, ctx, role)
    check_password(password)
    user = User(username=username, password_hash=hash_password(password), display_name=display_name, email=email)
    session.add(user)
    _flush_unique(session, "username", username)
    audit.record(
        session,
        ctx,
        "user.create",
        object_type="user",
        object_id=user.id,
        detail={"username": username},
    )
    return add_member(session, ctx, user=user, role_name=role_obj.name)


def list_members(session: Session, ctx: Context) -> list[Membership]:
    """Return the active tenant's memberships, with their users and roles."""
    ctx.require("users.view")
    ctx.require_tenant()
    stmt = select(Membership).join(Membership.user).order_by(User.username)
    return list(session.scalars(stmt).unique())


def get_member(session: Session, ctx: Context, user_id: int) -> Membership:
    """Return the membership of ``user_id`` in the active tenant, else NotFound."""
    ctx.require("users.view")
    ctx.require_tenant()
    membership = session.scalar(select(Membership).where(Membership.user_id == user_id))
    if membership is None:
        raise NotFound(N_("User %(id)s not found."), id=user_id)
    return membership


def update_member(
    session: Session,
    ctx: Context,
    user_id: int,
    *,
    role: str | None = None,
    display_name: str | None = None,
    email: str | None = None,
    is_active: bool | None = None,
) -> Membership:
    """Change a member's role or profile."""
    ctx.require("users.manage")
    membership = get_member(session, ctx, user_id)
    changes: dict[str, Any] = {}
    if role is not None:
        membership.role_id = get_role_by_name(session, ctx, role).id
        changes["role"] = role
    if display_name is not None:
        membership.user.display_name = display_name
        changes["display_name"] = display_name
    if email is not None:
        membership.user.email = email
        changes["email"] = email
    if is_active is not None:
        if user_id == ctx.user_id and not is_active:
            raise Conflict(N_("You cannot deactivate yourself."), field="is_active")
        membership.user.is_active = is_active
        changes["is_active"] = is_active
    session.flush()
    session.refresh(membership)
    audit.record(session, ctx, "membership.update", object_type="user", object_id=user_id, detail=changes)
    return membership


def remove_member(session: Session, ctx: Context, user_id: int) -> None:
    """Take a user out of the active tenant, ending their tokens there."""
    ctx.require("users.manage")
    membership = get_member(session, ctx, user_id)
    if user_id == ctx.user_id:
        raise Conflict(N_("You cannot remove yourself."), field="user_id")
    now = utcnow()
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))):
        token.revoked_at = now
    session.delete(membership)
    audit.record(session, ctx, "membership.delete", object_type="user", object_id=user_id)


def change_password(session: Session, ctx: Context, *, current: str, new: str) -> None:
    """Change the acting user's own password; ends their other console sessions."""
    user = session.get(User, ctx.user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise InvalidInput(
            N_("The current password is wrong."),
            field="current",
            errors=[FieldError(N_("Wrong password."), field="current")],
        )
    check_password(new, "new")
    user.password_hash = hash_password(new)
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    audit.record(session, ctx, "user.password_change", object_type="user", object_id=user.id)


# ---------------------------------------------------------------------------------------------
# Building a context
# ---------------------------------------------------------------------------------------------


def user_tenants(session: Session, user: User) -> list[Tenant]:
    """Return the active tenants the user may act in (every tenant for the platform admin)."""
    with widened(session):
        if user.is_platform_admin:
            stmt = select(Tenant).where(Tenant.is_active.is_(True))
        else:
            stmt = (
                select(Tenant)
                .join(Membership, Membership.tenant_id == Tenant.id)
                .where(Membership.user_id == user.id, Tenant.is_active.is_(True))
            )
        return list(session.scalars(stmt.order_by(Tenant.name)))


def build_context(
    session: Session,
    user: User,
    tenant_id: int | None,
    *,
    scopes: list[str] | None = None,
    token_id: int | None = None,
    client: str | None = None,
) -> Context:
    """Return the user's context in ``tenant_id``; NotFound if they are not a member there."""
    permissions: frozenset[str] = frozenset()
    if tenant_id is not None:
        with widened(session):
            tenant = session.get(Tenant, tenant_id)
            membership = session.scalar(
                select(Membership).where(Membership.user_id == user.id, Membership.tenant_id == tenant_id)
            )
        if tenant is None or not tenant.is_active or (membership is None and not user.is_platform_admin):
            raise NotFound(N_("Enterprise %(id)s not found."), id=tenant_id)
        permissions = frozenset(membership.role.permissions) if membership else PERMISSION_CODES
    is_admin = user.is_platform_admin
    if scopes is not None:
        # A token holds the intersection of its scopes and the user's rights.
        base = PERMISSION_CODES if is_admin else permissions
        permissions = frozenset(scopes) & base
        is_admin = is_admin and "platform.admin" in scopes
    return Context(
        user_id=user.id,
        username=user.username,
        tenant_id=tenant_id,
        permissions=permissions,
        is_platform_admin=is_admin,
        token_id=token_id,
        client=client,
    )


# ---------------------------------------------------------------------------------------------
# Login and rate limiting
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failures in which window block further attempts."""

    max_failures: int
    window: timedelta


def _failures(session: Session, key: str, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        )
        or 0
    )


def _login_keys(username: str, client: str | None) -> list[str]:
    return [f"user:{username.lower()}"] + ([f"ip:{client}"] if client else [])


def authenticate_password(
    session: Session, *, username: str, password: str, client: str | None, limits: LoginLimits
) -> User:
    """Return the user for a correct username and password, or raise.

    Failures are counted per username and per client address; past the limit, even a correct
    password is refused until the window passes. The caller records a failure with
    ``record_auth_failure`` in a transaction of its own, since this one is rolled back.
    """
    set_scope(session, ALL_TENANTS)
    since = utcnow() - limits.window
    keys = _login_keys(username, client)
    if any(_failures(session, key, since) >= limits.max_failures for key in keys):
        raise RateLimited(N_("Too many failed logins. Try again in a few minutes."))
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise NotAuthenticated(N_("Wrong username or password."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == keys[0]))
    audit.record(session, Context(user_id=user.id, username=user.username, tenant_id=None, client=client), "auth.login")
    return user


def record_auth_failure(
    session: Session, *, action: str, username: str | None, client: str | None, result: str = "failure"
) -> None:
    """Audit a refused login or token; a wrong password also counts toward the rate limit."""
    set_scope(session, ALL_TENANTS)
    if action == "auth.login" and username is not None and result == "failure":
        now = utcnow()
        for key in _login_keys(username, client):
            session.add(LoginAttempt(key=key, at=now))
    ctx = Context(user_id=None, username=(username or "")[:64] or None, tenant_id=None, client=client)
    audit.record(session, ctx, action, result=result)


# ---------------------------------------------------------------------------------------------
# API tokens
# ---------------------------------------------------------------------------------------------


def create_token(
    session: Session,
    ctx: Context,
    *,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token for the acting user in the active tenant; return it and its secret.

    The secret is shown once: only its SHA-256 digest is stored. Scopes may only narrow the
    user's own permissions; omitted scopes (None) mean all of them, an empty list none.
    """
    tenant_id = ctx.require_tenant()
    if ctx.user_id is None:
        raise NotAuthenticated(N_("Tokens belong to a user."))
    allowed = set(ctx.permissions) | ({"platform.admin"} | PERMISSION_CODES if ctx.is_platform_admin else set())
    requested = sorted(set(scopes)) if scopes is not None else sorted(allowed)
    beyond = sorted(set(requested) - allowed)
    if beyond:
        raise InvalidInput(
            N_("A token cannot hold permissions you lack: %(codes)s."),
            field="scopes",
            codes=", ".join(beyond),
            errors=[FieldError(N_("Permission not held."), field="scopes")],
        )
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise InvalidInput(
            N_("The expiry must lie in the future."),
            field="expires_at",
            errors=[FieldError(N_("In the past."), field="expires_at")],
        )
    prefix = secrets.token_hex(4)
    secret = new_secret(32)
    token = ApiToken(
        tenant_id=tenant_id,
        user_id=ctx.user_id,
        name=name,
        prefix=prefix,
        secret_hash=digest(secret),
        scopes=requested,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(session, ctx, "token.create", object_type="token", object_id=token.id, detail={"name": name})
    return token, f"{TOKEN_PREFIX}{prefix}_{secret}"


def list_tokens(session: Session, ctx: Context) -> list[ApiToken]:
    """Return the acting user's tokens, or every token of the tenant with ``tokens.manage``."""
    ctx.require_tenant()
    stmt = select(ApiToken).order_by(ApiToken.created_at.desc())
    if not ctx.can("tokens.manage"):
        stmt = stmt.where(ApiToken.user_id == ctx.user_id)
    return list(session.scalars(stmt))


def get_token(session: Session, ctx: Context, token_id: int) -> ApiToken:
    """Return a token the context may see, else NotFound."""
    token = session.scalar(select(ApiToken).where(ApiToken.id == token_id))
    if token is None or (token.user_id != ctx.user_id and not ctx.can("tokens.manage")):
        raise NotFound(N_("Token %(id)s not found."), id=token_id)
    return token


def revoke_token(session: Session, ctx: Context, token_id: int) -> ApiToken:
    """Revoke a token at once (idempotent)."""
    token = get_token(session, ctx, token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    audit.record(session, ctx, "token.revoke", object_type="token", object_id=token.id)
    return token


def authenticate_token(session: Session, raw: str, *, client: str | None, tenant_override: int | None) -> Context:
    """Return the context of a bearer token, or raise NotAuthenticated."""
    set_scope(session, ALL_TENANTS)
    parts = raw.split("_")
    if len(parts) < 3 or f"{parts[0]}_" != TOKEN_PREFIX:
        raise NotAuthenticated(N_("The token is not valid."))
    prefix, secret = parts[1], "_".join(parts[2:])
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    now = utcnow()
    if (
        token is None
        or digest(secret) != token.secret_hash
        or token.revoked_at is not None
        or (token.expires_at is not None and as_utc(token.expires_at) <= now)
        or not token.user.is_active
    ):
        raise NotAuthenticated(N_("The token is not valid, expired or revoked."))
    token.last_used_at = now
    tenant_id = token.tenant_id
    if tenant_override is not None and tenant_override != tenant_id:
        if not (token.user.is_platform_admin and "platform.admin" in token.scopes):
            raise NotFound(N_("Enterprise %(id)s not found."), id=tenant_override)
        tenant_id = tenant_override
    return build_context(session, token.user, tenant_id, scopes=token.scopes, token_id=token.id, client=client)


# ---------------------------------------------------------------------------------------------
# Console sessions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Idle and absolute lifetimes of a console session."""

    idle: timedelta
    absolute: timedelta


def start_console_session(session: Session, user: User, *, locale: str | None) -> tuple[ConsoleSession, str]:
    """Open a console session for a logged-in user; return it and the cookie value."""
    tenants = user_tenants(session, user)
    key = new_secret(32)
    row = ConsoleSession(
        key_hash=digest(key),
        user_id=user.id,
        tenant_id=tenants[0].id if tenants else None,
        csrf_token=new_secret(24),
        locale=locale or user.locale,
    )
    session.add(row)
    session.flush()
    return row, key


def load_console_session(session: Session, key: str, limits: SessionLimits) -> tuple[ConsoleSession, User] | None:
    """Return the live session for a cookie value and touch it; expired sessions are deleted."""
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.key_hash == digest(key)))
    if row is None:
        return None
    now = utcnow()
    if as_utc(row.last_seen_at) + limits.idle <= now or as_utc(row.created_at) + limits.absolute <= now:
        session.delete(row)
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        session.delete(row)
        return None
    row.last_seen_at = now
    return row, user


def end_console_session(session: Session, key: str, *, client: str | None = None) -> None:
    """End a console session for good: the row is deleted, the cookie is worthless after."""
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.key_hash == digest(key)))
    if row is None:
        return
    user = session.get(User, row.user_id)
    session.delete(row)
    set_scope(session, ALL_TENANTS)
    ctx = Context(user_id=row.user_id, username=user.username if user else None, tenant_id=None, client=client)
    audit.record(session, ctx, "auth.logout")


def purge_expired(session: Session, limits: SessionLimits, login_window: timedelta) -> None:
    """Delete expired console sessions and old login failures."""
    now = utcnow()
    session.execute(
        delete(ConsoleSession).where(
            or_(ConsoleSession.last_seen_at <= now - limits.idle, ConsoleSession.created_at <= now - limits.absolute)
        )
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - login_window))


def switch_console_tenant(session: Session, row: ConsoleSession, user: User, tenant_id: int | None) -> None:
    """Make ``tenant_id`` the enterprise a console session acts in; only a member may switch to it.

    The platform admin may also choose no enterprise (``None``) to act at platform level.
    """
    if tenant_id is None:
        if not user.is_platform_admin:
            raise NotFound(N_("Enterprise %(id)s not found."), id="-")
    elif tenant_id not in {t.id for t in user_tenants(session, user)}:
        raise NotFound(N_("Enterprise %(id)s not found."), id=tenant_id)
    row.tenant_id = tenant_id
    ctx = Context(
        user_id=user.id, username=user.username, tenant_id=tenant_id, is_platform_admin=user.is_platform_admin
    )
    with widened(session):
        audit.record(session, ctx, "auth.switch_tenant", object_type="tenant", object_id=tenant_id)
        session.flush()


def set_console_locale(session: Session, row: ConsoleSession, locale: str) -> None:
    """Store the language a console session's pages are shown in."""
    row.locale = locale
    session.flush()
