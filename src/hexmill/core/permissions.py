"""Permissions and the built-in roles; each domain registers the permissions it checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hexmill.core.i18n import N_


@dataclass(frozen=True, slots=True)
class Permission:
    """One grantable right, named ``<domain>.<verb>``."""

    code: str
    label: str


# Labels are msgids: the console translates them when it shows them.
PERMISSIONS: Final[tuple[Permission, ...]] = (
    Permission("tenant.manage", N_("Edit the enterprise profile")),
    Permission("users.view", N_("See users and their roles")),
    Permission("users.manage", N_("Add, change and remove users")),
    Permission("roles.manage", N_("Define roles")),
    Permission("tokens.manage", N_("See and revoke every API token of the enterprise")),
    Permission("audit.view", N_("Read the audit log")),
    Permission("assets.view", N_("See sites, lines, equipment and tags")),
    Permission("assets.edit", N_("Create, change and delete sites, lines, equipment and tags")),
    Permission("devices.view", N_("See devices, their connection state and refused records")),
    Permission("devices.manage", N_("Provision devices, map their fields, rotate and revoke their secrets")),
    Permission("telemetry.view", N_("Read machine data: trends, latest values, exports")),
    Permission("telemetry.manage", N_("Set how long machine data is kept")),
    Permission("factory.view", N_("See items, bills of materials, routings, work centres and partners")),
    Permission("factory.edit", N_("Create and change items, bills of materials, routings, work centres and partners")),
    Permission("inventory.view", N_("See stock, lots, stock moves and traceability")),
    Permission("inventory.move", N_("Receive, issue, transfer, reserve and count stock")),
    Permission("purchasing.view", N_("See purchase orders and their receipts")),
    Permission("purchasing.edit", N_("Create, confirm and cancel purchase orders and receive against them")),
    Permission("sales.view", N_("See quotations, sales orders, deliveries and returns")),
    Permission("sales.edit", N_("Quote, take orders, deliver and take returns")),
    Permission("production.view", N_("See work orders, their operations and shop-floor reports")),
    Permission("production.edit", N_("Create, release and close work orders")),
    Permission("production.report", N_("Report operations on the shop floor: start, pause, finish, good and scrap")),
    Permission("quality.view", N_("See inspection plans, inspections, nonconformances and capability")),
    Permission("quality.edit", N_("Define inspection plans, record inspections and decide dispositions")),
    Permission("maintenance.view", N_("See maintenance orders, preventive plans and reliability figures")),
    Permission("maintenance.edit", N_("Create and close maintenance orders and preventive plans, record usage")),
)
PERMISSION_CODES: Final[frozenset[str]] = frozenset(p.code for p in PERMISSIONS)

PLATFORM_ADMIN: Final = "platform_admin"
_READ_MACHINES: Final = ("devices.view", "telemetry.view")
_READ_FACTORY: Final = ("factory.view", "inventory.view", "production.view", "quality.view", "maintenance.view")

# Built-in roles: name -> (description msgid, permissions). "platform_admin" is the user flag
# ``is_platform_admin``, listed here so the console can show it beside the others.
BUILTIN_ROLES: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "tenant_admin": (N_("Everything within the enterprise"), PERMISSION_CODES),
    "planner": (
        N_("Plans production; reads assets"),
        frozenset(
            {
                "assets.view",
                "users.view",
                "factory.edit",
                "purchasing.view",
                "purchasing.edit",
                "sales.view",
                "sales.edit",
                "production.edit",
                *_READ_FACTORY,
                *_READ_MACHINES,
            }
        ),
    ),
    "operator": (
        N_("Reports on the shop floor; reads assets"),
        frozenset({"assets.view", "inventory.move", "production.report", *_READ_FACTORY, *_READ_MACHINES}),
    ),
    "quality": (
        N_("Quality staff; reads assets"),
        frozenset({"assets.view", "purchasing.view", "sales.view", "quality.edit", *_READ_FACTORY, *_READ_MACHINES}),
    ),
    "maintenance": (
        N_("Maintains equipment; edits assets"),
        frozenset(
            {
                "assets.view",
                "assets.edit",
                "devices.manage",
                "factory.view",
                "maintenance.view",
                "maintenance.edit",
                *_READ_MACHINES,
            }
        ),
    ),
    "viewer": (
        N_("Reads everything, changes nothing"),
        frozenset({"assets.view", "users.view", "purchasing.view", "sales.view", *_READ_FACTORY, *_READ_MACHINES}),
    ),
}
