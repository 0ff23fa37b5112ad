"""API shapes of sales: quotations and sales orders with their lines, deliveries and returns with theirs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_ONE_LINE)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100, pattern=_ONE_LINE)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
Note = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
ObjId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# Numeric(18, 6) in the database.
Quantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Price = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Options = Annotated[
    list[ObjId],
    Field(
        max_length=50,
        description="Ids of the item's option values chosen: one per option group of a configurable item.",
    ),
]
OrderStatus = Literal["draft", "confirmed", "partially_delivered", "delivered", "cancelled"]
QuotationStatus = Literal["draft", "sent", "accepted", "rejected", "expired"]
DeliveryStatus = Literal["draft", "picked", "shipped", "cancelled"]


class QuotationLineCreate(Input):
    item_id: ObjId
    quantity: Quantity
    uom_id: ObjId | None = Field(default=None, description="The unit quoted in; the item's base unit if left out.")
    unit_price: Price = Decimal(0)
    requested_date: date | None = None
    options: Options = Field(default_factory=list)


class QuotationLineUpdate(Input):
    item_id: ObjId | None = None
    quantity: Quantity | None = None
    uom_id: ObjId | None = None
    unit_price: Price | None = None
    requested_date: date | None = None
    options: Options | None = None


class QuotationLineRead(Output):
    id: int
    position: int
    item_id: int
    quantity: Decimal
    uom_id: int
    base_quantity: Decimal
    unit_price: Decimal
    requested_date: date | None
    options: list[int]


class QuotationCreate(Input):
    number: Number
    customer_id: ObjId
    quote_date: date | None = Field(default=None, description="Today (UTC) if left out.")
    valid_until: date | None = None
    note: Note = ""
    lines: list[QuotationLineCreate] = Field(default_factory=list, max_length=500)


class QuotationUpdate(Input):
    number: Number | None = None
    customer_id: ObjId | None = None
    quote_date: date | None = None
    valid_until: date | None = None
    note: Note | None = None


class QuotationRead(Output):
    id: int
    number: str
    customer_id: int
    quote_date: date
    valid_until: date | None
    status: QuotationStatus
    note: str
    username: str | None
    created_at: datetime
    sent_at: datetime | None
    decided_at: datetime | None


class QuotationDetail(QuotationRead):
    lines: list[QuotationLineRead]


class QuotationConvert(Input):
    number: Number | None = Field(default=None, description="The sales order's number; the quotation's if left out.")
    order_date: date | None = Field(default=None, description="Today (UTC) if left out.")


class OrderLineCreate(Input):
    item_id: ObjId
    quantity: Quantity
    uom_id: ObjId | None = Field(default=None, description="The unit ordered in; the item's base unit if left out.")
    unit_price: Price = Decimal(0)
    due_date: date | None = None
    options: Options = Field(default_factory=list)


class OrderLineUpdate(Input):
    item_id: ObjId | None = None
    quantity: Quantity | None = None
    uom_id: ObjId | None = None
    unit_price: Price | None = None
    due_date: date | None = None
    options: Options | None = None


class OrderLineRead(Output):
    id: int
    order_id: int
    position: int
    item_id: int
    quantity: Decimal
    uom_id: int
    base_quantity: Decimal
    unit_price: Decimal
    due_date: date | None
    options: list[int]
    delivered_quantity: Decimal = Field(description="Shipped so far, in the item's base unit.")
    returned_quantity: Decimal = Field(description="Taken back so far, in the item's base unit.")


class OrderCreate(Input):
    number: Number
    customer_id: ObjId
    order_date: date | None = Field(default=None, description="Today (UTC) if left out.")
    customer_reference: Reference = ""
    note: Note = ""
    lines: list[OrderLineCreate] = Field(default_factory=list, max_length=500)


class OrderUpdate(Input):
    number: Number | None = None
    customer_id: ObjId | None = None
    order_date: date | None = None
    customer_reference: Reference | None = None
    note: Note | None = None


class OrderRead(Output):
    id: int
    number: str
    customer_id: int
    order_date: date
    customer_reference: str
    quotation_id: int | None
    status: OrderStatus
    note: str
    username: str | None
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None


class OrderDetail(OrderRead):
    lines: list[OrderLineRead]


class DeliveryLineCreate(Input):
    order_line_id: ObjId
    quantity: Quantity = Field(description="In the item's base unit.")
    location_id: ObjId = Field(description="The warehouse location the goods are taken from.")
    lot_id: ObjId | None = Field(default=None, description="The lot or serial number, for tracked items.")


class DeliveryCreate(Input):
    lines: list[DeliveryLineCreate] = Field(min_length=1, max_length=200)
    note: Note = ""


class DeliveryLineRead(Output):
    id: int
    order_line_id: int
    quantity: Decimal
    location_id: int
    lot_id: int | None
    reservation_id: int | None
    move_id: int | None


class DeliveryRead(Output):
    id: int
    order_id: int
    status: DeliveryStatus
    note: str
    username: str | None
    created_at: datetime
    picked_at: datetime | None
    shipped_at: datetime | None
    lines: list[DeliveryLineRead]


class ReturnLineCreate(Input):
    order_line_id: ObjId
    quantity: Quantity = Field(description="In the item's base unit.")
    location_id: ObjId = Field(description="A warehouse location, or the scrap location.")
    lot_id: ObjId | None = Field(default=None, description="The lot or serial number shipped, for tracked items.")


class ReturnCreate(Input):
    lines: list[ReturnLineCreate] = Field(min_length=1, max_length=200)
    reason: Reason
    note: Note = ""


class ReturnLineRead(Output):
    id: int
    order_line_id: int
    quantity: Decimal
    location_id: int
    lot_id: int | None
    move_id: int


class ReturnRead(Output):
    id: int
    order_id: int
    reason: str
    note: str
    username: str | None
    created_at: datetime
    lines: list[ReturnLineRead]
