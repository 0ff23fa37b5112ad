"""API shapes of maintenance: failure codes, orders, preventive plans, usage readings, reliability."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_ONE_LINE)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=_ONE_LINE)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
Text = Annotated[str, StringConstraints(max_length=4000, pattern=_TEXT)]
# A counter is named like an identifier: runtime_hours, cycles, strokes.
Counter = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ObjId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Days = Annotated[int, Field(ge=1, le=36_500)]
# Numeric(18, 6) in the database.
Units = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Value = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
LabourHours = Annotated[Decimal, Field(ge=0, max_digits=9, decimal_places=2, allow_inf_nan=False)]
Kind = Literal["corrective", "preventive"]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["open", "in_progress", "done", "cancelled"]
Trigger = Literal["calendar", "usage"]


class FailureCodeCreate(Input):
    code: Code
    name: Name
    description: Text = ""
    active: bool = True


class FailureCodeUpdate(Input):
    code: Code | None = None
    name: Name | None = None
    description: Text | None = None
    active: bool | None = None


class FailureCodeRead(Output):
    id: int
    code: str
    name: str
    description: str
    active: bool


class OrderCreate(Input):
    number: Number | None = Field(default=None, description="Numbered MO-000123 if left out.")
    equipment_id: ObjId
    kind: Kind
    priority: Priority = "normal"
    plan_id: ObjId | None = Field(default=None, description="The preventive plan the order carries out.")
    failure_code_id: ObjId | None = None
    failure_at: AwareDatetime | None = Field(
        default=None, description="When the machine broke down (corrective orders; required for them)."
    )
    repair_start_at: AwareDatetime | None = None
    repair_end_at: AwareDatetime | None = None
    equipment_down: bool | None = Field(
        default=None, description="Whether the machine stood still; yes for corrective orders if left out."
    )
    due_date: date | None = None
    description: Text = ""
    action_taken: Text = ""
    labour_hours: LabourHours = Decimal(0)


class OrderUpdate(Input):
    number: Number | None = None
    priority: Priority | None = None
    failure_code_id: ObjId | None = None
    failure_at: AwareDatetime | None = None
    repair_start_at: AwareDatetime | None = None
    repair_end_at: AwareDatetime | None = None
    equipment_down: bool | None = None
    due_date: date | None = None
    description: Text | None = None
    action_taken: Text | None = None
    labour_hours: LabourHours | None = None


class OrderStart(Input):
    repair_start_at: AwareDatetime | None = Field(default=None, description="Now if left out.")


class OrderComplete(Input):
    repair_end_at: AwareDatetime | None = Field(default=None, description="Now if left out.")
    action_taken: Text | None = None
    labour_hours: LabourHours | None = None
    failure_code_id: ObjId | None = None


class OrderRead(Output):
    id: int
    number: str
    equipment_id: int
    kind: Kind
    priority: Priority
    status: Status
    plan_id: int | None
    failure_code_id: int | None
    failure_at: datetime | None
    repair_start_at: datetime | None
    repair_end_at: datetime | None
    equipment_down: bool
    due_date: date | None
    description: str
    action_taken: str
    labour_hours: Decimal
    username: str | None
    created_at: datetime
    completed_at: datetime | None


class PlanCreate(Input):
    equipment_id: ObjId
    name: Name
    trigger_type: Trigger
    interval_days: Days | None = Field(default=None, description="Calendar plans: every so many days.")
    start_date: date | None = Field(default=None, description="Calendar plans count from it; today if left out.")
    counter: Counter | None = Field(default=None, description="Usage plans: the counter, e.g. runtime_hours.")
    interval_units: Units | None = Field(default=None, description="Usage plans: every so many counter units.")
    start_reading: Value | None = Field(
        default=None, description="Usage plans: the counter value counting starts from; the latest reading if left out."
    )
    tasks: Text = ""
    active: bool = True


class PlanUpdate(Input):
    name: Name | None = None
    interval_days: Days | None = None
    start_date: date | None = None
    counter: Counter | None = None
    interval_units: Units | None = None
    tasks: Text | None = None
    active: bool | None = None


class PlanRead(Output):
    id: int
    equipment_id: int
    name: str
    trigger_type: Trigger
    interval_days: int | None
    start_date: date
    counter: str | None
    interval_units: Decimal | None
    start_reading: Decimal | None
    tasks: str
    active: bool
    last_done_at: datetime | None
    last_done_reading: Decimal | None
    created_at: datetime


class PlanDue(Output):
    plan_id: int
    due: bool
    due_date: date | None
    used: Decimal | None
    due_value: Decimal | None
    current: Decimal | None
    open_order_id: int | None


class PlanDetail(PlanRead):
    next_due: PlanDue


class GeneratedOrders(Output):
    created: list[OrderRead]


class ReadingCreate(Input):
    equipment_id: ObjId
    counter: Counter
    value: Value
    read_at: AwareDatetime | None = Field(default=None, description="Now if left out.")
    is_reset: bool = Field(default=False, description="The counter started again from zero (a new meter).")
    note: Text = ""


class ReadingRead(Output):
    id: int
    equipment_id: int
    counter: str
    value: Decimal
    read_at: datetime
    is_reset: bool
    source: str
    note: str
    username: str | None
    created_at: datetime


class ReliabilityRead(Output):
    equipment_id: int
    equipment_name: str
    start: datetime
    end: datetime
    failures: int
    downtime_hours: Decimal
    mttr_hours: Decimal | None
    mtbf_hours: Decimal | None
    availability: Decimal
