"""API shapes of the platform core (parks, tenants, users, roles, tokens, audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.@-]{2,64}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Text = Annotated[str, StringConstraints(max_length=2000)]
# Unified social credit code: 18 characters of digits and capital letters (GB 32100-2015).
RegistryId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Z]{18}$")]
PermissionCode = Annotated[str, StringConstraints(pattern=r"^[a-z]+\.[a-z_]+$", max_length=64)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    """Base of response bodies, read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class ParkCreate(Input):
    name: Name
    region_code: Code | None = None
    description: Text = ""


class ParkUpdate(Input):
    name: Name | None = None
    region_code: Code | None = None
    description: Text | None = None


class ParkRead(Output):
    id: int
    name: str
    region_code: str | None
    description: str
    created_at: datetime


class TenantCreate(Input):
    name: Name
    registry_id: RegistryId | None = None
    industry_code: Code | None = None
    region_code: Code | None = None
    size_class: Annotated[str, StringConstraints(pattern=r"^(micro|small|medium|large)$")] | None = None
    park_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class TenantUpdate(Input):
    name: Name | None = None
    registry_id: RegistryId | None = None
    industry_code: Code | None = None
    region_code: Code | None = None
    size_class: Annotated[str, StringConstraints(pattern=r"^(micro|small|medium|large)$")] | None = None
    park_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    is_active: bool | None = None


class TenantRead(Output):
    id: int
    name: str
    registry_id: str | None
    industry_code: str | None
    region_code: str | None
    size_class: str | None
    park_id: int | None
    is_active: bool
    created_at: datetime


class RoleCreate(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    description: Text = ""
    permissions: list[PermissionCode] = Field(default_factory=list, max_length=100)


class RoleUpdate(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{1,63}$")] | None = None
    description: Text | None = None
    permissions: list[PermissionCode] | None = Field(default=None, max_length=100)


class RoleRead(Output):
    id: int
    name: str
    description: str
    permissions: list[str]
    builtin: bool


class MemberCreate(Input):
    username: Username
    password: Password
    role: Annotated[str, StringConstraints(max_length=64)]
    display_name: Annotated[str, StringConstraints(max_length=200)] = ""
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)] | None = None


class MemberUpdate(Input):
    role: Annotated[str, StringConstraints(max_length=64)] | None = None
    display_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)] | None = None
    is_active: bool | None = None


class MemberRead(BaseModel):
    user_id: int
    username: str
    display_name: str
    email: str | None
    role: str
    is_active: bool

    @classmethod
    def of(cls, membership: Any) -> MemberRead:
        """Flatten a membership with its user and role."""
        return cls(
            user_id=membership.user.id,
            username=membership.user.username,
            display_name=membership.user.display_name,
            email=membership.user.email,
            role=membership.role.name,
            is_active=membership.user.is_active,
        )


class TokenCreate(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(default=None, max_length=100)
    # Aware only: a naive time is ambiguous, and the UTC columns refuse it (it used to be a 500).
    expires_at: AwareDatetime | None = None


class TokenRead(Output):
    id: int
    name: str
    prefix: str
    user_id: int
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret; shown this once and never again.")


class PasswordChange(Input):
    current: Password
    new: Password


class AuditRead(Output):
    id: int
    at: datetime
    tenant_id: int | None
    user_id: int | None
    username: str | None
    action: str
    object_type: str | None
    object_id: str | None
    result: str
    detail: dict[str, Any]
    client: str | None


class MeRead(BaseModel):
    user_id: int | None
    username: str | None
    tenant_id: int | None
    permissions: list[str]
    is_platform_admin: bool


class ProblemItem(BaseModel):
    detail: str = Field(description="What is wrong, in the caller's language.")
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    row: int | None = Field(default=None, description="Row of an uploaded file, counting from 1.")
    column: str | None = Field(default=None, description="Column of an uploaded file.")
    code: str | None = Field(default=None, description="Machine-readable kind of error.")


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details), sent as ``application/problem+json``."""

    type: str = Field(description="Stable URI of the kind of problem, e.g. urn:hexmill:problem:not-found.")
    title: str
    status: int
    detail: str
    field: str | None = Field(default=None, description="The (first) offending field, if any.")
    errors: list[ProblemItem] | None = Field(default=None, description="Every offending field, for invalid input.")
    instance: str | None = None
