"""Filters of the master-data lists, shared by the API list endpoints and the console list pages."""

from __future__ import annotations

from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_
from hexmill.factory.masterdata.models import Bom, Item, Operation, Party, Uom, UomConversion, WorkCentre

UOM_FILTERS = FilterSet(
    (
        Filter("category", Uom.category, "eq", label=N_("Category")),
        Filter("code", Uom.code, "startswith", label=N_("Code")),
        Filter("name", Uom.name, "icontains", label=N_("Name")),
    )
)

CONVERSION_FILTERS = FilterSet(
    (
        Filter("item_id", UomConversion.item_id, "eq", int, label=N_("Item")),
        Filter("from_uom_id", UomConversion.from_uom_id, "eq", int, label=N_("From unit")),
        Filter("to_uom_id", UomConversion.to_uom_id, "eq", int, label=N_("To unit")),
    )
)

ITEM_FILTERS = FilterSet(
    (
        Filter("code", Item.code, "startswith", label=N_("Code")),
        Filter("name", Item.name, "icontains", label=N_("Name")),
        Filter("kind", Item.kind, "eq", label=N_("Kind")),
        Filter("tracking", Item.tracking, "eq", label=N_("Tracking")),
        Filter("active", Item.active, "eq", bool, label=N_("Active")),
    )
)

PARTY_FILTERS = FilterSet(
    (
        Filter("code", Party.code, "startswith", label=N_("Code")),
        Filter("name", Party.name, "icontains", label=N_("Name")),
        Filter("is_customer", Party.is_customer, "eq", bool, label=N_("Customer")),
        Filter("is_supplier", Party.is_supplier, "eq", bool, label=N_("Supplier")),
        Filter("active", Party.active, "eq", bool, label=N_("Active")),
    )
)

WORK_CENTRE_FILTERS = FilterSet(
    (
        Filter("code", WorkCentre.code, "startswith", label=N_("Code")),
        Filter("name", WorkCentre.name, "icontains", label=N_("Name")),
        Filter("active", WorkCentre.active, "eq", bool, label=N_("Active")),
    )
)

BOM_FILTERS = FilterSet(
    (
        Filter("item_id", Bom.item_id, "eq", int, label=N_("Item")),
        Filter("version", Bom.version, "eq", label=N_("Version")),
        Filter("is_default", Bom.is_default, "eq", bool, label=N_("Default")),
    )
)

OPERATION_FILTERS = FilterSet(
    (
        Filter("item_id", Operation.item_id, "eq", int, label=N_("Item")),
        Filter("work_centre_id", Operation.work_centre_id, "eq", int, label=N_("Work centre")),
    )
)
