"""The MQTT side of the Sparkplug B Host Application: the only module that imports paho-mqtt.

``SparkplugHost.run`` connects with a STATE Will, subscribes, declares the host online, feeds
every message to ``HostApplication`` and carries out its effects, and reconnects with back-off.
paho's network loop runs in a worker thread; its callbacks only post events to the asyncio loop,
so the state machine and the caller's callbacks always run on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from hexmill.connect.base import Backoff, LinkState
from hexmill.connect.sparkplug.host import (
    BirthReceived,
    DeviceKey,
    Effect,
    HostApplication,
    LinkChanged,
    MessageRefused,
    MetricDefinition,
    Publish,
    ReadingsReceived,
)
from hexmill.telemetry.points import Reading

if TYPE_CHECKING:
    from hexmill.connect.sparkplug.config import SparkplugHostConfig

logger = logging.getLogger(__name__)

#: Receives the readings of one node or device; awaiting it means "stored".
ReadingsHandler = Callable[[DeviceKey, Sequence[Reading]], Awaitable[None]]
#: Receives the metric definitions of a birth certificate, to create or refresh tags.
BirthHandler = Callable[[DeviceKey, Sequence[MetricDefinition]], Awaitable[None]]
#: Receives link-state changes of nodes and devices.
StateHandler = Callable[[DeviceKey, LinkState], None]
#: Receives every refused message or metric, to count and report.
RefusedHandler = Callable[[MessageRefused], None]


class SparkplugClientError(Exception):
    """The MQTT server could not be reached or refused the connection."""


@dataclass(frozen=True, slots=True)
class _Connected:
    reason: ReasonCode


@dataclass(frozen=True, slots=True)
class _Subscribed:
    refusals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Closed:
    reason: str


_Event = _Connected | _Subscribed | _Message | _Closed


def _make_client(config: SparkplugHostConfig, will: Publish | None) -> mqtt.Client:
    """Return an unconnected paho client for the host's settings (no automatic reconnect)."""
    v5 = config.mqtt_version == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=config.mqtt_client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else True,
        reconnect_on_failure=False,
    )
    if config.username is not None:
        password = config.password.get_secret_value() if config.password is not None else None
        client.username_pw_set(config.username, password)
    if config.tls:
        client.tls_set(ca_certs=str(config.ca_file) if config.ca_file is not None else None)
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    return client


def _connect(client: mqtt.Client, config: SparkplugHostConfig) -> None:
    """Open the TCP connection and send CONNECT (blocking: run it in a thread)."""
    try:
        if config.mqtt_version == "5":
            client.connect(config.host, config.port, config.keepalive_s, clean_start=True)
        else:
            client.connect(config.host, config.port, config.keepalive_s)
    except OSError as exc:  # refused, unreachable, name not found, TLS handshake failures
        raise SparkplugClientError(f"{type(exc).__name__}: {exc}") from exc


class SparkplugHost:
    """Run a Sparkplug B Host Application against one MQTT server and hand its results to callbacks.

    ``on_readings`` and ``on_birth`` are awaited in message order; ``on_state`` is called on every
    node or device link change. ``on_refused`` (optional) sees every refused message or metric.
    """

    def __init__(
        self,
        config: SparkplugHostConfig,
        on_readings: ReadingsHandler,
        on_birth: BirthHandler,
        on_state: StateHandler,
        *,
        on_refused: RefusedHandler | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.host = HostApplication(config.host_id, reorder_timeout_s=config.reorder_timeout_s)
        self._on_readings = on_readings
        self._on_birth = on_birth
        self._on_state = on_state
        self._on_refused = on_refused
        self._backoff = backoff or Backoff()
        #: Set while the host is connected, subscribed and has declared itself online.
        self.online = asyncio.Event()
        self._client: mqtt.Client | None = None

    async def run(self) -> None:
        """Serve until cancelled: connect, process messages, reconnect with back-off on any loss.

        On cancellation the host publishes STATE offline and disconnects cleanly.
        """
        attempt = 0
        while True:
            try:
                if await self._session():
                    attempt = 0
            except SparkplugClientError as exc:
                logger.warning("Sparkplug host %s cannot connect to %s:%s: %s", *self._where(), exc)
            await self._dispatch(self.host.connection_lost())
            delay = self._backoff.delay(attempt)
            attempt += 1
            logger.info("Sparkplug host %s reconnects in %.1fs", self.config.host_id, delay)
            await asyncio.sleep(delay)

    def _where(self) -> tuple[str, str, int]:
        return self.config.host_id, self.config.host, self.config.port

    async def _session(self) -> bool:
        """Run one connection until it ends; return whether it got as far as being online."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Event] = asyncio.Queue()

        def post(event: _Event) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        client = _make_client(self.config, self.host.start_session())
        client.on_connect = lambda _c, _u, _f, reason, _p: post(_Connected(reason))
        client.on_subscribe = lambda _c, _u, _m, reasons, _p: post(
            _Subscribed(tuple(str(r) for r in reasons if r.is_failure))
        )
        client.on_message = lambda _c, _u, message: post(_Message(message.topic, bytes(message.payload)))
        client.on_disconnect = lambda _c, _u, _f, reason, _p: post(_Closed(str(reason)))
        try:
            await asyncio.wait_for(asyncio.to_thread(_connect, client, self.config), self.config.connect_timeout_s)
        except TimeoutError:
            raise SparkplugClientError(f"no connection within {self.config.connect_timeout_s}s") from None
        network = asyncio.ensure_future(asyncio.to_thread(client.loop_forever))
        self._client = client
        went_online = False
        try:
            went_online = await self._pump(client, queue)
        finally:
            self._client = None
            was_online = self.online.is_set()
            self.online.clear()
            if not network.done():
                if was_online:  # leaving on purpose (cancelled): say so before the clean DISCONNECT
                    offline = self.host.offline()
                    client.publish(offline.topic, offline.payload, qos=offline.qos, retain=offline.retain)
                client.disconnect()
            await asyncio.shield(network)
        return went_online

    async def _pump(self, client: mqtt.Client, queue: asyncio.Queue[_Event]) -> bool:
        """Process the events of one connection until it closes; return whether it went online."""
        went_online = False
        while True:
            deadline = self.host.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                await self._dispatch(self.host.tick())
                continue
            if isinstance(event, _Message):
                await self._dispatch(self.host.handle(event.topic, event.payload))
            elif isinstance(event, _Connected):
                if event.reason.is_failure:
                    raise SparkplugClientError(f"the server refused the connection: {event.reason}")
                logger.info("Sparkplug host %s connected to %s:%s", *self._where())
                client.subscribe([(topic, 1) for topic in self.config.subscriptions])
            elif isinstance(event, _Subscribed):
                if event.refusals:
                    logger.warning("Sparkplug host %s: subscriptions refused: %s", self.config.host_id, event.refusals)
                await self._dispatch(self.host.online())
                went_online = True
                self.online.set()
            else:
                logger.warning("Sparkplug host %s lost %s:%s: %s", *self._where(), event.reason)
                return went_online

    async def _dispatch(self, effects: list[Effect]) -> None:
        """Carry out the effects of the state machine, in order."""
        for effect in effects:
            if isinstance(effect, ReadingsReceived):
                await self._on_readings(effect.key, effect.readings)
            elif isinstance(effect, BirthReceived):
                await self._on_birth(effect.key, effect.metrics)
            elif isinstance(effect, LinkChanged):
                self._on_state(effect.key, effect.state)
            elif isinstance(effect, Publish):
                self._publish(effect)
            else:
                logger.warning("Sparkplug message on %s refused: %s", effect.topic, "; ".join(effect.reasons))
                if self._on_refused is not None:
                    self._on_refused(effect)

    def _publish(self, message: Publish) -> None:
        client = self._client
        if client is None:
            logger.info("Not connected: %s not published", message.topic)
            return
        info = client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            logger.warning("Publishing %s failed: %s", message.topic, mqtt.error_string(info.rc))


def _probe(config: SparkplugHostConfig) -> None:
    """Connect, wait for CONNACK and disconnect (blocking)."""
    answered = threading.Event()
    result: list[Any] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        result.append(reason)
        answered.set()

    client = _make_client(config, None)
    client.on_connect = on_connect
    _connect(client, config)
    client.loop_start()
    try:
        if not answered.wait(config.connect_timeout_s):
            raise SparkplugClientError(f"no answer within {config.connect_timeout_s}s")
        if result[0].is_failure:
            raise SparkplugClientError(f"the server refused the connection: {result[0]}")
    finally:
        client.disconnect()
        client.loop_stop()


async def probe(config: SparkplugHostConfig) -> None:
    """Check that the MQTT server accepts the host's connection; raise ``SparkplugClientError`` if not."""
    await asyncio.to_thread(_probe, config)
