"""API shapes of the asset hierarchy: sites, areas, lines, equipment, equipment types, tags and the tree."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from hexmill.core.schemas import Input, Output

# Names and short fields are one line of printable text; descriptions may hold tabs and line
# breaks. Both keep to the characters XML allows, since they travel in AAS files, and PostgreSQL
# refuses NUL in any text.
_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=_ONE_LINE)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=_ONE_LINE)]
Serial = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100, pattern=_ONE_LINE)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=_ONE_LINE)]
Description = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
RefId = Annotated[int, Field(ge=1, le=2**31 - 1)]
LineKind = Literal["line", "work_centre"]
DataType = Literal["float", "integer", "boolean", "string"]


# -- sites ------------------------------------------------------------------------------------


class SiteCreate(Input):
    name: Name
    description: Description = ""


class SiteUpdate(Input):
    name: Name | None = None
    description: Description | None = None


class SiteRead(Output):
    id: int
    name: str
    description: str
    created_at: datetime


# -- areas ------------------------------------------------------------------------------------


class AreaCreate(Input):
    site_id: RefId
    name: Name
    description: Description = ""


class AreaUpdate(Input):
    site_id: RefId | None = None
    name: Name | None = None
    description: Description | None = None


class AreaRead(Output):
    id: int
    site_id: int
    name: str
    description: str
    created_at: datetime


# -- lines and work centres ---------------------------------------------------------------------


class LineCreate(Input):
    area_id: RefId
    name: Name
    kind: LineKind = "line"
    description: Description = ""


class LineUpdate(Input):
    area_id: RefId | None = None
    name: Name | None = None
    kind: LineKind | None = None
    description: Description | None = None


class LineRead(Output):
    id: int
    area_id: int
    name: str
    kind: str
    description: str
    created_at: datetime


# -- equipment types --------------------------------------------------------------------------


class EquipmentTypeCreate(Input):
    name: Name
    manufacturer: Short = ""
    model: Short = ""
    description: Description = ""


class EquipmentTypeUpdate(Input):
    name: Name | None = None
    manufacturer: Short | None = None
    model: Short | None = None
    description: Description | None = None


class EquipmentTypeRead(Output):
    id: int
    name: str
    manufacturer: str
    model: str
    description: str
    created_at: datetime


# -- equipment --------------------------------------------------------------------------------


class EquipmentCreate(Input):
    line_id: RefId
    name: Name
    equipment_type_id: RefId | None = Field(
        default=None, description="Copy this type's tag templates (and maker and model, if not given)."
    )
    manufacturer: Short | None = None
    model: Short | None = None
    serial_number: Serial = ""
    description: Description = ""


class EquipmentUpdate(Input):
    line_id: RefId | None = None
    name: Name | None = None
    manufacturer: Short | None = None
    model: Short | None = None
    serial_number: Serial | None = None
    description: Description | None = None


class EquipmentRead(Output):
    id: int
    line_id: int
    equipment_type_id: int | None
    name: str
    manufacturer: str
    model: str
    serial_number: str
    description: str
    created_at: datetime


# -- tags -------------------------------------------------------------------------------------


class TagCreate(Input):
    equipment_id: RefId | None = Field(default=None, description="The machine; or give equipment_type_id.")
    equipment_type_id: RefId | None = Field(default=None, description="The type whose template this is.")
    name: TagName
    unit: Unit = ""
    data_type: DataType = "float"
    description: Description = ""

    @model_validator(mode="after")
    def _one_owner(self) -> TagCreate:
        if (self.equipment_id is None) == (self.equipment_type_id is None):
            msg = "give exactly one of equipment_id and equipment_type_id"
            raise ValueError(msg)
        return self


class TagUpdate(Input):
    name: TagName | None = None
    unit: Unit | None = None
    data_type: DataType | None = None
    description: Description | None = None


class TagRead(Output):
    id: int
    equipment_id: int | None
    equipment_type_id: int | None
    name: str
    unit: str
    data_type: str
    description: str
    created_at: datetime


# -- the tree ---------------------------------------------------------------------------------


class TreeEquipment(Output):
    id: int
    name: str
    equipment_type_id: int | None


class TreeLine(Output):
    id: int
    name: str
    kind: str
    equipment: list[TreeEquipment]


class TreeArea(Output):
    id: int
    name: str
    lines: list[TreeLine]


class TreeSite(Output):
    id: int
    name: str
    areas: list[TreeArea]


class ImportResult(Output):
    created: int = Field(description="Objects created.")
    updated: int = Field(description="Existing objects (matched by name within their parent) changed.")
