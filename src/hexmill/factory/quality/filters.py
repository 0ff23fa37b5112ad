"""Filters of the quality lists, shared by the API list endpoints and the console list pages."""

from __future__ import annotations

from datetime import datetime

from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_
from hexmill.factory.quality.models import DefectCode, Inspection, InspectionPlan, Nonconformance

PLAN_FILTERS = FilterSet(
    (
        Filter("code", InspectionPlan.code, "startswith", label=N_("Code")),
        Filter("stage", InspectionPlan.stage, "eq", label=N_("Stage")),
        Filter("item_id", InspectionPlan.item_id, "eq", int, label=N_("Item")),
        Filter("active", InspectionPlan.active, "eq", bool, label=N_("Active")),
    )
)
DEFECT_FILTERS = FilterSet(
    (
        Filter("code", DefectCode.code, "startswith", label=N_("Code")),
        Filter("category", DefectCode.category, "eq", label=N_("Category")),
        Filter("active", DefectCode.active, "eq", bool, label=N_("Active")),
    )
)
INSPECTION_FILTERS = FilterSet(
    (
        Filter("plan_id", Inspection.plan_id, "eq", int, label=N_("Inspection plan")),
        Filter("item_id", Inspection.item_id, "eq", int, label=N_("Item")),
        Filter("source_type", Inspection.source_type, "eq", label=N_("Source")),
        Filter("source_id", Inspection.source_id, "eq", label=N_("Source reference")),
        Filter("result", Inspection.result, "eq", label=N_("Result")),
        Filter("since", Inspection.inspected_at, "gte", datetime, label=N_("From")),
        Filter("until", Inspection.inspected_at, "lt", datetime, label=N_("Until")),
    )
)
NC_FILTERS = FilterSet(
    (
        Filter("status", Nonconformance.status, "eq", label=N_("Status")),
        Filter("stage", Nonconformance.stage, "eq", label=N_("Stage")),
        Filter("item_id", Nonconformance.item_id, "eq", int, label=N_("Item")),
        Filter("defect_code_id", Nonconformance.defect_code_id, "eq", int, label=N_("Defect code")),
        Filter("inspection_id", Nonconformance.inspection_id, "eq", int, label=N_("Inspection")),
        Filter("since", Nonconformance.created_at, "gte", datetime, label=N_("From")),
        Filter("until", Nonconformance.created_at, "lt", datetime, label=N_("Until")),
    )
)
