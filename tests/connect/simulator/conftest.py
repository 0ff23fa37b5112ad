"""Async tests of the plant simulator run on asyncio (asyncua, pymodbus and the runner need it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only."""
    return "asyncio"
