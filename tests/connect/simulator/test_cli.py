"""``hexmill simulate``: help, a short run, refused options, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from hexmill.cli import app
from tests.brokers import free_port, wait_for_port


def test_simulate_has_help() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--opcua-port", "--modbus-port", "--mqtt-device", "--sparkplug-group", "--seed", "--duration"):
        assert option in result.output


def test_simulate_runs_for_its_duration() -> None:
    port = free_port()
    args = ["simulate", "--opcua-port", "0", "--modbus-port", str(port), "--duration", "0.3", "--step-ms", "100"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"127.0.0.1:{port}, unit ids 1-4" in result.output


def test_simulate_refuses_unknown_devices_and_bad_configs(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["simulate", "--mqtt-device", "lathe-9:pw", "--duration", "0"])
    assert unknown.exit_code == 2
    assert "lathe-9" in unknown.output
    no_secret = runner.invoke(app, ["simulate", "--mqtt-device", "cnc-1", "--duration", "0"])
    assert no_secret.exit_code == 2
    assert "ID:SECRET" in no_secret.output
    config = tmp_path / "mqtt.json"
    config.write_text(json.dumps({"devices": ["cnc-1"]}))
    bad = runner.invoke(app, ["simulate", "--mqtt-config", str(config), "--duration", "0"])
    assert bad.exit_code == 2
    half = runner.invoke(app, ["simulate", "--sparkplug-group", "plant", "--duration", "0"])
    assert half.exit_code == 2


def test_simulate_stops_cleanly_on_sigterm() -> None:
    port = free_port()
    command = [sys.executable, "-c", "from hexmill.cli import main; main()", "simulate", "--opcua-port", "0"]
    process = subprocess.Popen(  # noqa: S603 -- our own CLI
        [*command, "--modbus-port", str(port), "--step-ms", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, timeout=30)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "simulator stopped" in output
