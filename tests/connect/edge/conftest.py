"""Fixtures of the edge tests: asyncio for anyio tests, and a stand-in platform on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connect.edge.receiver import Receiver

TOKEN = "dev-edge01:s3cret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Serve a stand-in ``/api/v1/telemetry`` that accepts ``TOKEN``."""
    server = Receiver(TOKEN)
    server.start()
    yield server
    server.stop()
