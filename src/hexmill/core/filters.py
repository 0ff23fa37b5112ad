"""One filter definition per list, serving both the API list endpoint and the console list page."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fastapi import Query
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from hexmill.core.errors import FieldError, InvalidInput
from hexmill.core.i18n import N_
from hexmill.core.models import AuditEntry

Op = Literal["eq", "icontains", "startswith", "gte", "lt"]
MAX_FILTER_LENGTH = 200
# Integer filters compare with 32-bit columns: larger values match nothing, and SQLite cannot bind them.
MAX_FILTER_INT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Filter:
    """One query parameter: its name, the column it filters, how, and the type of its value."""

    name: str
    column: InstrumentedAttribute[Any]
    op: Op = "eq"
    type: type = str
    label: str = ""


@dataclass(frozen=True, slots=True)
class FilterSet:
    """The filters of one list; ``parse`` validates, ``apply`` narrows a select."""

    filters: tuple[Filter, ...]
    by_name: dict[str, Filter] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.filters})

    def parse(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return typed values of the given parameters; bad ones raise InvalidInput naming them."""
        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        for name, flt in self.by_name.items():
            raw = params.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[name] = _convert(flt.type, raw)
            except (TypeError, ValueError):
                errors.append(FieldError(N_("Not a valid value."), field=name))
        if errors:
            raise InvalidInput(N_("Some filters are not valid."), errors=errors)
        return values

    def apply(self, stmt: Select[Any], values: Mapping[str, Any]) -> Select[Any]:
        """Narrow ``stmt`` by the parsed filter values."""
        for name, value in values.items():
            flt = self.by_name[name]
            col = flt.column
            if flt.op == "eq":
                stmt = stmt.where(col == value)
            elif flt.op == "icontains":
                stmt = stmt.where(col.icontains(value, autoescape=True))
            elif flt.op == "startswith":
                stmt = stmt.where(col.startswith(value, autoescape=True))
            elif flt.op == "gte":
                stmt = stmt.where(col >= value)
            else:
                stmt = stmt.where(col < value)
        return stmt

    def dependency(self) -> Callable[..., dict[str, Any]]:
        """Return a FastAPI dependency that documents and parses these filters as query parameters."""

        def _dep(**kwargs: Any) -> dict[str, Any]:
            return self.parse(kwargs)

        params = [
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, description=f.label or None, max_length=MAX_FILTER_LENGTH)
                if f.type is str
                else Query(None, description=f.label or None),
                annotation=f.type | None,
            )
            for f in self.filters
        ]
        _dep.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        return _dep


def _convert(kind: type[Any], raw: Any) -> Any:
    if isinstance(raw, kind):
        if kind is str and len(raw) > MAX_FILTER_LENGTH:
            raise ValueError(raw)
        if kind is int and isinstance(raw, int) and not -MAX_FILTER_INT - 1 <= raw <= MAX_FILTER_INT:
            raise ValueError(raw)
        # FastAPI has already parsed the query value; a naive time is still ambiguous (and was a 500).
        if kind is datetime and raw.tzinfo is None:
            raise ValueError(raw)
        return raw
    if kind is bool:
        text = str(raw).lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError(raw)
    if kind is datetime:
        value = datetime.fromisoformat(str(raw))
        if value.tzinfo is None:
            raise ValueError(raw)
        return value
    if kind is str and len(str(raw)) > MAX_FILTER_LENGTH:
        raise ValueError(raw)
    if kind is int:
        return _convert(int, int(raw))
    return kind(raw)


def _audit_filters() -> FilterSet:
    return FilterSet(
        (
            Filter("action", AuditEntry.action, "startswith", label=N_("Action")),
            Filter("username", AuditEntry.username, "eq", label=N_("User")),
            Filter("object_type", AuditEntry.object_type, "eq", label=N_("Object type")),
            Filter("result", AuditEntry.result, "eq", label=N_("Result")),
            Filter("since", AuditEntry.at, "gte", datetime, label=N_("From")),
            Filter("until", AuditEntry.at, "lt", datetime, label=N_("Until")),
            Filter("tenant_id", AuditEntry.tenant_id, "eq", int, label=N_("Enterprise")),
        )
    )


AUDIT_FILTERS = _audit_filters()
