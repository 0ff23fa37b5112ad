"""What the factory's numbered documents share: quotations, sales, purchase and work orders (and unique codes).

Each document has a number unique in its enterprise (checked before writing, and again by the
unique constraint when two writers race) and numbered lines looked up by id. The messages stay
with the callers, so every refusal names its own kind of document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hexmill.core.errors import Conflict, NotFound


class _Line(Protocol):
    id: int


L = TypeVar("L", bound=_Line)


def check_unique(session: Session, model: Any, column: str, value: str, *, exclude: int | None, taken: str) -> None:
    """Raise ``Conflict(taken)`` on ``column`` when another row of ``model`` (not ``exclude``) has ``value`` there."""
    attribute = getattr(model, column)
    stmt = select(model.id).where(attribute == value)
    if exclude is not None:
        stmt = stmt.where(model.id != exclude)
    with session.no_autoflush:
        found = session.scalar(stmt) is not None
    if found:
        params: dict[str, Any] = {column: value}
        raise Conflict(taken, field=column, **params)


def check_number_free(session: Session, model: Any, number: str, exclude: int | None, taken: str) -> None:
    """Raise ``Conflict(taken)`` on "number" when another document of ``model`` has ``number``."""
    check_unique(session, model, "number", number, exclude=exclude, taken=taken)


def flush_numbered(session: Session, number: str, taken: str) -> None:
    """Flush; a concurrent document that took the number first hits the unique constraint, a ``Conflict`` too."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(taken, field="number", number=number) from exc


def line_of(lines: Iterable[L], line_id: int, missing: str, number: str) -> L:
    """Return the line with ``line_id``, or raise ``NotFound(missing)`` naming it and the document ``number``."""
    for line in lines:
        if line.id == line_id:
            return line
    raise NotFound(missing, id=line_id, number=number)
