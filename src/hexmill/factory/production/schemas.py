"""API shapes of production: work orders with components and operations, reports, issues, receipts, scrap reasons."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_ONE_LINE)]
LotNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_ONE_LINE)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=_ONE_LINE)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
Note = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
ObjId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# Numeric(18, 6) in the database.
Quantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Count = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Minutes = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3, allow_inf_nan=False)]
Status = Literal["draft", "released", "in_progress", "completed", "closed", "cancelled"]
OperationStatus = Literal["pending", "running", "paused", "finished"]
ReportKind = Literal["start", "pause", "resume", "finish", "report"]


class WorkOrderCreate(Input):
    number: Number
    item_id: ObjId = Field(description="A semi-finished or finished item.")
    quantity: Quantity = Field(description="In the item's base unit.")
    start_date: date | None = None
    due_date: date | None = None
    sales_order_line_id: ObjId | None = Field(default=None, description="The sales order line it makes goods for.")
    note: Note = ""


class WorkOrderUpdate(Input):
    number: Number | None = None
    item_id: ObjId | None = None
    quantity: Quantity | None = None
    start_date: date | None = None
    due_date: date | None = None
    sales_order_line_id: ObjId | None = None
    clear_sales_order_line: bool = False
    note: Note | None = None


class ComponentRead(Output):
    id: int
    position: int
    item_id: int
    quantity_per_unit: Decimal
    required_quantity: Decimal
    uom_id: int
    issued_quantity: Decimal


class OperationRead(Output):
    id: int
    work_order_id: int
    sequence: int
    name: str
    work_centre_id: int
    setup_minutes: Decimal
    run_minutes: Decimal
    transfer_batch: Decimal | None
    status: OperationStatus
    good_quantity: Decimal
    scrap_quantity: Decimal
    labour_minutes: Decimal
    running_since: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class WorkOrderRead(Output):
    id: int
    number: str
    item_id: int
    quantity: Decimal
    start_date: date | None
    due_date: date | None
    status: Status
    sales_order_line_id: int | None
    note: str
    received_quantity: Decimal
    production_record_id: int | None
    username: str | None
    created_at: datetime
    released_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None


class WorkOrderDetail(WorkOrderRead):
    components: list[ComponentRead]
    operations: list[OperationRead]


class ReportCreate(Input):
    good_quantity: Count = Decimal(0)
    scrap_quantity: Count = Decimal(0)
    scrap_reason_id: ObjId | None = None
    labour_minutes: Minutes | None = Field(
        default=None, description="Labour time entered instead of the clock's running interval."
    )
    at: AwareDatetime | None = Field(default=None, description="When it happened; now if left out.")
    note: Note = ""


class ReportRead(Output):
    id: int
    work_order_id: int
    operation_id: int
    kind: ReportKind
    source: Literal["manual", "machine"]
    at: datetime
    good_quantity: Decimal
    scrap_quantity: Decimal
    scrap_reason_id: int | None
    labour_minutes: Decimal | None
    note: str
    username: str | None
    created_at: datetime


class MachineCounts(Input):
    equipment_id: ObjId
    good: Count = Field(description="Good parts since the machine's previous call.")
    scrap: Count = Field(default=Decimal(0), description="Scrapped parts since the machine's previous call.")
    at: AwareDatetime | None = Field(default=None, description="When the machine counted them; now if left out.")


class MachineCountsResult(Output):
    report: ReportRead | None = Field(description="The report recorded, or null when nothing runs there.")


class IssueLineCreate(Input):
    component_id: ObjId
    quantity: Quantity = Field(description="In the component's base unit.")
    location_id: ObjId
    lot_id: ObjId | None = Field(default=None, description="For tracked items; the oldest lots first if left out.")


class IssueCreate(Input):
    lines: list[IssueLineCreate] = Field(min_length=1, max_length=200)


class IssueRead(Output):
    id: int
    work_order_id: int
    component_id: int
    kind: Literal["manual", "backflush"]
    quantity: Decimal
    location_id: int
    lot_id: int | None
    move_id: int
    receipt_id: int | None
    username: str | None
    created_at: datetime


class ComponentLot(Input):
    component_id: ObjId
    lot_id: ObjId


class ReceiptCreate(Input):
    quantity: Quantity = Field(description="Good quantity received, in the item's base unit.")
    location_id: ObjId = Field(description="The warehouse location the goods go to.")
    lot_number: LotNumber | None = Field(default=None, description="The new lot, for lot-tracked items.")
    serial_numbers: list[LotNumber] = Field(
        default_factory=list, max_length=1000, description="New serial numbers, one per unit, for serial items."
    )
    backflush: bool = Field(default=True, description="Consume the components for the good received.")
    backflush_location_id: ObjId | None = Field(default=None, description="Where backflushed components come from.")
    component_lots: list[ComponentLot] = Field(
        default_factory=list, max_length=200, description="Lots to backflush; the oldest lots first otherwise."
    )
    note: Note = ""


class ReceiptOutputRead(Output):
    id: int
    quantity: Decimal
    lot_id: int | None
    move_id: int


class ReceiptRead(Output):
    id: int
    work_order_id: int
    quantity: Decimal
    location_id: int
    note: str
    username: str | None
    created_at: datetime
    outputs: list[ReceiptOutputRead]


class ScrapReasonCreate(Input):
    code: Code
    name: Name
    active: bool = True


class ScrapReasonUpdate(Input):
    code: Code | None = None
    name: Name | None = None
    active: bool | None = None


class ScrapReasonRead(Output):
    id: int
    code: str
    name: str
    active: bool
    created_at: datetime


class OperationReportRow(Output):
    report_id: int
    work_order_id: int
    work_order_number: str
    item_id: int
    operation_id: int
    sequence: int
    work_centre_id: int
    kind: ReportKind
    source: str
    good: Decimal
    scrap: Decimal
    scrap_reason_id: int | None
    scrap_reason_code: str | None
    labour_minutes: Decimal
    at: datetime
