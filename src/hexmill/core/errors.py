"""Domain errors and their rendering as RFC 9457 problem details, in the caller's language."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from hexmill.core.i18n import N_, gettext

PROBLEM_BASE = "urn:hexmill:problem:"


@dataclass(slots=True)
class FieldError:
    """One thing wrong with the input, and where: a field path, or a row and column of a file."""

    detail: str
    field: str | None = None
    row: int | None = None
    column: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        """Return the JSON form, with the detail translated."""
        text = gettext(self.detail)
        out: dict[str, Any] = {"detail": text % self.params if self.params else text}
        if self.field is not None:
            out["field"] = self.field
        if self.row is not None:
            out["row"] = self.row
        if self.column is not None:
            out["column"] = self.column
        return out


class HexmillError(Exception):
    """Base of errors the API turns into a problem response."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = N_("Bad request")

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(detail % params if params else detail)
        self.detail = detail
        self.params = params
        self.field = field
        self.errors = errors or []

    @property
    def type(self) -> str:
        """Return the stable problem type URI."""
        return PROBLEM_BASE + self.slug

    def render(self, instance: str | None = None) -> dict[str, Any]:
        """Return the problem document, translated into the current locale."""
        detail = gettext(self.detail)
        body: dict[str, Any] = {
            "type": self.type,
            "title": gettext(self.title),
            "status": self.status,
            "detail": detail % self.params if self.params else detail,
        }
        if self.field is not None:
            body["field"] = self.field
        if self.errors:
            body["errors"] = [e.render() for e in self.errors]
            if self.field is None and self.errors[0].field is not None:
                body["field"] = self.errors[0].field
        if instance:
            body["instance"] = instance
        return body


class NotAuthenticated(HexmillError):
    """No valid credentials were given."""

    status = 401
    slug = "not-authenticated"
    title = N_("Not authenticated")


class PermissionDenied(HexmillError):
    """The caller is known but may not do this."""

    status = 403
    slug = "permission-denied"
    title = N_("Permission denied")


class NotFound(HexmillError):
    """The object does not exist in the caller's tenant (or the caller may not know it does)."""

    status = 404
    slug = "not-found"
    title = N_("Not found")


class Conflict(HexmillError):
    """The write conflicts with existing data (a duplicate name, an object still in use)."""

    status = 409
    slug = "conflict"
    title = N_("Conflict")


class InvalidInput(HexmillError):
    """The input is well-formed but not acceptable; ``errors`` say where."""

    status = 422
    slug = "validation-error"
    title = N_("Invalid input")


class RateLimited(HexmillError):
    """Too many attempts in a short time."""

    status = 429
    slug = "rate-limited"
    title = N_("Too many attempts")


class PayloadTooLarge(HexmillError):
    """The request body is larger than the endpoint accepts."""

    status = 413
    slug = "payload-too-large"
    title = N_("Payload too large")


class UnsupportedMediaType(HexmillError):
    """The request body's Content-Type is not one the endpoint reads."""

    status = 415
    slug = "unsupported-media-type"
    title = N_("Unsupported media type")
