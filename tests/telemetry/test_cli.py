"""The ``hexmill device`` and ``hexmill telemetry`` commands end to end on a fresh SQLite database."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hexmill.app import create_app
from hexmill.cli import app
from hexmill.core.config import get_settings
from hexmill.telemetry.service import close_stores

TOKEN = re.compile(r"^token:\s+(\S+)$", re.MULTILINE)


@pytest.fixture
def runner(tmp_path, monkeypatch) -> Iterator[CliRunner]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEXMILL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HEXMILL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    close_stores()
    get_settings.cache_clear()


def _ok(runner: CliRunner, *words: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(words), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    "words",
    [
        ["device"],
        ["device", "create"],
        ["device", "list"],
        ["device", "rotate"],
        ["device", "revoke"],
        ["telemetry"],
        ["telemetry", "retention"],
        ["telemetry", "enforce-retention"],
    ],
    ids=" ".join,
)
def test_every_command_has_help(runner: CliRunner, words: list[str]) -> None:
    assert "Usage" in _ok(runner, *words, "--help")


def test_device_lifecycle_and_retention(runner: CliRunner) -> None:
    _ok(runner, "db", "upgrade")
    _ok(runner, "admin", "create-tenant", "Acme Gears")
    _ok(
        runner,
        "admin",
        "create-user",
        "wang",
        "--tenant",
        "1",
        "--role",
        "tenant_admin",
        stdin="a long enough password\n",
    )
    secret = _ok(runner, "admin", "create-token", "wang", "--tenant", "1").strip()
    h = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(get_settings())) as client:
        site = client.post("/api/v1/sites", json={"name": "S"}, headers=h).json()["id"]
        area = client.post("/api/v1/areas", json={"site_id": site, "name": "A"}, headers=h).json()["id"]
        line = client.post("/api/v1/lines", json={"area_id": area, "name": "L"}, headers=h).json()["id"]
        machine = client.post("/api/v1/equipment", json={"line_id": line, "name": "M"}, headers=h).json()["id"]
        client.post("/api/v1/tags", json={"equipment_id": machine, "name": "speed"}, headers=h)

        made = _ok(runner, "device", "create", "--tenant", "Acme Gears", "--equipment", str(machine), "--name", "gw")
        token = TOKEN.search(made)
        assert token
        device_token = {"X-Device-Token": token.group(1)}
        sent = client.post("/api/v1/telemetry", json={"values": {"speed": 3}}, headers=device_token)
        assert sent.json()["accepted"] == 1
        listed = _ok(runner, "device", "list", "--tenant", "1")
        assert "gw" in listed and "online" in listed

    rotated = _ok(runner, "device", "rotate", "1", "--tenant", "1")
    new_token = TOKEN.search(rotated)
    assert new_token and new_token.group(1) != token.group(1)
    # A server that cached the old credential honours it for up to ten seconds (DeviceAuthenticator);
    # a server starting afresh, as after any change made in another process, checks the database.
    with TestClient(create_app(get_settings())) as client:
        assert client.post("/api/v1/telemetry", json={"values": {"speed": 4}}, headers=device_token).status_code == 401
        fresh = {"X-Device-Token": new_token.group(1)}
        assert client.post("/api/v1/telemetry", json={"values": {"speed": 4}}, headers=fresh).status_code == 200
        assert "revoked gw" in _ok(runner, "device", "revoke", "1", "--tenant", "1")
        assert "revoked" in _ok(runner, "device", "list", "--tenant", "1")

    assert "raw: 90 days" in _ok(runner, "telemetry", "retention", "--tenant", "1")
    changed = _ok(
        runner,
        "telemetry",
        "retention",
        "--tenant",
        "1",
        "--raw-days",
        "7",
        "--minute-days",
        "30",
        "--hour-days",
        "365",
    )
    assert "raw: 7 days, 1m: 30 days, 1h: 365 days" in changed
    bad = runner.invoke(app, ["telemetry", "retention", "--tenant", "1", "--raw-days", "7"])
    assert bad.exit_code == 2
    refused = runner.invoke(
        app, ["telemetry", "retention", "--tenant", "1", "--raw-days", "30", "--minute-days", "7", "--hour-days", "365"]
    )
    assert refused.exit_code == 1
    assert "dropped 0 chunks across 1 enterprises" in _ok(runner, "telemetry", "enforce-retention")
    missing = runner.invoke(app, ["device", "list", "--tenant", "Nobody"])
    assert missing.exit_code == 1
