"""Fixtures for connector tests: provisioned machines with tags and devices, and the telemetry store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.assets.service import TagSpec
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.service import DeviceIdentity
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.models import Tenant
from hexmill.core.tenancy import set_scope
from hexmill.telemetry.service import open_store
from hexmill.telemetry.store import TelemetryStore
from tests.conftest import unique

DEFAULT_TAGS = (
    TagSpec("spindle_speed", unit="rpm"),
    TagSpec("temperature", unit="°C"),
    TagSpec("cycles", data_type="integer"),
    TagSpec("running", data_type="boolean"),
    TagSpec("program", data_type="string"),
)


@dataclass
class Machine:
    """A piece of equipment with tags and one provisioned device."""

    tenant_id: int
    equipment_id: int
    tags: dict[str, int]
    device_id: int
    client_id: str
    secret: str
    identity: DeviceIdentity
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def token(self) -> str:
        """Return the device token for the HTTP header."""
        return f"{self.client_id}:{self.secret}"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Run every ``anyio``-marked connector test on asyncio (the protocol libraries are asyncio-only)."""
    return "asyncio"


@pytest.fixture
def machine_factory(
    session_factory: sessionmaker[Session], tenant_factory: Callable[..., Tenant]
) -> Callable[..., Machine]:
    """Provision a site → area → line → machine with tags and a device, through the services."""

    def make(
        tenant: Tenant | None = None,
        *,
        protocol: str = "mqtt",
        tags: tuple[TagSpec, ...] = DEFAULT_TAGS,
        **device: object,
    ) -> Machine:
        tenant = tenant or tenant_factory()
        ctx = Context.system(tenant.id)
        with transaction(session_factory) as s:
            set_scope(s, tenant.id)
            site = assets.create_site(s, ctx, name=unique("site"))
            area = assets.create_area(s, ctx, site_id=site.id, name="area")
            line = assets.create_line(s, ctx, area_id=area.id, name="line")
            equipment = assets.create_equipment(s, ctx, line_id=line.id, name=unique("cnc"), tags=list(tags))
            tag_ids = {t.name: t.id for t in assets.list_tags(s, ctx, filters={"equipment_id": equipment.id})[0]}
            dev, secret = registry.create_device(
                s,
                ctx,
                name=unique("device"),
                protocol=protocol,
                equipment_id=equipment.id,
                **device,  # type: ignore[arg-type]
            )
            identity = DeviceIdentity(dev.id, tenant.id, equipment.id, dev.client_id, dev.protocol)
            return Machine(tenant.id, equipment.id, tag_ids, dev.id, dev.client_id, secret, identity)

    return make


@pytest.fixture
def store(settings: Settings) -> TelemetryStore:
    """Return the telemetry store of the test deployment (SQLite file or the PostgreSQL database)."""
    return open_store(settings)
