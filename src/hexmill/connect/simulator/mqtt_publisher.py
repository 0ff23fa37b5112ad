"""The simulator's MQTT JSON publisher: hexmill telemetry per device, and the MQTT link it runs on.

Each device (a machine id with its own MQTT username and password) publishes every step, QoS 1,
to ``hexmill/v1/<device-id>/telemetry``::

    {"ts": "2025-01-31T08:00:00.000Z", "values": {"state": "running", "spindle_speed": 8012.5, ...}}
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hexmill.telemetry.points import Value

log = logging.getLogger(__name__)

#: How long ``start`` waits for the broker's CONNACK before it goes on (paho keeps trying).
CONNECT_WAIT_S = 5.0
#: How long ``stop`` waits for QoS 1 messages still on their way.
DRAIN_WAIT_S = 2.0
#: Messages paho keeps for a broker that is away; older steps are dropped beyond this.
MAX_QUEUED = 1000


def telemetry_topic(device_id: str) -> str:
    """Return the topic a device publishes its JSON telemetry to."""
    return f"hexmill/v1/{device_id}/telemetry"


def rfc3339_ms(now_s: float) -> str:
    """Format epoch seconds as an RFC 3339 UTC timestamp with milliseconds."""
    return datetime.fromtimestamp(now_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_payload(now_s: float, values: Mapping[str, Value]) -> bytes:
    """Encode one device's values of one step as the hexmill JSON telemetry payload."""
    return json.dumps({"ts": rfc3339_ms(now_s), "values": dict(values)}, separators=(",", ":")).encode()


class MqttLink:
    """One MQTT connection run by paho's network thread, with a wait for the first CONNACK.

    ``on_connected`` and ``on_disconnected`` run on paho's thread after each CONNACK and loss.
    """

    def __init__(
        self,
        client_id: str,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        on_connected: Callable[[mqtt.Client], None] | None = None,
        on_disconnected: Callable[[mqtt.Client], None] | None = None,
    ) -> None:
        self.name = client_id
        self.host = host
        self.port = port
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.max_queued_messages_set(MAX_QUEUED)
        self.client.reconnect_delay_set(1, 30)
        self.connected = threading.Event()
        self._answered = threading.Event()  # set by the first CONNACK, accepted or refused
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._last: mqtt.MQTTMessageInfo | None = None

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT %s refused by %s:%s: %s", self.name, self.host, self.port, reason)
        else:
            if self._on_connected is not None:
                self._on_connected(client)
            self.connected.set()
        self._answered.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected.clear()
        if self._on_disconnected is not None:
            self._on_disconnected(client)

    async def start(self) -> None:
        """Start the network thread and wait a little for the broker to accept the connection."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        await asyncio.to_thread(self._answered.wait, CONNECT_WAIT_S)
        if not self.connected.is_set():
            log.warning("MQTT %s not connected to %s:%s yet; retrying", self.name, self.host, self.port)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message (paho holds it while the broker is away, up to ``MAX_QUEUED``)."""
        info = self.client.publish(topic, payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            log.warning("MQTT %s queue full, dropped a message to %s", self.name, topic)
        else:
            self._last = info

    async def stop(self) -> None:
        """Wait briefly for the last message to be acknowledged, then disconnect."""
        last = self._last
        if last is not None and self.connected.is_set():
            try:
                await asyncio.to_thread(last.wait_for_publish, DRAIN_WAIT_S)
            except RuntimeError as exc:  # the connection went away with the message in flight
                log.warning("MQTT %s closed with a message unsent: %s", self.name, exc)
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)


class MqttJsonPublisher:
    """Publish each device's values as hexmill JSON telemetry, one MQTT connection per device."""

    def __init__(self, devices: Mapping[str, str], *, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.devices = dict(devices)
        self._links = {
            device_id: MqttLink(f"hexmill-sim-{device_id}", host=host, port=port, username=device_id, password=secret)
            for device_id, secret in self.devices.items()
        }

    async def start(self) -> None:
        """Connect every device to the broker."""
        await asyncio.gather(*(link.start() for link in self._links.values()))

    async def publish(self, now_s: float, values: Mapping[str, Mapping[str, Value]]) -> None:
        """Publish one step: each device's values to its telemetry topic, QoS 1."""
        for device_id, link in self._links.items():
            if device_id in values:
                link.publish(telemetry_topic(device_id), json_payload(now_s, values[device_id]))

    async def stop(self) -> None:
        """Let messages in flight arrive, then disconnect every device."""
        await asyncio.gather(*(link.stop() for link in self._links.values()))
