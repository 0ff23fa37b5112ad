"""Import every domain's tables so migrations and ``alembic check`` see the whole schema."""

from __future__ import annotations

from hexmill.assets import models as assets_models  # noqa: F401 - registers tables
from hexmill.connect.registry import models as registry_models  # noqa: F401 - registers tables
from hexmill.core import models as core_models  # noqa: F401 - registers tables
from hexmill.core.db import Base
from hexmill.factory.inventory import models as factory_inventory_models  # noqa: F401 - registers tables
from hexmill.factory.maintenance import models as factory_maintenance_models  # noqa: F401 - registers tables
from hexmill.factory.masterdata import models as factory_masterdata_models  # noqa: F401 - registers tables
from hexmill.factory.production import models as factory_production_models  # noqa: F401 - registers tables
from hexmill.factory.purchasing import models as factory_purchasing_models  # noqa: F401 - registers tables
from hexmill.factory.quality import models as factory_quality_models  # noqa: F401 - registers tables
from hexmill.factory.sales import models as factory_sales_models  # noqa: F401 - registers tables
from hexmill.telemetry import models as telemetry_models  # noqa: F401 - registers tables

metadata = Base.metadata
