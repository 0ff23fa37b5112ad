"""Who is acting, in which tenant, with which permissions: passed to every service function."""

from __future__ import annotations

from dataclasses import dataclass, field

from hexmill.core.errors import PermissionDenied
from hexmill.core.i18n import N_
from hexmill.core.tenancy import ALL_TENANTS, Scope


@dataclass(frozen=True, slots=True)
class Context:
    """The acting user (or system job) and the tenant they act in."""

    user_id: int | None
    username: str | None
    tenant_id: int | None
    permissions: frozenset[str] = field(default_factory=frozenset)
    is_platform_admin: bool = False
    token_id: int | None = None
    client: str | None = None

    @classmethod
    def system(cls, tenant_id: int | None = None, *, name: str = "system") -> Context:
        """Return the context of platform jobs (seeding, CLI administration)."""
        return cls(user_id=None, username=name, tenant_id=tenant_id, is_platform_admin=True)

    @property
    def scope(self) -> Scope:
        """Return the tenant scope for this context's database session."""
        if self.tenant_id is not None:
            return self.tenant_id
        if self.is_platform_admin:
            return ALL_TENANTS
        raise PermissionDenied(N_("You are not a member of any enterprise."))

    def can(self, permission: str) -> bool:
        """Return whether the context holds ``permission``."""
        return self.is_platform_admin or permission in self.permissions

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless the context holds ``permission``."""
        if not self.can(permission):
            raise PermissionDenied(N_("This needs the permission %(permission)s."), permission=permission)

    def require_platform_admin(self) -> None:
        """Raise PermissionDenied unless the context is the platform admin."""
        if not self.is_platform_admin:
            raise PermissionDenied(N_("Only the platform administrator may do this."))

    def require_tenant(self) -> int:
        """Return the active tenant id, or raise if the context has none."""
        if self.tenant_id is None:
            raise PermissionDenied(N_("Choose an enterprise first."))
        return self.tenant_id
