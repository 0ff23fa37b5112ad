"""The edge configuration file: formats, validation, tokens; and ``hexmill edge status`` on a buffer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hexmill.cli import app
from hexmill.connect.edge.buffer import BufferLimits, EdgeBuffer
from hexmill.connect.edge.config import load_edge_config
from hexmill.telemetry.points import Reading

TOML = """
platform_url = "http://127.0.0.1:8000"

[buffer]
max_rows = 1000

[mqtt]
host = "127.0.0.1"

[[devices]]
name = "press-1"
token = "dev-press1:secret"
[devices.modbus]
host = "127.0.0.1"
port = 5020
points = [{ field = "temp", table = "input_register", address = 0, data_type = "int16", scale = 0.1 }]

[[devices]]
name = "oven-2"
token_env = "OVEN2_TOKEN"
mqtt_topic = "hexmill/v1/oven-2/telemetry"
"""


def test_a_toml_file_configures_devices_buffer_and_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(TOML)
    monkeypatch.setenv("OVEN2_TOKEN", "dev-oven2:secret")
    config = load_edge_config(path)
    assert [(d.name, d.protocol) for d in config.devices] == [("press-1", "modbus"), ("oven-2", "mqtt")]
    assert config.buffer.limits() == BufferLimits(max_rows=1000)
    assert [d.resolved_token() for d in config.devices] == ["dev-press1:secret", "dev-oven2:secret"]
    assert "secret" not in repr(config)  # tokens are secrets


def test_json_and_yaml_say_the_same(tmp_path: Path) -> None:
    document = {"devices": [{"name": "a", "token": "x:y", "mqtt_topic": "t/a"}], "mqtt": {"port": 1884}}
    (tmp_path / "e.json").write_text(json.dumps(document))
    (tmp_path / "e.yaml").write_text("devices:\n  - {name: a, token: 'x:y', mqtt_topic: t/a}\nmqtt: {port: 1884}\n")
    assert load_edge_config(tmp_path / "e.json") == load_edge_config(tmp_path / "e.yaml")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"devices": [{"name": "a", "token": "x:y"}]}, "exactly one of modbus, opcua or mqtt_topic"),
        ({"devices": [{"name": "a", "mqtt_topic": "t"}], "mqtt": {}}, "exactly one of token or token_env"),
        ({"devices": [{"name": "a", "token": "x:y", "mqtt_topic": "t"}]}, "need an mqtt section"),
        ({"devices": [{"name": "a", "token": "x:y", "mqtt_topic": "t/#"}], "mqtt": {}}, "should match pattern"),
        (
            {"devices": [{"name": "a", "token": "x:y", "mqtt_topic": "t"}] * 2, "mqtt": {}},
            "device names used twice: a",
        ),
    ],
)
def test_bad_configurations_are_refused_with_the_reason(tmp_path: Path, document: object, message: str) -> None:
    path = tmp_path / "edge.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=message):
        load_edge_config(path)


def test_edge_without_a_config_says_so() -> None:
    result = CliRunner().invoke(app, ["edge", "--platform", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--config is required" in result.output


def test_edge_status_reports_buffer_and_overflow(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    buffer = EdgeBuffer(path, BufferLimits(max_rows=2, max_bytes=None))
    buffer.append("press-1", [Reading("temp", 1_750_000_000_000_000 + i, 1.0) for i in range(5)])
    buffer.set_status({"link": "down", "last_forward_result": "press-1: no answer: refused"})
    buffer.close()
    result = CliRunner().invoke(app, ["edge", "status", "--buffer", str(path), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert (status["buffered"], status["dropped"], status["appended"]) == (2, 3, 5)
    assert status["link"] == "down" and status["oldest_age_s"] is not None
