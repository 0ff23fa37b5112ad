"""API shapes of the inventory ledger: warehouses, locations, lots, moves, stock, reservations, counts, traces."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_ONE_LINE)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
LotNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_ONE_LINE)]
Note = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=_ONE_LINE)]
RefType = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^([a-z][a-z0-9_]*)?$")]
RefId = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=_ONE_LINE)]
ObjId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# Base-unit quantities: Numeric(18, 6) in the database.
Quantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Counted = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]


class WarehouseCreate(Input):
    code: Code
    name: Name


class WarehouseUpdate(Input):
    code: Code | None = None
    name: Name | None = None


class WarehouseRead(Output):
    id: int
    code: str
    name: str
    created_at: datetime


class LocationCreate(Input):
    warehouse_id: ObjId
    code: Code
    name: Name


class LocationUpdate(Input):
    warehouse_id: ObjId | None = None
    code: Code | None = None
    name: Name | None = None


class LocationRead(Output):
    id: int
    warehouse_id: int | None
    code: str
    name: str
    kind: str
    created_at: datetime


class LotCreate(Input):
    item_id: ObjId
    number: LotNumber
    note: Note = ""


class LotUpdate(Input):
    note: Note | None = None


class LotRead(Output):
    id: int
    item_id: int
    number: str
    kind: str
    note: str
    created_at: datetime


class MoveCreate(Input):
    item_id: ObjId
    quantity: Quantity
    from_location_id: ObjId
    to_location_id: ObjId
    lot_id: ObjId | None = None
    reference_type: RefType = ""
    reference_id: RefId = ""
    reason: Reason = ""


class MoveReverse(Input):
    reason: Reason = ""


class MoveRead(Output):
    id: int
    item_id: int
    quantity: Decimal
    from_location_id: int
    to_location_id: int
    lot_id: int | None
    reference_type: str
    reference_id: str
    reason: str
    production_id: int | None
    production_role: str | None
    reversal_of: int | None
    username: str | None
    created_at: datetime


class StockRead(Output):
    item_id: int
    item_code: str
    item_name: str
    location_id: int
    location_code: str
    warehouse_id: int | None
    lot_id: int | None
    lot_number: str | None
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


class ItemStockRead(Output):
    item_id: int
    item_code: str
    item_name: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


class ReservationCreate(Input):
    item_id: ObjId
    location_id: ObjId
    lot_id: ObjId | None = None
    quantity: Quantity
    reference_type: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    ]
    reference_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_ONE_LINE)
    ]


class ReservationConsume(Input):
    to_location_id: ObjId


class ReservationRead(Output):
    id: int
    item_id: int
    location_id: int
    lot_id: int | None
    quantity: Decimal
    reference_type: str
    reference_id: str
    status: Literal["open", "released", "consumed"]
    move_id: int | None
    created_at: datetime
    closed_at: datetime | None


class CycleCountCreate(Input):
    item_id: ObjId
    location_id: ObjId
    lot_id: ObjId | None = None
    counted_quantity: Counted


class CycleCountRead(Output):
    id: int
    item_id: int
    location_id: int
    lot_id: int | None
    counted_quantity: Decimal
    expected_quantity: Decimal
    move_id: int | None
    username: str | None
    created_at: datetime


class ProductionLineIn(Input):
    item_id: ObjId
    quantity: Quantity
    location_id: ObjId
    lot_id: ObjId | None = None


class ProductionCreate(Input):
    consumed: list[ProductionLineIn] = Field(default_factory=list, max_length=200)
    produced: list[ProductionLineIn] = Field(min_length=1, max_length=200)
    reference_type: RefType = ""
    reference_id: RefId = ""
    note: Note = ""


class ProductionRead(Output):
    id: int
    reference_type: str
    reference_id: str
    note: str
    username: str | None
    created_at: datetime
    moves: list[MoveRead] = Field(default_factory=list)


class TraceLot(Output):
    id: int
    item_id: int
    number: str
    kind: str
    depth: int


class TraceRead(Output):
    lot: TraceLot
    direction: Literal["down", "up"]
    lots: list[TraceLot] = Field(description="Every lot reached, nearest first (depth 1 = one level away).")
    edges: list[tuple[int, int]] = Field(
        description="Pairs (from, to) walking away from the traced lot: down, product to component; up, the reverse."
    )
    shipments: list[MoveRead] = Field(default_factory=list, description="Up only: moves to a customer location.")
