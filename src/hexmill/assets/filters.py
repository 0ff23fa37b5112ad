"""Filters of the asset lists, shared by the API list endpoints and the console list pages."""

from __future__ import annotations

from hexmill.assets.models import Area, Equipment, EquipmentType, Line, Site, Tag
from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_

SITE_FILTERS = FilterSet((Filter("name", Site.name, "icontains", label=N_("Name")),))

AREA_FILTERS = FilterSet(
    (
        Filter("site_id", Area.site_id, "eq", int, label=N_("Site")),
        Filter("name", Area.name, "icontains", label=N_("Name")),
    )
)

LINE_FILTERS = FilterSet(
    (
        Filter("area_id", Line.area_id, "eq", int, label=N_("Area")),
        Filter("kind", Line.kind, "eq", label=N_("Kind")),
        Filter("name", Line.name, "icontains", label=N_("Name")),
    )
)

EQUIPMENT_TYPE_FILTERS = FilterSet(
    (
        Filter("name", EquipmentType.name, "icontains", label=N_("Name")),
        Filter("manufacturer", EquipmentType.manufacturer, "icontains", label=N_("Manufacturer")),
    )
)

EQUIPMENT_FILTERS = FilterSet(
    (
        Filter("line_id", Equipment.line_id, "eq", int, label=N_("Line")),
        Filter("equipment_type_id", Equipment.equipment_type_id, "eq", int, label=N_("Equipment type")),
        Filter("name", Equipment.name, "icontains", label=N_("Name")),
        Filter("serial_number", Equipment.serial_number, "eq", label=N_("Serial number")),
    )
)

TAG_FILTERS = FilterSet(
    (
        Filter("equipment_id", Tag.equipment_id, "eq", int, label=N_("Equipment")),
        Filter("equipment_type_id", Tag.equipment_type_id, "eq", int, label=N_("Equipment type")),
        Filter("data_type", Tag.data_type, "eq", label=N_("Data type")),
        Filter("name", Tag.name, "icontains", label=N_("Name")),
    )
)
