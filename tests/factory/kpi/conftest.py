"""Fixtures of the KPI tests: the inventory set-up and the console page fixtures."""

from tests.factory.inventory.conftest import plant_factory  # noqa: F401 - the inventory set-up fixture
from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures
