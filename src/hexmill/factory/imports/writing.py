"""Writing import templates: a header row as CSV (UTF-8 with BOM, which Excel opens right) or as .xlsx."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from hexmill.factory.imports.reading import UTF8_BOM, Cell


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Cell]] = ()) -> bytes:
    """Return a header (and rows) as CSV bytes in UTF-8 with a BOM."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if c is None else c for c in row] for row in rows)
    return UTF8_BOM + buf.getvalue().encode("utf-8")


def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[Cell]] = (), *, title: str = "Sheet1") -> bytes:
    """Return a header (and rows) as an .xlsx workbook of one sheet named ``title``."""
    # Imported here, not at the top: only .xlsx downloads need openpyxl, and importing it takes a while.
    from openpyxl import Workbook  # noqa: PLC0415 - see above

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
