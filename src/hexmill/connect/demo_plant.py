"""The demo's connected cell: simulated machines provisioned as devices, and the all-in-one run.

``make demo`` seeds, for the machining enterprise, one line whose equipment is the simulator's
plant (two machining centres read over OPC UA, the moulding machine over Modbus TCP, the
packaging line publishing MQTT JSON to the embedded broker), then runs the broker, the
simulator, the pollers and the web server in one process, so the console shows live data from
real protocol round trips rather than from a generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.assets.service import TagSpec
from hexmill.connect.registry import service as registry
from hexmill.core.config import Settings
from hexmill.core.context import Context

OPCUA_MACHINES = ("cnc-1", "cnc-2")
MQTT_MACHINES = ("pack-1",)
#: Where the demo keeps the secrets of its MQTT devices, so the simulator can log in with them.
SECRETS_FILE = "demo-devices.json"


@dataclass(frozen=True, slots=True)
class DemoPorts:
    """Where the demo's simulator serves OPC UA and Modbus TCP (loopback only)."""

    opcua: int = 48400
    modbus: int = 15020
    mqtt: int = 18830


def seed_connected_cell(session: Session, ctx: Context, *, site_id: int, ports: DemoPorts, data_dir: Path) -> int:
    """Create the connected cell's equipment, tags and devices; return how many devices were made.

    The MQTT devices' secrets are written to ``data_dir/demo-devices.json`` (readable by the
    owner only): the simulator publishes as those devices.
    """
    from hexmill.connect.simulator.opcua_server import node_id  # noqa: PLC0415 - the simulator loads with the demo
    from hexmill.connect.simulator.plant import DEFAULT_LAYOUT  # noqa: PLC0415 - as above
    from hexmill.connect.simulator.registers import modbus_device_configs  # noqa: PLC0415 - as above

    area = assets.create_area(session, ctx, site_id=site_id, name="Connected cell")
    line = assets.create_line(session, ctx, area_id=area.id, name="Simulated plant", kind="line")
    modbus = modbus_device_configs(DEFAULT_LAYOUT, port=ports.modbus)
    secrets: dict[str, str] = {}
    made = 0
    for spec in DEFAULT_LAYOUT:
        tags = [TagSpec(f.name, unit=f.unit, data_type=f.data_type, description=f.description) for f in spec.fields]
        equipment = assets.create_equipment(session, ctx, line_id=line.id, name=spec.name, tags=tags)
        config: dict[str, Any]
        client_id = None
        if spec.machine_id in MQTT_MACHINES:
            protocol, config, client_id = "mqtt", {}, spec.machine_id
        elif spec.machine_id in OPCUA_MACHINES:
            protocol = "opcua"
            config = {
                "endpoint": f"opc.tcp://127.0.0.1:{ports.opcua}/hexmill/simulator",
                "mode": "subscription",
                "nodes": [{"node_id": node_id(spec.machine_id, f.name), "field": f.name} for f in spec.fields],
            }
        else:
            protocol = "modbus"
            config = modbus[spec.machine_id]
        _device, secret = registry.create_device(
            session,
            ctx,
            name=f"{spec.machine_id} ({protocol})",
            protocol=protocol,
            equipment_id=equipment.id,
            config=config,
            description=f"Simulated {spec.kind} read over {protocol}",
            client_id=client_id,
        )
        if client_id is not None:
            secrets[client_id] = secret
        made += 1
    path = data_dir / SECRETS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(secrets))
    return made


def demo_device_secrets(data_dir: Path) -> dict[str, str]:
    """Return the demo's MQTT device secrets by client id (empty before the demo is seeded)."""
    path = data_dir / SECRETS_FILE
    return dict(json.loads(path.read_text())) if path.exists() else {}


async def start_plant(
    settings: Settings,
    sessions: sessionmaker[Session],
    store: Any,
    *,
    ports: DemoPorts,
    seed: int = 0,
    step_ms: int = 1000,
) -> list[asyncio.Task[None]]:
    """Start the embedded broker, the simulator and the pollers; return their tasks (cancel to stop)."""
    from hexmill.connect.mqtt.runner import run_broker  # noqa: PLC0415 - only the all-in-one process runs these
    from hexmill.connect.runner import ConnectRunner  # noqa: PLC0415 - as above
    from hexmill.connect.simulator.runner import SimulatorOptions, run_simulator  # noqa: PLC0415 - as above

    stop, listening = asyncio.Event(), asyncio.Event()
    broker = asyncio.create_task(run_broker(settings, port=ports.mqtt, stop=stop, started=listening), name="broker")
    await asyncio.wait_for(listening.wait(), 60)
    options = SimulatorOptions(
        seed=seed,
        step_ms=step_ms,
        opcua_port=ports.opcua,
        modbus_port=ports.modbus,
        mqtt_port=ports.mqtt,
        mqtt_devices=demo_device_secrets(settings.data_dir),
    )
    started = asyncio.Event()
    simulator = asyncio.create_task(run_simulator(options, started=started), name="simulator")
    await started.wait()
    pollers = asyncio.create_task(ConnectRunner(sessions, store, reload_s=15).run(), name="pollers")
    return [pollers, simulator, broker]


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the plant's tasks, newest first, and wait for each to end."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_all_in_one(
    app: Any, settings: Settings, sessions: sessionmaker[Session], store: Any, *, host: str, port: int, ports: DemoPorts
) -> None:
    """Serve the console and API beside the broker, the simulator and the pollers until interrupted."""
    import uvicorn  # noqa: PLC0415 - only the all-in-one process serves from here

    tasks = await start_plant(settings, sessions, store, ports=ports)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    try:
        await server.serve()
    finally:
        await stop_tasks(tasks)
