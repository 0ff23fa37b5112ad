"""Helpers of the MQTT ingest tests: a secured Mosquitto fed by the registry sync, and device clients."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.mqtt.mosquitto import SyncResult, sync_mosquitto_files
from hexmill.core.db import transaction
from hexmill.core.security import hash_device_secret
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from tests.brokers import Mosquitto, free_port

INGEST_USER = "hexmill-ingest"
INGEST_PASSWORD = "ingest-secret-for-tests"


@dataclass
class SecuredBroker:
    """A Mosquitto whose password and ACL files come from the registry sync."""

    mosquitto: Mosquitto
    password_file: Path
    acl_file: Path
    pid_file: Path
    factory: sessionmaker[Session]
    ingest_hash: str = field(default_factory=lambda: hash_device_secret(INGEST_PASSWORD))

    @property
    def port(self) -> int:
        """Return the broker's port."""
        return self.mosquitto.port

    def sync(self, *, reload: bool = True) -> SyncResult:
        """Rewrite the files from the registry and make the broker reload them."""
        with transaction(self.factory) as session:
            set_scope(session, ALL_TENANTS)
            result = sync_mosquitto_files(
                session,
                password_file=self.password_file,
                acl_file=self.acl_file,
                ingest_username=INGEST_USER,
                ingest_password_hash=self.ingest_hash,
                pid_file=self.pid_file if reload else None,
            )
        if reload:
            time.sleep(0.3)  # Mosquitto reloads on its next loop turn
        return result


def start_secured_broker(directory: Path, factory: sessionmaker[Session]) -> SecuredBroker:
    """Sync the registry into files and start a Mosquitto that uses them."""
    directory.mkdir(parents=True, exist_ok=True)
    broker = SecuredBroker(
        Mosquitto(directory, free_port()),
        directory / "passwd",
        directory / "acl",
        directory / "mosquitto.pid",
        factory,
    )
    broker.sync(reload=False)
    # As root, Mosquitto would drop to its own user and could not write the pid file or persistence here.
    user = "user root\n" if os.geteuid() == 0 else ""
    broker.mosquitto.extra_config = (
        f"{user}allow_anonymous false\npassword_file {broker.password_file}\nacl_file {broker.acl_file}\n"
        f"pid_file {broker.pid_file}\nmax_inflight_messages 1000\n"
    )
    broker.mosquitto.start()
    return broker


def payload(ts_ms: int, **values: Any) -> bytes:
    """Return a JSON telemetry record."""
    return json.dumps({"ts": ts_ms, "values": values}).encode()


class Device:
    """An MQTT v5 device client (paho), persistent session, publishing with QoS 1."""

    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
        clean_start: bool = False,
    ) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or username, protocol=paho.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.username = username
        self.connack: ReasonCode | None = None
        self.connected = threading.Event()
        self.answered = threading.Event()
        self.suback: list[ReasonCode] = []
        self.subscribed = threading.Event()
        self.received: list[paho.MQTTMessage] = []
        self.pubacks: dict[int, ReasonCode] = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda _c, _u, m: self.received.append(m)
        self.client.on_publish = self._on_publish
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self.client.connect_async("127.0.0.1", port, keepalive=30, clean_start=clean_start, properties=properties)
        self.client.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.connack = reason
        self.answered.set()
        if not reason.is_failure:
            self.connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.connected.clear()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        self.suback = reasons
        self.subscribed.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self.pubacks[mid] = reason

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait for a successful CONNACK."""
        return self.connected.wait(timeout)

    def publish(self, body: bytes, *, topic: str | None = None) -> paho.MQTTMessageInfo:
        """Publish with QoS 1 to the device's own telemetry topic (or ``topic``)."""
        return self.client.publish(topic or f"hexmill/v1/{self.username}/telemetry", body, qos=1)

    def publish_all(self, bodies: list[bytes], timeout: float = 30.0) -> list[paho.MQTTMessageInfo]:
        """Publish ``bodies`` and wait until the broker acknowledged every one."""
        infos = [self.publish(b) for b in bodies]
        wait_published(infos, timeout)
        return infos

    def subscribe(self, *filters: str, timeout: float = 5.0) -> list[ReasonCode]:
        """Subscribe to ``filters`` in one SUBSCRIBE and return the SUBACK reason codes."""
        self.subscribed.clear()
        self.client.subscribe([(f, 1) for f in filters])
        assert self.subscribed.wait(timeout), "no SUBACK"
        return self.suback

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def wait_published(infos: list[paho.MQTTMessageInfo], timeout: float) -> None:
    """Wait until every publish was acknowledged by the broker."""
    deadline = time.monotonic() + timeout
    while not all(i.is_published() for i in infos):
        assert time.monotonic() < deadline, f"{sum(not i.is_published() for i in infos)} publishes unacknowledged"
        time.sleep(0.02)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
