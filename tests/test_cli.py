"""The ``hexmill`` command: help everywhere, migrations, and the admin commands end to end."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hexmill.app import create_app
from hexmill.cli import app
from hexmill.core.config import get_settings

COMMANDS = [
    [],
    ["db"],
    ["db", "upgrade"],
    ["db", "check"],
    ["serve"],
    ["demo"],
    ["admin"],
    ["admin", "create-tenant"],
    ["admin", "create-user"],
    ["admin", "create-token"],
]


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.setenv("HEXMILL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HEXMILL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "hexmill")
def test_every_command_has_help(runner: CliRunner, words: list[str]) -> None:
    result = runner.invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_admin_commands_create_a_working_token(runner: CliRunner) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["db", "check"]).exit_code == 0
    made = runner.invoke(app, ["admin", "create-tenant", "Acme Gears", "--size-class", "small"])
    assert made.exit_code == 0, made.output
    assert "created enterprise 1: Acme Gears" in made.output
    user = runner.invoke(
        app, ["admin", "create-user", "wang", "--tenant", "1", "--role", "planner"], input="a long enough password\n"
    )
    assert user.exit_code == 0, user.output
    token = runner.invoke(app, ["admin", "create-token", "wang", "--tenant", "1", "--scope", "assets.view"])
    assert token.exit_code == 0, token.output
    secret = token.output.strip()
    assert secret.startswith("hxm_")

    with TestClient(create_app(get_settings())) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.json()["permissions"] == ["assets.view"]
    assert me.json()["username"] == "wang"


def test_bad_input_is_refused_with_the_reason(runner: CliRunner) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    bad_size = runner.invoke(app, ["admin", "create-tenant", "X Co", "--size-class", "huge"])
    assert bad_size.exit_code == 2
    assert "size_class" in bad_size.output
    short = runner.invoke(app, ["admin", "create-user", "li", "--tenant", "1"], input="short\n")
    assert short.exit_code == 1
    assert "password" in short.output.lower()
    nobody = runner.invoke(app, ["admin", "create-token", "ghost", "--tenant", "1"])
    assert nobody.exit_code == 1
