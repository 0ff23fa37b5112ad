"""The edge agent's local MQTT source: the only edge module that imports paho-mqtt.

Machines publish the JSON telemetry payload (``hexmill.connect.payload``) to a broker beside
them. The agent subscribes with QoS 1 on a persistent session and stores each message in the
buffer inside paho's message callback; paho sends the PUBACK only after the callback returns,
so a message is acknowledged only once its readings are committed to disk (DESIGN §5), and the
broker keeps what arrives while the agent is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hexmill.connect.base import LinkState
from hexmill.connect.edge.buffer import now_us
from hexmill.connect.edge.config import MqttSection
from hexmill.connect.payload import parse_payload
from hexmill.telemetry.points import Reading

log = logging.getLogger(__name__)

#: Stores one device's readings durably (called in paho's network thread).
StoreReadings = Callable[[str, Sequence[Reading]], None]


@dataclass(slots=True)
class MqttSourceStats:
    """Counters of the MQTT source."""

    messages: int = 0
    readings: int = 0
    rejected: int = 0


class MqttSource:
    """Subscribe to each device's topic on the local broker and store what arrives, until cancelled."""

    def __init__(
        self,
        config: MqttSection,
        topics: Mapping[str, str],
        store: StoreReadings,
        on_state: Callable[[str, LinkState, str | None], None] | None = None,
    ) -> None:
        self.config = config
        self.stats = MqttSourceStats()
        self._device_of = {topic: device for device, topic in topics.items()}
        self._store = store
        self._on_state = on_state

    def _state(self, state: LinkState, reason: str | None) -> None:
        if self._on_state is not None:
            for device in self._device_of.values():
                self._on_state(device, state, reason)

    async def run(self) -> None:
        """Connect (paho reconnects by itself) and keep the subscription until cancelled."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        if self.config.username is not None:
            password = self.config.password.get_secret_value() if self.config.password else None
            client.username_pw_set(self.config.username, password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 30)
        self._state(LinkState.CONNECTING, None)
        client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        client.loop_start()
        try:
            await asyncio.Event().wait()
        finally:
            client.disconnect()
            client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            self._state(LinkState.UNAVAILABLE, str(reason))
            return
        client.subscribe([(topic, 1) for topic in self._device_of])
        self._state(LinkState.ONLINE, None)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._state(LinkState.UNAVAILABLE, str(reason))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        device = self._device_of.get(message.topic)
        if device is None:
            return
        parsed = parse_payload(bytes(message.payload), now_us=now_us())
        self.stats.messages += 1
        self.stats.rejected += len(parsed.rejections)
        for rejection in parsed.rejections[:3]:
            log.warning("edge mqtt %s: refused %s: %s", device, rejection.location or "$", rejection.reason)
        if parsed.readings:
            # Returning from this callback sends the PUBACK: store first (ack after commit).
            self._store(device, parsed.readings)
            self.stats.readings += len(parsed.readings)


def topic_for(device: str) -> str:
    """Return the default topic a device publishes its JSON telemetry to on the local broker."""
    return f"hexmill/v1/{device}/telemetry"
