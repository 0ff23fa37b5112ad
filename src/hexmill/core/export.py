"""CSV downloads of lists: one cell format, formula-safe, fetched page by page.

Every list of the API has a CSV twin taking the same filters. They all render through
``csv_download``: the rows are fetched a page at a time (``fetch(offset) -> (rows, total)``) so
a large export never asks the service for more than ``MAX_LIMIT`` rows at once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from hexmill.core.pagination import MAX_LIMIT

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}
Fetch = Callable[[int], tuple[Sequence[Any], int]]


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except (InvalidOperation, ValueError):
        return False
    return True


def csv_cell(value: object) -> str:
    """Render one value as a CSV cell: empty for None, plain decimals, ISO dates, no formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    text = value.isoformat() if isinstance(value, datetime | date) else str(value)
    # A leading =, +, - or @ would make a spreadsheet run the cell as a formula (CSV injection).
    return "'" + text if text[:1] in {"=", "+", "-", "@"} and not _is_number(text) else text


def pages(fetch: Fetch) -> Iterable[Any]:
    """Yield every row of a paged list, page by page."""
    offset = 0
    while True:
        rows, total = fetch(offset)
        yield from rows
        offset += len(rows)
        if not rows or offset >= total:
            return


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """Return rows of cells as a CSV attachment named ``<name>.csv``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return Response(
        buffer.getvalue(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def csv_download(name: str, columns: Sequence[str], fetch: Fetch) -> Response:
    """Return every row of a paged list as CSV, one column per attribute in ``columns``."""
    return csv_response(name, columns, ([getattr(row, c) for c in columns] for row in pages(fetch)))


def csv_of_schema(name: str, schema: type[BaseModel], fetch: Fetch) -> Response:
    """Return every row of a paged list as CSV, one column per field of ``schema`` (as its JSON shows it)."""
    fields = list(schema.model_fields)

    def cells(row: Any) -> list[object]:
        data = schema.model_validate(row).model_dump(mode="json")
        return [data[f] for f in fields]

    return csv_response(name, fields, (cells(row) for row in pages(fetch)))


__all__ = ["CSV_RESPONSE", "MAX_LIMIT", "csv_cell", "csv_download", "csv_of_schema", "csv_response", "pages"]
