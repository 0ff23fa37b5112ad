"""Console administration pages: users, roles, API tokens, the audit log, parks and enterprises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hexmill.core import audit, identity
from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError, InvalidInput
from hexmill.core.filters import AUDIT_FILTERS
from hexmill.core.i18n import N_
from hexmill.core.params import MAX_ID
from hexmill.core.permissions import PERMISSIONS
from hexmill.core.schemas import MemberCreate, ParkCreate, RoleCreate, TenantCreate, TokenCreate
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, domain_errors, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
AUDIT_PAGE_SIZE = 50


def _done(request: Request, url: str, message: str, **params: Any) -> Response:
    return flash(request, redirect(url), message, **params)


def _failed(request: Request, url: str, exc: HexmillError) -> Response:
    return flash(request, redirect(url), exc.detail, "error", **exc.params)


def _confirmed(form: Any) -> bool:
    return bool(form.get("confirm") == "yes")


def _confirm_page(request: Request, *, question: str, action: str, back: str, **params: Any) -> Response:
    return render(request, "confirm.html", question=question, params=params, action=action, back=back)


# -- users ------------------------------------------------------------------------------------

USER_FIELDS = ("username", "password", "role", "display_name", "email")


def _users_page(
    request: Request,
    db: DbSession,
    page: Console,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    members = identity.list_members(db, page.ctx)
    roles = identity.list_roles(db, page.ctx)
    return render(
        request,
        "users.html",
        status_code=422 if errors else 200,
        members=members,
        roles=roles,
        form=form or {"role": "viewer"},
        errors=errors or FormErrors(),
    )


@router.get("/admin/users")
def list_users(request: Request, db: DbSession, page: Console) -> Response:
    """List the enterprise's users, with a form to add one."""
    return _users_page(request, db, page)


@router.post("/admin/users")
def create_user(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create a user with a role in the enterprise."""
    data = values(form, USER_FIELDS)
    try:
        body = validate(MemberCreate, data)
        attempt(db, lambda: identity.create_member(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _users_page(request, db, page, form=data, errors=exc.errors)
    return _done(request, "/admin/users", N_("User %(name)s created."), name=body.username)


def _member_action(
    request: Request, db: DbSession, action: Callable[[], object], message: str, **params: Any
) -> Response:
    try:
        action()
    except HexmillError as exc:
        db.rollback()
        return _failed(request, "/admin/users", exc)
    return _done(request, "/admin/users", message, **params)


@router.post("/admin/users/{user_id}/role")
def change_user_role(request: Request, user_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Give a user another role."""
    role = str(form.get("role") or "")
    return _member_action(
        request,
        db,
        lambda: identity.update_member(db, page.ctx, user_id, role=role),
        N_("Role changed."),
    )


@router.post("/admin/users/{user_id}/active")
def set_user_active(request: Request, user_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Deactivate or reactivate a user."""
    active = form.get("is_active") == "1"
    message = N_("User reactivated.") if active else N_("User deactivated.")
    return _member_action(
        request,
        db,
        lambda: identity.update_member(db, page.ctx, user_id, is_active=active),
        message,
    )


@router.post("/admin/users/{user_id}/remove")
def remove_user(request: Request, user_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Take a user out of the enterprise (after confirmation)."""
    if not _confirmed(form):
        member = identity.get_member(db, page.ctx, user_id)
        return _confirm_page(
            request,
            question=N_("Remove %(name)s from the enterprise?"),
            name=member.user.username,
            action=f"/admin/users/{user_id}/remove",
            back="/admin/users",
        )
    return _member_action(request, db, lambda: identity.remove_member(db, page.ctx, user_id), N_("User removed."))


# -- roles ------------------------------------------------------------------------------------


def _role_data(form: Any) -> dict[str, Any]:
    return values(form, ("name", "description"), lists=("permissions",))


def _roles_page(
    request: Request,
    db: DbSession,
    page: Console,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    roles = identity.list_roles(db, page.ctx)
    return render(
        request,
        "roles.html",
        status_code=422 if errors else 200,
        roles=roles,
        permissions=PERMISSIONS,
        form=form or {"permissions": []},
        errors=errors or FormErrors(),
    )


@router.get("/admin/roles")
def list_roles(request: Request, db: DbSession, page: Console) -> Response:
    """List the built-in roles and the enterprise's own, with a form to define one."""
    return _roles_page(request, db, page)


@router.post("/admin/roles")
def create_role(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Define a role of the enterprise."""
    data = _role_data(form)
    try:
        body = validate(RoleCreate, data)
        attempt(db, lambda: identity.create_role(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _roles_page(request, db, page, form=data, errors=exc.errors)
    return _done(request, "/admin/roles", N_("Role %(name)s created."), name=body.name)


def _role_page(
    request: Request, role: Any, *, form: dict[str, Any] | None = None, errors: FormErrors | None = None
) -> Response:
    return render(
        request,
        "role_form.html",
        status_code=422 if errors else 200,
        role=role,
        permissions=PERMISSIONS,
        form=form or {"name": role.name, "description": role.description, "permissions": role.permissions},
        errors=errors or FormErrors(),
    )


@router.get("/admin/roles/{role_id}")
def edit_role(request: Request, role_id: int, db: DbSession, page: Console) -> Response:
    """Show a role: built-ins read-only, the enterprise's own editable."""
    page.ctx.require_tenant()
    return _role_page(request, identity.get_role(db, page.ctx, min(role_id, MAX_ID)))


@router.post("/admin/roles/{role_id}")
def update_role(request: Request, role_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Change one of the enterprise's own roles."""
    role = identity.get_role(db, page.ctx, min(role_id, MAX_ID))
    data = _role_data(form)
    try:
        body = validate(RoleCreate, data)
        attempt(db, lambda: identity.update_role(db, page.ctx, role.id, **body.model_dump()))
    except FormInvalid as exc:
        return _role_page(request, identity.get_role(db, page.ctx, role_id), form=data, errors=exc.errors)
    return _done(request, "/admin/roles", N_("Role %(name)s saved."), name=body.name)


@router.post("/admin/roles/{role_id}/delete")
def delete_role(request: Request, role_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Delete one of the enterprise's own roles (after confirmation)."""
    role = identity.get_role(db, page.ctx, min(role_id, MAX_ID))
    if not _confirmed(form):
        return _confirm_page(
            request,
            question=N_("Delete the role %(name)s?"),
            name=role.name,
            action=f"/admin/roles/{role_id}/delete",
            back="/admin/roles",
        )
    try:
        identity.delete_role(db, page.ctx, role.id)
        db.flush()
    except HexmillError as exc:
        db.rollback()
        return _failed(request, "/admin/roles", exc)
    return _done(request, "/admin/roles", N_("Role %(name)s deleted."), name=role.name)


# -- API tokens -------------------------------------------------------------------------------


def _tokens_page(
    request: Request,
    db: DbSession,
    page: Console,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    secret: str = "",
    status_code: int = 200,
) -> Response:
    tokens = identity.list_tokens(db, page.ctx)
    return render(
        request,
        "tokens.html",
        status_code=422 if errors else status_code,
        tokens=tokens,
        form=form or {},
        errors=errors or FormErrors(),
        secret=secret,
    )


@router.get("/tokens")
def list_tokens(request: Request, db: DbSession, page: Console) -> Response:
    """List your API tokens (every token of the enterprise with tokens.manage)."""
    page.ctx.require_tenant()
    return _tokens_page(request, db, page)


@router.post("/tokens")
def create_token(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create an API token and show its secret, this once."""
    data = values(form, ("name", "expires_at"))
    payload = dict(data)
    if "expires_at" in payload and len(payload["expires_at"]) == len("2025-01-01"):
        payload["expires_at"] += "T00:00:00Z"  # a date input means midnight UTC of that day
    try:
        body = validate(TokenCreate, payload)
        _token, secret = attempt(db, lambda: identity.create_token(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _tokens_page(request, db, page, form=data, errors=exc.errors)
    return _tokens_page(request, db, page, secret=secret, status_code=201)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Revoke an API token at once (after confirmation)."""
    token = identity.get_token(db, page.ctx, min(token_id, MAX_ID))
    if not _confirmed(form):
        return _confirm_page(
            request,
            question=N_("Revoke the token %(name)s?"),
            name=token.name,
            action=f"/tokens/{token_id}/revoke",
            back="/tokens",
        )
    identity.revoke_token(db, page.ctx, token.id)
    return _done(request, "/tokens", N_("Token %(name)s revoked."), name=token.name)


# -- audit log --------------------------------------------------------------------------------


@router.get("/audit")
def audit_log(request: Request, db: DbSession, page: Console) -> Response:
    """Read the audit log with the same filters as the API, a page at a time."""
    query = request.query_params
    raw_offset = query.get("offset", "0")
    offset = min(int(raw_offset), MAX_ID) if raw_offset.isdigit() else 0
    errors = FormErrors()
    try:
        filters = AUDIT_FILTERS.parse(query)
    except InvalidInput as exc:
        errors = domain_errors(exc)
        filters = {}
    rows, total = audit.list_audit(db, page.ctx, filters=filters, offset=offset, limit=AUDIT_PAGE_SIZE)
    kept = {f.name: query[f.name] for f in AUDIT_FILTERS.filters if query.get(f.name)}

    def page_url(start: int) -> str:
        return "/audit?" + urlencode({**kept, "offset": start})

    return render(
        request,
        "audit.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        offset=offset,
        limit=AUDIT_PAGE_SIZE,
        filters=AUDIT_FILTERS.filters,
        values=kept,
        tenant_names={t.id: t.name for t in identity.list_tenants(db, page.ctx)}
        if page.ctx.is_platform_admin
        else None,
        errors=errors,
        prev_url=page_url(max(offset - AUDIT_PAGE_SIZE, 0)) if offset > 0 else None,
        next_url=page_url(offset + AUDIT_PAGE_SIZE) if offset + AUDIT_PAGE_SIZE < total else None,
    )


# -- platform: parks and enterprises ----------------------------------------------------------

PARK_FIELDS = ("name", "region_code", "description")
TENANT_FIELDS = ("name", "registry_id", "industry_code", "region_code", "size_class", "park_id")


def _parks_page(
    request: Request,
    db: DbSession,
    page: Console,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    page.ctx.require_platform_admin()
    return render(
        request,
        "parks.html",
        status_code=422 if errors else 200,
        parks=identity.list_parks(db, page.ctx),
        form=form or {},
        errors=errors or FormErrors(),
    )


@router.get("/platform/parks")
def list_parks(request: Request, db: DbSession, page: Console) -> Response:
    """List the industrial parks, with a form to add one (platform admin)."""
    return _parks_page(request, db, page)


@router.post("/platform/parks")
def create_park(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create an industrial park (platform admin)."""
    data = values(form, PARK_FIELDS)
    try:
        body = validate(ParkCreate, data)
        attempt(db, lambda: identity.create_park(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _parks_page(request, db, page, form=data, errors=exc.errors)
    return _done(request, "/platform/parks", N_("Park %(name)s created."), name=body.name)


@router.get("/platform/parks/{park_id}")
def edit_park(request: Request, park_id: int, db: DbSession, page: Console) -> Response:
    """Show the form to change a park (platform admin)."""
    page.ctx.require_platform_admin()
    park = identity.get_park(db, page.ctx, min(park_id, MAX_ID))
    form = {name: getattr(park, name) or "" for name in PARK_FIELDS}
    return render(request, "park_form.html", park=park, form=form, errors=FormErrors())


@router.post("/platform/parks/{park_id}")
def update_park(request: Request, park_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Change a park (platform admin)."""
    page.ctx.require_platform_admin()
    park = identity.get_park(db, page.ctx, min(park_id, MAX_ID))
    data = values(form, PARK_FIELDS)
    try:
        body = validate(ParkCreate, data)
        attempt(db, lambda: identity.update_park(db, page.ctx, park.id, **body.model_dump()))
    except FormInvalid as exc:
        return render(request, "park_form.html", status_code=422, park=park, form=data, errors=exc.errors)
    return _done(request, "/platform/parks", N_("Park %(name)s saved."), name=body.name)


def _tenants_page(
    request: Request,
    db: DbSession,
    page: Console,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> Response:
    page.ctx.require_platform_admin()
    return render(
        request,
        "tenants.html",
        status_code=422 if errors else 200,
        tenants=identity.list_tenants(db, page.ctx),
        parks=identity.list_parks(db, page.ctx),
        form=form or {},
        errors=errors or FormErrors(),
    )


@router.get("/platform/enterprises")
def list_enterprises(request: Request, db: DbSession, page: Console) -> Response:
    """List the enterprises, with a form to add one (platform admin)."""
    return _tenants_page(request, db, page)


@router.post("/platform/enterprises")
def create_enterprise(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Create an enterprise (platform admin)."""
    data = values(form, TENANT_FIELDS)
    try:
        body = validate(TenantCreate, data)
        attempt(db, lambda: identity.create_tenant(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _tenants_page(request, db, page, form=data, errors=exc.errors)
    return _done(request, "/platform/enterprises", N_("Enterprise %(name)s created."), name=body.name)


def _tenant_form(
    request: Request,
    db: DbSession,
    page: Console,
    tenant: Any,
    form: dict[str, Any],
    *,
    errors: FormErrors | None = None,
) -> Response:
    return render(
        request,
        "tenant_form.html",
        status_code=422 if errors else 200,
        tenant=tenant,
        parks=identity.list_parks(db, page.ctx),
        form=form,
        errors=errors or FormErrors(),
    )


@router.get("/platform/enterprises/{tenant_id}")
def edit_enterprise(request: Request, tenant_id: int, db: DbSession, page: Console) -> Response:
    """Show the form to change an enterprise (platform admin)."""
    page.ctx.require_platform_admin()
    tenant = identity.get_tenant(db, page.ctx, min(tenant_id, MAX_ID))
    form = {name: getattr(tenant, name) or "" for name in TENANT_FIELDS}
    form["is_active"] = tenant.is_active
    return _tenant_form(request, db, page, tenant, form)


@router.post("/platform/enterprises/{tenant_id}")
def update_enterprise(request: Request, tenant_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Change an enterprise (platform admin)."""
    page.ctx.require_platform_admin()
    tenant = identity.get_tenant(db, page.ctx, min(tenant_id, MAX_ID))
    data = values(form, TENANT_FIELDS)
    active = form.get("is_active") == "1"
    try:
        body = validate(TenantCreate, data)
        fields = {name: getattr(body, name) for name in TENANT_FIELDS}
        attempt(db, lambda: identity.update_tenant(db, page.ctx, tenant.id, **fields, is_active=active))
    except FormInvalid as exc:
        return _tenant_form(request, db, page, tenant, {**data, "is_active": active}, errors=exc.errors)
    return _done(request, "/platform/enterprises", N_("Enterprise %(name)s saved."), name=body.name)
