"""API shapes of factory master data: units, conversions, items, parties, BOMs, routings, work centres."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import Field, PlainSerializer, StringConstraints, field_validator, model_validator

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f\x7f]+$")
]
UnitCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16, pattern=r"^[^\s\x00-\x1f\x7f]+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=_ONE_LINE)]
Description = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
Version = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=_ONE_LINE)]
RefId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Positive = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Factor = Annotated[Decimal, Field(gt=0, max_digits=24, decimal_places=10, allow_inf_nan=False)]
Scrap = Annotated[Decimal, Field(ge=0, lt=1, max_digits=7, decimal_places=6, allow_inf_nan=False)]
Minutes = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3, allow_inf_nan=False)]
RunMinutes = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4, allow_inf_nan=False)]
Category = Literal["count", "mass", "length", "area", "volume", "time"]
Kind = Literal["raw", "semi_finished", "finished", "tool"]
Tracking = Literal["none", "lot", "serial"]
Position = Annotated[int, Field(ge=0, le=1_000_000)]


def _plain(value: Decimal) -> str:
    """Write a decimal without exponent or trailing zeros (24, not 24.0000000000 or 2.4E+1)."""
    return format(value.normalize(), "f")


# Decimals in answers: JSON strings, exact, as short as the value allows.
Dec = Annotated[Decimal, PlainSerializer(_plain, return_type=str)]


def _zone(value: str) -> str:
    if value != "UTC" and value not in available_timezones():
        msg = f"{value} is not an IANA time zone"
        raise ValueError(msg)
    return value


Zone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


# -- units -------------------------------------------------------------------------------------


class UomCreate(Input):
    code: UnitCode
    name: Name
    category: Category


class UomUpdate(Input):
    code: UnitCode | None = None
    name: Name | None = None
    category: Category | None = None


class UomRead(Output):
    id: int
    code: str
    name: str
    category: str


class ConversionCreate(Input):
    from_uom_id: RefId
    to_uom_id: RefId
    factor: Factor
    item_id: RefId | None = None


class ConversionUpdate(Input):
    factor: Factor


class ConversionRead(Output):
    id: int
    item_id: int | None
    from_uom_id: int
    to_uom_id: int
    factor: Dec


class ConvertedQuantity(Output):
    item_id: int
    quantity: Dec
    uom_id: int


# -- items -------------------------------------------------------------------------------------


class ItemCreate(Input):
    code: Code
    name: Name
    kind: Kind
    uom_id: RefId
    tracking: Tracking = "none"
    allow_negative: bool = False
    configurable: bool = False
    active: bool = True
    description: Description = ""


class ItemUpdate(Input):
    code: Code | None = None
    name: Name | None = None
    kind: Kind | None = None
    uom_id: RefId | None = None
    tracking: Tracking | None = None
    allow_negative: bool | None = None
    configurable: bool | None = None
    active: bool | None = None
    description: Description | None = None


class ItemRead(Output):
    id: int
    code: str
    name: str
    kind: str
    uom_id: int
    tracking: str
    allow_negative: bool
    configurable: bool
    active: bool
    description: str
    created_at: datetime


class OptionValueIn(Input):
    code: Code
    name: Name


class OptionGroupIn(Input):
    code: Code
    name: Name
    values: list[OptionValueIn] = Field(min_length=1, max_length=200)


class ItemOptionsIn(Input):
    groups: list[OptionGroupIn] = Field(max_length=50)


class OptionValueRead(Output):
    id: int
    code: str
    name: str


class OptionGroupRead(Output):
    id: int
    code: str
    name: str
    values: list[OptionValueRead]


# -- parties -----------------------------------------------------------------------------------


class PartyCreate(Input):
    code: Code
    name: Name
    is_customer: bool = False
    is_supplier: bool = False
    contact_name: Short = ""
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+$")] = (
        ""
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[0-9+()\-./ ]*$")] = ""
    address: Description = ""
    partner_tenant_id: RefId | None = None
    active: bool = True

    @model_validator(mode="after")
    def _a_role(self) -> PartyCreate:
        if not (self.is_customer or self.is_supplier):
            msg = "a party is a customer, a supplier or both"
            raise ValueError(msg)
        return self


class PartyUpdate(Input):
    code: Code | None = None
    name: Name | None = None
    is_customer: bool | None = None
    is_supplier: bool | None = None
    contact_name: Short | None = None
    email: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+$")] | None
    ) = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[0-9+()\-./ ]*$")] | None
    ) = None
    address: Description | None = None
    partner_tenant_id: RefId | None = None
    clear_partner: bool = False
    active: bool | None = None


class PartyRead(Output):
    id: int
    code: str
    name: str
    is_customer: bool
    is_supplier: bool
    contact_name: str
    email: str
    phone: str
    address: str
    partner_tenant_id: int | None
    active: bool
    created_at: datetime


# -- BOMs --------------------------------------------------------------------------------------


class BomCreate(Input):
    item_id: RefId
    version: Version
    effective_from: date | None = None
    effective_to: date | None = None
    is_default: bool = False
    description: Description = ""


class BomUpdate(Input):
    version: Version | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    clear_dates: bool = False
    is_default: bool | None = None
    description: Description | None = None


class BomLineCreate(Input):
    component_id: RefId
    quantity: Positive
    uom_id: RefId | None = None
    scrap_factor: Scrap = Decimal(0)
    option_value_id: RefId | None = None
    position: Position | None = None


class BomLineUpdate(Input):
    component_id: RefId | None = None
    quantity: Positive | None = None
    uom_id: RefId | None = None
    scrap_factor: Scrap | None = None
    option_value_id: RefId | None = None
    clear_option: bool = False
    position: Position | None = None


class BomLineRead(Output):
    id: int
    position: int
    component_id: int
    quantity: Dec
    uom_id: int
    base_quantity: Dec
    scrap_factor: Dec
    option_value_id: int | None


class BomRead(Output):
    id: int
    item_id: int
    version: str
    effective_from: date | None
    effective_to: date | None
    is_default: bool
    description: str
    lines: list[BomLineRead]


class TreeRowRead(Output):
    level: int
    parent_id: int
    component_id: int
    component_code: str
    component_name: str
    quantity: Dec
    uom_code: str
    line_id: int | None


# -- work centres ------------------------------------------------------------------------------


class WorkCentreCreate(Input):
    code: Code
    name: Name
    asset_line_id: RefId | None = None
    asset_equipment_id: RefId | None = None
    parallel_capacity: Annotated[int, Field(ge=1, le=10_000)] = 1
    efficiency_pct: Annotated[Decimal, Field(gt=0, le=200, max_digits=5, decimal_places=2)] = Decimal(100)
    timezone: Zone = "UTC"
    active: bool = True

    _check_zone = field_validator("timezone")(_zone)


class WorkCentreUpdate(Input):
    code: Code | None = None
    name: Name | None = None
    asset_line_id: RefId | None = None
    asset_equipment_id: RefId | None = None
    clear_links: bool = False
    parallel_capacity: Annotated[int, Field(ge=1, le=10_000)] | None = None
    efficiency_pct: Annotated[Decimal, Field(gt=0, le=200, max_digits=5, decimal_places=2)] | None = None
    timezone: Zone | None = None
    active: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class ShiftIn(Input):
    weekday: Annotated[int, Field(ge=0, le=6)]
    start: time
    end: time
    name: Short = ""


class HolidayIn(Input):
    day: date
    name: Short = ""


class CalendarIn(Input):
    timezone: Zone
    shifts: list[ShiftIn] = Field(max_length=200)
    holidays: list[HolidayIn] = Field(max_length=2000)

    _check_zone = field_validator("timezone")(_zone)


class ShiftRead(Output):
    weekday: int
    start: time
    end: time
    name: str


class HolidayRead(Output):
    day: date
    name: str


class WorkCentreRead(Output):
    id: int
    code: str
    name: str
    asset_line_id: int | None
    asset_equipment_id: int | None
    parallel_capacity: int
    efficiency_pct: Dec
    timezone: str
    active: bool
    shifts: list[ShiftRead]
    holidays: list[HolidayRead]


class IntervalRead(Output):
    start: datetime
    end: datetime
    hours: float


# -- routings ----------------------------------------------------------------------------------


class OperationCreate(Input):
    item_id: RefId
    sequence: Annotated[int, Field(ge=1, le=1_000_000)]
    name: Name
    work_centre_id: RefId
    setup_minutes: Minutes = Decimal(0)
    run_minutes: RunMinutes = Decimal(0)
    transfer_batch: Positive | None = None


class OperationUpdate(Input):
    sequence: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    name: Name | None = None
    work_centre_id: RefId | None = None
    setup_minutes: Minutes | None = None
    run_minutes: RunMinutes | None = None
    transfer_batch: Positive | None = None
    clear_transfer_batch: bool = False


class OperationRead(Output):
    id: int
    item_id: int
    sequence: int
    name: str
    work_centre_id: int
    setup_minutes: Dec
    run_minutes: Dec
    transfer_batch: Dec | None
