"""API shapes of the device registry: devices, their credentials, field mappings and dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from hexmill.core.schemas import Input, Output

_ONE_LINE = r"^[^\x00-\x1f\x7f\ufffe\uffff]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_ONE_LINE)]
Description = Annotated[str, StringConstraints(max_length=2000, pattern=_TEXT)]
RefId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Protocol = Literal["mqtt", "sparkplug", "opcua", "modbus", "http"]
Config = Annotated[dict[str, Any], Field(description="Protocol settings (address, port, poll interval, ...).")]


class DeviceCreate(Input):
    name: Name
    equipment_id: RefId = Field(description="The equipment whose tags the device's values feed.")
    protocol: Protocol
    config: Config = Field(default_factory=dict)
    description: Description = ""
    auto_tags: bool = Field(default=False, description="Create a tag for every field the device sends unmapped.")


class DeviceUpdate(Input):
    name: Name | None = None
    equipment_id: RefId | None = None
    protocol: Protocol | None = None
    config: Config | None = None
    description: Description | None = None
    enabled: bool | None = None
    auto_tags: bool | None = None


class DeviceRead(Output):
    id: int
    name: str
    client_id: str = Field(description="The device's public name on the wire (MQTT client id, token prefix).")
    protocol: str
    equipment_id: int
    config: dict[str, Any]
    description: str
    enabled: bool
    auto_tags: bool
    has_secret: bool = Field(description="False once the credentials are revoked.")
    secret_set_at: datetime | None
    revoked_at: datetime | None
    link_state: str
    link_reason: str
    last_seen_at: datetime | None
    points_accepted: int
    records_rejected: int
    created_at: datetime

    @classmethod
    def of(cls, device: Any) -> DeviceRead:
        """Return the API form of a device (never its secret hash)."""
        return cls.model_validate({**_columns(device), "has_secret": device.secret_hash is not None})


class DeviceCreated(DeviceRead):
    secret: str = Field(description="The device secret; shown in this answer only.")
    token: str = Field(description="Ready to use as X-Device-Token: <client_id>:<secret>; shown once.")

    @classmethod
    def with_secret(cls, device: Any, secret: str) -> DeviceCreated:
        """Return a device with its new secret and token, for the one answer that shows them."""
        base = DeviceRead.of(device).model_dump()
        return cls.model_validate({**base, "secret": secret, "token": f"{device.client_id}:{secret}"})


class FieldMapping(Input):
    field: FieldName = Field(description="The device's name of the value (JSON key, register or node name).")
    tag_id: RefId = Field(description="A tag of the device's equipment.")


class FieldMapUpdate(Input):
    fields: Annotated[list[FieldMapping], Field(max_length=1000)]


class FieldMappingRead(Output):
    field: str
    tag_id: int


class FieldMapRead(Output):
    device_id: int
    fields: list[FieldMappingRead]


class DeadLetterRead(Output):
    id: int
    device_id: int | None
    channel: str
    received_at: datetime
    location: str
    reason: str
    payload: str


def _columns(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key != "secret_hash"}
