"""The embedded MQTT broker of the all-in-one process (amqtt), wired to the device registry.

Devices log in with their client id as username and their secret as password (checked against
the registry); each may publish to its own telemetry topic only and subscribe to nothing. A
device's telemetry is ingested *before* amqtt sends the PUBACK: the broker hands each
connection's protocol handler to ``_IngestingHandler``, whose message flow awaits the batch
commit first (ADR 0007). When the commit fails, or the device's credentials were revoked since
it connected, the connection is closed without a PUBACK, so the device sends the message again
after reconnecting (and a revoked device cannot reconnect).

amqtt 0.12 speaks MQTT 3.1.1 only: a PUBACK carries no reason code, so a message refused for its
rate or size is acknowledged and recorded as a dead letter instead of answered with 0x97.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import INCOMING
from amqtt.session import Session as MqttSession
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.mqtt.config import telemetry_topic, topic_client_id
from hexmill.connect.mqtt.pipeline import Message, Outcome, TelemetryPipeline
from hexmill.connect.mqtt.poller import DATABASE_ERRORS
from hexmill.connect.registry.service import DeviceAuthenticator
from hexmill.core.errors import NotAuthenticated

logger = logging.getLogger(__name__)

_FORBIDDEN: Final = frozenset("+#/")
_PLUGINS: Final[dict[str, dict[str, object]]] = {
    f"{__name__}.DeviceAuthPlugin": {},
    f"{__name__}.DeviceTopicPlugin": {},
}


def _plain(name: str | None) -> bool:
    return bool(name) and not (_FORBIDDEN & set(name or ""))


class _Batcher:
    """Gather publishes from every connection into batches, one commit each, in a worker thread."""

    def __init__(self, pipeline: TelemetryPipeline, *, max_messages: int, max_wait_s: float) -> None:
        self._pipeline = pipeline
        self._max_messages = max_messages
        self._max_wait_s = max_wait_s
        self._queue: asyncio.Queue[tuple[Message, asyncio.Future[Outcome]]] = asyncio.Queue()

    async def submit(self, message: Message) -> Outcome:
        """Queue ``message`` and return its outcome once its batch is committed; raise if it was not."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put((message, future))
        return await future

    async def run(self) -> None:
        """Commit batches until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self._max_wait_s
            while len(batch) < self._max_messages:
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), max(0.0, deadline - loop.time())))
                except TimeoutError:
                    break
            try:
                outcomes = await asyncio.to_thread(self._pipeline.process, [m for m, _ in batch])
            except DATABASE_ERRORS as exc:
                logger.warning(
                    "Storing %s MQTT messages failed; their senders are disconnected unacknowledged: %s",
                    len(batch),
                    exc,
                )
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


class BrokerRuntime:
    """What the plugins and handlers of one embedded broker share: registry access and the batcher."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        pipeline: TelemetryPipeline,
        *,
        authenticator: DeviceAuthenticator | None = None,
        batch_max_messages: int = 500,
        batch_max_wait_ms: int = 20,
    ) -> None:
        self._factory = session_factory
        self.authenticator = authenticator or DeviceAuthenticator()
        self.batcher = _Batcher(pipeline, max_messages=batch_max_messages, max_wait_s=batch_max_wait_ms / 1000)

    def _check(self, username: str, password: str, *, fresh: bool) -> bool:
        with self._factory() as session:
            try:
                identity = self.authenticator.authenticate(session, username, password, fresh=fresh)
            except NotAuthenticated:
                return False
        return identity.protocol == "mqtt"

    async def authenticate(self, client_id: str | None, username: str | None, password: str | None) -> bool:
        """Return whether a connecting client is a provisioned MQTT device with its right secret."""
        if not (_plain(client_id) and _plain(username) and password):
            return False
        assert username is not None and password is not None  # noqa: S101 - narrowed by _plain above
        return await asyncio.to_thread(self._check, username, password, fresh=True)

    async def accept(self, session: MqttSession, topic: str, payload: bytes) -> bool:
        """Ingest a device's publish before it is acknowledged; return False to drop the connection unacked."""
        username = session.username
        if not username or topic_client_id(topic) != username:
            return True  # not its telemetry: the topic plugin drops it after amqtt's PUBACK
        if not await asyncio.to_thread(self._check, username, session.password or "", fresh=False):
            logger.info("MQTT device %s no longer has valid credentials; disconnecting it", username)
            return False
        try:
            await self.batcher.submit(Message(topic, payload, sender=username))
        except DATABASE_ERRORS:
            return False
        return True


class _IngestingHandler(BrokerProtocolHandler):  # type: ignore[misc]  # amqtt ships no type information
    """A protocol handler that commits a device's telemetry before the PUBACK goes out."""

    hexmill_runtime: BrokerRuntime

    async def _handle_message_flow(self, app_message: Any) -> None:
        if app_message.direction == INCOMING and self.session is not None:
            accepted = await self.hexmill_runtime.accept(self.session, app_message.topic, bytes(app_message.data))
            if not accepted:
                if self.writer is not None:
                    await self.writer.close()
                return
        await super()._handle_message_flow(app_message)


class DeviceAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """Let in provisioned MQTT devices with their right secret; refuse ``+``, ``#`` and ``/`` in names."""

    runtime: BrokerRuntime | None = None

    async def authenticate(self, *, session: MqttSession) -> bool | None:
        """Check the session's username (the device's client id) and password against the registry."""
        if self.runtime is None:
            return False
        return await self.runtime.authenticate(session.client_id, session.username, session.password)


class DeviceTopicPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt ships no type information
    """Let a device publish its own telemetry topic only; refuse every subscription and delivery."""

    async def topic_filtering(
        self, *, session: MqttSession | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        """Return whether ``session`` may ``action`` on ``topic``."""
        if session is None or topic is None or not _plain(session.username):
            return False
        if action == Action.PUBLISH:
            return topic == telemetry_topic(session.username)
        return False


class HexmillBroker(Broker):  # type: ignore[misc]  # amqtt ships no type information
    """amqtt's broker with registry authentication, device ACLs and ingest before acknowledgement."""

    def __init__(self, runtime: BrokerRuntime, *, host: str = "127.0.0.1", port: int = 1883) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": dict(_PLUGINS),
        }
        super().__init__(config)
        self.runtime = runtime
        auth = self.plugins_manager.get_plugin("DeviceAuthPlugin")
        if not isinstance(auth, DeviceAuthPlugin):
            raise RuntimeError("amqtt did not load hexmill's device authentication plugin")
        auth.runtime = runtime

    async def _handle_client_session(
        self, reader: Any, writer: Any, client_session: Any, handler: Any, *args: Any
    ) -> None:
        # amqtt builds the handler from the CONNECT packet itself; upgrade it before it handles a publish.
        handler.__class__ = _IngestingHandler
        handler.hexmill_runtime = self.runtime
        await super()._handle_client_session(reader, writer, client_session, handler, *args)


@dataclass
class EmbeddedBroker:
    """A running embedded broker and its batch committer."""

    broker: HexmillBroker
    committer: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop accepting connections, then stop committing."""
        await self.broker.shutdown()
        self.committer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.committer


async def start_embedded_broker(runtime: BrokerRuntime, *, host: str = "127.0.0.1", port: int = 1883) -> EmbeddedBroker:
    """Start the embedded broker on ``host:port`` and return it; call ``stop()`` to end it."""
    broker = HexmillBroker(runtime, host=host, port=port)
    committer = asyncio.create_task(runtime.batcher.run(), name="hexmill-mqtt-commit")
    await broker.start()
    return EmbeddedBroker(broker, committer)


@contextlib.asynccontextmanager
async def embedded_broker(
    runtime: BrokerRuntime, *, host: str = "127.0.0.1", port: int = 1883
) -> AsyncIterator[EmbeddedBroker]:
    """Run the embedded broker for the duration of a ``async with`` block."""
    running = await start_embedded_broker(runtime, host=host, port=port)
    try:
        yield running
    finally:
        await running.stop()
