"""Filters of the inventory lists, shared by the API list endpoints and the console list pages."""

from __future__ import annotations

from datetime import datetime

from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_
from hexmill.factory.inventory.models import CycleCount, Location, Lot, Reservation, StockBalance, StockMove, Warehouse

WAREHOUSE_FILTERS = FilterSet(
    (
        Filter("code", Warehouse.code, "startswith", label=N_("Code")),
        Filter("name", Warehouse.name, "icontains", label=N_("Name")),
    )
)

LOCATION_FILTERS = FilterSet(
    (
        Filter("warehouse_id", Location.warehouse_id, "eq", int, label=N_("Warehouse")),
        Filter("kind", Location.kind, "eq", label=N_("Kind")),
        Filter("code", Location.code, "startswith", label=N_("Code")),
        Filter("name", Location.name, "icontains", label=N_("Name")),
    )
)

LOT_FILTERS = FilterSet(
    (
        Filter("item_id", Lot.item_id, "eq", int, label=N_("Item")),
        Filter("kind", Lot.kind, "eq", label=N_("Kind")),
        Filter("number", Lot.number, "startswith", label=N_("Lot or serial number")),
    )
)

MOVE_FILTERS = FilterSet(
    (
        Filter("item_id", StockMove.item_id, "eq", int, label=N_("Item")),
        Filter("lot_id", StockMove.lot_id, "eq", int, label=N_("Lot or serial number")),
        Filter("location_id", StockMove.from_location_id, "eq", int, label=N_("Location (either side)")),
        Filter("from_location_id", StockMove.from_location_id, "eq", int, label=N_("From location")),
        Filter("to_location_id", StockMove.to_location_id, "eq", int, label=N_("To location")),
        Filter("reference_type", StockMove.reference_type, "eq", label=N_("Reference type")),
        Filter("reference_id", StockMove.reference_id, "eq", label=N_("Reference")),
        Filter("production_id", StockMove.production_id, "eq", int, label=N_("Production record")),
        Filter("since", StockMove.created_at, "gte", datetime, label=N_("From")),
        Filter("until", StockMove.created_at, "lt", datetime, label=N_("Until")),
    )
)

STOCK_FILTERS = FilterSet(
    (
        Filter("item_id", StockBalance.item_id, "eq", int, label=N_("Item")),
        Filter("location_id", StockBalance.location_id, "eq", int, label=N_("Location")),
        Filter("warehouse_id", Location.warehouse_id, "eq", int, label=N_("Warehouse")),
        Filter("lot_id", StockBalance.lot_id, "eq", int, label=N_("Lot or serial number")),
    )
)

RESERVATION_FILTERS = FilterSet(
    (
        Filter("item_id", Reservation.item_id, "eq", int, label=N_("Item")),
        Filter("location_id", Reservation.location_id, "eq", int, label=N_("Location")),
        Filter("status", Reservation.status, "eq", label=N_("Status")),
        Filter("reference_type", Reservation.reference_type, "eq", label=N_("Reference type")),
        Filter("reference_id", Reservation.reference_id, "eq", label=N_("Reference")),
    )
)

COUNT_FILTERS = FilterSet(
    (
        Filter("item_id", CycleCount.item_id, "eq", int, label=N_("Item")),
        Filter("location_id", CycleCount.location_id, "eq", int, label=N_("Location")),
    )
)
