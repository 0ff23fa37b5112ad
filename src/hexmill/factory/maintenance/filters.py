"""Filters of the maintenance lists, shared by the API list endpoints and the console list pages."""

from __future__ import annotations

from datetime import datetime

from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_
from hexmill.factory.maintenance.models import FailureCode, MaintenanceOrder, MaintenancePlan, UsageReading

ORDER_FILTERS = FilterSet(
    (
        Filter("number", MaintenanceOrder.number, "startswith", label=N_("Order number")),
        Filter("equipment_id", MaintenanceOrder.equipment_id, "eq", int, label=N_("Equipment")),
        Filter("kind", MaintenanceOrder.kind, "eq", label=N_("Kind")),
        Filter("status", MaintenanceOrder.status, "eq", label=N_("Status")),
        Filter("priority", MaintenanceOrder.priority, "eq", label=N_("Priority")),
        Filter("plan_id", MaintenanceOrder.plan_id, "eq", int, label=N_("Plan")),
    )
)

PLAN_FILTERS = FilterSet(
    (
        Filter("name", MaintenancePlan.name, "icontains", label=N_("Name")),
        Filter("equipment_id", MaintenancePlan.equipment_id, "eq", int, label=N_("Equipment")),
        Filter("trigger_type", MaintenancePlan.trigger_type, "eq", label=N_("Trigger")),
        Filter("active", MaintenancePlan.active, "eq", bool, label=N_("Active")),
    )
)

READING_FILTERS = FilterSet(
    (
        Filter("equipment_id", UsageReading.equipment_id, "eq", int, label=N_("Equipment")),
        Filter("counter", UsageReading.counter, "eq", label=N_("Counter")),
        Filter("since", UsageReading.read_at, "gte", datetime, label=N_("Read from")),
        Filter("until", UsageReading.read_at, "lt", datetime, label=N_("Read before")),
    )
)

FAILURE_CODE_FILTERS = FilterSet(
    (
        Filter("code", FailureCode.code, "startswith", label=N_("Code")),
        Filter("active", FailureCode.active, "eq", bool, label=N_("Active")),
    )
)
