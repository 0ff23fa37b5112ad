"""A small plant built through the API for connect and telemetry tests: one machine, its tags, a device."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v1"
PROBLEM = "application/problem+json"
TAGS = {
    "speed": {"unit": "rpm", "data_type": "float"},
    "temp": {"unit": "degC", "data_type": "float"},
    "door": {"unit": "", "data_type": "boolean"},
    "program": {"unit": "", "data_type": "string"},
}


@dataclass
class Plant:
    """One enterprise's machine with tags, and an HTTP device bound to it."""

    actor: Any
    equipment: int
    tags: dict[str, int]
    device: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        """Return the headers of the enterprise's admin."""
        headers: dict[str, str] = self.actor.headers
        return headers

    @property
    def token(self) -> dict[str, str]:
        """Return the device's token header."""
        return {"X-Device-Token": self.device["token"]}


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` and return the created object (asserting 201)."""
    response = client.post(f"{API}/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def make_plant(client: TestClient, actor: Any, *, protocol: str = "http") -> Plant:
    """Build site → area → line → machine with the TAGS and provision one device for it."""
    h = actor.headers
    site = post(client, h, "sites", {"name": "Plant"})["id"]
    area = post(client, h, "areas", {"site_id": site, "name": "Hall"})["id"]
    line = post(client, h, "lines", {"area_id": area, "name": "Line"})["id"]
    equipment = post(client, h, "equipment", {"line_id": line, "name": "M-01"})["id"]
    tags = {
        name: post(client, h, "tags", {"equipment_id": equipment, "name": name, **spec})["id"]
        for name, spec in TAGS.items()
    }
    device = post(client, h, "devices", {"name": "gateway", "equipment_id": equipment, "protocol": protocol})
    return Plant(actor=actor, equipment=equipment, tags=tags, device=device)


@pytest.fixture
def plant_factory(client: TestClient, actor_factory: Callable[..., Any]) -> Callable[..., Plant]:
    """Build a plant for a new tenant admin (in a new enterprise unless one is given)."""

    def make(**actor_kwargs: Any) -> Plant:
        return make_plant(client, actor_factory("tenant_admin", **actor_kwargs))

    return make


@pytest.fixture
def plant(plant_factory: Callable[..., Plant]) -> Plant:
    """Return a plant in a fresh enterprise."""
    return plant_factory()
