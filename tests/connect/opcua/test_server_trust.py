"""The OPC UA client checks the server's certificate against the device's trust list (ADR 0009)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from hexmill.connect.base import LinkState
from hexmill.connect.opcua import config as opcua_config
from hexmill.connect.opcua.client import ErrorKind, OpcUaError
from hexmill.connect.registry.service import check_device_config
from hexmill.core.errors import InvalidInput
from tests.connect.opcua.servers import PASSWORD, SERVER_URI, USERNAME, UaServer, make_certificate
from tests.connect.opcua.test_asyncua_server import Collector, press_config, start_poller, stop_poller

pytestmark = pytest.mark.anyio


def server_certificate(server: UaServer) -> x509.Certificate:
    """Return the certificate the secure test server presents."""
    return x509.load_der_x509_certificate((server.cert_dir / "server.der").read_bytes())


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def secured(server: UaServer, tmp_path: Path, **trust: Any) -> opcua_config.OpcUaConfig:
    """Return a SignAndEncrypt configuration with a login and the given trust settings."""
    return press_config(
        server,
        security_mode="SignAndEncrypt",
        certificate_dir=tmp_path / "pki",
        username=USERNAME,
        password=PASSWORD,
        **trust,
    )


async def test_a_trusted_server_certificate_connects(secure_ua_server: UaServer, tmp_path: Path) -> None:
    inline = secured(secure_ua_server, tmp_path, trusted_server_certificates=pem(server_certificate(secure_ua_server)))
    await opcua_config.test_connection(inline)

    trust_dir = tmp_path / "trusted"
    trust_dir.mkdir()
    (trust_dir / "server.der").write_bytes((secure_ua_server.cert_dir / "server.der").read_bytes())
    await opcua_config.test_connection(secured(secure_ua_server, tmp_path, trust_dir=trust_dir))


async def test_an_untrusted_server_certificate_is_refused_with_its_fingerprint(
    secure_ua_server: UaServer, tmp_path: Path
) -> None:
    other, _ = make_certificate(tmp_path / "other", "other-server", SERVER_URI, server=True)
    other_pem = pem(x509.load_der_x509_certificate(other.read_bytes()))
    config = secured(secure_ua_server, tmp_path, trusted_server_certificates=other_pem)
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(config)
    presented = server_certificate(secure_ua_server)
    assert caught.value.kind is ErrorKind.UNTRUSTED
    message = str(caught.value)
    assert "not trusted (BadCertificateUntrusted)" in message
    assert presented.fingerprint(hashes.SHA256()).hex(":").upper() in message
    assert "server" in message  # the certificate's common name


async def test_the_poller_shows_an_untrusted_server_as_unavailable(secure_ua_server: UaServer, tmp_path: Path) -> None:
    other, _ = make_certificate(tmp_path / "other", "other-server", SERVER_URI, server=True)
    trust_dir = tmp_path / "trusted"
    trust_dir.mkdir()
    (trust_dir / "other.der").write_bytes(other.read_bytes())
    collector = Collector()
    _, task = await start_poller(secured(secure_ua_server, tmp_path, trust_dir=trust_dir), collector)
    try:
        await collector.wait_for(lambda: any(state is LinkState.UNAVAILABLE for state, _ in collector.states))
    finally:
        await stop_poller(task)
    reasons = [reason for state, reason in collector.states if state is LinkState.UNAVAILABLE]
    assert reasons and "not trusted" in (reasons[0] or "")
    assert not collector.batches


async def test_an_empty_trust_dir_is_a_certificate_error(secure_ua_server: UaServer, tmp_path: Path) -> None:
    trust_dir = tmp_path / "trusted"
    trust_dir.mkdir()
    with pytest.raises(OpcUaError) as caught:
        await opcua_config.test_connection(secured(secure_ua_server, tmp_path, trust_dir=trust_dir))
    assert caught.value.kind is ErrorKind.CERTIFICATE
    assert "trusted server certificates cannot be read" in str(caught.value)


def _fields(config: dict[str, Any]) -> list[str | None]:
    with pytest.raises(InvalidInput) as caught:
        check_device_config("opcua", config)
    return [error.field for error in caught.value.errors]


def test_device_config_errors_name_the_trust_field(tmp_path: Path) -> None:
    base = {"endpoint": "opc.tcp://127.0.0.1:4840", "security_mode": "Sign", "certificate_dir": str(tmp_path)}
    assert _fields({**base, "trusted_server_certificates": "not a certificate"}) == [
        "config.trusted_server_certificates"
    ]
    unsecured = {"endpoint": "opc.tcp://127.0.0.1:4840"}
    assert _fields({**unsecured, "trust_dir": str(tmp_path)}) == ["config.trust_dir"]
    assert _fields({**unsecured, "trusted_server_certificates": "x"}) == ["config.trusted_server_certificates"]


def test_device_config_accepts_a_pem_bundle(tmp_path: Path) -> None:
    first, _ = make_certificate(tmp_path / "a", "a", SERVER_URI, server=True)
    second, _ = make_certificate(tmp_path / "b", "b", SERVER_URI, server=True)
    bundle = "".join(pem(x509.load_der_x509_certificate(p.read_bytes())) for p in (first, second))
    config = {
        "endpoint": "opc.tcp://127.0.0.1:4840",
        "security_mode": "SignAndEncrypt",
        "certificate_dir": str(tmp_path),
        "trusted_server_certificates": bundle,
    }
    assert check_device_config("opcua", config)["trusted_server_certificates"] == bundle
