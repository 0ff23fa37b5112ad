"""OPC UA link settings: what is accepted, what is refused and where the error points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hexmill.connect.opcua.config import AcquisitionMode, OpcUaConfig, SecurityMode, SecurityPolicy
from hexmill.connect.opcua.mapping import NodeDescription


def make(**overrides: Any) -> OpcUaConfig:
    settings: dict[str, Any] = {"endpoint": "opc.tcp://plc-7.local:4840/line2"}
    settings.update(overrides)
    return OpcUaConfig.model_validate(settings)


def error_of(**overrides: Any) -> tuple[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as caught:
        make(**overrides)
    first = caught.value.errors()[0]
    return tuple(first["loc"]), first["msg"]


def test_defaults_are_unsecured_subscription() -> None:
    config = make()
    assert config.security_mode is SecurityMode.NONE
    assert config.security_policy is None
    assert config.mode is AcquisitionMode.SUBSCRIPTION
    assert config.nodes == []


@pytest.mark.parametrize(
    "endpoint", ["opc.tcp://127.0.0.1:4840", "opc.tcp://plc", "opc.tcp://[::1]:4841/a/b", " opc.tcp://host:1/ "]
)
def test_endpoints_accepted(endpoint: str) -> None:
    assert make(endpoint=endpoint).endpoint == endpoint.strip()


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://host:4840", "opc.tcp://"),
        ("host:4840", "opc.tcp://"),
        ("opc.tcp://:4840", "no host"),
        ("opc.tcp://host:99999", "port"),
        ("opc.tcp://host:port", "port"),
        ("opc.tcp://user:pw@host:4840", "own fields"),
        ("opc.tcp://host:4840/?x=1", "query"),
    ],
)
def test_bad_endpoints_are_refused(endpoint: str, message: str) -> None:
    loc, msg = error_of(endpoint=endpoint)
    assert loc == ("endpoint",)
    assert message in msg


def test_secured_mode_defaults_to_basic256sha256(tmp_path: Path) -> None:
    config = make(security_mode="SignAndEncrypt", certificate_dir=tmp_path)
    assert config.security_policy is SecurityPolicy.BASIC256SHA256
    assert config.secured


def test_secured_mode_needs_a_client_certificate() -> None:
    _, msg = error_of(security_mode="Sign")
    assert "needs a client certificate" in msg


def test_policy_without_security_mode_is_refused() -> None:
    _, msg = error_of(security_policy="Basic256Sha256")
    assert "needs security_mode" in msg


def test_unknown_security_mode_is_refused() -> None:
    loc, _ = error_of(security_mode="Encrypt")
    assert loc == ("security_mode",)


def test_certificate_and_key_go_together(tmp_path: Path) -> None:
    _, msg = error_of(security_mode="Sign", certificate_path=tmp_path / "c.der")
    assert "certificate_path and private_key_path go together" in msg


def test_username_and_password_go_together() -> None:
    _, msg = error_of(username="operator")
    assert "give both or neither" in msg


def test_password_is_never_echoed() -> None:
    config = make(username="operator", password="hunter2-secret")
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in str(config)
    assert "hunter2-secret" not in config.model_dump_json()
    assert config.password is not None and config.password.get_secret_value() == "hunter2-secret"


def test_unknown_settings_are_refused() -> None:
    loc, _ = error_of(endpont="opc.tcp://typo")
    assert loc == ("endpont",)


def test_nodes_are_canonicalised_and_described() -> None:
    config = make(
        nodes=[
            {"node_id": " ns=2;g=72962B91-FA75-4AE6-8D28-B404DC7DAF63 ", "field": "speed", "scale": 0.1},
            {"node_id": "i=2258", "field": "server_time"},
        ]
    )
    assert config.descriptions() == (
        NodeDescription("ns=2;g=72962b91-fa75-4ae6-8d28-b404dc7daf63", "speed", 0.1),
        NodeDescription("i=2258", "server_time", None),
    )


def test_node_errors_name_the_node_index_and_field() -> None:
    loc, msg = error_of(nodes=[{"node_id": "ns=2;s=a", "field": "a"}, {"node_id": "ns=2;q=b", "field": "b"}])
    assert loc == ("nodes", 1, "node_id")
    assert "not an OPC UA node id" in msg


@pytest.mark.parametrize("scale", [0, float("nan"), float("inf")])
def test_scale_must_be_finite_and_not_zero(scale: float) -> None:
    loc, _ = error_of(nodes=[{"node_id": "i=1", "field": "x", "scale": scale}])
    assert loc == ("nodes", 0, "scale")


def test_empty_field_name_is_refused() -> None:
    loc, _ = error_of(nodes=[{"node_id": "i=1", "field": ""}])
    assert loc == ("nodes", 0, "field")


def test_duplicate_fields_name_both_indices() -> None:
    loc, msg = error_of(nodes=[{"node_id": "i=1", "field": "x"}, {"node_id": "i=2", "field": "x"}])
    assert loc == ("nodes",)
    assert "nodes[1].field 'x' is already used by nodes[0]" in msg


@pytest.mark.parametrize(
    ("setting", "value"),
    [("sampling_interval_ms", -1), ("publishing_interval_ms", 0), ("poll_interval_ms", 1), ("timeout_s", 0)],
)
def test_intervals_are_bounded(setting: str, value: float) -> None:
    loc, _ = error_of(**{setting: value})
    assert loc == (setting,)
