"""The embedded MQTT broker of the all-in-one process (amqtt), wired to the device registry.

Devices log in with their client id as username and their secret as password (checked against
the registry). An MQTT device may publish to its own telemetry topic only and subscribe to
nothing. A Sparkplug device lets its edge node in: it may publish the births, data and deaths of
the group and edge node its settings name, and hear that node's commands and the hosts' STATE.
Sparkplug Host Applications log in with their host id and a password given to ``BrokerRuntime``
(the all-in-one process makes one up at start); a host may read the whole ``spBv1.0`` namespace
and publish its own STATE and the edge nodes' commands.

A JSON device's telemetry is ingested *before* amqtt sends the PUBACK: the broker hands each
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
import hmac
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import INCOMING
from amqtt.session import Session as MqttSession
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.mqtt.config import telemetry_topic, topic_client_id
from hexmill.connect.mqtt.pipeline import Message, Outcome, TelemetryPipeline
from hexmill.connect.mqtt.poller import DATABASE_ERRORS
from hexmill.connect.registry.models import Device
from hexmill.connect.registry.service import DeviceAuthenticator
from hexmill.core.errors import NotAuthenticated
from hexmill.core.tenancy import widened

logger = logging.getLogger(__name__)

_FORBIDDEN: Final = frozenset("+#/")
_PLUGINS: Final[dict[str, dict[str, object]]] = {
    f"{__name__}.DeviceAuthPlugin": {},
    f"{__name__}.DeviceTopicPlugin": {},
}


SPARKPLUG_NAMESPACE: Final = "spBv1.0"
#: What an edge node publishes about itself (``N…``) and its devices (``D…``).
_EDGE_NODE_MESSAGES: Final = frozenset({"NBIRTH", "NDEATH", "NDATA"})
_EDGE_DEVICE_MESSAGES: Final = frozenset({"DBIRTH", "DDEATH", "DDATA"})


def _plain(name: str | None) -> bool:
    return bool(name) and not (_FORBIDDEN & set(name or ""))


@dataclass(frozen=True, slots=True)
class Grant:
    """What one logged-in client may do: an MQTT JSON device, a Sparkplug edge node, or a Sparkplug host."""

    kind: Literal["json", "edge", "host"]
    username: str
    group_id: str = ""
    edge_node_id: str = ""


def _edge_allows(grant: Grant, parts: list[str], action: Action) -> bool:
    """Return whether an edge node may ``action`` on the topic split into ``parts`` (namespace checked)."""
    group, node = grant.group_id, grant.edge_node_id
    if action == Action.PUBLISH:
        if len(parts) == 4 and parts[1] == group and parts[3] == node:
            return parts[2] in _EDGE_NODE_MESSAGES
        return (
            len(parts) == 5
            and parts[1] == group
            and parts[2] in _EDGE_DEVICE_MESSAGES
            and parts[3] == node
            and _plain(parts[4])
        )
    if len(parts) == 3 and parts[1] == "STATE":  # the hosts' STATE: "+" to subscribe, a host id to receive
        return parts[2] == "+" if action == Action.SUBSCRIBE else _plain(parts[2])
    if parts[1:] == [group, "NCMD", node]:
        return True
    if len(parts) == 5 and parts[1:4] == [group, "DCMD", node]:
        return parts[4] == "+" if action == Action.SUBSCRIBE else _plain(parts[4])
    return False


def _host_allows(grant: Grant, parts: list[str], action: Action) -> bool:
    """Return whether a Sparkplug host may ``action`` on the topic split into ``parts`` (namespace checked)."""
    if action != Action.PUBLISH:
        return True  # a host reads the whole namespace, "spBv1.0/#" included
    if len(parts) == 3 and parts[1] == "STATE":
        return parts[2] == grant.username
    command = {4: "NCMD", 5: "DCMD"}.get(len(parts))
    return command is not None and parts[2] == command and all(_plain(part) for part in parts[1:])


def allows(grant: Grant, topic: str, action: Action) -> bool:
    """Return whether a client with ``grant`` may publish, subscribe to (a filter) or receive ``topic``."""
    if grant.kind == "json":
        return action == Action.PUBLISH and topic == telemetry_topic(grant.username)
    parts = topic.split("/")
    if parts[0] != SPARKPLUG_NAMESPACE or len(parts) < 2:  # the namespace and at least one level
        return False
    if grant.kind == "edge":
        return _edge_allows(grant, parts, action)
    return _host_allows(grant, parts, action)


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
        sparkplug_hosts: Mapping[str, str] | None = None,
    ) -> None:
        self._factory = session_factory
        self.authenticator = authenticator or DeviceAuthenticator()
        self.batcher = _Batcher(pipeline, max_messages=batch_max_messages, max_wait_s=batch_max_wait_ms / 1000)
        #: Sparkplug Host Applications allowed in: host id (their username) -> password.
        self._hosts = dict(sparkplug_hosts or {})
        self._grants: dict[str, Grant] = {}

    def _grant(self, username: str, password: str, *, fresh: bool) -> Grant | None:
        """Return what a registry device may do, or None when its credentials or protocol do not let it in."""
        with self._factory() as session:
            try:
                identity = self.authenticator.authenticate(session, username, password, fresh=fresh)
            except NotAuthenticated:
                return None
            if identity.protocol == "mqtt":
                return Grant("json", username)
            if identity.protocol != "sparkplug":
                return None
            with widened(session):
                config = session.scalar(select(Device.config).where(Device.id == identity.device_id)) or {}
        group, node = config.get("group_id"), config.get("edge_node_id")
        if not (isinstance(group, str) and isinstance(node, str) and _plain(group) and _plain(node)):
            return None
        return Grant("edge", username, group_id=group, edge_node_id=node)

    def _check(self, username: str, password: str, *, fresh: bool, protocol: str = "mqtt") -> bool:
        """Return whether a device's credentials are (still) good and it speaks ``protocol``."""
        with self._factory() as session:
            try:
                identity = self.authenticator.authenticate(session, username, password, fresh=fresh)
            except NotAuthenticated:
                return False
        return identity.protocol == protocol

    async def authenticate(self, client_id: str | None, username: str | None, password: str | None) -> bool:
        """Return whether a connecting client is a provisioned device with its right secret, or a known host."""
        if not (_plain(client_id) and _plain(username) and password):
            return False
        assert username is not None and password is not None  # noqa: S101 - narrowed by _plain above
        if username in self._hosts:  # a host's name is never a device's, whatever the registry holds
            if not hmac.compare_digest(self._hosts[username].encode(), password.encode()):
                return False
            grant: Grant | None = Grant("host", username)
        else:
            grant = await asyncio.to_thread(self._grant, username, password, fresh=True)
        if grant is None:
            return False
        self._grants[username] = grant
        return True

    def grant_of(self, username: str | None) -> Grant | None:
        """Return what a logged-in client may do (None for a username that never logged in)."""
        return self._grants.get(username) if username else None

    async def accept(self, session: MqttSession, topic: str, payload: bytes) -> bool:
        """Ingest a device's publish before it is acknowledged; return False to drop the connection unacked."""
        username = session.username
        grant = self.grant_of(username)
        if username and grant is not None and grant.kind == "edge":
            # An edge node's messages go to the hosts, not to ingest; a revoked node is dropped all the same.
            return await asyncio.to_thread(
                self._check, username, session.password or "", fresh=False, protocol="sparkplug"
            )
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
    """Apply each client's grant: JSON devices publish their own telemetry topic only, Sparkplug clients their part."""

    runtime: BrokerRuntime | None = None

    async def topic_filtering(
        self, *, session: MqttSession | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        """Return whether ``session`` may ``action`` on ``topic``."""
        if session is None or topic is None or action is None or not _plain(session.username):
            return False
        grant = self.runtime.grant_of(session.username) if self.runtime is not None else None
        if grant is None:
            return False
        return allows(grant, topic, action)


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
        topics = self.plugins_manager.get_plugin("DeviceTopicPlugin")
        if not isinstance(auth, DeviceAuthPlugin) or not isinstance(topics, DeviceTopicPlugin):
            raise RuntimeError("amqtt did not load hexmill's device authentication and topic plugins")
        auth.runtime = runtime
        topics.runtime = runtime

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
