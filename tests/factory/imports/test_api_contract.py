"""Contract tests of the imports API: import and dry run, every error with row, column and message (in the
caller's language), templates in the caller's language, 401/403 by the kind's permission, the caller's
enterprise only."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.factory.imports.conftest import API, ITEM_HEADER, STOCK_HEADER, Works, as_file, item_rows

KINDS = ("parties", "items", "boms", "routings", "opening_stock", "purchase_orders", "sales_orders")


def _post(
    client: TestClient, kind: str, data: bytes, headers: dict[str, str], name: str = "f.csv", **params: Any
) -> Any:
    return client.post(f"{API}/{kind}", files={"file": (name, data)}, params=params, headers=headers)


def test_import_dry_run_then_import(client: TestClient, works: Works) -> None:
    data = as_file(ITEM_HEADER, item_rows(works, 3))
    before = works.count_items()
    dry = _post(client, "items", data, works.headers, dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"kind": "items", "rows": 3, "dry_run": True, "created": {"items": 3}}
    assert works.count_items() == before
    done = _post(client, "items", data, works.headers)
    assert done.status_code == 200, done.text
    assert done.json()["created"] == {"items": 3}
    assert works.count_items() == before + 3
    again = _post(client, "items", data, works.headers)
    assert again.status_code == 422
    assert [(e["row"], e["column"]) for e in again.json()["errors"]] == [(2, "code"), (3, "code"), (4, "code")]


def test_errors_list_row_column_and_message(client: TestClient, works: Works) -> None:
    rows = [
        [works.codes["bolt"], "WH1/A", "", "x"],
        ["NOPE", "WH1/A", "", "1"],
        [works.codes["bolt"], "WH1/A", "", "2"],
    ]
    answer = _post(client, "opening_stock", as_file(STOCK_HEADER, rows, "xlsx"), works.headers, name="s.xlsx")
    assert answer.status_code == 422
    body = answer.json()
    assert body["type"].endswith("validation-error")
    assert body["detail"] == "Nothing was imported; errors found: 2."
    assert body["errors"] == [
        {"row": 2, "column": "quantity", "message": "Not a number: x.", "detail": "Not a number: x."},
        {"row": 3, "column": "item", "message": "Unknown item NOPE.", "detail": "Unknown item NOPE."},
    ]
    assert works.count_moves() == 0


def test_errors_come_back_in_the_requested_language(client: TestClient, works: Works) -> None:
    rows = item_rows(works, 1)
    rows[0][0] = works.codes["bolt"]
    headers = {**works.headers, "Accept-Language": "zh-CN"}
    answer = _post(client, "items", as_file(ITEM_HEADER, rows), headers)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["message"] == f"代码 {works.codes['bolt']} 已被占用。"
    assert answer.json()["title"] == "输入无效"


@pytest.mark.parametrize("kind", KINDS)
def test_templates_in_the_callers_language(client: TestClient, works: Works, kind: str) -> None:
    english = client.get(f"{API}/{kind}/template.csv", headers=works.headers)
    assert english.status_code == 200
    assert english.headers["content-type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    chinese = client.get(f"{API}/{kind}/template.xlsx", headers={**works.headers, "Accept-Language": "zh-CN"})
    assert chinese.status_code == 200
    sheet = load_workbook(io.BytesIO(chinese.content), read_only=True).worksheets[0]
    zh_header = [c for c in next(sheet.iter_rows(values_only=True)) if c]
    assert len(header) == len(zh_header) > 2
    assert all(name.isascii() for name in header) and not any(name.isascii() for name in zh_header)


def test_a_chinese_template_filled_in_imports(client: TestClient, works: Works) -> None:
    template = client.get(f"{API}/items/template.xlsx", headers={**works.headers, "Accept-Language": "zh-CN"})
    book = load_workbook(io.BytesIO(template.content))
    sheet = book.worksheets[0]
    code = item_rows(works, 1)[0][0]
    sheet.append([code, "螺栓", "成品", works.uom, "序列号", "否"])
    buf = io.BytesIO()
    book.save(buf)
    answer = _post(client, "items", buf.getvalue(), works.headers, name="物料.xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == {"items": 1}


def test_no_credentials_is_401(client: TestClient) -> None:
    assert client.post(f"{API}/items", files={"file": ("f.csv", b"code\n")}).status_code == 401
    assert client.get(f"{API}/items/template.csv").status_code == 401


def test_without_the_kinds_permission_is_403(
    client: TestClient, works: Works, actor_factory: Callable[..., Any]
) -> None:
    tenant = works.plant.actor.tenant
    viewer = actor_factory("viewer", tenant=tenant)  # reads everything, changes nothing
    operator = actor_factory("operator", tenant=tenant)  # moves stock, edits no master data or orders
    planner = actor_factory("planner", tenant=tenant)  # edits master data and orders, moves no stock
    data = b"whatever"
    for kind in KINDS:
        for path in (f"/{kind}/template.csv", f"/{kind}/template.xlsx"):
            assert client.get(f"{API}{path}", headers=viewer.headers).status_code == 403, (kind, path)
        assert _post(client, kind, data, viewer.headers).status_code == 403, kind
        allowed = {"operator": kind == "opening_stock", "planner": kind != "opening_stock"}
        for name, actor in (("operator", operator), ("planner", planner)):
            status = _post(client, kind, data, actor.headers).status_code
            assert status == (422 if allowed[name] else 403), (kind, name, status)


def test_operator_imports_opening_stock(client: TestClient, works: Works, actor_factory: Callable[..., Any]) -> None:
    operator = actor_factory("operator", tenant=works.plant.actor.tenant)
    rows = [[works.codes["bolt"], "WH1/A", "", "7"]]
    answer = _post(client, "opening_stock", as_file(STOCK_HEADER, rows), operator.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == {"stock_moves": 1}


def test_import_goes_into_the_callers_enterprise_only(client: TestClient, works_factory: Callable[..., Works]) -> None:
    mine, theirs = works_factory(), works_factory()
    before = theirs.count_items()
    rows = item_rows(mine, 2)
    assert _post(client, "items", as_file(ITEM_HEADER, rows), mine.headers).status_code == 200
    assert theirs.count_items() == before
    listed = client.get("/api/v1/factory/items", params={"code": rows[0][0]}, headers=theirs.headers).json()
    assert listed["total"] == 0
    # Another enterprise's codes are unknown here, as if they did not exist.
    stock = [[mine.codes["bolt"], "WH1/A", "", "1"]]
    refused = _post(client, "opening_stock", as_file(STOCK_HEADER, stock), theirs.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["message"] == f"Unknown item {mine.codes['bolt']}."


def test_unknown_kind_is_422(client: TestClient, works: Works) -> None:
    assert _post(client, "widgets", b"code\n", works.headers).status_code == 422
