"""Start the MQTT process roles from settings: ``hexmill ingest`` workers and the embedded broker."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.base import Backoff
from hexmill.connect.limits import IngestLimits, RateLimiter
from hexmill.connect.mqtt.config import IngestConfig
from hexmill.connect.mqtt.pipeline import DeviceDirectory, SharedLimiter, TelemetryPipeline
from hexmill.connect.mqtt.poller import IngestWorker
from hexmill.connect.registry.service import DeviceCounters, FieldResolver
from hexmill.core.config import Settings
from hexmill.core.db import make_engine, make_sessionmaker
from hexmill.telemetry.service import open_store
from hexmill.telemetry.store import TelemetryStore

logger = logging.getLogger(__name__)


@contextmanager
def _database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def worker_configs(config: IngestConfig, workers: int) -> list[IngestConfig]:
    """Return one configuration per worker: the same group, stable client ids ``<id>-<n>`` when more than one."""
    if workers == 1:
        return [config]
    return [config.model_copy(update={"client_id": f"{config.client_id}-{n}"}) for n in range(workers)]


def _open_store_when_reachable(settings: Settings, stop: threading.Event) -> TelemetryStore | None:
    """Open the telemetry store, waiting with back-off while its database is down (None if stopped first).

    A worker restarted while PostgreSQL restarts must come up once the database is back, not die:
    its unacknowledged messages wait in the broker meanwhile.
    """
    backoff = Backoff(initial=0.5, maximum=10.0)
    attempt = 0
    while not stop.is_set():
        try:
            return open_store(settings)
        except (psycopg.OperationalError, sqlite3.OperationalError) as exc:
            delay = backoff.delay(attempt)
            attempt += 1
            logger.warning("telemetry store unreachable (%s); retrying in %.1f s", exc, delay)
            stop.wait(delay)
    return None


def run_ingest(settings: Settings, config: IngestConfig, *, workers: int, stop: threading.Event) -> list[IngestWorker]:
    """Run ``workers`` consumers of one shared-subscription group until ``stop`` is set; return them.

    The workers of one process share the rate limiter and the telemetry store; more processes
    (with other client ids) share the load through the broker.
    """
    with _database(settings) as factory:
        store = _open_store_when_reachable(settings, stop)
        if store is None:
            return []
        limiter = SharedLimiter(RateLimiter(config.limits))
        directory = DeviceDirectory()
        running = [
            IngestWorker(
                cfg,
                TelemetryPipeline(
                    factory,
                    store,
                    cfg.limits,
                    limiter=limiter,
                    directory=directory,
                    resolver=FieldResolver(),
                    counters=DeviceCounters(cfg.counters_interval_s),
                ),
                local_workers=workers,
            )
            for cfg in worker_configs(config, workers)
        ]
        threads = [threading.Thread(target=w.run, args=(stop,), name=f"ingest-{w.config.client_id}") for w in running]
        for thread in threads:
            thread.start()
        logger.info("MQTT ingest: %s worker(s) on %s:%s", workers, config.host, config.port)
        for thread in threads:
            thread.join()
        return running


async def run_broker(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 1883,
    limits: IngestLimits | None = None,
    stop: asyncio.Event,
    started: asyncio.Event | None = None,
) -> None:
    """Run the embedded broker with in-process ingest until ``stop`` is set (the all-in-one process calls this).

    ``started`` (when given) is set once the broker accepts connections.
    """
    # amqtt takes a second to import: only the broker role pays for it.
    from hexmill.connect.mqtt.broker import BrokerRuntime, embedded_broker  # noqa: PLC0415

    with _database(settings) as factory:
        pipeline = TelemetryPipeline(factory, open_store(settings), limits or IngestLimits())
        async with embedded_broker(BrokerRuntime(factory, pipeline), host=host, port=port):
            logger.info("Embedded MQTT broker on %s:%s", host, port)
            if started is not None:
                started.set()
            await stop.wait()
