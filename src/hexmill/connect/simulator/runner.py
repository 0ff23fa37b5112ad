"""Run the plant simulator: one plant stepped on a fixed tick, fanned out to the chosen exposures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hexmill.connect.simulator.plant import DEFAULT_LAYOUT, MachineSpec, Plant
from hexmill.telemetry.points import Value

log = logging.getLogger(__name__)

#: One plant step: every machine's values by machine id.
StepValues = Mapping[str, Mapping[str, Value]]


class Exposure(Protocol):
    """A way the simulator shows the plant to the outside: a server or a publisher."""

    async def start(self) -> None:
        """Start serving or connect."""

    async def publish(self, now_s: float, values: StepValues) -> None:
        """Show one plant step."""

    async def stop(self) -> None:
        """Stop serving or disconnect, cleanly."""


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """What to simulate and how to expose it; a port of ``None`` leaves that exposure out.

    MQTT JSON runs when ``mqtt_devices`` (device id, which must be a machine id -> password) is not
    empty; Sparkplug B runs when both ``sparkplug_group`` and ``sparkplug_node`` are set (it logs in
    with ``sparkplug_username``/``sparkplug_password`` when given, and its devices are the machines
    named in ``sparkplug_machines``, or every machine when that is ``None``). ``duration_s`` stops
    the run after that long (tests); ``None`` runs until cancelled.
    """

    seed: int = 0
    step_ms: int = 1000
    duration_s: float | None = None
    layout: tuple[MachineSpec, ...] = DEFAULT_LAYOUT
    host: str = "127.0.0.1"
    opcua_port: int | None = None
    modbus_port: int | None = None
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_devices: Mapping[str, str] = field(default_factory=dict)
    sparkplug_group: str | None = None
    sparkplug_node: str | None = None
    sparkplug_username: str | None = None
    sparkplug_password: str | None = None
    sparkplug_machines: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.step_ms <= 0:
            raise ValueError("step_ms must be positive")
        if (self.sparkplug_group is None) != (self.sparkplug_node is None):
            raise ValueError("Sparkplug needs both a group id and an edge node id")
        machine_ids = {machine.machine_id for machine in self.layout}
        unknown = sorted(set(self.mqtt_devices) - machine_ids)
        if unknown:
            raise ValueError(f"MQTT devices are not machines of the plant: {', '.join(unknown)}")
        unknown = sorted(set(self.sparkplug_machines or ()) - machine_ids)
        if unknown:
            raise ValueError(f"Sparkplug devices are not machines of the plant: {', '.join(unknown)}")


def build_exposures(options: SimulatorOptions) -> list[Exposure]:
    """Return the exposures the options ask for, not started yet."""
    exposures: list[Exposure] = []
    if options.opcua_port is not None:
        from hexmill.connect.simulator.opcua_server import OpcUaExposure  # noqa: PLC0415 -- heavy, optional

        exposures.append(OpcUaExposure(options.layout, host=options.host, port=options.opcua_port))
    if options.modbus_port is not None:
        from hexmill.connect.simulator.modbus_server import ModbusExposure  # noqa: PLC0415 -- optional

        exposures.append(ModbusExposure(options.layout, host=options.host, port=options.modbus_port))
    if options.mqtt_devices:
        from hexmill.connect.simulator.mqtt_publisher import MqttJsonPublisher  # noqa: PLC0415 -- optional

        exposures.append(MqttJsonPublisher(options.mqtt_devices, host=options.mqtt_host, port=options.mqtt_port))
    if options.sparkplug_group is not None and options.sparkplug_node is not None:
        wanted = options.sparkplug_machines
        from hexmill.connect.simulator.sparkplug_publisher import SparkplugPublisher  # noqa: PLC0415 -- optional

        exposures.append(
            SparkplugPublisher(
                [m for m in options.layout if wanted is None or m.machine_id in wanted],
                group_id=options.sparkplug_group,
                node_id=options.sparkplug_node,
                host=options.mqtt_host,
                port=options.mqtt_port,
                username=options.sparkplug_username,
                password=options.sparkplug_password,
            )
        )
    return exposures


async def run_simulator(
    options: SimulatorOptions,
    *,
    clock: Callable[[], float] = time.time,
    on_step: Callable[[float, StepValues], None] | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Run the plant and its exposures until ``options.duration_s`` passes or the task is cancelled.

    Args:
        options: the plant, its seed and tick, and the exposures to run.
        clock: the wall clock the plant is stepped with (epoch seconds); the tick itself follows
            the event loop's monotonic clock.
        on_step: called with each step's time and values, e.g. to feed an in-process consumer.
        started: set once every exposure has started and the first step is out.

    Every exposure that started is stopped again, in reverse order, however the run ends.
    """
    plant = Plant(options.layout, seed=options.seed)
    exposures = build_exposures(options)
    running: list[Exposure] = []
    loop = asyncio.get_running_loop()
    try:
        for exposure in exposures:
            await exposure.start()
            running.append(exposure)
        tick = options.step_ms / 1000
        began = loop.time()
        deadline = None if options.duration_s is None else began + options.duration_s
        steps = 0
        while True:
            now_s = clock()
            values = plant.step(now_s)
            for exposure in running:
                await exposure.publish(now_s, values)
            if on_step is not None:
                on_step(now_s, values)
            if started is not None and not started.is_set():
                started.set()
            steps += 1
            # Sleep to the next tick of a fixed grid, so slow steps do not make the series drift.
            next_tick = began + steps * tick
            if deadline is not None and next_tick > deadline:
                break
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
    finally:
        await _stop_all(running)
    log.info("simulator stopped")


async def _stop_all(running: list[Exposure]) -> None:
    """Stop exposures in reverse order; a cancellation meanwhile does not cut the others short."""
    cancelled = False
    for exposure in reversed(running):
        try:
            await asyncio.shield(exposure.stop())
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
