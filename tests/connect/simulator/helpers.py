"""Run the simulator in the background of a test, and collect what an MQTT broker relays."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hexmill.connect.simulator.runner import SimulatorOptions, StepValues, run_simulator


@dataclass
class Steps:
    """Every step the simulator made, as ``on_step`` saw it."""

    seen: list[tuple[float, StepValues]] = field(default_factory=list)

    def __call__(self, now_s: float, values: StepValues) -> None:
        self.seen.append((now_s, values))


@contextlib.asynccontextmanager
async def running(options: SimulatorOptions, steps: Steps | None = None) -> AsyncIterator[asyncio.Task[None]]:
    """Run the simulator until the block ends; enter once it has started and made its first step."""
    started = asyncio.Event()
    task = asyncio.create_task(run_simulator(options, on_step=steps, started=started))
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # raises what stopped the simulator from starting
    assert started.is_set(), "simulator did not start within a minute"
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Subscriber:
    """A paho subscriber on a topic filter that keeps every message it receives."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-subscriber-{port}")
        self.client.username_pw_set("observer", "observer-secret")
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _client, _userdata, message: self.messages.append(message)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscription not acknowledged"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
