"""REST API of the platform core: me, parks, tenants, users, roles, tokens, audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from hexmill.core import audit, identity
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.filters import AUDIT_FILTERS
from hexmill.core.pagination import Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.core.schemas import (
    AuditRead,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    MeRead,
    ParkCreate,
    ParkRead,
    ParkUpdate,
    PasswordChange,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    TenantCreate,
    TenantRead,
    TenantUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
)

router = APIRouter()
AuditFilters = Annotated[dict[str, Any], Depends(AUDIT_FILTERS.dependency())]


@router.get("/me", response_model=MeRead, tags=["identity"])
def get_me(ctx: CurrentContext) -> MeRead:
    """Return who the caller is, in which enterprise, with which permissions."""
    return MeRead(
        user_id=ctx.user_id,
        username=ctx.username,
        tenant_id=ctx.tenant_id,
        permissions=sorted(ctx.permissions),
        is_platform_admin=ctx.is_platform_admin,
    )


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, tags=["identity"])
def change_my_password(body: PasswordChange, db: DbSession, ctx: CurrentContext) -> Response:
    """Change your own password; your other console sessions end."""
    identity.change_password(db, ctx, current=body.current, new=body.new)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- parks ------------------------------------------------------------------------------------


@router.get("/parks", response_model=list[ParkRead], tags=["parks"])
def list_parks(db: DbSession, ctx: CurrentContext) -> list[Any]:
    """List the industrial parks on the platform."""
    return identity.list_parks(db, ctx)


@router.post("/parks", response_model=ParkRead, status_code=status.HTTP_201_CREATED, tags=["parks"])
def create_park(body: ParkCreate, db: DbSession, ctx: CurrentContext) -> Any:
    """Create an industrial park (platform admin)."""
    return identity.create_park(db, ctx, **body.model_dump())


@router.get("/parks/{park_id}", response_model=ParkRead, tags=["parks"])
def get_park(park_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Any:
    """Return one park."""
    return identity.get_park(db, ctx, park_id)


@router.patch("/parks/{park_id}", response_model=ParkRead, tags=["parks"])
def update_park(park_id: ObjectId, body: ParkUpdate, db: DbSession, ctx: CurrentContext) -> Any:
    """Change a park (platform admin)."""
    return identity.update_park(db, ctx, park_id, **body.model_dump(exclude_unset=True))


@router.delete("/parks/{park_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["parks"])
def delete_park(park_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Response:
    """Delete a park; its enterprises stay (platform admin)."""
    identity.delete_park(db, ctx, park_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- tenants ----------------------------------------------------------------------------------


@router.get("/tenants", response_model=list[TenantRead], tags=["tenants"])
def list_tenants(db: DbSession, ctx: CurrentContext) -> list[Any]:
    """List enterprises: all of them for the platform admin, else your own."""
    return identity.list_tenants(db, ctx)


@router.post("/tenants", response_model=TenantRead, status_code=status.HTTP_201_CREATED, tags=["tenants"])
def create_tenant(body: TenantCreate, db: DbSession, ctx: CurrentContext) -> Any:
    """Create an enterprise (platform admin)."""
    return identity.create_tenant(db, ctx, **body.model_dump())


@router.get("/tenants/{tenant_id}", response_model=TenantRead, tags=["tenants"])
def get_tenant(tenant_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Any:
    """Return one enterprise you may see."""
    return identity.get_tenant(db, ctx, tenant_id)


@router.patch("/tenants/{tenant_id}", response_model=TenantRead, tags=["tenants"])
def update_tenant(tenant_id: ObjectId, body: TenantUpdate, db: DbSession, ctx: CurrentContext) -> Any:
    """Change an enterprise's profile."""
    return identity.update_tenant(db, ctx, tenant_id, **body.model_dump(exclude_unset=True))


@router.delete("/tenants/{tenant_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["tenants"])
def delete_tenant(tenant_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Response:
    """Delete an enterprise and all it owns (platform admin)."""
    identity.delete_tenant(db, ctx, tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- users ------------------------------------------------------------------------------------


@router.get("/users", response_model=list[MemberRead], tags=["users"])
def list_users(db: DbSession, ctx: CurrentContext) -> list[MemberRead]:
    """List the users of the active enterprise with their roles."""
    return [MemberRead.of(m) for m in identity.list_members(db, ctx)]


@router.post("/users", response_model=MemberRead, status_code=status.HTTP_201_CREATED, tags=["users"])
def create_user(body: MemberCreate, db: DbSession, ctx: CurrentContext) -> MemberRead:
    """Create a user in the active enterprise."""
    return MemberRead.of(identity.create_member(db, ctx, **body.model_dump()))


@router.get("/users/{user_id}", response_model=MemberRead, tags=["users"])
def get_user(user_id: ObjectId, db: DbSession, ctx: CurrentContext) -> MemberRead:
    """Return one user of the active enterprise."""
    return MemberRead.of(identity.get_member(db, ctx, user_id))


@router.patch("/users/{user_id}", response_model=MemberRead, tags=["users"])
def update_user(user_id: ObjectId, body: MemberUpdate, db: DbSession, ctx: CurrentContext) -> MemberRead:
    """Change a user's role or profile."""
    return MemberRead.of(identity.update_member(db, ctx, user_id, **body.model_dump(exclude_unset=True)))


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["users"])
def delete_user(user_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Response:
    """Remove a user from the active enterprise; their tokens there are revoked."""
    identity.remove_member(db, ctx, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- roles ------------------------------------------------------------------------------------


@router.get("/roles", response_model=list[RoleRead], tags=["roles"])
def list_roles(db: DbSession, ctx: CurrentContext) -> list[Any]:
    """List the built-in roles and the enterprise's own."""
    return identity.list_roles(db, ctx)


@router.post("/roles", response_model=RoleRead, status_code=status.HTTP_201_CREATED, tags=["roles"])
def create_role(body: RoleCreate, db: DbSession, ctx: CurrentContext) -> Any:
    """Define a role of the active enterprise."""
    return identity.create_role(db, ctx, **body.model_dump())


@router.get("/roles/{role_id}", response_model=RoleRead, tags=["roles"])
def get_role(role_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Any:
    """Return one role."""
    return identity.get_role(db, ctx, role_id)


@router.patch("/roles/{role_id}", response_model=RoleRead, tags=["roles"])
def update_role(role_id: ObjectId, body: RoleUpdate, db: DbSession, ctx: CurrentContext) -> Any:
    """Change one of the enterprise's own roles."""
    return identity.update_role(db, ctx, role_id, **body.model_dump(exclude_unset=True))


@router.delete("/roles/{role_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["roles"])
def delete_role(role_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Response:
    """Delete one of the enterprise's own roles that nobody holds."""
    identity.delete_role(db, ctx, role_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- tokens -----------------------------------------------------------------------------------


@router.get("/tokens", response_model=list[TokenRead], tags=["tokens"])
def list_tokens(db: DbSession, ctx: CurrentContext) -> list[Any]:
    """List your API tokens (every token of the enterprise with tokens.manage)."""
    return identity.list_tokens(db, ctx)


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED, tags=["tokens"])
def create_token(body: TokenCreate, db: DbSession, ctx: CurrentContext) -> TokenCreated:
    """Create an API token; the secret is in this answer and nowhere else."""
    token, secret = identity.create_token(db, ctx, **body.model_dump())
    return TokenCreated.model_validate({**TokenRead.model_validate(token).model_dump(), "token": secret})


@router.get("/tokens/{token_id}", response_model=TokenRead, tags=["tokens"])
def get_token(token_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Any:
    """Return one token (never its secret)."""
    return identity.get_token(db, ctx, token_id)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["tokens"])
def revoke_token(token_id: ObjectId, db: DbSession, ctx: CurrentContext) -> Response:
    """Revoke a token at once."""
    identity.revoke_token(db, ctx, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- audit ------------------------------------------------------------------------------------


@router.get("/audit", response_model=Page[AuditRead], tags=["audit"])
def list_audit(
    db: DbSession, ctx: CurrentContext, filters: AuditFilters, offset: Offset = 0, limit: Limit = 50
) -> Page[AuditRead]:
    """Read the audit log of the active enterprise (the platform admin with none chosen: all)."""
    rows, total = audit.list_audit(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(AuditRead, rows, total, offset, limit)
