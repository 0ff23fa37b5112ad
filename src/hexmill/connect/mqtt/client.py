"""The ingest worker's MQTT 5 consumer, on a plain socket and ``codec``.

The consumer joins a shared-subscription group with a persistent session (clean start off, a
session expiry) and acknowledges manually: a message is PUBACKed only when the worker says its
batch is committed. A message that is never acknowledged (the worker crashed, the connection
dropped) stays with the broker and is delivered again when this client id reconnects.

Packet ids are only meaningful on the connection they arrived on, so every delivery carries the
connection's epoch; acknowledgements of an older connection are dropped (the broker redelivers
those messages, and the idempotent store absorbs the repeat).

Why not a general client library: at thousands of messages a second, paho's per-message work
(three ``recv`` calls, a ``select`` and an MQTT 5 properties object per PUBLISH) was two thirds of
the ingest process's CPU. This client reads 64 KiB at a time, decodes every complete packet it
holds, and sends a batch's PUBACKs in one write (docs/benchmarks.md, "MQTT ingest").
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hexmill.connect.base import Backoff, LinkState
from hexmill.connect.mqtt import codec

if TYPE_CHECKING:
    from hexmill.connect.mqtt.config import IngestConfig

logger = logging.getLogger(__name__)

#: How long one network-loop turn waits for traffic when nothing else wakes it.
LOOP_TURN_S = 0.25
#: Bytes read from the socket at a time.
RECV_CHUNK = 65_536
_SUBSCRIBE_ID = 1


class MqttClientError(Exception):
    """The broker could not be reached, refused the connection or broke the protocol."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message the broker delivered, waiting to be acknowledged after its batch is committed."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    epoch: int
    dup: bool


class _Connection:
    """One TCP connection to the broker after a successful CONNACK: the socket and what was read of it."""

    def __init__(self, sock: socket.socket, keepalive_s: int, session_present: bool) -> None:
        self.sock = sock
        self.keepalive_s = keepalive_s
        self.session_present = session_present
        self.buf = bytearray()
        self.sent_at = time.monotonic()
        self.ping_sent_at: float | None = None

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent_at = time.monotonic()

    def receive(self) -> None:
        """Read what the socket has (it is readable); raise ``ConnectionError`` when the broker closed it."""
        data = self.sock.recv(RECV_CHUNK)
        if not data:
            raise ConnectionError("the broker closed the connection")
        self.buf += data

    def keep_alive(self, now: float) -> None:
        """Send a PINGREQ when nothing went out for the keep-alive period; fail when its answer is overdue."""
        if not self.keepalive_s:
            return
        if self.ping_sent_at is not None and now - self.ping_sent_at > self.keepalive_s:
            raise ConnectionError(f"no PINGRESP within {self.keepalive_s}s")
        if self.ping_sent_at is None and now - self.sent_at >= self.keepalive_s:
            self.send(codec.PINGREQ_PACKET)
            self.ping_sent_at = now

    def close(self, *, disconnect: bool) -> None:
        if disconnect:
            # A normal DISCONNECT keeps the session (and its unacknowledged messages) with the broker.
            with contextlib.suppress(OSError):
                self.sock.sendall(codec.DISCONNECT_PACKET)
        self.sock.close()


def _open(config: IngestConfig, client_id: str, *, clean_start: bool = False) -> _Connection:
    """Connect, send CONNECT and wait for the CONNACK; raise ``MqttClientError`` if refused or silent."""
    try:
        sock = socket.create_connection((config.host, config.port), timeout=config.connect_timeout_s)
    except OSError as exc:
        raise MqttClientError(str(exc)) from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        password = config.password.get_secret_value() if config.password is not None else None
        sock.sendall(
            codec.connect_packet(
                client_id,
                keepalive_s=config.keepalive_s,
                clean_start=clean_start,
                session_expiry_s=0 if clean_start else config.session_expiry_s,
                receive_maximum=config.receive_maximum,
                username=config.username,
                password=password if config.username is not None else None,
            )
        )
        buf = bytearray()
        deadline = time.monotonic() + config.connect_timeout_s
        while True:
            packets, _ = codec.split_packets(buf)
            if packets:
                break
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            data = sock.recv(RECV_CHUNK)
            if not data:
                raise MqttClientError("the broker closed the connection before its CONNACK")
            buf += data
        first, start, end = packets[0]
        if first >> 4 != codec.CONNACK:
            raise MqttClientError(f"the broker answered CONNECT with packet type {first >> 4}, not CONNACK")
        ack = codec.decode_connack(buf, start, end)
        if ack.failed:
            raise MqttClientError(f"the broker refused the connection: {ack.describe()}")
        keepalive = ack.properties.get(codec.SERVER_KEEP_ALIVE, config.keepalive_s)
        assert isinstance(keepalive, int)  # noqa: S101 -- the codec reads this property as a two-byte integer
        # From here on a blocked send (a broker that stopped reading) ends the connection instead of hanging.
        sock.settimeout(max(config.keepalive_s, config.connect_timeout_s))
        connection = _Connection(sock, keepalive, ack.session_present)
        connection.buf = buf[end:]
        return connection
    except TimeoutError as exc:
        sock.close()
        raise MqttClientError(f"no CONNACK within {config.connect_timeout_s}s") from exc
    except codec.ProtocolError as exc:
        sock.close()
        raise MqttClientError(f"the broker's answer is not MQTT 5: {exc}") from exc
    except (OSError, MqttClientError) as exc:
        sock.close()
        raise exc if isinstance(exc, MqttClientError) else MqttClientError(str(exc)) from exc


class IngestClient:
    """Consume the telemetry topics of a shared-subscription group; acknowledge on request.

    A network thread owns the connection: it connects (backing off between attempts), reads and
    decodes, hands deliveries to ``take`` and sends the acknowledgements queued by ``ack``. ``ack``
    wakes it through a socket pair, so a committed batch is acknowledged at once.
    """

    def __init__(
        self,
        config: IngestConfig,
        *,
        backoff: Backoff | None = None,
        on_state: Callable[[LinkState, str | None], None] | None = None,
    ) -> None:
        self.config = config
        # Back quickly after a broker restart: devices resume at once, and their messages should find the
        # group's subscriptions live (see tests/connect/mqtt/test_mosquitto.py on Mosquitto 2.0.11).
        self._backoff = backoff or Backoff(initial=0.1)
        self._on_state = on_state
        self._inbox: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._acks: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._epoch = 0
        self._subscribed = threading.Event()
        # ack() wakes the network thread through a socket pair (made by start, closed when the thread ends).
        self._wake_w: socket.socket | None = None

    # -- the worker's side --------------------------------------------------------------------

    def start(self) -> None:
        """Start the network thread (connects in the background)."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self._wake_w = wake_w
        self._thread = threading.Thread(
            target=self._run, args=(wake_r, wake_w), name=f"mqtt-{self.config.client_id}", daemon=True
        )
        self._thread.start()

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until the first subscription is acknowledged; return whether it was."""
        return self._subscribed.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect and stop the network thread; unacknowledged messages stay with the broker."""
        self._stop.set()
        self._wake()
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
        self._wake()

    def _wake(self) -> None:
        # The pair may be full (the thread wakes anyway), closed or not made (no thread to wake).
        wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):
                wake.send(b"\0")

    # -- the network thread -------------------------------------------------------------------

    def _state(self, state: LinkState, reason: str | None) -> None:
        if self._on_state is not None:
            self._on_state(state, reason)

    def _run(self, wake_r: socket.socket, wake_w: socket.socket) -> None:
        attempt = 0
        try:
            while not self._stop.is_set():
                self._state(LinkState.CONNECTING, None)
                try:
                    connection = _open(self.config, self.config.client_id)
                except MqttClientError as exc:
                    self._state(LinkState.UNAVAILABLE, str(exc))
                    logger.warning("MQTT broker %s:%s: %s", self.config.host, self.config.port, exc)
                    self._stop.wait(self._backoff.delay(attempt))
                    attempt += 1
                    continue
                attempt = 0
                reason = self._serve(connection, wake_r)
                if self._stop.is_set():
                    break
                self._state(LinkState.UNAVAILABLE, reason)
                logger.warning("MQTT connection of %s ended: %s", self.config.client_id, reason)
                self._stop.wait(self._backoff.delay(attempt))
                attempt += 1
        finally:
            wake_r.close()
            wake_w.close()
            self._state(LinkState.UNAVAILABLE, "stopped")

    def _serve(self, connection: _Connection, wake: socket.socket) -> str:
        """Subscribe, then deliver and acknowledge until the connection ends; return why it ended."""
        self._epoch += 1
        logger.info("MQTT ingest %s connected (session present: %s)", self.config.client_id, connection.session_present)
        disconnect = True
        try:
            connection.send(codec.subscribe_packet(_SUBSCRIBE_ID, self.config.subscription, self.config.qos))
            self._state(LinkState.ONLINE, None)
            sockfd, wakefd = connection.sock.fileno(), wake.fileno()
            # A resumed session's messages may have come in the same read as the CONNACK: nothing
            # would wake the loop for them if the broker then waits for their acknowledgements.
            ended = self._handle(connection)
            if ended is not None:
                disconnect = False
                return ended
            while not self._stop.is_set():
                self._send_acks(connection)
                readable, _, _ = select.select([sockfd, wakefd], [], [], LOOP_TURN_S)
                if wakefd in readable:
                    with contextlib.suppress(BlockingIOError):
                        wake.recv(4096)
                if sockfd in readable:
                    connection.receive()
                    ended = self._handle(connection)
                    if ended is not None:
                        disconnect = False
                        return ended
                connection.keep_alive(time.monotonic())
            self._send_acks(connection)
            return "stopped"
        except codec.ProtocolError as exc:
            return f"the broker broke the protocol: {exc}"
        except OSError as exc:  # ConnectionError and TimeoutError included
            disconnect = False
            return str(exc) or type(exc).__name__
        finally:
            connection.close(disconnect=disconnect)

    def _handle(self, connection: _Connection) -> str | None:
        """Handle every complete packet read so far; return a reason when the broker ended the connection."""
        buf, epoch, put = connection.buf, self._epoch, self._inbox.put
        decode = codec.decode_publish
        packets, used = codec.split_packets(buf)
        for first, start, end in packets:
            kind = first >> 4
            if kind == codec.PUBLISH:
                message = decode(first, buf, start, end)
                put(Delivery(message.topic, message.payload, message.packet_id, message.qos, epoch, message.dup))
            elif kind == codec.PINGRESP:
                connection.ping_sent_at = None
            elif kind == codec.SUBACK:
                ack = codec.decode_suback(buf, start, end)
                if ack.failed:
                    return f"the broker refused the subscription {self.config.subscription}: {ack.describe()}"
                self._subscribed.set()
            elif kind == codec.DISCONNECT:
                return f"the broker disconnected: {codec.decode_disconnect(buf, start, end).describe()}"
            elif kind != codec.PUBACK:  # nothing else is expected from a broker by a client that only subscribes
                raise codec.ProtocolError(f"an unexpected packet of type {kind}")
        del buf[:used]
        return None

    def _send_acks(self, connection: _Connection) -> None:
        mids: list[int] = []
        while True:
            try:
                delivery = self._acks.get_nowait()
            except queue.Empty:
                break
            if delivery.epoch == self._epoch and delivery.qos == 1:
                mids.append(delivery.mid)
        if mids:
            connection.send(codec.puback_packets(mids))


def probe(config: IngestConfig) -> None:
    """Connect, wait for the CONNACK and disconnect (blocking); raise ``MqttClientError`` if refused."""
    connection = _open(config, f"{config.client_id}-probe", clean_start=True)
    connection.close(disconnect=True)
