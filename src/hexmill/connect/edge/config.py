"""The edge agent's configuration file: devices with their protocol settings and tokens, buffer and uplink."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hexmill.connect.base import Backoff
from hexmill.connect.edge.buffer import BufferLimits
from hexmill.connect.edge.forwarder import ForwardSettings
from hexmill.connect.modbus.config import ModbusConfig


class BufferSection(BaseModel):
    """Bounds of the on-disk buffer; past them the oldest readings are dropped (and counted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rows: int = Field(1_000_000, ge=1)
    max_bytes: int | None = Field(256 * 1024 * 1024, ge=1)
    max_dead_letters: int = Field(100_000, ge=1)

    def limits(self) -> BufferLimits:
        """Return the buffer's limits."""
        return BufferLimits(self.max_rows, self.max_bytes, self.max_dead_letters)


class ForwardSection(BaseModel):
    """How batches go to the platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(500, ge=1, le=10_000)
    live_window_s: float = Field(10.0, gt=0)
    timeout_s: float = Field(10.0, gt=0, le=300)
    idle_s: float = Field(0.5, gt=0, le=60)
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    blocked_retry_s: float = Field(60.0, gt=0)

    def settings(self) -> ForwardSettings:
        """Return the forwarder's settings."""
        return ForwardSettings(
            batch_size=self.batch_size,
            live_window_s=self.live_window_s,
            idle_s=self.idle_s,
            backoff=Backoff(initial=self.backoff_initial_s, maximum=max(self.backoff_max_s, self.backoff_initial_s)),
            blocked_retry_s=self.blocked_retry_s,
        )


class MqttSection(BaseModel):
    """The local MQTT broker the machines publish JSON telemetry to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    client_id: str = Field("hexmill-edge", min_length=1, max_length=23)
    keepalive_s: int = Field(30, ge=5, le=3600)


class EdgeDevice(BaseModel):
    """One machine the agent reads: exactly one of ``modbus``, ``opcua`` or ``mqtt_topic``, and its token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^/#+\s]+$")
    token: SecretStr | None = Field(None, description="The platform's device token, <client-id>:<secret>.")
    token_env: str | None = Field(None, description="Environment variable holding the token instead.")
    modbus: ModbusConfig | None = None
    #: OPC UA settings (``hexmill.connect.opcua.config.OpcUaConfig``), checked when the agent starts.
    opcua: dict[str, Any] | None = None
    mqtt_topic: str | None = Field(None, min_length=1, max_length=500, pattern=r"^[^#+]+$")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        """Require exactly one source and exactly one way to give the token."""
        sources = [s for s in (self.modbus, self.opcua, self.mqtt_topic) if s is not None]
        if len(sources) != 1:
            raise ValueError(f"device {self.name!r}: give exactly one of modbus, opcua or mqtt_topic")
        if (self.token is None) == (self.token_env is None):
            raise ValueError(f"device {self.name!r}: give exactly one of token or token_env")
        return self

    @property
    def protocol(self) -> str:
        """Return ``modbus``, ``opcua`` or ``mqtt``."""
        if self.modbus is not None:
            return "modbus"
        return "opcua" if self.opcua is not None else "mqtt"

    def resolved_token(self) -> str:
        """Return the device token, reading ``token_env`` from the environment if named."""
        if self.token is not None:
            return self.token.get_secret_value()
        value = os.environ.get(self.token_env or "", "")
        if ":" not in value:
            raise ValueError(
                f"device {self.name!r}: environment variable {self.token_env} holds no <client-id>:<secret>"
            )
        return value


class EdgeConfig(BaseModel):
    """The whole edge configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform_url: str | None = None
    buffer: BufferSection = BufferSection()
    forward: ForwardSection = ForwardSection()
    mqtt: MqttSection | None = None
    status_interval_s: float = Field(5.0, gt=0, le=3600)
    devices: list[EdgeDevice] = Field(min_length=1)

    @field_validator("devices")
    @classmethod
    def _unique_names(cls, devices: list[EdgeDevice]) -> list[EdgeDevice]:
        """Refuse two devices with one name (the buffer keys readings by it)."""
        names = [d.name for d in devices]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"device names used twice: {', '.join(duplicates)}")
        return devices

    @model_validator(mode="after")
    def _broker_for_mqtt(self) -> Self:
        """Require the ``mqtt`` section when a device reads from the local broker."""
        if self.mqtt is None and any(d.mqtt_topic for d in self.devices):
            raise ValueError("devices with mqtt_topic need an mqtt section (the local broker)")
        return self


def load_edge_config(path: Path) -> EdgeConfig:
    """Read an edge configuration from a TOML, JSON or YAML file; raise ValueError when it is not one."""
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    document: Any
    if suffix == ".toml":
        document = tomllib.loads(text)
    elif suffix == ".json":
        document = json.loads(text)
    elif suffix in {".yaml", ".yml"}:
        import yaml  # noqa: PLC0415 -- PyYAML is needed only for YAML files

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from None
    else:
        raise ValueError(f"{path}: use a .toml, .json, .yaml or .yml file")
    return EdgeConfig.model_validate(document)
