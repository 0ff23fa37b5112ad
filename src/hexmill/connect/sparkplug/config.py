"""Validated settings of the Sparkplug B Host Application, and a real connection test."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from hexmill.connect.base import ConnectionFailed
from hexmill.connect.sparkplug.client import SparkplugClientError, probe
from hexmill.connect.sparkplug.codec import check_id
from hexmill.core.i18n import N_


class SparkplugHostConfig(BaseModel):
    """Settings of one Sparkplug B Host Application: which MQTT server, who it is, what it listens to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", min_length=1, max_length=253, description="MQTT server host name or address.")
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = Field(None, max_length=200)
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = Field(None, description="CA bundle for TLS; the system's when empty.")
    mqtt_version: Literal["5", "3.1.1"] = "5"
    host_id: str = Field(
        min_length=1, max_length=200, description="Sparkplug Host Application id: names the STATE topic."
    )
    client_id: str | None = Field(None, max_length=200, description="MQTT client id; derived from host_id if empty.")
    group_id: str | None = Field(None, max_length=200, description="Listen to this Sparkplug group only.")
    reorder_timeout_s: float = Field(
        2.0, gt=0, le=600, description="How long an out-of-order message waits for the missing ones before a rebirth."
    )
    keepalive_s: int = Field(30, ge=5, le=3600)
    connect_timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("host_id")
    @classmethod
    def _valid_host_id(cls, value: str) -> str:
        """Refuse ids that cannot stand as one topic level (``/``, ``+``, ``#``)."""
        return check_id("host_id", value)

    @field_validator("group_id")
    @classmethod
    def _valid_group_id(cls, value: str | None) -> str | None:
        """Refuse group ids that cannot stand as one topic level."""
        return None if value is None else check_id("group_id", value)

    @property
    def mqtt_client_id(self) -> str:
        """Return the MQTT client id this host connects with."""
        return self.client_id or f"hexmill-host-{self.host_id}"

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Return the topic filters the host subscribes to: its own STATE first, then the edge nodes'."""
        state = f"spBv1.0/STATE/{self.host_id}"
        if self.group_id is None:
            return (state, "spBv1.0/#")
        return (state, f"spBv1.0/{self.group_id}/#")


async def test_connection(config: SparkplugHostConfig) -> None:
    """Connect to the MQTT server with the host's settings and disconnect; raise ``ConnectionFailed`` if refused."""
    try:
        await probe(config)
    except SparkplugClientError as exc:
        raise ConnectionFailed(
            N_("Cannot connect to the MQTT server at %(host)s:%(port)s: %(reason)s"),
            field="host",
            host=config.host,
            port=config.port,
            reason=str(exc),
        ) from exc


# pytest would otherwise collect the public name ``test_connection`` from test modules importing it.
test_connection.__test__ = False  # type: ignore[attr-defined]


class SparkplugDeviceConfig(BaseModel):
    """Which Sparkplug edge node (and device under it) a registry device stands for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_id: str = Field(min_length=1, max_length=200)
    edge_node_id: str = Field(min_length=1, max_length=200)
    device_id: str | None = Field(None, min_length=1, max_length=200, description="Empty for the edge node itself.")

    @field_validator("group_id", "edge_node_id", "device_id")
    @classmethod
    def _valid_level(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Refuse ids that cannot stand as one topic level."""
        return None if value is None else check_id(str(info.field_name), value)
