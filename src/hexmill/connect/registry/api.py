"""REST API of the device registry: provisioning, credentials, field mappings and dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from hexmill.connect.http.api import forget_device
from hexmill.connect.registry import service
from hexmill.connect.registry.filters import DEAD_LETTER_FILTERS, DEVICE_FILTERS
from hexmill.connect.registry.schemas import (
    DeadLetterRead,
    DeviceCreate,
    DeviceCreated,
    DeviceRead,
    DeviceUpdate,
    FieldMappingRead,
    FieldMapRead,
    FieldMapUpdate,
)
from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.errors import FieldError, InvalidInput
from hexmill.core.i18n import N_
from hexmill.core.pagination import Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset

router = APIRouter()
TAG = "devices"


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see devices (checked before the input)."""
    ctx.require(service.VIEW)
    return ctx


def manager(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may provision devices (checked before the input)."""
    ctx.require(service.MANAGE)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Manager = Annotated[Context, Depends(manager)]
DeviceFilters = Annotated[dict[str, Any], Depends(DEVICE_FILTERS.dependency())]
DeadLetterFilters = Annotated[dict[str, Any], Depends(DEAD_LETTER_FILTERS.dependency())]


@router.get("/devices", response_model=Page[DeviceRead], tags=[TAG])
def list_devices(
    db: DbSession, ctx: Viewer, filters: DeviceFilters, offset: Offset = 0, limit: Limit = 50
) -> Page[DeviceRead]:
    """List the enterprise's devices with their connection state and counters."""
    rows, total = service.list_devices(db, ctx, filters=filters, offset=offset, limit=limit)
    return Page[DeviceRead](items=[DeviceRead.of(r) for r in rows], total=total, offset=offset, limit=limit)


@router.post("/devices", response_model=DeviceCreated, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_device(body: DeviceCreate, db: DbSession, ctx: Manager) -> DeviceCreated:
    """Provision a device for a piece of equipment.

    The answer holds the device's secret and a ready ``token`` (``<client_id>:<secret>``, the value
    of the ``X-Device-Token`` header of HTTP ingest and the MQTT username and password); neither is
    shown again. Rotate the secret to get a new one.
    """
    device, secret = service.create_device(db, ctx, **body.model_dump())
    return DeviceCreated.with_secret(device, secret)


@router.get("/devices/{device_id}", response_model=DeviceRead, tags=[TAG])
def get_device(device_id: ObjectId, db: DbSession, ctx: Viewer) -> DeviceRead:
    """Return one device (never its secret)."""
    return DeviceRead.of(service.get_device(db, ctx, device_id))


@router.patch("/devices/{device_id}", response_model=DeviceRead, tags=[TAG])
def update_device(device_id: ObjectId, body: DeviceUpdate, db: DbSession, ctx: Manager, request: Request) -> DeviceRead:
    """Change a device's name, equipment, protocol, configuration or switches."""
    device = service.update_device(db, ctx, device_id, **body.model_dump(exclude_unset=True))
    forget_device(request.app, device.id, device.client_id)
    return DeviceRead.of(device)


@router.delete("/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_device(device_id: ObjectId, db: DbSession, ctx: Manager, request: Request) -> Response:
    """Delete a device; the data it sent stays with the equipment's tags."""
    client_id = service.get_device(db, ctx, device_id).client_id
    service.delete_device(db, ctx, device_id)
    forget_device(request.app, device_id, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/devices/{device_id}/rotate-secret", response_model=DeviceCreated, tags=[TAG])
def rotate_device_secret(device_id: ObjectId, db: DbSession, ctx: Manager, request: Request) -> DeviceCreated:
    """Give a device a new secret; the old one stops working. The new secret is shown once."""
    device, secret = service.rotate_device_secret(db, ctx, device_id)
    forget_device(request.app, device.id, device.client_id)
    return DeviceCreated.with_secret(device, secret)


@router.post("/devices/{device_id}/revoke", response_model=DeviceRead, tags=[TAG])
def revoke_device(device_id: ObjectId, db: DbSession, ctx: Manager, request: Request) -> DeviceRead:
    """Revoke a device's credentials: it is refused until its secret is rotated."""
    device = service.revoke_device(db, ctx, device_id)
    forget_device(request.app, device.id, device.client_id)
    return DeviceRead.of(device)


@router.get("/devices/{device_id}/fields", response_model=FieldMapRead, tags=[TAG])
def list_device_fields(device_id: ObjectId, db: DbSession, ctx: Viewer) -> FieldMapRead:
    """Return the device's field → tag mappings (fields named like a tag need none)."""
    rows = service.list_device_fields(db, ctx, device_id)
    return FieldMapRead(device_id=device_id, fields=[FieldMappingRead.model_validate(r) for r in rows])


@router.put("/devices/{device_id}/fields", response_model=FieldMapRead, tags=[TAG])
def set_device_fields(
    device_id: ObjectId, body: FieldMapUpdate, db: DbSession, ctx: Manager, request: Request
) -> FieldMapRead:
    """Replace the device's field → tag mappings; every tag must be one of the device's equipment."""
    mapping: dict[str, int] = {}
    for index, item in enumerate(body.fields):
        if item.field in mapping:
            message = N_("The field %(name)s is mapped twice.")
            field = f"fields.{index}.field"
            raise InvalidInput(
                message,
                field=field,
                errors=[FieldError(message, field=field, params={"name": item.field})],
                name=item.field,
            )
        mapping[item.field] = item.tag_id
    rows = service.set_device_fields(db, ctx, device_id, mapping)
    forget_device(request.app, device_id, None)
    return FieldMapRead(device_id=device_id, fields=[FieldMappingRead.model_validate(r) for r in rows])


@router.get("/dead-letters", response_model=Page[DeadLetterRead], tags=[TAG])
def list_dead_letters(
    db: DbSession, ctx: Viewer, filters: DeadLetterFilters, offset: Offset = 0, limit: Limit = 50
) -> Page[DeadLetterRead]:
    """List records devices sent that were refused, newest first, each with where and why."""
    rows, total = service.list_dead_letters(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(DeadLetterRead, rows, total, offset, limit)
