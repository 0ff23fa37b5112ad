"""Fixtures of the OPC UA connector tests: asyncua's server in-process, node-opcua as a child process.

node-opcua comes from the npm registry (``npm ci`` into ``node_server/`` on first use). Under CI
it is required, so a missing npm fails the run instead of skipping silently.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.brokers import free_port
from tests.connect.opcua.servers import NodeOpcUaServer, UaServer, ensure_node_modules, npm_available


@pytest.fixture(scope="module")
async def shared_ua_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UaServer]:
    """One asyncua server without security for the module (building its address space takes seconds)."""
    server = UaServer(free_port(), tmp_path_factory.mktemp("ua-server"))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def secure_ua_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UaServer]:
    """One asyncua server offering only Basic256Sha256 Sign / SignAndEncrypt and a password login."""
    server = UaServer(free_port(), tmp_path_factory.mktemp("ua-secure-server"), secure=True)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ua_server(shared_ua_server: UaServer) -> UaServer:
    """The shared plain server, its variables back at their initial values."""
    await shared_ua_server.reset()
    return shared_ua_server


@pytest.fixture(scope="module")
def node_opcua_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeOpcUaServer]:
    """One node-opcua server for the module, its packages installed from the npm registry if missing."""
    if not npm_available():
        if os.environ.get("CI"):
            pytest.fail("npm/node not found: CI must run the node-opcua interoperability tests")
        pytest.skip("npm/node not found: no node-opcua server for this run")
    try:
        ensure_node_modules()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"npm could not install node-opcua: {exc.stderr.decode(errors='replace')[-2000:]}")
    server = NodeOpcUaServer(free_port(), tmp_path_factory.mktemp("node-opcua"))
    server.start()
    yield server
    server.stop()
