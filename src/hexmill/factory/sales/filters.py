"""Filters of the sales lists, shared by the API list endpoints and the console list pages."""

from __future__ import annotations

from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_
from hexmill.factory.sales.models import Delivery, Quotation, SalesOrder

ORDER_FILTERS = FilterSet(
    (
        Filter("number", SalesOrder.number, "startswith", label=N_("Order number")),
        Filter("customer_id", SalesOrder.customer_id, "eq", int, label=N_("Customer")),
        Filter("customer_reference", SalesOrder.customer_reference, "icontains", label=N_("Customer reference")),
        Filter("status", SalesOrder.status, "eq", label=N_("Status")),
    )
)
QUOTATION_FILTERS = FilterSet(
    (
        Filter("number", Quotation.number, "startswith", label=N_("Quotation number")),
        Filter("customer_id", Quotation.customer_id, "eq", int, label=N_("Customer")),
        Filter("status", Quotation.status, "eq", label=N_("Status")),
    )
)
DELIVERY_FILTERS = FilterSet(
    (
        Filter("order_id", Delivery.order_id, "eq", int, label=N_("Sales order")),
        Filter("status", Delivery.status, "eq", label=N_("Status")),
    )
)
