"""The ingest worker's MQTT v5 consumer (the only module importing paho-mqtt in this package).

The consumer joins a shared-subscription group with a persistent session (``clean_start`` off,
a session expiry) and acknowledges manually: a message is PUBACKed only when the worker says its
batch is committed. A message that is never acknowledged (the worker crashed, the connection
dropped) stays with the broker and is delivered again when this client id reconnects.

Packet ids are only meaningful on the connection they arrived on, so every delivery carries the
connection's epoch; acknowledgements of an older connection are dropped (the broker redelivers
those messages, and the idempotent store absorbs the repeat).
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hexmill.connect.base import Backoff, LinkState

if TYPE_CHECKING:
    from hexmill.connect.mqtt.config import IngestConfig

logger = logging.getLogger(__name__)

#: How long one network-loop turn waits for traffic; bounds the delay of a queued acknowledgement.
LOOP_TURN_S = 0.01


class MqttClientError(Exception):
    """The broker could not be reached or refused the connection."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message the broker delivered, waiting to be acknowledged after its batch is committed."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    epoch: int
    dup: bool


#: Bytes read from the socket at a time by the buffered client.
RECV_CHUNK = 65_536
_PUBACK = struct.Struct("!BBH")


class _BufferedClient(mqtt.Client):
    """paho's client, reading the socket in chunks and handling every packet already received per turn.

    paho reads a packet with three or more ``recv`` calls (command byte, each length byte, body)
    and ``loop()`` handles one packet per ``select``: at thousands of messages a second those
    system calls cost more than the ingest's own work. This relies on two paho 2.x internals,
    ``_sock_recv`` and ``_packet_read`` (paho is pinned in uv.lock; the Mosquitto tests run
    through this class).
    """

    _rsock: object = None
    _rbuf: bytes = b""
    _rpos: int = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._sock is not self._rsock:  # a new connection: nothing of the old one's buffer counts
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(max(bufsize, RECV_CHUNK))  # raises BlockingIOError when there is none
            if len(data) <= bufsize:
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = start + bufsize
        return self._rbuf[start : self._rpos]

    def puback_all(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages in order, in one write (paho's ``ack`` costs two system calls each)."""
        if mids:
            # PUBACK with reason "success" and no properties: the same 4 bytes paho sends (MQTT 5 §3.4.2.1).
            self._packet_queue(mqtt.PUBACK, b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids]), 0, 0)

    def read_received(self, limit: int) -> MQTTErrorCode:
        """Handle up to ``limit`` packets already received, without waiting for more."""
        for _ in range(limit):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
            if rc > 0:
                return self._loop_rc_handle(rc)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def _make_client(config: IngestConfig) -> _BufferedClient:
    """Return an unconnected MQTT v5 client with manual acknowledgements and no automatic reconnect."""
    client = _BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id=config.client_id,
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
        manual_ack=True,
    )
    if config.username is not None:
        password = config.password.get_secret_value() if config.password is not None else None
        client.username_pw_set(config.username, password)
    return client


def _connect_properties(config: IngestConfig) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = config.session_expiry_s
    properties.ReceiveMaximum = config.receive_maximum
    return properties


class IngestClient:
    """Consume the telemetry topics of a shared-subscription group; acknowledge on request.

    A network thread owns the paho client: it connects (backing off between attempts), turns
    the loop, hands deliveries to ``take`` and sends the acknowledgements queued by ``ack``.
    """

    def __init__(
        self,
        config: IngestConfig,
        *,
        backoff: Backoff | None = None,
        on_state: Callable[[LinkState, str | None], None] | None = None,
    ) -> None:
        self.config = config
        self._backoff = backoff or Backoff()
        self._on_state = on_state
        self._inbox: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._acks: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._epoch = 0
        self._subscribed = threading.Event()
        self._refused: str | None = None

    # -- the worker's side --------------------------------------------------------------------

    def start(self) -> None:
        """Start the network thread (connects in the background)."""
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.config.client_id}", daemon=True)
        self._thread.start()

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until the first subscription is acknowledged; return whether it was."""
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect and stop the network thread; unacknowledged messages stay with the broker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def take(self, max_messages: int, max_wait_s: float, timeout_s: float) -> list[Delivery]:
        """Return the next batch: wait up to ``timeout_s`` for one message, then ``max_wait_s`` for more."""
        try:
            first = self._inbox.get(timeout=timeout_s)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + max_wait_s
        while len(batch) < max_messages:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._inbox.get(timeout=remaining) if remaining > 0 else self._inbox.get_nowait())
            except queue.Empty:
                break
        current = self._epoch
        # Deliveries of a dropped connection come again on the new one: handle them once, there.
        return [d for d in batch if d.epoch == current]

    def ack(self, deliveries: list[Delivery]) -> None:
        """Queue PUBACKs for ``deliveries``, in order; call only once their batch is committed."""
        for delivery in deliveries:
            self._acks.put(delivery)

    # -- the network thread -------------------------------------------------------------------

    def _state(self, state: LinkState, reason: str | None) -> None:
        if self._on_state is not None:
            self._on_state(state, reason)

    def _run(self) -> None:
        client = _make_client(self.config)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        attempt = 0
        first = True
        while not self._stop.is_set():
            self._refused = None
            self._state(LinkState.CONNECTING, None)
            try:
                if first:
                    client.connect(
                        self.config.host,
                        self.config.port,
                        keepalive=self.config.keepalive_s,
                        clean_start=False,
                        properties=_connect_properties(self.config),
                    )
                    first = False
                else:
                    client.reconnect()
            except OSError as exc:
                self._state(LinkState.UNAVAILABLE, str(exc))
                logger.warning("MQTT broker %s:%s unreachable: %s", self.config.host, self.config.port, exc)
                self._stop.wait(self._backoff.delay(attempt))
                attempt += 1
                continue
            epoch_before = self._epoch
            self._pump(client)
            if self._epoch != epoch_before:
                attempt = 0  # it did connect: start the back-off afresh
            if self._stop.is_set():
                break
            reason = self._refused or "connection lost"
            self._state(LinkState.UNAVAILABLE, reason)
            logger.warning("MQTT connection of %s ended: %s", self.config.client_id, reason)
            self._stop.wait(self._backoff.delay(attempt))
            attempt += 1
        client.disconnect()
        self._state(LinkState.UNAVAILABLE, "stopped")

    def _pump(self, client: _BufferedClient) -> None:
        """Turn the network loop and send queued acknowledgements until the connection ends."""
        while not self._stop.is_set():
            self._send_acks(client)
            rc = client.loop(timeout=LOOP_TURN_S)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                rc = client.read_received(self.config.receive_maximum)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
        self._send_acks(client)

    def _send_acks(self, client: _BufferedClient) -> None:
        mids: list[int] = []
        while True:
            try:
                delivery = self._acks.get_nowait()
            except queue.Empty:
                break
            if delivery.epoch == self._epoch and client.is_connected():
                if delivery.qos == 1:
                    mids.append(delivery.mid)
                else:
                    client.ack(delivery.mid, delivery.qos)
        client.puback_all(mids)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _properties: Any
    ) -> None:
        if reason.is_failure:
            self._refused = f"the broker refused the connection: {reason}"
            client.disconnect()
            return
        self._epoch += 1
        client.subscribe(self.config.subscription, qos=self.config.qos)
        self._state(LinkState.ONLINE, None)
        logger.info(
            "MQTT ingest %s connected (session present: %s)", self.config.client_id, bool(flags.session_present)
        )

    def _on_subscribe(
        self, client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[ReasonCode], _properties: Any
    ) -> None:
        if any(r.is_failure for r in reasons):
            self._refused = f"the broker refused the subscription {self.config.subscription}: {reasons[0]}"
            client.disconnect()
            return
        self._subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(
            Delivery(message.topic, bytes(message.payload), message.mid, message.qos, self._epoch, bool(message.dup))
        )


def probe(config: IngestConfig) -> None:
    """Connect, wait for CONNACK and disconnect (blocking); raise ``MqttClientError`` if refused."""
    answered = threading.Event()
    result: list[ReasonCode] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        result.append(reason)
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{config.client_id}-probe", protocol=mqtt.MQTTv5)
    if config.username is not None:
        client.username_pw_set(config.username, config.password.get_secret_value() if config.password else None)
    client.on_connect = on_connect
    try:
        client.connect(config.host, config.port, keepalive=config.keepalive_s)
    except OSError as exc:
        raise MqttClientError(str(exc)) from exc
    client.loop_start()
    try:
        if not answered.wait(config.connect_timeout_s):
            raise MqttClientError(f"no answer within {config.connect_timeout_s}s")
        if result[0].is_failure:
            raise MqttClientError(f"the server refused the connection: {result[0]}")
    finally:
        client.disconnect()
        client.loop_stop()
