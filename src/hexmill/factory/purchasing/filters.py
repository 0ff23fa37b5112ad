"""Filters of the purchase order list, shared by the API list endpoint and the console list page."""

from __future__ import annotations

from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_
from hexmill.factory.purchasing.models import PurchaseOrder

ORDER_FILTERS = FilterSet(
    (
        Filter("number", PurchaseOrder.number, "startswith", label=N_("Order number")),
        Filter("supplier_id", PurchaseOrder.supplier_id, "eq", int, label=N_("Supplier")),
        Filter("status", PurchaseOrder.status, "eq", label=N_("Status")),
    )
)
