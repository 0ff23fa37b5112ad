"""The append-only audit log: every write and every authentication event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hexmill.core.context import Context
from hexmill.core.filters import AUDIT_FILTERS
from hexmill.core.models import AuditEntry
from hexmill.core.pagination import count_of
from hexmill.core.tenancy import get_scope, widened


def record(
    session: Session,
    ctx: Context,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    result: str = "success",
    detail: dict[str, Any] | None = None,
    tenant_id: int | None = None,
) -> AuditEntry:
    """Add one audit entry to the session's transaction, so it commits with the write it records."""
    entry = AuditEntry(
        tenant_id=tenant_id if tenant_id is not None else ctx.tenant_id,
        user_id=ctx.user_id,
        username=ctx.username,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        result=result,
        detail=detail or {},
        client=ctx.client,
    )
    scope = get_scope(session)
    if isinstance(scope, int) and entry.tenant_id != scope and ctx.is_platform_admin:
        # The platform admin acting on another enterprise (creating, editing or deleting it):
        # the entry belongs to that enterprise, so it is written across the wall on purpose.
        with widened(session):
            session.add(entry)
            session.flush()
        return entry
    session.add(entry)
    return entry


def list_audit(
    session: Session, ctx: Context, *, filters: dict[str, Any], offset: int = 0, limit: int = 50
) -> tuple[list[AuditEntry], int]:
    """Return one page of the audit log the context may see, and the total count.

    A tenant admin sees the active tenant's entries (the tenant guard scopes them); the platform
    admin sees every tenant's and the platform's own (logins, refused tokens), and narrows them
    with the ``tenant_id`` filter.
    """
    ctx.require("audit.view")
    if not ctx.is_platform_admin:
        filters = {k: v for k, v in filters.items() if k != "tenant_id"}
    stmt = AUDIT_FILTERS.apply(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), filters)
    if ctx.is_platform_admin:
        with widened(session):
            return _page(session, stmt, offset, limit)
    return _page(session, stmt, offset, limit)


def _page(session: Session, stmt: Select[Any], offset: int, limit: int) -> tuple[list[AuditEntry], int]:
    total = count_of(session, stmt)
    rows = list(session.scalars(stmt.offset(offset).limit(limit)))
    return rows, total
