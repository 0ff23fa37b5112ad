"""Validated settings of one OPC UA server link, and a real connection test."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from hexmill.connect.opcua import client
from hexmill.connect.opcua.mapping import BrowseNode, NodeDescription, parse_node_id
from hexmill.core.errors import InvalidInput
from hexmill.core.i18n import N_


class SecurityMode(StrEnum):
    """How messages on the secure channel are protected."""

    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


class SecurityPolicy(StrEnum):
    """The algorithm suite of a signed or encrypted channel (the deprecated SHA-1 ones are left out)."""

    BASIC256SHA256 = "Basic256Sha256"
    AES128_SHA256_RSAOAEP = "Aes128_Sha256_RsaOaep"
    AES256_SHA256_RSAPSS = "Aes256_Sha256_RsaPss"


class AcquisitionMode(StrEnum):
    """Whether the server pushes changes (subscription) or the connector reads on a timer (polling)."""

    SUBSCRIPTION = "subscription"
    POLLING = "polling"


class NodeMapping(BaseModel):
    """One server node read into one device field, optionally multiplied by ``scale``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: str
    field: Annotated[str, Field(min_length=1, max_length=200)]
    scale: float | None = None

    @field_validator("node_id")
    @classmethod
    def _check_node_id(cls, value: str) -> str:
        try:
            return str(parse_node_id(value.strip()))
        except ValueError as exc:
            raise ValueError(f"not an OPC UA node id ({exc})") from None

    @field_validator("scale")
    @classmethod
    def _check_scale(cls, value: float | None) -> float | None:
        if value is not None and (value == 0 or not math.isfinite(value)):
            raise ValueError("scale must be a finite number other than 0")
        return value


class OpcUaConfig(BaseModel):
    """Everything needed to read values from one OPC UA server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    security_mode: SecurityMode = SecurityMode.NONE
    #: Defaults to Basic256Sha256 when the security mode is Sign or SignAndEncrypt.
    security_policy: SecurityPolicy | None = None
    username: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    password: SecretStr | None = None
    #: The client's application certificate (DER or PEM) and its private key (PEM), given together...
    certificate_path: Path | None = None
    private_key_path: Path | None = None
    #: ...or a folder where a self-signed pair is generated on first use and kept.
    certificate_dir: Path | None = None
    #: Must match the URI in the client certificate; servers check it.
    application_uri: Annotated[str, Field(min_length=1)] = "urn:hexmill:opcua:client"
    #: The server certificate(s) to trust, PEM: the server's own or the CA that issued it (ADR 0009)...
    trusted_server_certificates: Annotated[str, Field(min_length=1, max_length=200_000)] | None = None
    #: ...and/or a folder of trusted certificates (``.der``/``.pem``), read at every connection.
    trust_dir: Path | None = None
    mode: AcquisitionMode = AcquisitionMode.SUBSCRIPTION
    sampling_interval_ms: Annotated[float, Field(ge=0, le=3_600_000)] = 500.0
    publishing_interval_ms: Annotated[float, Field(gt=0, le=3_600_000)] = 1000.0
    poll_interval_ms: Annotated[float, Field(ge=10, le=3_600_000)] = 1000.0
    #: How long one request may take before the link counts as broken.
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 4.0
    #: How often the link is probed for liveness when nothing else flows.
    keepalive_s: Annotated[float, Field(gt=0, le=300)] = 1.0
    nodes: list[NodeMapping] = Field(default_factory=list)

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme != "opc.tcp":
            raise ValueError("endpoint must start with opc.tcp://")
        if "@" in parts.netloc:
            raise ValueError("put the user name and password in their own fields, not in the endpoint")
        if not parts.hostname:
            raise ValueError("endpoint has no host name")
        try:
            parts.port  # noqa: B018 - reading the port is what validates it
        except ValueError:
            raise ValueError("endpoint port must be a number from 1 to 65535") from None
        if parts.query or parts.fragment:
            raise ValueError("endpoint must not have a query or fragment")
        return value

    @field_validator("trusted_server_certificates", "trust_dir")
    @classmethod
    def _check_trust_needs_security(cls, value: object, info: ValidationInfo) -> object:
        # Without a secure channel nothing proves the server holds the certificate's private key.
        if value is not None and info.data.get("security_mode", SecurityMode.NONE) is SecurityMode.NONE:
            raise ValueError(f"{info.field_name} needs security_mode Sign or SignAndEncrypt")
        return value

    @field_validator("trusted_server_certificates")
    @classmethod
    def _check_trusted(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            client.load_pem_certificates(value)
        except ValueError as exc:
            raise ValueError(f"not one or more PEM certificates ({exc})") from None
        return value

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            raise ValueError("password must not be empty")
        return value

    @field_validator("nodes")
    @classmethod
    def _check_unique_fields(cls, nodes: list[NodeMapping]) -> list[NodeMapping]:
        seen: dict[str, int] = {}
        for index, node in enumerate(nodes):
            if node.field in seen:
                raise ValueError(f"nodes[{index}].field {node.field!r} is already used by nodes[{seen[node.field]}]")
            seen[node.field] = index
        return nodes

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        if (self.certificate_path is None) != (self.private_key_path is None):
            raise ValueError("certificate_path and private_key_path go together: give both or neither")
        if self.security_mode is SecurityMode.NONE:
            if self.security_policy is not None:
                raise ValueError("a security_policy needs security_mode Sign or SignAndEncrypt")
            return self
        if self.security_policy is None:
            # The model is frozen; validators may still fill in a derived default.
            object.__setattr__(self, "security_policy", SecurityPolicy.BASIC256SHA256)
        if self.certificate_path is None and self.certificate_dir is None:
            raise ValueError(
                "security mode Sign or SignAndEncrypt needs a client certificate: "
                "certificate_path and private_key_path, or certificate_dir to generate one"
            )
        return self

    @property
    def secured(self) -> bool:
        """Return whether the channel is signed (and maybe encrypted)."""
        return self.security_mode is not SecurityMode.NONE

    @property
    def verifies_server(self) -> bool:
        """Return whether the server's certificate is checked against a trust list."""
        return self.trusted_server_certificates is not None or self.trust_dir is not None

    def descriptions(self) -> tuple[NodeDescription, ...]:
        """Return the frozen node → field descriptions the poller works from."""
        return tuple(NodeDescription(n.node_id, n.field, n.scale) for n in self.nodes)


async def test_connection(config: OpcUaConfig) -> None:
    """Connect, read the server state and disconnect; raise ``OpcUaError`` saying what failed."""
    async with client.OpcUaClient(config) as connection:
        state = await connection.server_state()
    if state != "Running":
        raise client.OpcUaError(
            N_("The OPC UA server at %(endpoint)s is not running (state %(state)s)"),
            kind=client.ErrorKind.REFUSED,
            endpoint=config.endpoint,
            state=state,
        )


async def browse_server(config: OpcUaConfig, node_id: str | None = None, *, depth: int = 1) -> list[BrowseNode]:
    """List the nodes below ``node_id`` (default: the Objects folder) for the node picker.

    Raises:
        InvalidInput: ``node_id`` is not a node id (the error names the field).
        OpcUaError: the server could not be reached or refused to browse.
    """
    if node_id is not None:
        try:
            node_id = str(parse_node_id(node_id.strip()))
        except ValueError as exc:
            raise InvalidInput(N_("Not an OPC UA node id: %(reason)s"), field="node_id", reason=str(exc)) from None
    async with client.OpcUaClient(config) as connection:
        return await connection.browse(node_id, depth)
