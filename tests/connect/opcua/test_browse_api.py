"""The OPC UA node picker through the API: browse a device's server, refused for others."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.brokers import free_port, wait_for_port
from tests.conftest import Actor


@pytest.fixture(scope="module")
def simulator() -> Iterator[int]:
    """Run ``hexmill simulate`` with only its OPC UA server, as a separate process."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("hexmill")), "simulate", "--opcua-port", str(port)]
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [*command, "--modbus-port", "0", "--duration", "300"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _device(client: TestClient, actor: Actor, equipment_id: int, port: int) -> int:
    body = {
        "name": "cnc over opc ua",
        "protocol": "opcua",
        "equipment_id": equipment_id,
        "config": {"endpoint": f"opc.tcp://127.0.0.1:{port}/hexmill/simulator", "nodes": []},
    }
    created = client.post("/api/v1/devices", json=body, headers=actor.headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _equipment(client: TestClient, actor: Actor) -> int:
    site = client.post("/api/v1/sites", json={"name": "s"}, headers=actor.headers).json()["id"]
    area = client.post("/api/v1/areas", json={"name": "a", "site_id": site}, headers=actor.headers).json()["id"]
    line = client.post("/api/v1/lines", json={"name": "l", "area_id": area}, headers=actor.headers).json()["id"]
    eq = client.post("/api/v1/equipment", json={"name": "cnc", "line_id": line}, headers=actor.headers)
    assert eq.status_code == 201, eq.text
    return int(eq.json()["id"])


def test_browse_lists_machines_then_their_variables(
    client: TestClient, actor_factory: Callable[..., Actor], simulator: int
) -> None:
    admin = actor_factory()
    device = _device(client, admin, _equipment(client, admin), simulator)
    top = client.get(f"/api/v1/devices/{device}/opcua/browse", headers=admin.headers)
    assert top.status_code == 200, top.text
    cnc = next(n for n in top.json() if n["node_id"] == "ns=2;s=cnc-1")
    assert cnc["has_children"]
    below = client.get(
        f"/api/v1/devices/{device}/opcua/browse", params={"node_id": cnc["node_id"]}, headers=admin.headers
    )
    assert below.status_code == 200, below.text
    variables = {n["node_id"]: n for n in below.json()}
    assert variables["ns=2;s=cnc-1.spindle_speed"]["node_class"] == "Variable"
    bad = client.get(f"/api/v1/devices/{device}/opcua/browse", params={"node_id": "ns=x;q"}, headers=admin.headers)
    assert bad.status_code == 422
    assert bad.json()["field"] == "node_id"


def test_browse_needs_manage_and_stays_in_the_tenant(
    client: TestClient, actor_factory: Callable[..., Actor], simulator: int
) -> None:
    admin = actor_factory()
    device = _device(client, admin, _equipment(client, admin), simulator)
    viewer = actor_factory("viewer", admin.tenant)
    assert client.get(f"/api/v1/devices/{device}/opcua/browse", headers=viewer.headers).status_code == 403
    stranger = actor_factory()
    assert client.get(f"/api/v1/devices/{device}/opcua/browse", headers=stranger.headers).status_code == 404
