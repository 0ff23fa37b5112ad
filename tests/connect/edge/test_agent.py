"""The agent in-process: local MQTT JSON into the buffer and on to a stand-in platform, with its status."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from paho.mqtt import publish

from hexmill.connect.edge.agent import EdgeAgent
from hexmill.connect.edge.config import EdgeConfig
from tests.brokers import Mosquitto
from tests.connect.edge.conftest import TOKEN
from tests.connect.edge.receiver import Receiver

pytestmark = pytest.mark.anyio


async def test_mqtt_json_is_buffered_forwarded_and_reported(
    tmp_path: Path, mosquitto: Mosquitto, receiver: Receiver
) -> None:
    config = EdgeConfig.model_validate(
        {
            "mqtt": {"port": mosquitto.port, "client_id": "edge-test"},
            "forward": {"idle_s": 0.05},
            "status_interval_s": 0.1,
            "devices": [{"name": "oven-2", "token": TOKEN, "mqtt_topic": "hexmill/v1/oven-2/telemetry"}],
        }
    )
    agent = EdgeAgent(config, tmp_path / "edge.db", receiver.url)
    task = asyncio.create_task(agent.run())
    try:
        for _ in range(400):
            if agent.sources["oven-2"]["state"] == "online":
                break
            await asyncio.sleep(0.05)
        payload = [
            {"ts": "2026-01-05T08:00:00.000001Z", "values": {"temp": 181.5, "door": False}},
            {"ts": "2026-01-05T08:00:01Z", "values": {"temp": 182.0}, "historical": True},
            {"ts": "not a time", "values": {"temp": 1}},
        ]
        await asyncio.to_thread(
            publish.single, "hexmill/v1/oven-2/telemetry", json.dumps(payload), qos=1, port=mosquitto.port
        )
        # The receiver holds the points before its answer reaches the agent: wait for the acknowledgement.
        for _ in range(400):
            if agent.status()["acknowledged"] == 3:
                break
            await asyncio.sleep(0.05)
        status = agent.status()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert {k[0]: p.value for k, p in receiver.points.items() if k[1] == 1767600000000001} == {
        "temp": 181.5,
        "door": False,
    }
    # A gateway's own historical flag is kept; the bad record was refused and counted, the rest went on.
    assert [p.historical for k, p in receiver.points.items() if k[1] == 1767600001000000] == [True]
    assert (status["buffered"], status["acknowledged"], status["sent"]) == (0, 3, 3)
    assert status["link"] == "up" and status["sources"]["oven-2"]["state"] == "online", status["sources"]
    assert "dropped" in status and status["oldest_age_s"] is None
