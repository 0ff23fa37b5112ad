"""API shapes of purchasing: purchase orders with their lines, receipts with theirs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_ONE_LINE)]
LotNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_ONE_LINE)]
Note = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
ObjId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# Numeric(18, 6) in the database.
Quantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Price = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Tolerance = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False)]
Status = Literal["draft", "confirmed", "partially_received", "received", "cancelled"]


class OrderLineCreate(Input):
    item_id: ObjId
    quantity: Quantity
    uom_id: ObjId | None = Field(default=None, description="The unit ordered in; the item's base unit if left out.")
    unit_price: Price = Decimal(0)
    expected_date: date | None = None
    tolerance_pct: Tolerance = Field(
        default=Decimal(0), description="How far above the ordered quantity receipts may go, in per cent."
    )


class OrderLineUpdate(Input):
    item_id: ObjId | None = None
    quantity: Quantity | None = None
    uom_id: ObjId | None = None
    unit_price: Price | None = None
    expected_date: date | None = None
    tolerance_pct: Tolerance | None = None


class OrderLineRead(Output):
    id: int
    position: int
    item_id: int
    quantity: Decimal
    uom_id: int
    base_quantity: Decimal
    unit_price: Decimal
    expected_date: date | None
    tolerance_pct: Decimal
    received_quantity: Decimal
    received_base_quantity: Decimal
    closed: bool


class OrderCreate(Input):
    number: Number
    supplier_id: ObjId
    order_date: date | None = Field(default=None, description="Today (UTC) if left out.")
    expected_date: date | None = None
    note: Note = ""
    lines: list[OrderLineCreate] = Field(default_factory=list, max_length=500)


class OrderUpdate(Input):
    number: Number | None = None
    supplier_id: ObjId | None = None
    order_date: date | None = None
    expected_date: date | None = None
    note: Note | None = None


class OrderRead(Output):
    id: int
    number: str
    supplier_id: int
    order_date: date
    expected_date: date | None
    status: Status
    note: str
    username: str | None
    created_at: datetime
    confirmed_at: datetime | None


class OrderDetail(OrderRead):
    lines: list[OrderLineRead]


class ReceiptLineCreate(Input):
    order_line_id: ObjId
    quantity: Quantity = Field(description="In the order line's unit.")
    location_id: ObjId = Field(description="The warehouse location the goods go to.")
    lot_number: LotNumber | None = Field(
        default=None, description="Lot or serial number, for tracked items; created if it does not exist."
    )


class ReceiptCreate(Input):
    lines: list[ReceiptLineCreate] = Field(min_length=1, max_length=200)
    note: Note = ""


class ReceiptLineRead(Output):
    id: int
    order_line_id: int
    quantity: Decimal
    base_quantity: Decimal
    location_id: int
    lot_id: int | None
    move_id: int


class ReceiptRead(Output):
    id: int
    order_id: int
    note: str
    username: str | None
    created_at: datetime
    lines: list[ReceiptLineRead]
