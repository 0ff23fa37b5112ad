"""Scoped lookups and paged lists that every domain service shares.

The tenant guard scopes every ORM query, so "not there" and "another enterprise's" look the same
here: both answer NotFound (a lookup by URL) or InvalidInput on the field that named the object
(a reference inside an input), and nothing tells a caller that another tenant's row exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, inspect, select
from sqlalchemy.orm import Session

from hexmill.core.errors import FieldError, InvalidInput, NotFound
from hexmill.core.filters import FilterSet
from hexmill.core.pagination import count_of

M = TypeVar("M")


def _by_id(model: type[Any], obj_id: int) -> ColumnElement[bool]:
    key: ColumnElement[Any] = inspect(model).primary_key[0]
    return key == obj_id


def lookup(session: Session, model: type[M], obj_id: int, message: str) -> M:
    """Return the ``model`` row ``obj_id`` of the caller's tenant, or raise NotFound with ``message``."""
    obj = session.scalar(select(model).where(_by_id(model, obj_id)))
    if obj is None:
        raise NotFound(message, id=obj_id)
    return obj


def reference(session: Session, model: type[M], obj_id: int, field: str, message: str) -> M:
    """Return the row an input's ``field`` names, or raise InvalidInput on that field."""
    obj = session.scalar(select(model).where(_by_id(model, obj_id)))
    if obj is None:
        errors = [FieldError(message, field=field, params={"id": obj_id})]
        raise InvalidInput(message, field=field, id=obj_id, errors=errors)
    return obj


def page_of(
    session: Session, stmt: Select[Any], flt: FilterSet, *, filters: Mapping[str, Any] | None, offset: int, limit: int
) -> tuple[list[Any], int]:
    """Apply ``flt``'s filters to ``stmt``; return one page of its rows and the filtered total."""
    stmt = flt.apply(stmt, filters or {})
    return list(session.scalars(stmt.offset(offset).limit(limit))), count_of(session, stmt)
