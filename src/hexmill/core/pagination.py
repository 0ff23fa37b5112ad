"""Offset pagination shared by API lists and console lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the total and where this page starts."""

    items: list[T]
    total: int
    offset: int
    limit: int


def count_of(session: Session, stmt: Select[Any]) -> int:
    """Return how many rows ``stmt`` yields, ignoring its ordering."""
    sub = stmt.order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def page_of_rows(schema: type[M], rows: Iterable[Any], total: int, offset: int, limit: int) -> Page[M]:
    """Return one page of a list: ``rows`` read through ``schema``, with the total and where the page starts."""
    return Page[schema](  # type: ignore[valid-type]
        items=[schema.model_validate(r) for r in rows], total=total, offset=offset, limit=limit
    )
