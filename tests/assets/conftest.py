"""Fixtures of the asset tests: a small hierarchy built through the API in a fresh enterprise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v1"


@dataclass
class World:
    """One enterprise's hierarchy: a site, area, work centre, type with a template, machine and tag."""

    actor: Any
    ids: dict[str, int]

    @property
    def headers(self) -> dict[str, str]:
        """Return the headers of the enterprise's admin."""
        headers: dict[str, str] = self.actor.headers
        return headers


def _post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> int:
    response = client.post(f"{API}/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    ident: int = response.json()["id"]
    return ident


@pytest.fixture
def world_factory(client: TestClient, actor_factory: Callable[..., Any]) -> Callable[..., World]:
    """Build a hierarchy for a new tenant admin (in a new enterprise unless one is given)."""

    def make(**actor_kwargs: Any) -> World:
        actor = actor_factory("tenant_admin", **actor_kwargs)
        h = actor.headers
        ids: dict[str, int] = {}
        ids["site"] = _post(client, h, "sites", {"name": "Suzhou plant", "description": "Main plant"})
        ids["area"] = _post(client, h, "areas", {"site_id": ids["site"], "name": "Hall 1"})
        ids["line"] = _post(client, h, "lines", {"area_id": ids["area"], "name": "Milling", "kind": "work_centre"})
        ids["equipment_type"] = _post(
            client, h, "equipment-types", {"name": "DMU 50", "manufacturer": "DMG MORI", "model": "DMU 50 3rd"}
        )
        ids["type_tag"] = _post(
            client,
            h,
            "tags",
            {"equipment_type_id": ids["equipment_type"], "name": "spindle_speed", "unit": "rpm", "data_type": "float"},
        )
        ids["equipment"] = _post(
            client,
            h,
            "equipment",
            {"line_id": ids["line"], "name": "M-01", "equipment_type_id": ids["equipment_type"], "serial_number": "S1"},
        )
        ids["tag"] = _post(
            client, h, "tags", {"equipment_id": ids["equipment"], "name": "door_open", "data_type": "boolean"}
        )
        return World(actor=actor, ids=ids)

    return make


@pytest.fixture
def world(world_factory: Callable[..., World]) -> World:
    """Return a hierarchy in a fresh enterprise."""
    return world_factory()
