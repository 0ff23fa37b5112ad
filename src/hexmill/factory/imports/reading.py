"""Reading spreadsheets into rows of cells: CSV (UTF-8 or GB18030; comma, semicolon or tab) and .xlsx.

Pure: bytes in, a ``Sheet`` out, no database. Row numbers are the ones the user sees in the
spreadsheet (the first record is row 1); wholly empty rows are dropped but keep their numbers
counted, so row 7 of the file is row 7 of every error.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final

from hexmill.core.i18n import N_

Cell = str | int | float | Decimal | bool | date | datetime | time | None

MAX_BYTES: Final = 20 * 1024 * 1024
MAX_ROWS: Final = 100_000
UTF8_BOM: Final = b"\xef\xbb\xbf"
XLSX_MAGIC: Final = b"PK\x03\x04"
DELIMITERS: Final = ",;\t"


class UnreadableFile(Exception):
    """The bytes are no spreadsheet this module reads; ``message`` is a msgid with ``params``."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True, slots=True)
class Row:
    """One non-empty row below the header: its number in the spreadsheet and its cells."""

    number: int
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class Sheet:
    """The header row (its cells as text) and the data rows under it."""

    header: tuple[str, ...]
    header_row: int
    rows: tuple[Row, ...] = field(default_factory=tuple)
    encoding: str = ""


def is_blank(cell: Cell) -> bool:
    """Return True for an empty cell (None or only whitespace)."""
    return cell is None or (isinstance(cell, str) and cell.strip() == "")


def decode(data: bytes) -> tuple[str, str]:
    """Return the text of a CSV file and its encoding: UTF-8 (with or without BOM) if it is valid, else GB18030.

    Chinese Excel saves "CSV" in the system code page (GBK, a subset of GB18030); strictly valid
    UTF-8 is almost never valid-looking GBK by accident, so UTF-8 is tried first and strictly.
    """
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise UnreadableFile(N_("The file is neither UTF-8 nor GB18030 text.")) from None


def sniff_delimiter(text: str) -> str:
    """Return the separator of a CSV text: comma, semicolon or tab, judged on its first lines."""
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.split("\n", 1)[0]
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _sheet(records: Sequence[tuple[int, tuple[Cell, ...]]], encoding: str) -> Sheet:
    """Return the first non-empty record as the header and the non-empty ones after it as rows."""
    rows = [(n, cells) for n, cells in records if not all(is_blank(c) for c in cells)]
    if not rows:
        raise UnreadableFile(N_("The file is empty."))
    header_row, header_cells = rows[0]
    header = tuple("" if c is None else str(c).strip() for c in header_cells)
    while header and header[-1] == "":
        header = header[:-1]
    body = tuple(Row(n, cells) for n, cells in rows[1:])
    if len(body) > MAX_ROWS:
        raise UnreadableFile(N_("The file has more than %(max)s rows."), max=MAX_ROWS)
    return Sheet(header=header, header_row=header_row, rows=body, encoding=encoding)


def read_csv(data: bytes) -> Sheet:
    """Read a CSV file's bytes."""
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    try:
        records = [
            (n, tuple(cells)) for n, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)
        ]
    except csv.Error as exc:
        raise UnreadableFile(N_("The CSV file cannot be read: %(reason)s"), reason=str(exc)) from None
    return _sheet(records, encoding)


def _sheet_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def read_xlsx(data: bytes, sheet_names: Sequence[str] = ()) -> Sheet:
    """Read an .xlsx workbook: the sheet named like one of ``sheet_names``, else the first one."""
    # Imported here, not at the top: only .xlsx uploads need openpyxl, and importing it takes a while.
    from openpyxl import load_workbook  # noqa: PLC0415 - see above
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415 - see above

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(
            N_("The .xlsx file cannot be read: %(reason)s"), reason=str(exc) or type(exc).__name__
        ) from None
    try:
        wanted = {_sheet_key(n) for n in sheet_names}
        chosen = next((ws for ws in book.worksheets if _sheet_key(ws.title) in wanted), None)
        if chosen is None:
            if not book.worksheets:
                raise UnreadableFile(N_("The file is empty."))
            chosen = book.worksheets[0]
        records: list[tuple[int, tuple[Cell, ...]]] = []
        for n, cells in enumerate(chosen.iter_rows(values_only=True), start=1):
            if n > MAX_ROWS + 100:
                raise UnreadableFile(N_("The file has more than %(max)s rows."), max=MAX_ROWS)
            records.append((n, tuple(cells)))
    finally:
        book.close()
    return _sheet(records, "xlsx")


def read(data: bytes, filename: str = "", sheet_names: Sequence[str] = ()) -> Sheet:
    """Read an uploaded spreadsheet, .xlsx by its content (a zip), CSV otherwise."""
    if len(data) > MAX_BYTES:
        raise UnreadableFile(N_("The file is larger than %(limit)s bytes."), limit=MAX_BYTES)
    if data.startswith(XLSX_MAGIC):
        return read_xlsx(data, sheet_names)
    if filename.lower().endswith((".xls", ".xlsx", ".xlsm")):
        raise UnreadableFile(N_("Only CSV and .xlsx files can be imported; save the sheet as .xlsx or CSV."))
    return read_csv(data)
