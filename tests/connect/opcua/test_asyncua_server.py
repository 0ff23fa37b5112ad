"""The OPC UA connector against asyncua's own server, in-process on a loopback port."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua

from hexmill.connect.base import Backoff, LinkState
from hexmill.connect.opcua import config as opcua_config
from hexmill.connect.opcua.client import ErrorKind, OpcUaClient, OpcUaError
from hexmill.connect.opcua.config import AcquisitionMode, OpcUaConfig
from hexmill.connect.opcua.poller import OpcUaPoller
from hexmill.core.errors import InvalidInput
from hexmill.telemetry.points import Quality, Reading
from tests.brokers import free_port
from tests.connect.opcua.servers import PASSWORD, USERNAME, UaServer, make_certificate

pytestmark = pytest.mark.anyio

FAST = Backoff(initial=0.1, maximum=0.4)


def press_config(server: UaServer, **overrides: Any) -> OpcUaConfig:
    """Map the press variables of ``server`` to fields, with quick intervals."""
    settings: dict[str, Any] = {
        "endpoint": server.endpoint,
        "sampling_interval_ms": 50,
        "publishing_interval_ms": 50,
        "poll_interval_ms": 100,
        "keepalive_s": 0.3,
        "timeout_s": 2,
        "nodes": [
            {"node_id": server.node_id("Temperature"), "field": "temp"},
            {"node_id": server.node_id("Counter"), "field": "count", "scale": 0.5},
            {"node_id": server.node_id("Running"), "field": "running"},
            {"node_id": server.node_id("Recipe"), "field": "recipe"},
        ],
    }
    settings.update(overrides)
    return OpcUaConfig.model_validate(settings)


class Collector:
    """A reading sink and state sink that remember what they got."""

    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self.states: list[tuple[LinkState, str | None]] = []
        self._changed = asyncio.Event()

    async def sink(self, batch: Sequence[Reading]) -> None:
        self.batches.append(list(batch))
        self._changed.set()

    def on_state(self, state: LinkState, reason: str | None) -> None:
        self.states.append((state, reason))
        self._changed.set()

    @property
    def readings(self) -> list[Reading]:
        return [r for batch in self.batches for r in batch]

    def latest(self, field: str) -> Reading | None:
        found = [r for r in self.readings if r.field == field]
        return found[-1] if found else None

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


async def start_poller(config: OpcUaConfig, collector: Collector) -> tuple[OpcUaPoller, asyncio.Task[None]]:
    poller = OpcUaPoller(config, collector.sink, collector.on_state, backoff=FAST)
    return poller, asyncio.create_task(poller.run())


async def stop_poller(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_browse_finds_the_press_variables(ua_server: UaServer) -> None:
    top = await opcua_config.browse_server(press_config(ua_server))
    press = next(node for node in top if node.browse_name == "Press")
    assert press.node_class == "Object"
    assert press.has_children
    assert press.children == ()

    variables = {n.browse_name: n for n in await opcua_config.browse_server(press_config(ua_server), press.node_id)}
    assert set(variables) == {"Temperature", "Counter", "Running", "Recipe", "Profile"}
    temperature = variables["Temperature"]
    assert temperature.node_id == "ns=2;s=Press.Temperature"
    assert temperature.node_class == "Variable"
    assert temperature.data_type == "Double"
    assert variables["Running"].data_type == "Boolean"
    assert not temperature.has_children


async def test_browse_two_levels_nests_the_children(ua_server: UaServer) -> None:
    top = await opcua_config.browse_server(press_config(ua_server), depth=2)
    press = next(node for node in top if node.browse_name == "Press")
    assert {child.browse_name for child in press.children} >= {"Temperature", "Counter"}


async def test_browse_refuses_a_malformed_node_id(ua_server: UaServer) -> None:
    with pytest.raises(InvalidInput) as caught:
        await opcua_config.browse_server(press_config(ua_server), "ns=2;x=oops")
    assert caught.value.field == "node_id"


async def test_connection_test_passes_and_fails_clearly(ua_server: UaServer) -> None:
    await opcua_config.test_connection(press_config(ua_server))

    nobody = press_config(ua_server, endpoint=f"opc.tcp://127.0.0.1:{free_port()}/hexmill", timeout_s=1)
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(nobody)
    assert caught.value.kind is ErrorKind.UNREACHABLE
    assert "Cannot reach the OPC UA server at opc.tcp://127.0.0.1:" in str(caught.value)


async def test_read_returns_values_with_quality_and_a_bad_node(ua_server: UaServer) -> None:
    async with OpcUaClient(press_config(ua_server)) as client:
        temp, profile, missing = await client.read(
            [ua_server.node_id("Temperature"), ua_server.node_id("Profile"), "ns=2;s=Press.Nothing"]
        )
    assert (temp.value, temp.variant_type, temp.status) == (21.5, "Double", 0)
    assert profile.is_array
    assert missing.status == ua.StatusCodes.BadNodeIdUnknown


async def test_subscription_delivers_changes_and_bad_status(ua_server: UaServer) -> None:
    collector = Collector()
    poller, task = await start_poller(press_config(ua_server), collector)
    try:
        await collector.wait_for(lambda: collector.latest("recipe") is not None)
        assert poller.mode is AcquisitionMode.SUBSCRIPTION
        assert collector.states[-1] == (LinkState.ONLINE, None)
        initial = {r.field: r for r in collector.readings}
        assert initial["temp"].value == 21.5
        assert initial["count"].value == 0.0  # 0 x scale 0.5
        assert initial["running"].value is True
        assert initial["recipe"].value == "bracket-7"
        assert all(r.quality is Quality.GOOD for r in initial.values())

        await ua_server.write("Counter", 42, ua.VariantType.Int32)
        await collector.wait_for(lambda: collector.latest("count").value == 21.0)  # type: ignore[union-attr]

        await ua_server.write("Temperature", 99.0, ua.VariantType.Double, status=ua.StatusCodes.BadSensorFailure)
        await collector.wait_for(lambda: collector.latest("temp").quality is Quality.BAD)  # type: ignore[union-attr]
        bad = collector.latest("temp")
        assert bad is not None and bad.value is None

        await ua_server.write(
            "Temperature", 22.0, ua.VariantType.Double, status=ua.StatusCodes.UncertainLastUsableValue
        )
        await collector.wait_for(lambda: collector.latest("temp").quality is Quality.UNCERTAIN)  # type: ignore[union-attr]
        assert collector.latest("temp").value == 22.0  # type: ignore[union-attr]
    finally:
        await stop_poller(task)
    assert poller.stats.readings == len(collector.readings)


async def test_subscription_notifications_arrive_in_batches(ua_server: UaServer) -> None:
    collector = Collector()
    config = press_config(ua_server)
    poller = OpcUaPoller(config, collector.sink, collector.on_state, backoff=FAST, flush_interval=0.3)
    task = asyncio.create_task(poller.run())
    try:
        await collector.wait_for(lambda: len(collector.readings) >= 4)
        for value in range(1, 6):
            await ua_server.write("Counter", value, ua.VariantType.Int32)
            await asyncio.sleep(0.06)
        await collector.wait_for(lambda: collector.latest("count").value == 2.5)  # type: ignore[union-attr]
    finally:
        await stop_poller(task)
    assert len(collector.batches) < len(collector.readings)
    assert max(len(batch) for batch in collector.batches) > 1


async def test_array_values_are_refused_and_counted(ua_server: UaServer) -> None:
    collector = Collector()
    config = press_config(
        ua_server,
        nodes=[
            {"node_id": ua_server.node_id("Profile"), "field": "profile"},
            {"node_id": ua_server.node_id("Recipe"), "field": "recipe"},
        ],
    )
    poller, task = await start_poller(config, collector)
    try:
        await collector.wait_for(lambda: collector.latest("recipe") is not None)
        await collector.wait_for(lambda: poller.stats.refused >= 1)
    finally:
        await stop_poller(task)
    assert collector.latest("profile") is None


async def test_unknown_node_shows_bad_in_subscription_mode(ua_server: UaServer) -> None:
    collector = Collector()
    config = press_config(ua_server, nodes=[{"node_id": "ns=2;s=Press.Nothing", "field": "ghost"}])
    _, task = await start_poller(config, collector)
    try:
        await collector.wait_for(lambda: collector.latest("ghost") is not None)
    finally:
        await stop_poller(task)
    ghost = collector.latest("ghost")
    assert ghost is not None and ghost.quality is Quality.BAD and ghost.value is None


async def test_polling_mode_reads_on_the_interval(ua_server: UaServer) -> None:
    collector = Collector()
    poller, task = await start_poller(press_config(ua_server, mode="polling"), collector)
    try:
        await collector.wait_for(lambda: len([r for r in collector.readings if r.field == "temp"]) >= 3)
        assert poller.mode is AcquisitionMode.POLLING
        await ua_server.write("Running", False, ua.VariantType.Boolean)
        await collector.wait_for(lambda: collector.latest("running").value is False)  # type: ignore[union-attr]
    finally:
        await stop_poller(task)
    assert collector.states[0] == (LinkState.CONNECTING, None)
    assert (LinkState.ONLINE, None) in collector.states


async def test_refused_subscriptions_fall_back_to_polling(ua_server: UaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*args: Any, **kwargs: Any) -> None:
        raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManySubscriptions)

    # The server side refuses CreateSubscription, as a small embedded server may.
    monkeypatch.setattr("asyncua.client.client.Client.create_subscription", refuse)
    collector = Collector()
    poller, task = await start_poller(press_config(ua_server), collector)
    try:
        await collector.wait_for(lambda: len([r for r in collector.readings if r.field == "temp"]) >= 2)
    finally:
        await stop_poller(task)
    assert poller.mode is AcquisitionMode.POLLING


async def test_restart_goes_unavailable_then_resubscribes(ua_server: UaServer) -> None:
    collector = Collector()
    poller, task = await start_poller(press_config(ua_server), collector)
    try:
        await collector.wait_for(lambda: collector.latest("recipe") is not None)
        await ua_server.server.stop()  # type: ignore[union-attr]
        await collector.wait_for(lambda: bool(collector.states) and collector.states[-1][0] is LinkState.UNAVAILABLE)
        unavailable_reason = collector.states[-1][1]
        assert unavailable_reason

        await ua_server.server.start()  # type: ignore[union-attr]
        await collector.wait_for(lambda: collector.states[-1][0] is LinkState.ONLINE)
        await ua_server.write("Counter", 7, ua.VariantType.Int32)
        await collector.wait_for(lambda: collector.latest("count").value == 3.5)  # type: ignore[union-attr]
    finally:
        await stop_poller(task)
    assert [s for s, _ in collector.states] == [
        LinkState.CONNECTING,
        LinkState.ONLINE,
        LinkState.UNAVAILABLE,
        LinkState.ONLINE,
    ]
    assert poller.stats.connects == 2


async def test_poller_stays_unavailable_while_nothing_listens() -> None:
    collector = Collector()
    config = OpcUaConfig(endpoint=f"opc.tcp://127.0.0.1:{free_port()}", timeout_s=1)
    _, task = await start_poller(config, collector)
    try:
        await collector.wait_for(lambda: bool(collector.states) and collector.states[-1][0] is LinkState.UNAVAILABLE)
        await asyncio.sleep(0.5)  # a few reconnect attempts
    finally:
        await stop_poller(task)
    assert [s for s, _ in collector.states] == [LinkState.CONNECTING, LinkState.UNAVAILABLE]


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_secure_channel_with_login(secure_ua_server: UaServer, tmp_path: Path, mode: str) -> None:
    server = secure_ua_server
    application_uri = "urn:hexmill:test:client"
    cert, key = make_certificate(tmp_path / "client", "client", application_uri, server=False)
    config = press_config(
        server,
        security_mode=mode,
        certificate_path=cert,
        private_key_path=key,
        application_uri=application_uri,
        username=USERNAME,
        password=PASSWORD,
    )
    assert config.security_policy == "Basic256Sha256"
    await opcua_config.test_connection(config)

    collector = Collector()
    _, task = await start_poller(config, collector)
    try:
        await collector.wait_for(lambda: collector.latest("temp") is not None)
    finally:
        await stop_poller(task)
    assert collector.latest("temp").value == 21.5  # type: ignore[union-attr]


async def test_generated_client_certificate_is_kept(secure_ua_server: UaServer, tmp_path: Path) -> None:
    server = secure_ua_server
    cert_dir = tmp_path / "pki"
    config = press_config(
        server,
        security_mode="SignAndEncrypt",
        certificate_dir=cert_dir,
        username=USERNAME,
        password=PASSWORD,
    )
    await opcua_config.test_connection(config)
    generated = {p.name: p.read_bytes() for p in cert_dir.iterdir()}
    assert set(generated) == {"hexmill-client.der", "hexmill-client.key.pem"}

    await opcua_config.test_connection(config)
    assert {p.name: p.read_bytes() for p in cert_dir.iterdir()} == generated


async def test_wrong_password_is_a_clear_login_error(
    secure_ua_server: UaServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = secure_ua_server
    caplog.set_level(logging.DEBUG)
    config = press_config(
        server,
        security_mode="SignAndEncrypt",
        certificate_dir=tmp_path / "pki",
        username=USERNAME,
        password="wrong-horse",
    )
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(config)
    assert caught.value.kind is ErrorKind.LOGIN
    assert f"refused the login of user {USERNAME}" in str(caught.value)
    assert "wrong-horse" not in str(caught.value)
    assert "wrong-horse" not in repr(config)
    assert "wrong-horse" not in caplog.text
    assert "user credentials redacted" in caplog.text  # asyncua's debug dump of ActivateSession was there


async def test_security_mode_the_server_does_not_offer_is_a_security_error(ua_server: UaServer, tmp_path: Path) -> None:
    config = press_config(ua_server, security_mode="Sign", certificate_dir=tmp_path / "pki")
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(config)
    assert caught.value.kind is ErrorKind.SECURITY


async def test_sink_failure_stops_the_poller_and_keeps_the_batch(ua_server: UaServer) -> None:
    calls: list[int] = []

    async def broken_sink(batch: Sequence[Reading]) -> None:
        calls.append(len(batch))
        raise RuntimeError("store is down")

    poller = OpcUaPoller(press_config(ua_server), broken_sink, backoff=FAST)
    with pytest.raises(RuntimeError, match="store is down"):
        async with asyncio.timeout(10):
            await poller.run()
    assert calls and calls[0] == 4
    assert poller.stats.readings == 0


async def test_unreadable_client_certificate_is_a_certificate_error(secure_ua_server: UaServer, tmp_path: Path) -> None:
    cert, key = tmp_path / "client.der", tmp_path / "client.key.pem"
    cert.write_bytes(b"not a certificate")
    key.write_bytes(b"not a key")
    config = press_config(
        secure_ua_server,
        security_mode="Sign",
        certificate_path=cert,
        private_key_path=key,
        username=USERNAME,
        password=PASSWORD,
    )
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(config)
    assert caught.value.kind is ErrorKind.CERTIFICATE

    missing = config.model_copy(update={"certificate_path": tmp_path / "nowhere.der"})
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(missing)
    assert caught.value.kind is ErrorKind.CERTIFICATE
