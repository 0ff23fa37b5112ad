"""REST API of the OPC UA node picker: browse a device's server to choose the nodes to map."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from hexmill.connect.opcua.config import OpcUaConfig, browse_server
from hexmill.connect.opcua.mapping import BrowseNode
from hexmill.connect.registry import service as registry
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.errors import InvalidInput
from hexmill.core.i18n import N_
from hexmill.core.params import ObjectId

router = APIRouter(tags=["devices"])


class BrowseNodeRead(BaseModel):
    """One node of the server's address space."""

    model_config = ConfigDict(from_attributes=True)

    node_id: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str | None
    has_children: bool
    children: list[BrowseNodeRead] = []


@router.get("/devices/{device_id}/opcua/browse", response_model=list[BrowseNodeRead])
async def browse_device_server(
    device_id: ObjectId,
    db: DbSession,
    ctx: CurrentContext,
    node_id: Annotated[str | None, Query(max_length=500, description="Node to list the children of.")] = None,
    depth: Annotated[int, Query(ge=1, le=3, description="Levels to descend.")] = 1,
) -> list[BrowseNode]:
    """Browse the OPC UA server of a device (default: below the Objects folder) to pick nodes to map.

    Needs ``devices.manage``: the platform opens a connection to the device's server on the
    caller's behalf, with the device's stored settings and credentials.
    """
    ctx.require(registry.MANAGE)
    device = registry.get_device(db, ctx, device_id)
    if device.protocol != "opcua":
        raise InvalidInput(N_("Only OPC UA devices have a server to browse."), field="device_id")
    return await browse_server(OpcUaConfig.model_validate(device.config), node_id, depth=depth)
