"""`hexmill ingest` waits for its database instead of dying when PostgreSQL is down at start."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hexmill.connect.mqtt.runner import _open_store_when_reachable
from hexmill.core.config import Settings
from tests.brokers import free_port


def test_an_unreachable_database_is_retried_until_stopped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none", log_json=False
    )
    stop = threading.Event()
    timer = threading.Timer(2.0, stop.set)
    timer.start()
    try:
        assert _open_store_when_reachable(settings, stop) is None
    finally:
        timer.cancel()
    retries = [r for r in caplog.records if "telemetry store unreachable" in r.getMessage()]
    assert len(retries) >= 2
