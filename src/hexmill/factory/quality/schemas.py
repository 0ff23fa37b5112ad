"""API shapes of quality: plans with characteristics, defect codes, inspections, nonconformances, charts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

PlanCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=_ONE_LINE)]
DefectCodeText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=_ONE_LINE)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=_ONE_LINE)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=_ONE_LINE)]
SourceId = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=_ONE_LINE)]
Person = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=_ONE_LINE)]
Note = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
ObjId = Annotated[int, Field(ge=1, le=2**31 - 1)]
# Numeric(18, 6) in the database.
Quantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Measure = Annotated[Decimal, Field(max_digits=18, decimal_places=6, allow_inf_nan=False)]
SamplePct = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False)]
SampleSize = Annotated[int, Field(ge=1, le=1000)]
Sample = Annotated[int, Field(ge=1, le=1000)]
Stage = Literal["receipt", "operation", "final"]
SourceType = Literal["receipt", "operation", "final", "other"]
Kind = Literal["variable", "attribute"]
NcStatus = Literal["open", "dispositioned", "closed"]
DispositionKind = Literal["scrap", "return", "rework", "use_as_is"]


class CharacteristicIn(Input):
    name: Name
    kind: Kind
    unit: Unit = ""
    nominal: Measure | None = None
    lsl: Measure | None = Field(default=None, description="Lower specification limit (variables).")
    usl: Measure | None = Field(default=None, description="Upper specification limit (variables).")
    sample_size: SampleSize | None = Field(default=None, description="Samples per inspection; or sample_pct.")
    sample_pct: SamplePct | None = Field(default=None, description="Samples as a percentage of the quantity.")
    defect_code_id: ObjId | None = Field(default=None, description="The defect code of a nonconformance it opens.")


class CharacteristicRead(Output):
    id: int
    position: int
    name: str
    kind: Kind
    unit: str
    nominal: Decimal | None
    lsl: Decimal | None
    usl: Decimal | None
    sample_size: int | None
    sample_pct: Decimal | None
    defect_code_id: int | None


class PlanCreate(Input):
    code: PlanCode
    name: Name
    stage: Stage
    item_id: ObjId | None = Field(default=None, description="The item inspected; any item if left out.")
    active: bool = True
    note: Note = ""
    characteristics: list[CharacteristicIn] = Field(default_factory=list, max_length=100)


class PlanUpdate(Input):
    name: Name | None = None
    active: bool | None = None
    note: Note | None = None
    characteristics: list[CharacteristicIn] | None = Field(
        default=None, max_length=100, description="Replaces all characteristics; refused once the plan is used."
    )


class PlanRead(Output):
    id: int
    code: str
    name: str
    stage: Stage
    item_id: int | None
    active: bool
    note: str
    created_at: datetime


class PlanDetail(PlanRead):
    characteristics: list[CharacteristicRead]
    in_use: bool = False


class DefectCodeCreate(Input):
    code: DefectCodeText
    name: Name
    category: Category = ""
    active: bool = True


class DefectCodeUpdate(Input):
    code: DefectCodeText | None = None
    name: Name | None = None
    category: Category | None = None
    active: bool | None = None


class DefectCodeRead(Output):
    id: int
    code: str
    name: str
    category: str
    active: bool


class ResultIn(Input):
    characteristic_id: ObjId
    sample: Sample = 1
    value: Measure | None = Field(default=None, description="The measured value (variables).")
    passed: bool | None = Field(default=None, description="Pass or fail (attributes).")


class ResultRead(Output):
    id: int
    characteristic_id: int
    sample: int
    value: Decimal | None
    passed: bool | None
    in_tolerance: bool


class InspectionCreate(Input):
    plan_id: ObjId | None = Field(default=None, description="The active plan for the item and stage if left out.")
    source_type: SourceType
    source_id: SourceId = ""
    item_id: ObjId
    lot_id: ObjId | None = None
    location_id: ObjId
    quantity: Quantity = Field(description="The quantity inspected, in the item's base unit.")
    supplier_id: ObjId | None = Field(default=None, description="The supplier of received goods.")
    affected_quantity: Quantity | None = Field(
        default=None, description="The nonconforming quantity if any result is out of tolerance; all of it if left out."
    )
    defect_code_id: ObjId | None = None
    note: Note = ""
    results: list[ResultIn] = Field(min_length=1, max_length=5000)


class InspectionRead(Output):
    id: int
    plan_id: int
    source_type: SourceType
    source_id: str
    item_id: int
    lot_id: int | None
    location_id: int
    supplier_id: int | None
    quantity: Decimal
    result: Literal["pass", "fail"]
    note: str
    username: str | None
    inspected_at: datetime
    nonconformance_ids: list[int]


class InspectionDetail(InspectionRead):
    results: list[ResultRead]


class NonconformanceCreate(Input):
    stage: SourceType = "other"
    source_id: SourceId = ""
    item_id: ObjId
    lot_id: ObjId | None = None
    location_id: ObjId
    quantity: Quantity = Field(description="The nonconforming quantity, in the item's base unit.")
    supplier_id: ObjId | None = None
    defect_code_id: ObjId | None = None
    description: Note = ""


class DispositionIn(Input):
    kind: DispositionKind
    quantity: Quantity
    to_location_id: ObjId | None = Field(default=None, description="The rework or hold location (rework only).")
    supplier_id: ObjId | None = Field(default=None, description="The supplier goods go back to (return only).")
    approver: Person = Field(default="", description="Who approved use as is; the current user if left out.")
    note: Note = ""


class DispositionCreate(Input):
    lines: list[DispositionIn] = Field(min_length=1, max_length=20)


class DispositionRead(Output):
    id: int
    kind: DispositionKind
    quantity: Decimal
    to_location_id: int | None
    supplier_id: int | None
    move_id: int | None
    approver: str
    note: str
    username: str | None
    created_at: datetime


class NonconformanceRead(Output):
    id: int
    inspection_id: int | None
    stage: SourceType
    source_id: str
    item_id: int
    lot_id: int | None
    location_id: int
    supplier_id: int | None
    defect_code_id: int | None
    quantity: Decimal
    dispositioned_quantity: Decimal
    characteristics: str
    description: str
    status: NcStatus
    username: str | None
    created_at: datetime
    closed_at: datetime | None


class NonconformanceDetail(NonconformanceRead):
    dispositions: list[DispositionRead]


class BinRead(Output):
    low: Decimal
    high: Decimal
    count: int


class CapabilityRead(Output):
    characteristic_id: int
    name: str
    unit: str
    nominal: Decimal | None
    lsl: Decimal | None
    usl: Decimal | None
    n: int
    mean: Decimal | None
    sigma: Decimal | None
    cp: Decimal | None
    cpk: Decimal | None
    cpu: Decimal | None
    cpl: Decimal | None
    bins: list[BinRead]


class ParetoBarRead(Output):
    defect_code_id: int | None
    code: str
    name: str
    count: int
    quantity: Decimal
    cumulative_pct: Decimal


class ParetoRead(Output):
    by: Literal["count", "quantity"]
    total_count: int
    total_quantity: Decimal
    bars: list[ParetoBarRead]


class ItemDefectsRead(Output):
    item_id: int
    inspected_quantity: Decimal
    nonconforming_quantity: Decimal
