"""The demo park seeded by ``hexmill demo``: a park, four enterprises, their plants and people."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hexmill.assets import service as assets
from hexmill.connect.demo_plant import DemoPorts, seed_connected_cell
from hexmill.core import identity
from hexmill.core.clock import utcnow
from hexmill.core.config import get_settings
from hexmill.core.context import Context
from hexmill.core.db import make_sessionmaker, transaction
from hexmill.core.models import Park
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.factory.demo import DEMO_ORDERS_PER_DAY, seed_factory

PARK_NAME = "Taihu Smart Manufacturing Park"
#: The enterprise whose connected cell is fed by the plant simulator.
CONNECTED_ENTERPRISE = "machining"
#: The enterprise that gets the factory's master data and a history of orders, production and upkeep.
FACTORY_ENTERPRISE = "machining"
FACTORY_SEED = 2024


@dataclass(frozen=True)
class DemoEquipment:
    """One machine of the demo, made from an equipment type."""

    name: str
    type: str
    serial: str


@dataclass(frozen=True)
class DemoLine:
    """A line or work centre with its machines."""

    name: str
    kind: str
    equipment: tuple[DemoEquipment, ...]


@dataclass(frozen=True)
class DemoSite:
    """A plant: its areas and their lines."""

    name: str
    areas: dict[str, tuple[DemoLine, ...]]


@dataclass(frozen=True)
class DemoEnterprise:
    """An enterprise of the demo park with its users and plants."""

    name: str
    slug: str
    registry_id: str
    industry_code: str
    size_class: str
    users: tuple[tuple[str, str], ...]
    sites: tuple[DemoSite, ...]


# Equipment types: name -> (description, tags as (name, unit, data type, description)).
TYPES: dict[str, tuple[str, tuple[tuple[str, str, str, str], ...]]] = {
    "CNC machining centre": (
        "3-axis vertical machining centre",
        (
            ("state", "", "string", "running / idle / setup / fault"),
            ("spindle_speed", "rpm", "float", "Spindle speed"),
            ("spindle_load", "%", "float", "Spindle load"),
            ("cycle_count", "", "integer", "Completed cycles"),
            ("good_count", "pcs", "integer", "Good parts"),
            ("scrap_count", "pcs", "integer", "Scrap parts"),
            ("power", "kW", "float", "Active power"),
        ),
    ),
    "CNC lathe": (
        "2-axis turning centre",
        (
            ("state", "", "string", "running / idle / setup / fault"),
            ("spindle_speed", "rpm", "float", "Spindle speed"),
            ("good_count", "pcs", "integer", "Good parts"),
            ("scrap_count", "pcs", "integer", "Scrap parts"),
        ),
    ),
    "Injection moulding machine": (
        "Hydraulic injection moulding machine, 250 t",
        (
            ("state", "", "string", "running / idle / setup / fault"),
            ("barrel_temperature", "degC", "float", "Barrel zone 1 temperature"),
            ("mould_temperature", "degC", "float", "Mould temperature"),
            ("shot_count", "", "integer", "Shots"),
            ("cycle_time", "s", "float", "Last cycle time"),
        ),
    ),
    "Welding robot": (
        "Six-axis arc welding robot",
        (
            ("state", "", "string", "running / idle / setup / fault"),
            ("welding_current", "A", "float", "Welding current"),
            ("seam_count", "", "integer", "Seams welded"),
        ),
    ),
    "Loom": (
        "Air-jet loom",
        (
            ("state", "", "string", "running / idle / setup / fault"),
            ("picks_per_minute", "1/min", "float", "Weft insertion rate"),
            ("fabric_length", "m", "float", "Fabric woven"),
        ),
    ),
    "Packaging line": (
        "Carton packaging line",
        (
            ("state", "", "string", "running / idle / setup / fault"),
            ("packs", "", "integer", "Packs made"),
            ("rejects", "", "integer", "Packs rejected"),
        ),
    ),
}


def _eq(prefix: str, kind: str, n: int) -> tuple[DemoEquipment, ...]:
    return tuple(DemoEquipment(f"{prefix}-{i:02d}", kind, f"{prefix}{2024000 + i}") for i in range(1, n + 1))


ENTERPRISES: tuple[DemoEnterprise, ...] = (
    DemoEnterprise(
        "Lianyun RV Co., Ltd.",
        "rv",
        "91320500MA1RV0001X",
        "C3612",
        "medium",
        (("admin", "tenant_admin"), ("planner", "planner"), ("operator", "operator")),
        (
            DemoSite(
                "Suzhou RV plant",
                {
                    "Body shop": (DemoLine("Chassis welding line", "line", _eq("WR", "Welding robot", 3)),),
                    "Assembly": (DemoLine("Final assembly line", "line", ()),),
                },
            ),
        ),
    ),
    DemoEnterprise(
        "Jinggong Precision Machining",
        "machining",
        "91320500MA1JG0002Y",
        "C3484",
        "small",
        (("admin", "tenant_admin"), ("quality", "quality"), ("maintenance", "maintenance"), ("operator", "operator")),
        (
            DemoSite(
                "Wuzhong workshop",
                {
                    "Machining hall": (
                        DemoLine("Milling cell", "work_centre", _eq("VMC", "CNC machining centre", 4)),
                        DemoLine("Turning cell", "work_centre", _eq("LT", "CNC lathe", 2)),
                    ),
                },
            ),
        ),
    ),
    DemoEnterprise(
        "Huamei Technical Textiles",
        "textile",
        "91320500MA1HM0003Z",
        "C1751",
        "small",
        (("admin", "tenant_admin"), ("viewer", "viewer")),
        (
            DemoSite(
                "Wujiang mill",
                {
                    "Weaving": (DemoLine("Weaving hall A", "line", _eq("LOOM", "Loom", 4)),),
                    "Finishing": (DemoLine("Packing", "line", _eq("PK", "Packaging line", 1)),),
                },
            ),
        ),
    ),
    DemoEnterprise(
        "Ruifeng Plastics",
        "plastics",
        "91320500MA1RF0004W",
        "C2929",
        "micro",
        (("admin", "tenant_admin"), ("operator", "operator")),
        (
            DemoSite(
                "Xiangcheng plant",
                {
                    "Moulding": (
                        DemoLine("Moulding cell", "work_centre", _eq("IMM", "Injection moulding machine", 3)),
                    ),
                },
            ),
        ),
    ),
)


@dataclass
class DemoLogins:
    """What ``hexmill demo`` prints: the shared password and each login with its role."""

    password: str
    users: list[tuple[str, str]] = field(default_factory=list)


def demo_password(data_dir: Path) -> str:
    """Return the demo password, generated on first use and kept in ``<data_dir>/demo-password``."""
    path = data_dir / "demo-password"
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = f"demo-{secrets.token_urlsafe(9)}"
    path.write_text(password)
    path.chmod(0o600)
    return password


def logins_of(password: str) -> DemoLogins:
    """Return the demo's logins and what each may do."""
    logins = DemoLogins(password=password, users=[("platform", "platform administrator (all enterprises)")])
    for ent in ENTERPRISES:
        for user, role in ent.users:
            logins.users.append((f"{ent.slug}.{user}", f"{role}, {ent.name}"))
    return logins


def _day_counter(bar: Progress, label: str, days: int) -> Callable[[date], None]:
    """Return a progress callback that advances a bar of ``days`` days as the history's days go by."""
    task = bar.add_task(label, total=days)
    start = utcnow().date() - timedelta(days=days)

    def advance(day: date) -> None:
        bar.update(task, completed=(day - start).days)

    return advance


def seed_demo(
    engine: Engine,
    *,
    data_dir: Path | None = None,
    console: Console | None = None,
    ports: DemoPorts | None = DemoPorts(),  # noqa: B008 - frozen value object
    factory_days: int = 365,
) -> DemoLogins:
    """Seed the demo park once (idempotent) and return the logins.

    With ``ports``, the machining enterprise also gets the connected cell: simulated machines
    provisioned as OPC UA and Modbus devices on those loopback ports. It also gets the factory:
    master data and ``factory_days`` of history up to yesterday (``hexmill.factory.demo``).
    """
    console = console or Console(stderr=True)
    data = data_dir or get_settings().data_dir
    password = demo_password(data)
    logins = logins_of(password)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        set_scope(session, ALL_TENANTS)
        if session.scalar(select(Park).where(Park.name == PARK_NAME)) is not None:
            console.print("demo park already seeded")
            return logins
    system = Context.system()
    with transaction(factory) as session:
        set_scope(session, ALL_TENANTS)
        park = identity.create_park(
            session,
            system,
            name=PARK_NAME,
            region_code="320500",
            description="Demo industrial park: four enterprises along an RV supply chain",
        )
        identity.create_platform_user(
            session,
            system,
            username="platform",
            password=password,
            display_name="Platform operator",
            is_platform_admin=True,
        )
        for ent in ENTERPRISES:
            tenant_id = _seed_enterprise(session, ent, park_id=park.id, password=password, ports=ports, data_dir=data)
            if ent.slug == FACTORY_ENTERPRISE and factory_days > 0:
                set_scope(session, tenant_id)
                with Progress(console=console, transient=True) as bar:
                    summary = seed_factory(
                        session,
                        Context.system(tenant_id),
                        days=factory_days,
                        orders_per_day=DEMO_ORDERS_PER_DAY,
                        seed=FACTORY_SEED,
                        progress=_day_counter(bar, f"factory history of {ent.name}", factory_days),
                    )
                made = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(summary.counts.items()))
                console.print(f"factory history {summary.first_day} to {summary.last_day}: {made}")
            console.print(f"seeded {ent.name}")
    return logins


def _seed_enterprise(
    session: Session, ent: DemoEnterprise, *, park_id: int, password: str, ports: DemoPorts | None, data_dir: Path
) -> int:
    """Create one enterprise with its members, plant and (for one of them) the connected cell; return its id."""
    system = Context.system()
    set_scope(session, ALL_TENANTS)
    tenant = identity.create_tenant(
        session,
        system,
        name=ent.name,
        registry_id=ent.registry_id,
        industry_code=ent.industry_code,
        region_code="320500",
        size_class=ent.size_class,
        park_id=park_id,
    )
    for user, role in ent.users:
        set_scope(session, ALL_TENANTS)
        account = identity.create_platform_user(
            session,
            system,
            username=f"{ent.slug}.{user}",
            password=password,
            display_name=user.title(),
        )
        set_scope(session, tenant.id)
        identity.add_member(session, Context.system(tenant.id), user=account, role_name=role)
    set_scope(session, tenant.id)
    site_id = _seed_assets(session, Context.system(tenant.id), ent)
    if ent.slug == CONNECTED_ENTERPRISE and ports is not None:
        seed_connected_cell(session, Context.system(tenant.id), site_id=site_id, ports=ports, data_dir=data_dir)
    return tenant.id


def _seed_assets(session: Session, ctx: Context, ent: DemoEnterprise) -> int:
    """Create the enterprise's types, sites, lines and machines; return the first site's id."""
    used = {eq.type for site in ent.sites for lines in site.areas.values() for line in lines for eq in line.equipment}
    type_ids: dict[str, int] = {}
    for type_name in sorted(used):
        description, tags = TYPES[type_name]
        etype = assets.create_equipment_type(session, ctx, name=type_name, description=description)
        for tag, unit, data_type, tag_description in tags:
            assets.create_tag(
                session,
                ctx,
                equipment_type_id=etype.id,
                name=tag,
                unit=unit,
                data_type=data_type,
                description=tag_description,
            )
        type_ids[type_name] = etype.id
    site_ids: list[int] = []
    for site_def in ent.sites:
        site = assets.create_site(session, ctx, name=site_def.name)
        site_ids.append(site.id)
        for area_name, lines in site_def.areas.items():
            area = assets.create_area(session, ctx, site_id=site.id, name=area_name)
            for line_def in lines:
                line = assets.create_line(session, ctx, area_id=area.id, name=line_def.name, kind=line_def.kind)
                for eq in line_def.equipment:
                    assets.create_equipment(
                        session,
                        ctx,
                        line_id=line.id,
                        name=eq.name,
                        equipment_type_id=type_ids[eq.type],
                        serial_number=eq.serial,
                    )
    return site_ids[0]
