"""REST API of imports: POST a spreadsheet of one kind under /factory/imports/{kind}; download its template.

A file with any error imports nothing: the answer is a 422 problem whose ``errors`` list every
error with its ``row``, ``column`` and ``message`` in the caller's language.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile

from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.i18n import get_locale
from hexmill.factory.imports import columns, reading, service, writing
from hexmill.factory.imports.schemas import ImportKind, ImportResultRead

router = APIRouter(prefix="/factory")
TAG = "imports"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Upload = Annotated[UploadFile, File(description="The spreadsheet: CSV (UTF-8 or GB18030) or .xlsx.")]


def importer(kind: ImportKind, ctx: CurrentContext) -> Context:
    """Return the caller's context if they may create what ``kind`` imports (checked before the file is read)."""
    ctx.require(service.kind_spec(kind).permission)
    return ctx


Importer = Annotated[Context, Depends(importer)]


@router.post("/imports/{kind}", response_model=ImportResultRead, tags=[TAG])
def import_file(
    kind: ImportKind,
    db: DbSession,
    ctx: Importer,
    file: Upload,
    dry_run: Annotated[bool, Query(description="Check the whole file, keep nothing.")] = False,
) -> ImportResultRead:
    """Import a spreadsheet of parties, items, BOMs, routings, opening stock, open purchase or sales orders.

    The header row names the columns by their English key or Chinese alias (see the templates).
    The whole file is checked first (cells, codes, duplicates, and the rules of the services that
    create the objects); a file with any error imports nothing and the answer lists every error
    with its row (as the spreadsheet numbers it) and column.
    """
    data = file.file.read(reading.MAX_BYTES + 1)
    result = service.import_file(db, ctx, kind=kind, data=data, filename=file.filename or "", dry_run=dry_run)
    return ImportResultRead(kind=result.kind, rows=result.rows, dry_run=result.dry_run, created=result.created)


def _attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get(
    "/imports/{kind}/template.csv",
    tags=[TAG],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The header row as CSV."}},
)
def csv_template(kind: ImportKind, ctx: Importer) -> Response:
    """Download an empty CSV file of a kind: its header row in the caller's language."""
    header = columns.template_header(service.kind_spec(kind), get_locale())
    return _attachment(writing.csv_bytes(header), "text/csv; charset=utf-8", f"{kind}.csv")


@router.get(
    "/imports/{kind}/template.xlsx",
    tags=[TAG],
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "The header row as an .xlsx workbook."}},
)
def xlsx_template(kind: ImportKind, ctx: Importer) -> Response:
    """Download an empty .xlsx workbook of a kind: its header row in the caller's language."""
    spec = service.kind_spec(kind)
    header = columns.template_header(spec, get_locale())
    return _attachment(writing.xlsx_bytes(header, title=spec.name), XLSX_MEDIA_TYPE, f"{kind}.xlsx")
