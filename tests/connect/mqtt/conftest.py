"""Fixtures of the MQTT ingest tests: a registry-synced Mosquitto and ingest workers on threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.mqtt.config import IngestConfig
from hexmill.connect.mqtt.pipeline import TelemetryPipeline
from hexmill.connect.mqtt.poller import IngestWorker
from hexmill.connect.registry.service import DeviceCounters
from hexmill.telemetry.store import TelemetryStore
from tests.connect.mqtt.helpers import INGEST_PASSWORD, INGEST_USER, SecuredBroker, start_secured_broker


@pytest.fixture
def secured_broker(tmp_path: Path, session_factory: sessionmaker[Session]) -> Iterator[SecuredBroker]:
    """Start a Mosquitto with the registry's password and ACL files."""
    broker = start_secured_broker(tmp_path / "mosquitto", session_factory)
    yield broker
    broker.mosquitto.stop()


@pytest.fixture
def worker_factory(
    session_factory: sessionmaker[Session], store: TelemetryStore, secured_broker: SecuredBroker
) -> Iterator[Callable[..., IngestWorker]]:
    """Start ingest workers on threads against the secured broker; stop them all at the end."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(client_id: str = "ingest-a", **overrides: object) -> IngestWorker:
        config = IngestConfig(
            port=secured_broker.port,
            username=INGEST_USER,
            password=INGEST_PASSWORD,
            client_id=client_id,
            group="g1",
            **overrides,
        )
        counters = DeviceCounters(config.counters_interval_s)  # as `hexmill ingest` runs them
        worker = IngestWorker(config, TelemetryPipeline(session_factory, store, config.limits, counters=counters))
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        assert worker.client.wait_subscribed(10), "the ingest worker did not subscribe"
        threads.append(thread)
        return worker

    yield start
    stop.set()
    for thread in threads:
        thread.join(10)
