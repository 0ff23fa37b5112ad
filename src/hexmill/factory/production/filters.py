"""Filters of the production lists, shared by the API list endpoints and the console list pages."""

from __future__ import annotations

from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_
from hexmill.factory.production.models import ScrapReason, WorkOrder

WORK_ORDER_FILTERS = FilterSet(
    (
        Filter("number", WorkOrder.number, "startswith", label=N_("Work order number")),
        Filter("item_id", WorkOrder.item_id, "eq", int, label=N_("Item")),
        Filter("status", WorkOrder.status, "eq", label=N_("Status")),
        Filter("sales_order_line_id", WorkOrder.sales_order_line_id, "eq", int, label=N_("Sales order line")),
    )
)
REASON_FILTERS = FilterSet(
    (
        Filter("code", ScrapReason.code, "startswith", label=N_("Code")),
        Filter("active", ScrapReason.active, "eq", bool, label=N_("Active")),
    )
)
