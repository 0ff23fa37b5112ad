"""The columns of each import kind and the checks of a sheet against them: header, cells, duplicates, groups.

Pure: a ``Sheet`` and a ``KindSpec`` in, typed rows and cell errors out. A header cell names a
column by its English key (``code``, any case, spaces or dashes for underscores) or its Chinese
alias (``编码``). Every error carries the spreadsheet row and the column as the file names it.
References to other objects (unit, item, location codes) are checked later, against the database.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from hexmill.core.errors import FieldError
from hexmill.core.i18n import N_, gettext
from hexmill.factory.imports.reading import Cell, Row, Sheet, is_blank

EXCEL_EPOCH: Final = date(1899, 12, 30)
# Excel day numbers of 1900-03-01 .. 9999-12-31: a plain number in a date column is one of these.
EXCEL_DAYS: Final = (61, 2_958_465)
TRUE_WORDS: Final = frozenset({"yes", "y", "true", "t", "1", "是", "是的", "对", "x", "✓"})
FALSE_WORDS: Final = frozenset({"no", "n", "false", "f", "0", "否", "不"})
CONTROL: Final = frozenset(chr(c) for c in (*range(32), 127))


@dataclass(slots=True)
class CellError(FieldError):
    """An error of one cell (row and column) or one row (no column) of an imported file."""

    def render(self) -> dict[str, Any]:
        """Return the JSON form: ``row``, ``column``, ``message`` (translated; also as ``detail``)."""
        out = FieldError.render(self)
        out["message"] = out["detail"]
        out.setdefault("row", None)
        out.setdefault("column", None)
        return out

    def text(self) -> str:
        """Return the message translated into the current locale."""
        message = gettext(self.detail)
        return message % self.params if self.params else message


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an import: its key, Chinese alias, cell type and limits."""

    key: str
    zh: str
    type: str = "text"  # text, code, decimal, int, date, bool, choice
    required: bool = False
    max_length: int = 200
    minimum: Decimal | None = None  # inclusive, or exclusive when ``positive``
    positive: bool = False
    below: Decimal | None = None  # exclusive upper bound
    digits: int = 12  # before the decimal point
    places: int = 6
    choices: Mapping[str, str] = field(default_factory=dict)  # spelling (lower case) -> value
    pattern: str = ""  # a text cell must match this (re.fullmatch)
    pattern_message: str = ""  # the msgid (with %(value)s) when it does not


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What an import kind's file holds: columns, what must be unique, how rows group into objects."""

    name: str
    zh: str
    permission: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()  # header fields every row of a group must agree on
    duplicate_column: str = ""  # the column a duplicate row is reported on (default: the first unique one)

    def column(self, key: str) -> Column:
        """Return the column with ``key``."""
        return next(c for c in self.columns if c.key == key)


@dataclass(slots=True)
class ParsedRow:
    """A data row with its cells typed by column key (blank optional cells left out)."""

    number: int
    values: dict[str, Any]


@dataclass(slots=True)
class Parsed:
    """The rows of a sheet that passed the checks, the errors found, and the header name of each column."""

    rows: list[ParsedRow]
    errors: list[CellError]
    headers: dict[str, str]  # column key -> the header text the file used
    bad_rows: set[int] = field(default_factory=set)

    def header(self, key: str | None) -> str | None:
        """Return the column as the file names it (the key if the file has no such column)."""
        return None if key is None else self.headers.get(key, key)


def header_key(text: str) -> str:
    """Normalise a header cell for matching: trimmed, lower case, underscores for spaces and dashes, no '*'."""
    return text.strip().rstrip("*").strip().lower().replace(" ", "_").replace("-", "_")


# -- the kinds ----------------------------------------------------------------------------------


def _code(key: str, zh: str, *, required: bool = False) -> Column:
    return Column(key, zh, "code", required=required, max_length=64)


def _quantity(key: str, zh: str, *, required: bool = False) -> Column:
    return Column(key, zh, "decimal", required=required, positive=True, digits=12, places=6)


KINDS_OF_ITEM: Final = {
    "raw": "raw",
    "原材料": "raw",
    "原料": "raw",
    "semi_finished": "semi_finished",
    "semi-finished": "semi_finished",
    "半成品": "semi_finished",
    "finished": "finished",
    "成品": "finished",
    "产成品": "finished",
    "tool": "tool",
    "工具": "tool",
}
TRACKINGS: Final = {
    "none": "none",
    "无": "none",
    "不追踪": "none",
    "lot": "lot",
    "批次": "lot",
    "serial": "serial",
    "序列号": "serial",
}

PARTIES = KindSpec(
    "parties",
    "往来单位",
    "factory.edit",
    (
        _code("code", "编码", required=True),
        Column("name", "名称", required=True),
        Column("is_customer", "客户", "bool"),
        Column("is_supplier", "供应商", "bool"),
        Column("contact_name", "联系人"),
        Column(
            "email",
            "邮箱",
            max_length=254,
            pattern=r"[^@\s]+@[^@\s]+",
            pattern_message=N_("Not an e-mail address: %(value)s."),
        ),
        Column(
            "phone",
            "电话",
            max_length=64,
            pattern=r"[0-9+()\-./ ]*",
            pattern_message=N_("Not a phone number: %(value)s."),
        ),
        Column("address", "地址", max_length=2000),
        Column("active", "启用", "bool"),
    ),
    unique=("code",),
)

ITEMS = KindSpec(
    "items",
    "物料",
    "factory.edit",
    (
        _code("code", "编码", required=True),
        Column("name", "名称", required=True),
        Column("kind", "类型", "choice", required=True, choices=KINDS_OF_ITEM),
        Column("uom", "单位", "code", required=True, max_length=16),
        Column("tracking", "追踪方式", "choice", choices=TRACKINGS),
        Column("allow_negative", "允许负库存", "bool"),
        Column("configurable", "可配置", "bool"),
        Column("active", "启用", "bool"),
        Column("description", "描述", max_length=2000),
    ),
    unique=("code",),
)

BOMS = KindSpec(
    "boms",
    "物料清单",
    "factory.edit",
    (
        _code("parent", "父项编码", required=True),
        Column("version", "版本", required=True, max_length=32),
        _code("component", "子项编码", required=True),
        _quantity("quantity", "用量", required=True),
        Column("uom", "单位", "code", max_length=16),
        Column("scrap_factor", "损耗率", "decimal", minimum=Decimal(0), below=Decimal(1), digits=1, places=6),
        Column("effective_from", "生效日期", "date"),
        Column("effective_to", "失效日期", "date"),
        Column("is_default", "默认版本", "bool"),
        Column("description", "描述", max_length=2000),
    ),
    unique=("parent", "version", "component"),
    duplicate_column="component",
    group=("parent", "version"),
    shared=("effective_from", "effective_to", "is_default", "description"),
)

ROUTINGS = KindSpec(
    "routings",
    "工艺路线",
    "factory.edit",
    (
        _code("item", "物料编码", required=True),
        Column("sequence", "工序号", "int", required=True, minimum=Decimal(1), below=Decimal(1_000_001)),
        Column("name", "工序名称"),
        _code("work_centre", "工作中心", required=True),
        Column("setup_minutes", "准备时间", "decimal", minimum=Decimal(0), digits=9, places=3),
        Column("run_minutes", "单件工时", "decimal", minimum=Decimal(0), digits=8, places=4),
        _quantity("transfer_batch", "转移批量"),
    ),
    unique=("item", "sequence"),
    duplicate_column="sequence",
)

OPENING_STOCK = KindSpec(
    "opening_stock",
    "期初库存",
    "inventory.move",
    (
        _code("item", "物料编码", required=True),
        _code("location", "库位", required=True),
        _code("warehouse", "仓库"),
        Column("lot", "批次号", max_length=100),
        _quantity("quantity", "数量", required=True),
    ),
    unique=("item", "location", "lot"),
)

PURCHASE_ORDERS = KindSpec(
    "purchase_orders",
    "采购订单",
    "purchasing.edit",
    (
        Column("number", "订单号", required=True, max_length=64),
        _code("supplier", "供应商编码", required=True),
        Column("order_date", "订单日期", "date"),
        Column("expected_date", "预计到货日期", "date"),
        _code("item", "物料编码", required=True),
        _quantity("quantity", "数量", required=True),
        Column("uom", "单位", "code", max_length=16),
        Column("unit_price", "单价", "decimal", minimum=Decimal(0), digits=12, places=6),
        Column("note", "备注", max_length=2000),
    ),
    group=("number",),
    shared=("supplier", "order_date", "expected_date", "note"),
)

SALES_ORDERS = KindSpec(
    "sales_orders",
    "销售订单",
    "sales.edit",
    (
        Column("number", "订单号", required=True, max_length=64),
        _code("customer", "客户编码", required=True),
        Column("order_date", "订单日期", "date"),
        Column("customer_reference", "客户参考号", max_length=100),
        _code("item", "物料编码", required=True),
        _quantity("quantity", "数量", required=True),
        Column("uom", "单位", "code", max_length=16),
        Column("unit_price", "单价", "decimal", minimum=Decimal(0), digits=12, places=6),
        Column("due_date", "交货日期", "date"),
        Column("note", "备注", max_length=2000),
    ),
    group=("number",),
    shared=("customer", "order_date", "customer_reference", "note"),
)

KINDS: Final[dict[str, KindSpec]] = {
    k.name: k for k in (PARTIES, ITEMS, BOMS, ROUTINGS, OPENING_STOCK, PURCHASE_ORDERS, SALES_ORDERS)
}
KIND_LABELS: Final = {
    "parties": N_("Parties (customers and suppliers)"),
    "items": N_("Items"),
    "boms": N_("Bills of materials"),
    "routings": N_("Routings"),
    "opening_stock": N_("Opening stock"),
    "purchase_orders": N_("Open purchase orders"),
    "sales_orders": N_("Open sales orders"),
}


def template_header(spec: KindSpec, locale: str) -> list[str]:
    """Return the header row of a kind's template: Chinese aliases for zh_CN, English keys otherwise."""
    return [c.zh if locale == "zh_CN" else c.key for c in spec.columns]


# -- cells --------------------------------------------------------------------------------------


class BadCell(Exception):
    """A cell's value does not fit its column; ``message`` is a msgid with ``params``."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


def _show(cell: Cell) -> str:
    text = str(cell)
    return text if len(text) <= 40 else text[:39] + "…"


def _text(cell: Cell) -> str:
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime) and cell.time() == time(0):
        return cell.date().isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    return str(cell).strip()


def _decimal(cell: Cell, col: Column) -> Decimal:
    if isinstance(cell, bool | date | time):
        raise BadCell(N_("Not a number: %(value)s."), value=_show(cell))
    text = repr(cell) if isinstance(cell, float) else _text(cell)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadCell(N_("Not a number: %(value)s."), value=_show(cell)) from None
    if not value.is_finite():
        raise BadCell(N_("Not a number: %(value)s."), value=_show(cell))
    if col.positive and value <= 0:
        raise BadCell(N_("The number must be greater than zero."))
    if col.minimum is not None and value < col.minimum:
        raise BadCell(N_("The number must be at least %(minimum)s."), minimum=str(col.minimum))
    if col.below is not None and value >= col.below:
        raise BadCell(N_("The number must be below %(limit)s."), limit=str(col.below))
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    whole = len(str(abs(int(value)))) if abs(value) >= 1 else 0
    if places > col.places or whole > col.digits:
        raise BadCell(
            N_("Too many digits: at most %(digits)s before and %(places)s after the decimal point."),
            digits=col.digits,
            places=col.places,
        )
    return value


def _int(cell: Cell, col: Column) -> int:
    value = _decimal(cell, dataclasses.replace(col, places=0, digits=12))
    return int(value)


def _date(cell: Cell) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        if EXCEL_DAYS[0] <= cell <= EXCEL_DAYS[1] and float(cell).is_integer():
            return EXCEL_EPOCH + timedelta(days=int(cell))
        raise BadCell(N_("Not a date: %(value)s (write it as YYYY-MM-DD)."), value=_show(cell))
    text = _text(cell).replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in " T" else text)
    except ValueError:
        pass
    parts = text.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            pass
    raise BadCell(N_("Not a date: %(value)s (write it as YYYY-MM-DD)."), value=_show(cell))


def _bool(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    word = _text(cell).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadCell(N_("Not yes or no: %(value)s (write yes, no, true, false, 1, 0, 是 or 否)."), value=_show(cell))


def _string(cell: Cell, col: Column) -> str:
    text = _text(cell)
    if len(text) > col.max_length:
        raise BadCell(N_("Too long: at most %(max)s characters."), max=col.max_length)
    allowed = {"\n", "\r", "\t"} if col.max_length > 200 else set()
    if any(ch in CONTROL and ch not in allowed for ch in text):
        raise BadCell(N_("The text contains control characters."))
    if col.type == "code" and any(ch.isspace() for ch in text):
        raise BadCell(N_("A code cannot contain spaces: %(value)s."), value=_show(cell))
    if col.pattern and re.fullmatch(col.pattern, text) is None:
        raise BadCell(col.pattern_message, value=_show(cell))
    return text


def parse_cell(cell: Cell, col: Column) -> Any:
    """Return a non-blank cell's value as its column's type, or raise BadCell."""
    if col.type == "decimal":
        return _decimal(cell, col)
    if col.type == "int":
        return _int(cell, col)
    if col.type == "date":
        return _date(cell)
    if col.type == "bool":
        return _bool(cell)
    if col.type == "choice":
        word = _text(cell)
        found = col.choices.get(word.lower()) or col.choices.get(word)
        if found is None:
            options = ", ".join(dict.fromkeys(col.choices.values()))
            raise BadCell(N_("Unknown value %(value)s; use one of: %(choices)s."), value=_show(cell), choices=options)
        return found
    return _string(cell, col)


# -- the sheet ----------------------------------------------------------------------------------


def map_header(spec: KindSpec, sheet: Sheet) -> tuple[dict[int, Column], dict[str, str], list[CellError]]:
    """Return the column of each header position, the header text of each key, and the header's errors."""
    by_name: dict[str, Column] = {}
    for col in spec.columns:
        by_name[col.key] = col
        by_name[header_key(col.zh)] = col
    positions: dict[int, Column] = {}
    headers: dict[str, str] = {}
    errors: list[CellError] = []
    row = sheet.header_row
    for index, text in enumerate(sheet.header):
        if text == "":
            continue
        found = by_name.get(header_key(text))
        if found is None:
            errors.append(CellError(N_("Unknown column %(column)s."), row=row, column=text, params={"column": text}))
        elif found.key in headers:
            errors.append(
                CellError(N_("The column %(column)s appears twice."), row=row, column=text, params={"column": text})
            )
        else:
            positions[index] = found
            headers[found.key] = text
    for col in spec.columns:
        if col.required and col.key not in headers:
            errors.append(
                CellError(
                    N_("The required column %(column)s is missing."),
                    row=row,
                    column=col.key,
                    params={"column": col.key},
                )
            )
    return positions, headers, errors


def _group_key(spec: KindSpec, values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(k) for k in spec.group)


def _cells(
    spec: KindSpec, row: Row, positions: Mapping[int, Column], headers: Mapping[str, str], width: int
) -> tuple[dict[str, Any], list[CellError]]:
    """Return a row's typed values by column key and the errors of its cells."""
    values: dict[str, Any] = {}
    errors: list[CellError] = []
    for index, cell in enumerate(row.cells):
        col = positions.get(index)
        if col is None:
            if not is_blank(cell) and index >= width:
                errors.append(CellError(N_("This cell has no column heading."), row=row.number))
            continue
        if is_blank(cell):
            continue
        try:
            values[col.key] = parse_cell(cell, col)
        except BadCell as exc:
            errors.append(CellError(exc.message, row=row.number, column=headers[col.key], params=exc.params))
    for key in headers:
        # A group's header field may be given on any one row of the group: ``parse`` checks the group.
        required = spec.column(key).required and key not in spec.shared
        if required and key not in values and not any(e.column == headers[key] for e in errors):
            errors.append(CellError(N_("This cell is required."), row=row.number, column=headers[key]))
    return values, errors


@dataclass(slots=True)
class _Groups:
    """The first row of each group and the header fields given so far."""

    first: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def check(
        self, spec: KindSpec, number: int, values: Mapping[str, Any], headers: Mapping[str, str]
    ) -> list[CellError]:
        """Record a row of a group; return errors for header fields that differ from an earlier row's."""
        gkey = _group_key(spec, values)
        if gkey not in self.first:
            self.first[gkey] = (number, {k: values.get(k) for k in spec.shared})
            return []
        first_row, shared = self.first[gkey]
        errors: list[CellError] = []
        for key in spec.shared:
            if key not in values:
                continue
            if shared.get(key) is None:
                shared[key] = values[key]
            elif shared[key] != values[key]:
                errors.append(
                    CellError(
                        N_("Differs from row %(row)s, where %(value)s was given for the same %(group)s."),
                        row=number,
                        column=headers[key],
                        params={"row": first_row, "value": str(shared[key]), "group": " / ".join(map(str, gkey))},
                    )
                )
        return errors


def parse(spec: KindSpec, sheet: Sheet) -> Parsed:
    """Check a sheet against a kind: header, every cell, duplicates within the file, group agreement."""
    positions, headers, errors = map_header(spec, sheet)
    parsed = Parsed(rows=[], errors=errors, headers=headers)
    if errors:
        return parsed
    if not sheet.rows:
        parsed.errors.append(CellError(N_("The file has no data rows."), row=sheet.header_row))
        return parsed
    seen: dict[tuple[Any, ...], int] = {}
    groups = _Groups()
    for row in sheet.rows:
        values, row_errors = _cells(spec, row, positions, headers, len(sheet.header))
        if not row_errors and spec.unique:
            first = seen.setdefault(tuple(values.get(k) for k in spec.unique), row.number)
            if first != row.number:
                column = headers.get(spec.duplicate_column or spec.unique[0])
                row_errors.append(
                    CellError(N_("Duplicate of row %(row)s."), row=row.number, column=column, params={"row": first})
                )
        if not row_errors and spec.group:
            row_errors = groups.check(spec, row.number, values, headers)
        if row_errors:
            parsed.errors.extend(row_errors)
            parsed.bad_rows.add(row.number)
        else:
            parsed.rows.append(ParsedRow(row.number, values))
    if spec.group:
        _complete_groups(spec, parsed, groups)
    return parsed


def _complete_groups(spec: KindSpec, parsed: Parsed, groups: _Groups) -> None:
    """Give every row its group's header fields; refuse groups missing a required one (on their first row)."""
    missing: set[tuple[Any, ...]] = set()
    for gkey, (first_row, shared) in groups.first.items():
        for key in spec.shared:
            if spec.column(key).required and shared.get(key) is None:
                column = parsed.header(key)
                parsed.errors.append(CellError(N_("This cell is required."), row=first_row, column=column))
                parsed.bad_rows.add(first_row)
                missing.add(gkey)
    kept = []
    for prow in parsed.rows:
        gkey = _group_key(spec, prow.values)
        if gkey in missing:
            continue
        prow.values.update({k: v for k, v in groups.first[gkey][1].items() if v is not None})
        kept.append(prow)
    parsed.rows = kept


def group_rows(spec: KindSpec, rows: Sequence[ParsedRow]) -> list[list[ParsedRow]]:
    """Return the rows grouped by the kind's group key, in the order each group first appears."""
    groups: dict[tuple[Any, ...], list[ParsedRow]] = {}
    for row in rows:
        groups.setdefault(_group_key(spec, row.values), []).append(row)
    return list(groups.values())
