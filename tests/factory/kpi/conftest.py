"""Fixtures of the KPI tests: the console page fixtures."""

from tests.web.conftest import browser, browser_factory  # noqa: F401 - the console page fixtures
