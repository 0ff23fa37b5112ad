"""Acceptance: 1,000-row files of items and of opening stock with exactly three bad rows (each a different
fault) import nothing and report exactly those rows with the right columns, as CSV and as .xlsx; clean,
they import every row."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factory.imports.conftest import API, ITEM_HEADER, STOCK_HEADER, Works, as_file, item_rows

ROWS = 1000


def _post(client: TestClient, kind: str, data: bytes, works: Works, fmt: str) -> dict[str, object]:
    answer = client.post(f"{API}/{kind}", files={"file": (f"{kind}.{fmt}", data)}, headers=works.headers)
    assert answer.status_code in {200, 422}, answer.text
    body: dict[str, object] = answer.json()
    return body


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_thousand_items_three_bad_rows(client: TestClient, works: Works, fmt: str) -> None:
    rows = item_rows(works, ROWS)
    rows[99][5] = "perhaps"  # row 101: not yes or no
    rows[499][3] = "furlong"  # row 501: no such unit
    rows[899][0] = rows[10][0]  # row 901: the code of row 12 again
    before = works.count_items()
    body = _post(client, "items", as_file(ITEM_HEADER, rows, fmt), works, fmt)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [(e["row"], e["column"]) for e in errors] == [(101, "allow_negative"), (501, "uom"), (901, "code")]
    assert [e["message"] for e in errors][1:] == ["Unknown unit furlong.", "Duplicate of row 12."]
    assert works.count_items() == before
    rows[99][5], rows[499][3], rows[899][0] = "no", works.uom, rows[899][0] + "-B"
    assert _post(client, "items", as_file(ITEM_HEADER, rows, fmt), works, fmt)["created"] == {"items": ROWS}
    assert works.count_items() == before + ROWS


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_thousand_opening_stock_rows_three_bad_rows(client: TestClient, works: Works, fmt: str) -> None:
    items = item_rows(works, ROWS)
    assert _post(client, "items", as_file(ITEM_HEADER, items), works, "csv")["created"] == {"items": ROWS}
    rows: list[list[object]] = [[item[0], "WH1/A" if i % 2 else "WH1/B", "", i % 7 + 1] for i, item in enumerate(items)]
    rows[199][3] = "1O"  # row 201: a letter O for a zero
    rows[599][0] = "NO-SUCH-ITEM"  # row 601: no such item
    rows[799] = list(rows[300])  # row 801: the item and location of row 302 again
    before = works.count_moves()
    body = _post(client, "opening_stock", as_file(STOCK_HEADER, rows, fmt), works, fmt)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [(e["row"], e["column"]) for e in errors] == [(201, "quantity"), (601, "item"), (801, "item")]
    assert [e["message"] for e in errors] == [
        "Not a number: 1O.",
        "Unknown item NO-SUCH-ITEM.",
        "Duplicate of row 302.",
    ]
    assert works.count_moves() == before
    rows[199][3], rows[599][0], rows[799][0] = "10", items[599][0], items[799][0]
    body = _post(client, "opening_stock", as_file(STOCK_HEADER, rows, fmt), works, fmt)
    assert body["created"] == {"stock_moves": ROWS}
    assert works.count_moves() == before + ROWS
