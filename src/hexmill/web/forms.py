"""Form handling for console pages: reading fields, validating with the API schemas, inline errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from hexmill.app import validation_problem
from hexmill.core.errors import HexmillError
from hexmill.core.i18n import gettext

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass
class FormErrors:
    """What is wrong with a submitted form: a message per field and one for the whole form."""

    fields: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    def __bool__(self) -> bool:
        return bool(self.fields or self.summary)


class FormInvalid(Exception):
    """The submitted form did not validate; ``errors`` say where."""

    def __init__(self, errors: FormErrors) -> None:
        super().__init__(errors.summary)
        self.errors = errors


def values(form: FormData, names: Iterable[str], *, lists: Iterable[str] = ()) -> dict[str, Any]:
    """Return the named fields, blanks dropped (so defaults apply) and multi-valued ones as lists."""
    out: dict[str, Any] = {}
    for name in names:
        raw = form.get(name)
        if isinstance(raw, str) and raw.strip() != "":
            out[name] = raw
    for name in lists:
        out[name] = [v for v in form.getlist(name) if isinstance(v, str) and v]
    return out


def _pydantic_errors(exc: ValidationError) -> FormErrors:
    errors = FormErrors()
    raw: list[dict[str, Any]] = [dict(err) for err in exc.errors()]
    problem = validation_problem(raw)
    for item, err in zip(problem["errors"], raw, strict=True):
        detail = item["detail"]
        if err.get("type") == "value_error":
            # Custom validators raise ValueError with a msgid; show it translated.
            cause = (err.get("ctx") or {}).get("error")
            detail = gettext(str(cause)) if cause is not None else detail
        errors.fields.setdefault(item["field"], detail)
    # The page's own summary ("Please correct the marked fields.") reads better than the API's count.
    return errors


def domain_errors(exc: HexmillError) -> FormErrors:
    """Return a domain error as form errors: per field where it names one, else for the form."""
    body = exc.render()
    errors = FormErrors(summary=body["detail"])
    for item in body.get("errors", []):
        if "field" in item:
            errors.fields.setdefault(item["field"], item["detail"])
    if exc.field is not None:
        errors.fields.setdefault(exc.field, body["detail"])
    return errors


def validate(schema: type[M], data: dict[str, Any]) -> M:
    """Validate form data with an API schema; raise FormInvalid with translated messages."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise FormInvalid(_pydantic_errors(exc)) from exc


def attempt(db: Session, action: Callable[[], T]) -> T:
    """Run a service write; on a domain error roll the transaction back and raise FormInvalid."""
    try:
        result = action()
        db.flush()
    except HexmillError as exc:
        db.rollback()
        raise FormInvalid(domain_errors(exc)) from exc
    return result
