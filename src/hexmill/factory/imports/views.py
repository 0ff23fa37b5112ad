"""Console page of imports: choose a kind, upload a spreadsheet, check it or import it; every error in a table."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from hexmill.core.context import Context
from hexmill.core.deps import DbSession
from hexmill.core.errors import InvalidInput, PermissionDenied
from hexmill.core.i18n import N_, gettext
from hexmill.factory.imports import reading, service
from hexmill.factory.imports.columns import KIND_LABELS, KINDS, CellError
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors
from hexmill.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
# The names of the counts an import answers with, as the page shows them.
CREATED_LABELS = {
    "parties": N_("Parties"),
    "items": N_("Items"),
    "boms": N_("BOM versions"),
    "bom_lines": N_("BOM lines"),
    "operations": N_("Routing operations"),
    "stock_moves": N_("Stock moves"),
    "lots": N_("Lots and serial numbers"),
    "purchase_orders": N_("Purchase orders"),
    "purchase_order_lines": N_("Purchase order lines"),
    "sales_orders": N_("Sales orders"),
    "sales_order_lines": N_("Sales order lines"),
}


def _kinds(ctx: Context) -> list[tuple[str, str]]:
    """Return (kind, label msgid) of the kinds the user may import; refuse a user who may import none."""
    allowed = [(name, KIND_LABELS[name]) for name, spec in KINDS.items() if ctx.can(spec.permission)]
    if not allowed:
        raise PermissionDenied(N_("You may not import anything."))
    return allowed


def _page(
    request: Request,
    page: Console,
    form: dict[str, Any],
    *,
    errors: list[CellError] | None = None,
    result: service.ImportResult | None = None,
    summary: str = "",
    params: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    text = gettext(summary) % (params or {}) if summary else ""
    return render(
        request,
        "imports/import.html",
        status_code=status_code,
        kinds=_kinds(page.ctx),
        form=form,
        form_errors=FormErrors(summary=text),
        errors=errors or [],
        result=result,
        created_labels=CREATED_LABELS,
    )


def _read_upload(form: FormData) -> tuple[str, bytes]:
    """Return the uploaded file's name and bytes (empty if none), and close every upload of the form."""
    name, data = "", b""
    for _key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if not name and value.filename:
                name, data = value.filename, value.file.read(reading.MAX_BYTES + 1)
            value.file.close()
    return name, data


@router.get("/factory/import")
def import_page(request: Request, page: Console) -> Response:
    """Show the import form with links to each kind's templates."""
    return _page(request, page, {"kind": request.query_params.get("kind", "items")})


@router.post("/factory/import")
def import_submit(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Check (dry run) or import an uploaded file; show every error with row and column, or the counts."""
    kind = str(form.get("kind") or "")
    dry_run = form.get("action") != "import"
    shown = {"kind": kind}
    filename, data = _read_upload(form)
    if kind not in KINDS:
        return _page(request, page, shown, summary=N_("Choose what to import."), status_code=422)
    if not filename:
        return _page(request, page, shown, summary=N_("Choose a file to upload."), status_code=422)
    try:
        result = service.import_file(db, page.ctx, kind=kind, data=data, filename=filename, dry_run=dry_run)
    except InvalidInput as exc:
        errors = [e if isinstance(e, CellError) else CellError(e.detail, params=e.params) for e in exc.errors]
        return _page(request, page, shown, errors=errors, summary=exc.detail, params=exc.params, status_code=422)
    return _page(request, page, shown, result=result)
