"""Validated settings of the MQTT ingest service, and a real connection test."""

from __future__ import annotations

import re
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hexmill.connect.base import ConnectionFailed
from hexmill.connect.limits import IngestLimits
from hexmill.connect.mqtt.client import MqttClientError, probe
from hexmill.core.i18n import N_

#: The topic devices publish JSON telemetry to; ``{client_id}`` is the device's registry client id.
TELEMETRY_TOPIC: Final = "hexmill/v1/{client_id}/telemetry"
#: The filter every ingest worker subscribes to (inside its shared-subscription group).
TELEMETRY_FILTER: Final = "hexmill/v1/+/telemetry"
_LEVEL = re.compile(r"^[^/+#\x00]+$")


def telemetry_topic(client_id: str) -> str:
    """Return the telemetry topic of the device named ``client_id``."""
    return TELEMETRY_TOPIC.format(client_id=client_id)


def topic_client_id(topic: str) -> str | None:
    """Return the client id in a telemetry topic, or None when the topic is not one."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "hexmill" or parts[1] != "v1" or parts[3] != "telemetry":
        return None
    return parts[2] if _LEVEL.match(parts[2]) else None


class IngestConfig(BaseModel):
    """Settings of one ingest worker: which broker, who it is, how it batches, what it admits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", min_length=1, max_length=253, description="MQTT broker host name or address.")
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = Field("hexmill-ingest", max_length=200)
    password: SecretStr | None = None
    client_id: str = Field(
        "hexmill-ingest-0",
        min_length=1,
        max_length=200,
        description="MQTT client id; keep it stable across restarts so the broker redelivers unacknowledged messages.",
    )
    group: str = Field("hexmill-ingest", min_length=1, max_length=100, description="Shared-subscription group.")
    qos: Literal[1] = 1
    session_expiry_s: int = Field(
        86_400, ge=60, description="How long the broker keeps the session (and its unacknowledged messages) offline."
    )
    batch_max_messages: int = Field(500, ge=1, le=10_000)
    batch_max_wait_ms: int = Field(50, ge=0, le=10_000)
    counters_interval_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="How often the device counters (points accepted, last seen) are written; they lag by up to this.",
    )
    keepalive_s: int = Field(30, ge=5, le=3600)
    connect_timeout_s: float = Field(10.0, gt=0, le=120)
    device_messages_per_s: float = Field(200.0, ge=0, description="0 turns the per-device rate cap off.")
    tenant_messages_per_s: float = Field(20_000.0, ge=0, description="0 turns the per-enterprise rate cap off.")
    max_payload_bytes: int = Field(1_048_576, ge=64)
    max_points_per_message: int = Field(10_000, ge=1)

    @field_validator("client_id", "group")
    @classmethod
    def _one_level(cls, value: str) -> str:
        """Refuse ids that cannot stand as one topic level (``/``, ``+``, ``#``)."""
        if not _LEVEL.match(value):
            raise ValueError("must not contain '/', '+' or '#'")
        return value

    @property
    def subscription(self) -> str:
        """Return the shared-subscription filter of this worker's group."""
        return f"$share/{self.group}/{TELEMETRY_FILTER}"

    @property
    def receive_maximum(self) -> int:
        """Return how many unacknowledged messages the broker may send: two batches, so one fills while one commits."""
        return min(65_535, 2 * self.batch_max_messages)

    @property
    def limits(self) -> IngestLimits:
        """Return the admission limits as the shared rate limiter takes them."""
        return IngestLimits(
            device_messages_per_s=self.device_messages_per_s,
            tenant_messages_per_s=self.tenant_messages_per_s,
            max_payload_bytes=self.max_payload_bytes,
            max_points_per_message=self.max_points_per_message,
        )


def test_connection(config: IngestConfig) -> None:
    """Connect to the broker with the worker's settings and disconnect; raise ``ConnectionFailed`` if refused."""
    try:
        probe(config)
    except MqttClientError as exc:
        raise ConnectionFailed(
            N_("Cannot connect to the MQTT server at %(host)s:%(port)s: %(reason)s"),
            field="host",
            host=config.host,
            port=config.port,
            reason=str(exc),
        ) from exc


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
