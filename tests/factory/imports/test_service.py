"""Service tests of imports: each kind created through its owning service, every error with row and column,
all or nothing, dry runs, encodings and separators, .xlsx sheets and dates."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook

from hexmill.core.errors import InvalidInput, PermissionDenied
from hexmill.core.i18n import set_locale
from hexmill.factory.imports import columns, service, writing
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.purchasing import service as purchasing
from hexmill.factory.sales import service as sales
from tests.conftest import unique
from tests.factory.imports.conftest import ITEM_HEADER, STOCK_HEADER, Works, as_file, item_rows
from tests.factory.inventory.conftest import Plant


def _run(works: Works, kind: str, data: bytes, **kwargs: Any) -> service.ImportResult:
    with works.plant.session() as (s, ctx):
        return service.import_file(s, ctx, kind=kind, data=data, **kwargs)


def _refused(works: Works, kind: str, data: bytes, **kwargs: Any) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InvalidInput) as caught, works.plant.session() as (s, ctx):
        service.import_file(s, ctx, kind=kind, data=data, **kwargs)
    return [(e.row, e.column, e.render()["message"]) for e in caught.value.errors]


def test_items_import_creates_every_row(works: Works) -> None:
    before = works.count_items()
    rows = item_rows(works, 3)
    rows[1][4], rows[1][5] = "lot", "yes"
    result = _run(works, "items", as_file(ITEM_HEADER, rows))
    assert (result.rows, result.created, result.dry_run) == (3, {"items": 3}, False)
    assert works.count_items() == before + 3
    with works.plant.session() as (s, ctx):
        item = masterdata.get_item_by_code(s, ctx, rows[1][0])
        assert (item.tracking, item.allow_negative, item.kind, item.uom.code) == ("lot", True, "raw", works.uom)


def test_dry_run_checks_with_the_services_and_keeps_nothing(works: Works) -> None:
    before = works.count_items()
    result = _run(works, "items", as_file(ITEM_HEADER, item_rows(works, 4)), dry_run=True)
    assert (result.created, result.dry_run) == ({"items": 4}, True)
    assert works.count_items() == before
    # A code the enterprise already has is refused by the item service, on that row and column, in a dry run too.
    rows = item_rows(works, 2)
    rows[1][0] = works.codes["bolt"]
    assert _refused(works, "items", as_file(ITEM_HEADER, rows), dry_run=True) == [
        (3, "code", f"The code {works.codes['bolt']} is already taken.")
    ]


def test_every_error_is_reported_and_nothing_is_imported(works: Works) -> None:
    before = works.count_items()
    rows = item_rows(works, 6)
    rows[1][5] = "maybe"  # row 3: not a boolean
    rows[2][3] = "furlong"  # row 4: unknown unit
    rows[4][0] = rows[0][0]  # row 6: duplicate of row 2
    rows[5][2] = ""  # row 7: required kind missing
    errors = _refused(works, "items", as_file(ITEM_HEADER, rows))
    assert [(row, col) for row, col, _ in errors] == [(3, "allow_negative"), (4, "uom"), (6, "code"), (7, "kind")]
    assert errors[1][2] == "Unknown unit furlong."
    assert errors[2][2] == "Duplicate of row 2."
    assert works.count_items() == before


def test_header_errors_name_the_column(works: Works) -> None:
    errors = _refused(works, "items", as_file(["code", "colour", "kind", "uom"], [["A", "red", "raw", works.uom]]))
    assert errors == [
        (1, "colour", "Unknown column colour."),
        (1, "name", "The required column name is missing."),
    ]


def test_empty_rows_are_skipped_and_rows_keep_their_spreadsheet_numbers(works: Works) -> None:
    rows = item_rows(works, 2)
    text = "\r\n".join([",".join(ITEM_HEADER), "", ",".join(rows[0]), ",,,,,", ",".join([*rows[1][:5], "perhaps"])])
    errors = _refused(works, "items", text.encode())
    assert [(row, col) for row, col, _ in errors] == [(5, "allow_negative")]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_separators_are_sniffed(works: Works, separator: str) -> None:
    rows = item_rows(works, 2)
    text = "\n".join(separator.join(r) for r in [ITEM_HEADER, *rows])
    assert _run(works, "items", text.encode()).created == {"items": 2}


def test_gb18030_csv_with_chinese_headers_imports(works: Works) -> None:
    code = unique("件")[-12:]
    text = f"编码,名称,类型,单位,追踪方式,允许负库存\r\n{code},螺栓,原材料,{works.uom},批次,是\r\n"
    result = _run(works, "items", text.encode("gb18030"))
    assert result.created == {"items": 1}
    with works.plant.session() as (s, ctx):
        item = masterdata.get_item_by_code(s, ctx, code)
        assert (item.name, item.kind, item.tracking, item.allow_negative) == ("螺栓", "raw", "lot", True)


def test_utf8_with_bom_and_errors_in_chinese(works: Works) -> None:
    bolt = works.codes["bolt"]
    text = f"编码,名称,类型,单位\r\n{unique('X')[-10:]},螺栓,原材料,{works.uom}\r\n{bolt},螺母,原材料,{works.uom}\r\n"
    data = codecs.BOM_UTF8 + text.encode()
    set_locale("zh_CN")
    try:
        errors = _refused(works, "items", data)
    finally:
        set_locale("en")
    assert errors == [(3, "编码", f"代码 {bolt} 已被占用。")]


def test_xlsx_sheet_named_like_the_kind_and_excel_cells(works: Works) -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.append(["not", "this", "sheet"])
    sheet = book.create_sheet("opening stock")
    sheet.append(STOCK_HEADER)
    sheet.append([works.codes["bolt"], "WH1/A", None, 12.5])
    sheet.append([works.codes["steel"], "WH1/B", "L-900", 3])
    buf = io.BytesIO()
    book.save(buf)
    result = _run(works, "opening_stock", buf.getvalue(), filename="stock.xlsx")
    assert result.created == {"stock_moves": 2, "lots": 1}
    with works.plant.session() as (s, ctx):
        moves, _ = inventory.list_moves(s, ctx, filters={"reference_type": "opening_stock"}, limit=10)
        assert sorted(m.quantity for m in moves) == [Decimal(3), Decimal("12.5")]
        assert {m.from_location_id for m in moves} == {works.plant.ids["adjustment"]}
        assert {m.reference_id for m in moves} == {"stock.xlsx"}


def test_opening_stock_refuses_unknown_codes_and_untracked_lots(works: Works) -> None:
    before = works.count_moves()
    rows = [
        [works.codes["bolt"], "WH1/A", "", "5"],
        [works.codes["bolt"], "WH1/Z", "", "5"],
        [works.codes["bolt"], "WH1/B", "L-1", "5"],
        [works.codes["steel"], "WH1/A", "", "5"],  # tracked: the inventory service wants a lot
        [works.codes["motor"], "WH1/A", "SN-1", "2"],  # a serial number holds one unit
    ]
    errors = _refused(works, "opening_stock", as_file(STOCK_HEADER, rows))
    assert [(row, col) for row, col, _ in errors] == [(3, "location"), (4, "lot"), (5, "lot"), (6, "quantity")]
    assert works.count_moves() == before


def test_boms_group_rows_by_parent_and_version(works: Works) -> None:
    parent = item_rows(works, 1)
    _run(works, "items", as_file(ITEM_HEADER, parent))
    code = parent[0][0]
    header = ["parent", "version", "component", "quantity", "scrap_factor", "effective_from", "is_default"]
    rows = [
        [code, "A", works.codes["bolt"], "4", "0.05", "2026-01-01", "yes"],
        [code, "A", works.codes["steel"], "1.5", "", "", ""],
        [code, "B", works.codes["bolt"], "6", "", "2026/07/01", ""],
    ]
    assert _run(works, "boms", as_file(header, rows)).created == {"boms": 2, "bom_lines": 3}
    with works.plant.session() as (s, ctx):
        item_id = masterdata.get_item_by_code(s, ctx, code).id
        boms, total = masterdata.list_boms(s, ctx, filters={"item_id": item_id})
        assert total == 2
        by_version = {b.version: b for b in boms}
        assert by_version["A"].is_default and by_version["A"].effective_from == date(2026, 1, 1)
        assert by_version["B"].effective_from == date(2026, 7, 1)
        assert sorted(line.quantity for line in by_version["A"].lines) == [Decimal("1.5"), Decimal(4)]


def test_boms_report_cycles_conflicting_headers_and_unknown_components(works: Works) -> None:
    bolt, steel = works.codes["bolt"], works.codes["steel"]
    header = ["parent", "version", "component", "quantity", "effective_from"]
    rows = [
        [bolt, "A", steel, "1", "2026-01-01"],
        [steel, "A", bolt, "1", ""],  # closes a cycle bolt → steel → bolt
        [bolt, "A", "NOPE", "1", ""],
        [bolt, "A", works.codes["motor"], "1", "2026-02-01"],  # another start date for the same version
    ]
    errors = _refused(works, "boms", as_file(header, rows))
    assert [(row, col) for row, col, _ in errors] == [(3, "component"), (4, "component"), (5, "effective_from")]
    assert "cycle" in errors[0][2]


def test_routings_and_parties(works: Works) -> None:
    header = ["item", "sequence", "work_centre", "setup_minutes", "run_minutes", "transfer_batch"]
    rows = [
        [works.codes["bolt"], "10", works.work_centre, "15", "0.5", ""],
        [works.codes["bolt"], "20", works.work_centre, "", "1.25", "50"],
    ]
    assert _run(works, "routings", as_file(header, rows)).created == {"operations": 2}
    with works.plant.session() as (s, ctx):
        ops, _ = masterdata.list_operations(s, ctx, filters={"item_id": works.plant.ids["bolt"]})
        assert [(o.sequence, o.name, o.run_minutes) for o in ops] == [
            (10, "Lathe", Decimal("0.5")),
            (20, "Lathe", Decimal("1.25")),
        ]
    bad = [
        [works.codes["bolt"], "10", works.work_centre, "", "", ""],
        [works.codes["bolt"], "x", "WC-NONE", "", "", ""],
    ]
    errors = _refused(works, "routings", as_file(header, bad))
    assert [(row, col) for row, col, _ in errors] == [(2, "sequence"), (3, "sequence")]
    code = unique("CUS")[:40]
    parties = [
        ["code", "name", "is_customer", "email"],
        [code, "Buyer", "是", "buy@example.com"],
        ["P2", "Nobody", "no", ""],
    ]
    errors = _refused(works, "parties", as_file(parties[0], parties[1:]))
    assert errors == [(3, "is_customer", "A party is a customer, a supplier or both.")]
    assert _run(works, "parties", as_file(parties[0], parties[1:2])).created == {"parties": 1}


def test_purchase_orders_group_lines_and_are_confirmed(works: Works) -> None:
    number = unique("PO")[:40]
    header = ["number", "supplier", "order_date", "expected_date", "item", "quantity", "unit_price"]
    rows = [
        [number, works.supplier, "2026-11-01", "2026-11-20", works.codes["bolt"], "100", "0.2"],
        [number, "", "", "", works.codes["steel"], "20", "1.25"],
    ]
    result = _run(works, "purchase_orders", as_file(header, rows))
    assert result.created == {"purchase_orders": 1, "purchase_order_lines": 2}
    with works.plant.session() as (s, ctx):
        orders, _ = purchasing.list_purchase_orders(s, ctx, filters={"number": number})
        assert [(o.status, o.order_date, len(o.lines)) for o in orders] == [("confirmed", date(2026, 11, 1), 2)]
    bad = [
        [unique("PO")[:40], works.supplier, "2026-11-01", "2026-10-01", works.codes["bolt"], "1", ""],
        [unique("PO")[:40], works.codes["bolt"], "", "", works.codes["bolt"], "1", ""],
    ]
    errors = _refused(works, "purchase_orders", as_file(header, bad))
    assert [(row, col) for row, col, _ in errors] == [(2, "expected_date"), (3, "supplier")]


def test_sales_orders_group_lines_and_are_confirmed(works: Works) -> None:
    number = unique("SO")[:40]
    header = ["number", "customer", "order_date", "customer_reference", "item", "quantity", "unit_price", "due_date"]
    rows = [
        [number, works.customer, "2026-11-01", "PO-778", works.codes["bolt"], "100", "0.3", "2026-12-01"],
        [number, "", "", "", works.codes["steel"], "20", "2", ""],
    ]
    result = _run(works, "sales_orders", as_file(header, rows))
    assert result.created == {"sales_orders": 1, "sales_order_lines": 2}
    with works.plant.session() as (s, ctx):
        orders, _ = sales.list_sales_orders(s, ctx, filters={"number": number})
        assert [(o.status, o.customer_reference, len(o.lines)) for o in orders] == [("confirmed", "PO-778", 2)]
    bad = [
        [unique("SO")[:40], works.supplier, "", "", works.codes["bolt"], "1", "", ""],  # a supplier, not a customer
        [unique("SO")[:40], works.customer, "2026-11-01", "", works.codes["bolt"], "1", "", "2026-10-01"],
    ]
    errors = _refused(works, "sales_orders", as_file(header, bad))
    assert [(row, col) for row, col, _ in errors] == [(2, "customer"), (3, "due_date")]


def test_permission_of_the_kind_is_required(works: Works, actor_factory: Callable[..., Any]) -> None:
    operator = Plant(
        actor=actor_factory("operator", tenant=works.plant.actor.tenant), ids={}, factory=works.plant.factory
    )
    with pytest.raises(PermissionDenied), operator.session() as (s, ctx):
        service.import_file(s, ctx, kind="items", data=as_file(ITEM_HEADER, item_rows(works, 1)))


def test_unreadable_files_are_refused_with_one_error(works: Works) -> None:
    assert _refused(works, "items", b"PK\x03\x04garbage")[0][0] is None
    assert _refused(works, "items", b"\xff\xfe\x00\x00\xff")[0][2] == "The file is neither UTF-8 nor GB18030 text."
    assert _refused(works, "items", b"") == [(None, None, "The file is empty.")]
    assert _refused(works, "items", writing.csv_bytes(ITEM_HEADER)) == [(1, None, "The file has no data rows.")]


def test_dates_from_excel_numbers_and_datetimes(works: Works) -> None:
    col = columns.BOMS.column("effective_from")
    assert columns.parse_cell(46023, col) == date(2026, 1, 1)
    naive = datetime(2026, 1, 2, 0, 0)  # noqa: DTZ001 - openpyxl reads date cells as naive datetimes
    assert columns.parse_cell(naive, col) == date(2026, 1, 2)
    assert columns.parse_cell("2026.3.4", col) == date(2026, 3, 4)
    with pytest.raises(columns.BadCell):
        columns.parse_cell("04/03/2026", col)
