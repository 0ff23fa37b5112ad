"""The ingest loop behind an external broker: take a batch, store and commit it, then acknowledge it.

A message is acknowledged only after its points and dead letters are committed, refused ones
included (their dead letter is the record of the refusal, and a message that can never be stored
must not come back forever). When the database is unreachable the batch is retried, with back-off,
and nothing is acknowledged meanwhile; if the process dies instead, the broker redelivers the
unacknowledged messages to this client id when it returns, and the idempotent store absorbs the
repeats (DESIGN §5). The device counters (statistics, not data) are written apart from the
batches, every ``counters_interval_s`` and when the worker stops (ADR 0007).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from hexmill.connect.base import Backoff
from hexmill.connect.mqtt.client import Delivery, IngestClient
from hexmill.connect.mqtt.config import IngestConfig
from hexmill.connect.mqtt.pipeline import Message, Outcome, TelemetryPipeline

logger = logging.getLogger(__name__)

#: What a lost database connection raises, whichever store and driver noticed first.
DATABASE_ERRORS = (SQLAlchemyError, sqlite3.Error, psycopg.Error)


@dataclass
class WorkerStats:
    """Counters of one worker, for logs, tests and the benchmark."""

    messages: int = 0
    points: int = 0
    rejected: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    retries: int = 0


class IngestWorker:
    """Consume one client id's share of the telemetry topics into the store."""

    def __init__(
        self,
        config: IngestConfig,
        pipeline: TelemetryPipeline,
        *,
        client: IngestClient | None = None,
        backoff: Backoff | None = None,
        local_workers: int = 1,
    ) -> None:
        self.config = config
        self.local_workers = local_workers
        self.pipeline = pipeline
        self.client = client or IngestClient(config)
        self._backoff = backoff or Backoff(initial=0.2, maximum=5.0)
        self.stats = WorkerStats()

    def run(self, stop: threading.Event) -> None:
        """Ingest until ``stop`` is set; unacknowledged messages stay with the broker."""
        self.client.start()
        self._heartbeat()
        next_beat = time.monotonic() + self.config.counters_interval_s
        try:
            while not stop.is_set():
                batch = self.client.take(self.config.batch_max_messages, self.config.batch_max_wait_ms / 1000, 0.2)
                if batch and self._commit(batch, stop):
                    self.client.ack(batch)
                counters = self.pipeline.counters
                if counters is not None and counters.due():
                    self._write_counters()
                if time.monotonic() >= next_beat:
                    self._heartbeat()
                    next_beat = time.monotonic() + self.config.counters_interval_s
        finally:
            self.client.stop()
            self._write_counters()
            try:
                self.pipeline.leave(self.config.client_id)
            except DATABASE_ERRORS as exc:
                logger.warning("Could not record that the worker stops (it drops out of the count soon): %s", exc)

    def _heartbeat(self) -> None:
        """Say this worker is alive and share the rate limits with the group's other live workers."""
        stale = timedelta(seconds=max(15.0, 3 * self.config.counters_interval_s))
        try:
            self.workers_alive = self.pipeline.heartbeat(
                self.config.group, self.config.client_id, self.local_workers, stale
            )
        except DATABASE_ERRORS as exc:
            logger.warning("Recording the worker's heartbeat failed, will retry: %s", exc)

    workers_alive = 1

    def _write_counters(self) -> None:
        """Write the device counters; on a database error keep them for the next attempt."""
        try:
            self.pipeline.write_counters()
        except DATABASE_ERRORS as exc:
            self.stats.retries += 1
            logger.warning("Writing device counters failed, will retry: %s", exc)

    def _commit(self, batch: list[Delivery], stop: threading.Event) -> bool:
        """Process ``batch`` until it is committed (True) or the worker is stopped (False)."""
        messages = [Message(d.topic, d.payload) for d in batch]
        attempt = 0
        while True:
            try:
                outcomes = self.pipeline.process(messages)
            except DATABASE_ERRORS as exc:
                self.stats.retries += 1
                logger.warning("Storing a batch of %s messages failed, will retry: %s", len(batch), exc)
                if stop.wait(self._backoff.delay(attempt)):
                    return False
                attempt += 1
                continue
            self._count(outcomes)
            return True

    def _count(self, outcomes: list[Outcome]) -> None:
        stats = self.stats
        stats.batches += 1
        stats.messages += len(outcomes)
        for outcome in outcomes:
            stats.points += outcome.accepted
            stats.rejected += outcome.rejected
            if outcome.refusal is not None:
                stats.refused[outcome.refusal.value] += 1
