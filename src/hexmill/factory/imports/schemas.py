"""API shapes of imports: the answer of an import (counts by kind of object created)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hexmill.core.schemas import Output

ImportKind = Literal["parties", "items", "boms", "routings", "opening_stock", "purchase_orders", "sales_orders"]


class ImportResultRead(Output):
    kind: str
    rows: int = Field(description="Data rows read from the file (empty rows not counted).")
    dry_run: bool = Field(description="True if the file was only checked and nothing was kept.")
    created: dict[str, int] = Field(
        description="Objects created (or that would be on a dry run) by kind: items, parties, boms, bom_lines, "
        "operations, stock_moves, lots, purchase_orders, purchase_order_lines, sales_orders, sales_order_lines."
    )
