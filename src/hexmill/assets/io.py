"""The asset hierarchy as files: parse and validate CSV and JSON into records, render records back.

This module does no I/O and knows no database: ``service.import_records`` resolves the records
against the enterprise's assets and writes them; ``service.export_records`` reads them.

Both formats carry the same records. CSV has one row per object, with the path of names that
locates it (``site``, ``area``, ``line``, ``equipment``) and a ``record`` column naming its kind::

    record,site,area,line,line_kind,equipment,equipment_type,tag,unit,data_type,manufacturer,model,serial_number,description
    equipment_type,,,,,,DMU 50,,,,DMG MORI,DMU 50,,
    tag,,,,,,DMU 50,spindle_speed,rpm,float,,,,
    site,Suzhou,,,,,,,,,,,,
    equipment,Suzhou,Hall 1,Milling,work_centre,M-01,DMU 50,,,,DMG MORI,DMU 50,S1,

A tag row names either its equipment (by path) or its equipment type (a tag template). Rows are
numbered as a spreadsheet shows them: the header is row 1. Parsing validates every row and
reports every error (up to ``MAX_ERRORS``) with its row and column; a file with any error yields
no records at all.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from hexmill.core.errors import FieldError, InvalidInput
from hexmill.core.i18n import N_

MAX_BYTES: Final = 20 * 1024 * 1024
MAX_ROWS: Final = 100_000
MAX_ERRORS: Final = 1000
FORMAT_NAME: Final = "hexmill.assets"
FORMAT_VERSION: Final = 1

COLUMNS: Final = (
    "record", "site", "area", "line", "line_kind", "equipment", "equipment_type", "tag", "unit", "data_type",
    "manufacturer", "model", "serial_number", "description",
)  # fmt: skip
PATH_COLUMNS: Final = ("site", "area", "line", "equipment")
LINE_KINDS: Final = ("line", "work_centre")
DATA_TYPES: Final = ("float", "integer", "boolean", "string")

# Record kinds; "type_tag" is a tag template of an equipment type (a "tag" row naming a type).
KINDS: Final = ("equipment_type", "type_tag", "site", "area", "line", "equipment", "tag")

# The column holding a record's own name, and the path columns locating it.
NAME_COLUMN: Final[dict[str, str]] = {
    "site": "site", "area": "area", "line": "line", "equipment": "equipment",
    "equipment_type": "equipment_type", "type_tag": "tag", "tag": "tag",
}  # fmt: skip
PATH_OF: Final[dict[str, tuple[str, ...]]] = {
    "site": ("site",),
    "area": ("site", "area"),
    "line": ("site", "area", "line"),
    "equipment": ("site", "area", "line", "equipment"),
    "equipment_type": ("equipment_type",),
    "type_tag": ("equipment_type", "tag"),
    "tag": ("site", "area", "line", "equipment", "tag"),
}
# The other columns each kind uses, with their defaults.
FIELDS_OF: Final[dict[str, dict[str, str]]] = {
    "site": {"description": ""},
    "area": {"description": ""},
    "line": {"line_kind": "line", "description": ""},
    "equipment": {"equipment_type": "", "manufacturer": "", "model": "", "serial_number": "", "description": ""},
    "equipment_type": {"manufacturer": "", "model": "", "description": ""},
    "type_tag": {"unit": "", "data_type": "float", "description": ""},
    "tag": {"unit": "", "data_type": "float", "description": ""},
}
LIMITS: Final[dict[str, int]] = {
    "site": 200, "area": 200, "line": 200, "equipment": 200, "equipment_type": 200, "tag": 128, "unit": 32,
    "manufacturer": 200, "model": 200, "serial_number": 100, "description": 2000, "line_kind": 16, "data_type": 16,
}  # fmt: skip
# Columns whose JSON key differs: a record's own name is "name", a line's kind is "kind".
JSON_KEY: Final[dict[str, str]] = {"line_kind": "kind"}

# The same character rules as the API's schemas (and surrogates, which JSON escapes can make).
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class Record:
    """One object of the hierarchy as a file carries it: its kind, its path of names and its fields.

    ``row`` (CSV) or ``where`` (JSON) say where it came from, for error messages; they take no
    part in comparing records.
    """

    kind: str
    path: tuple[str, ...]
    fields: Mapping[str, str]
    row: int | None = field(default=None, compare=False)
    where: str | None = field(default=None, compare=False)
    valid: bool = field(default=True, compare=False)

    @property
    def name(self) -> str:
        """Return the record's own name (the last element of its path)."""
        return self.path[-1]

    def error(self, column: str, detail: str, **params: Any) -> FieldError:
        """Return an error about ``column`` of this record, located as its format locates things."""
        if self.where is not None:
            key = "name" if column == NAME_COLUMN[self.kind] else JSON_KEY.get(column, column)
            return FieldError(detail, field=f"{self.where}.{key}", params=params)
        return FieldError(detail, row=self.row, column=column, params=params)


class _Errors:
    """Collects errors up to a limit; past it, one last error says the rest were left out."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []
        self.full = False

    def add(self, error: FieldError) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(error)
        elif not self.full:
            self.full = True
            self.items.append(FieldError(N_("Too many errors; the rest were not checked."), field="file"))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(
                N_("The file has %(n)s errors; nothing was imported."), errors=self.items, n=len(self.items)
            )


@dataclass(frozen=True, slots=True)
class Parsed:
    """The records a file holds (some perhaps marked invalid) and the errors found in it."""

    records: list[Record]
    errors: list[FieldError]

    def valid_records(self) -> list[Record]:
        """Return the records, or raise InvalidInput listing every error."""
        if self.errors:
            raise InvalidInput(
                N_("The file has %(n)s errors; nothing was imported."), errors=self.errors, n=len(self.errors)
            )
        return self.records


def _file_error(detail: str, **params: Any) -> InvalidInput:
    return InvalidInput(detail, field="file", errors=[FieldError(detail, field="file", params=params)], **params)


# ---------------------------------------------------------------------------------------------
# Validation shared by both formats
# ---------------------------------------------------------------------------------------------


def _check_value(column: str, value: str) -> tuple[str, str | None]:
    """Return the cleaned value and a msgid if it is not acceptable for ``column``."""
    if column != "description":
        value = value.strip()
    limit = LIMITS[column]
    if len(value) > limit:
        return value, N_("Too long: at most %(limit)s characters.")
    if column == "description":
        return value, N_("Must not contain control characters.") if _NOT_TEXT.search(value) else None
    if _NOT_ONE_LINE.search(value):
        return value, N_("Must be one line of text.")
    if column == "line_kind" and value not in LINE_KINDS:
        return value, N_("Must be line or work_centre.")
    if column == "data_type" and value not in DATA_TYPES:
        return value, N_("Must be float, integer, boolean or string.")
    return value, None


def _record(
    kind: str,
    cells: Mapping[str, str],
    errors: _Errors,
    *,
    row: int | None = None,
    where: str | None = None,
    check_ancestors: bool = True,
) -> Record | None:
    """Validate the cells of one object and return its record, adding any errors.

    A record whose path is sound but whose other fields are not comes back marked invalid: it
    still vouches for its path, so its children are not reported as orphans. A record whose path
    is not sound comes back as None.
    """
    path_cols = PATH_OF[kind]
    defaults = FIELDS_OF[kind]
    probe = Record(kind, ("",), {}, row=row, where=where)
    path_ok = fields_ok = True
    path: list[str] = []
    for column in path_cols:
        value, problem = _check_value(column, cells.get(column, ""))
        own = column == path_cols[-1]
        if not value:
            problem = N_("Required.")
        if problem is not None:
            path_ok = False
            if own or check_ancestors:
                errors.add(probe.error(column, problem, limit=LIMITS[column]))
        path.append(value)
    values: dict[str, str] = {}
    for column, default in defaults.items():
        value, problem = _check_value(column, cells.get(column, "")) if cells.get(column) else (default, None)
        if problem is not None:
            fields_ok = False
            errors.add(probe.error(column, problem, limit=LIMITS[column]))
        values[column] = value
    return Record(kind, tuple(path), values, row=row, where=where, valid=fields_ok) if path_ok else None


def _check_duplicates(records: Iterable[Record], errors: _Errors) -> None:
    first: dict[tuple[str, tuple[str, ...]], Record] = {}
    for rec in records:
        key = (rec.kind, rec.path)
        if key in first:
            seen = first[key]
            where = seen.row if seen.row is not None else seen.where
            errors.add(rec.error(NAME_COLUMN[rec.kind], N_("Appears twice in the file (first at %(first)s)."),
                                 first=where))  # fmt: skip
        else:
            first[key] = rec


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def _csv_kind(cells: Mapping[str, str]) -> str:
    record = cells.get("record", "").strip()
    if record == "tag" and not any(cells.get(c, "").strip() for c in PATH_COLUMNS) and cells.get("equipment_type"):
        return "type_tag"
    return record


def _read_rows(data: bytes) -> list[list[str]]:
    """Return the rows of a CSV file, header first; a file that is not CSV at all raises."""
    if len(data) > MAX_BYTES:
        raise _file_error(N_("The file is larger than %(limit)s bytes."), limit=MAX_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error(N_("The file is not UTF-8 text.")) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error:
        raise _file_error(N_("The file is not valid CSV (near line %(line)s)."), line=reader.line_num) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise _file_error(N_("The file is empty: it needs a header row."))
    if len(rows) > MAX_ROWS + 1:
        raise _file_error(N_("The file has more than %(limit)s rows."), limit=MAX_ROWS)
    return rows


def _check_header(header: list[str]) -> None:
    errors = _Errors()
    for index, name in enumerate(header):
        if name not in COLUMNS:
            errors.add(FieldError(N_("Unknown column."), row=1, column=name or f"#{index + 1}"))
        elif header.index(name) != index:
            errors.add(FieldError(N_("The column appears twice."), row=1, column=name))
    if "record" not in header:
        errors.add(FieldError(N_("The column record is missing."), row=1, column="record"))
    errors.raise_if_any()


def _csv_row(header: list[str], number: int, cells_list: list[str], errors: _Errors) -> Record | None:
    """Validate one data row; return its record, or None after adding its errors."""
    if len(cells_list) > len(header):
        errors.add(FieldError(N_("More cells than columns."), row=number, column=f"#{len(header) + 1}"))
        return None
    cells = dict(zip(header, cells_list, strict=False))
    kind = _csv_kind(cells)
    if kind not in KINDS or (kind == "type_tag" and cells.get("record", "").strip() != "tag"):
        kinds = ", ".join(sorted(set(KINDS) - {"type_tag"}))
        errors.add(FieldError(N_("Must be one of %(kinds)s."), row=number, column="record", params={"kinds": kinds}))
        return None
    used = set(PATH_OF[kind]) | set(FIELDS_OF[kind]) | {"record"}
    unused = [c for c in header if c not in used and c in COLUMNS and cells.get(c, "").strip()]
    for column in unused:
        params = {"record": cells["record"].strip()}
        errors.add(FieldError(N_("Must be empty in a %(record)s row."), row=number, column=column, params=params))
    rec = _record(kind, cells, errors, row=number)
    return replace(rec, valid=False) if rec is not None and unused else rec


def read_csv(data: bytes) -> Parsed:
    """Return the records of a CSV file and every error in it, by row and column.

    Raises InvalidInput at once only when the file as a whole cannot be read (not UTF-8, not
    CSV, no or a wrong header, too large).
    """
    rows = _read_rows(data)
    header = [cell.strip().lower() for cell in rows[0]]
    _check_header(header)
    errors = _Errors()
    records: list[Record] = []
    for number, cells_list in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells_list):
            continue
        rec = _csv_row(header, number, cells_list, errors)
        if rec is not None:
            records.append(rec)
    _check_duplicates(records, errors)
    return Parsed(records, errors.items)


def parse_csv(data: bytes) -> list[Record]:
    """Return the records of a CSV file, or raise InvalidInput listing every error by row and column."""
    return read_csv(data).valid_records()


def render_csv(records: Iterable[Record]) -> bytes:
    """Return the records as a CSV file (UTF-8, header first, one row per record)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for rec in records:
        cells = dict.fromkeys(COLUMNS, "")
        cells["record"] = "tag" if rec.kind == "type_tag" else rec.kind
        cells.update(zip(PATH_OF[rec.kind], rec.path, strict=True))
        cells.update(rec.fields)
        writer.writerow([cells[c] for c in COLUMNS])
    return buf.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

# Each JSON object kind: its keys (other than "name"), and its child lists with their kinds.
_JSON_CHILDREN: Final[dict[str, dict[str, str]]] = {
    "equipment_type": {"tags": "type_tag"},
    "site": {"areas": "area"},
    "area": {"lines": "line"},
    "line": {"equipment": "equipment"},
    "equipment": {"tags": "tag"},
    "type_tag": {},
    "tag": {},
}


def _json_keys(kind: str) -> set[str]:
    return {"name"} | {JSON_KEY.get(c, c) for c in FIELDS_OF[kind]} | set(_JSON_CHILDREN[kind])


def _walk(
    kind: str, items: object, *, where: str, parent: Mapping[str, str], errors: _Errors, records: list[Record]
) -> None:
    """Validate a JSON list of objects of ``kind`` and its descendants into ``records``."""
    if not isinstance(items, list):
        errors.add(FieldError(N_("Must be a list."), field=where))
        return
    for index, obj in enumerate(items):
        here = f"{where}[{index}]"
        if not isinstance(obj, dict):
            errors.add(FieldError(N_("Must be an object."), field=here))
            continue
        for key in sorted(set(obj) - _json_keys(kind)):
            errors.add(FieldError(N_("Unknown field."), field=f"{here}.{key}"))
        cells = dict(parent)
        cells[NAME_COLUMN[kind]] = ""
        good = True
        for column in (NAME_COLUMN[kind], *FIELDS_OF[kind]):
            key = "name" if column == NAME_COLUMN[kind] else JSON_KEY.get(column, column)
            value = obj.get(key, "")
            if not isinstance(value, str):
                errors.add(FieldError(N_("Must be text."), field=f"{here}.{key}"))
                good = False
                continue
            if value or column == NAME_COLUMN[kind]:
                cells[column] = value
        rec = _record(kind, cells, errors, where=here, check_ancestors=False) if good else None
        if rec is not None:
            records.append(rec)
        child_parent = dict(zip(PATH_OF[kind], rec.path, strict=True)) if rec is not None else None
        for key, child_kind in _JSON_CHILDREN[kind].items():
            if key in obj and child_parent is not None:
                _walk(child_kind, obj[key], where=f"{here}.{key}", parent=child_parent, errors=errors, records=records)


def read_json(data: bytes) -> Parsed:
    """Return the records of a JSON document and every error in it, by field path."""
    if len(data) > MAX_BYTES:
        raise _file_error(N_("The file is larger than %(limit)s bytes."), limit=MAX_BYTES)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise _file_error(N_("The file is not valid JSON.")) from None
    if not isinstance(doc, dict):
        raise _file_error(N_("The document must be a JSON object."))
    errors = _Errors()
    for key in sorted(set(doc) - {"format", "version", "equipment_types", "sites"}):
        errors.add(FieldError(N_("Unknown field."), field=key))
    if doc.get("format", FORMAT_NAME) != FORMAT_NAME or doc.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        errors.add(FieldError(N_("Not a hexmill asset document of a version this server reads."), field="format"))
    records: list[Record] = []
    _walk(
        "equipment_type",
        doc.get("equipment_types", []),
        where="equipment_types",
        parent={},
        errors=errors,
        records=records,
    )
    _walk("site", doc.get("sites", []), where="sites", parent={}, errors=errors, records=records)
    _check_duplicates(records, errors)
    return Parsed(records, errors.items)


def parse_json(data: bytes) -> list[Record]:
    """Return the records of a JSON document, or raise InvalidInput listing every error by field."""
    return read_json(data).valid_records()


def to_document(records: Iterable[Record]) -> dict[str, Any]:
    """Return the records nested as the JSON document (children in the order they come)."""
    nodes: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    doc: dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "equipment_types": [], "sites": []}
    parent_kind = {
        "type_tag": "equipment_type",
        "area": "site",
        "line": "area",
        "equipment": "line",
        "tag": "equipment",
    }
    for rec in records:
        node: dict[str, Any] = {"name": rec.name}
        node.update({JSON_KEY.get(k, k): v for k, v in rec.fields.items()})
        for key in _JSON_CHILDREN[rec.kind]:
            node[key] = []
        nodes[rec.kind, rec.path] = node
        if rec.kind in {"equipment_type", "site"}:
            doc["equipment_types" if rec.kind == "equipment_type" else "sites"].append(node)
            continue
        parent = nodes.get((parent_kind[rec.kind], rec.path[:-1]))
        if parent is None:
            msg = f"{rec.kind} {rec.path!r} comes before its parent"
            raise ValueError(msg)
        key = next(k for k, v in _JSON_CHILDREN[parent_kind[rec.kind]].items() if v == rec.kind)
        parent[key].append(node)
    return doc


def render_json(records: Iterable[Record]) -> bytes:
    """Return the records as a JSON document (UTF-8, indented for people to read)."""
    return json.dumps(to_document(records), ensure_ascii=False, indent=2).encode("utf-8")
