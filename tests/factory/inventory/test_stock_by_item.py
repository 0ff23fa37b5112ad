"""Stock per item: the per-place rows summed, reservations settled per place, filters narrowing the sums."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from fastapi.testclient import TestClient

from hexmill.factory.inventory import service
from tests.factory.inventory.conftest import API, Plant
from tests.web.conftest import Browser
from tests.web.test_pages import _logged_in

D = Decimal


def _sums_of_places(plant: Plant, **filters: int) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    out: dict[int, list[Decimal]] = defaultdict(lambda: [D(0), D(0), D(0)])
    with plant.session() as (s, ctx):
        for row in service.stock_on_hand(s, ctx, filters=filters, limit=1000)[0]:
            acc = out[row.item_id]
            acc[0] += row.on_hand
            acc[1] += row.reserved
            acc[2] += row.available
    return {k: (v[0], v[1], v[2]) for k, v in out.items() if v[0] != 0}


def test_per_item_stock_is_the_sum_of_its_places(plant: Plant) -> None:
    ids = plant.ids
    plant.receive("bolt", "10", "a")
    plant.receive("bolt", "5", "b")
    plant.receive("steel", "7", "a", lot="steel-1")
    plant.receive("steel", "3", "b", lot="steel-2")
    with plant.session() as (s, ctx):
        # paint may go negative: -4 on A, +6 on B
        service.post_move(s, ctx, item_id=ids["paint"], quantity=D(4), from_location_id=ids["a"],
                          to_location_id=ids["customer"])  # fmt: skip
        service.post_move(s, ctx, item_id=ids["paint"], quantity=D(6), from_location_id=ids["supplier"],
                          to_location_id=ids["b"])  # fmt: skip
        service.create_reservation(s, ctx, item_id=ids["bolt"], location_id=ids["a"], quantity=D(8),
                                   reference_type="sales_order", reference_id="1")  # fmt: skip
        service.create_reservation(s, ctx, item_id=ids["bolt"], location_id=ids["a"], quantity=D(2),
                                   reference_type="sales_order", reference_id="2")  # fmt: skip
        service.create_reservation(s, ctx, item_id=ids["steel"], location_id=ids["b"], lot_id=ids["steel-2"],
                                   quantity=D(1), reference_type="work_order", reference_id="9")  # fmt: skip
    with plant.session() as (s, ctx):
        rows, total = service.stock_by_item(s, ctx, limit=100)
    by_item = {r.item_id: (r.on_hand, r.reserved, r.available) for r in rows}
    assert total == 3
    assert by_item == _sums_of_places(plant)
    assert by_item[ids["bolt"]] == (15, 10, 5)  # A fully reserved, B free
    assert by_item[ids["paint"]] == (2, 0, 6)  # the negative place gives nothing, B gives 6
    assert by_item[ids["steel"]] == (10, 1, 9)
    assert [r.item_code for r in rows] == sorted(r.item_code for r in rows)


def test_filters_narrow_the_sums_and_pages_count_items(plant: Plant) -> None:
    ids = plant.ids
    plant.receive("bolt", "10", "a")
    plant.receive("bolt", "5", "b")
    plant.receive("frame", "2", "b", lot="frame-1")
    with plant.session() as (s, ctx):
        service.create_reservation(s, ctx, item_id=ids["bolt"], location_id=ids["a"], quantity=D(4),
                                   reference_type="sales_order", reference_id="1")  # fmt: skip
        only_b, _ = service.stock_by_item(s, ctx, filters={"location_id": ids["b"]}, limit=100)
        first, total = service.stock_by_item(s, ctx, limit=1)
        second, _ = service.stock_by_item(s, ctx, offset=1, limit=1)
    assert {r.item_id: (r.on_hand, r.reserved, r.available) for r in only_b} == _sums_of_places(
        plant, location_id=ids["b"]
    )
    assert {r.item_id for r in only_b} == {ids["bolt"], ids["frame"]}
    assert total == 2
    assert len(first) == len(second) == 1 and first[0].item_id != second[0].item_id


def test_api_and_page_show_stock_per_item(plant: Plant, client: TestClient, browser: Browser) -> None:
    plant.receive("bolt", "10", "a")
    plant.receive("bolt", "5", "b")
    body = client.get(f"{API}/stock/items", headers=plant.headers).json()
    assert [(r["item_id"], Decimal(r["on_hand"]), Decimal(r["available"])) for r in body["items"]] == [
        (plant.ids["bolt"], 15, 15)
    ]
    csv_text = client.get(f"{API}/stock/items", params={"format": "csv"}, headers=plant.headers).text
    assert csv_text.splitlines()[0] == "item_id,item_code,item_name,on_hand,reserved,available"
    _logged_in(browser, plant.actor)
    page = browser.get("/inventory", params={"per": "item"})
    assert page.status_code == 200
    table = page.text.split('<table class="stock per-item">', 1)[1]
    assert ">15<" in table and "WH1/A" not in table
