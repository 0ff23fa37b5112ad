"""The demo's connected cell: simulated machines provisioned as devices, and the all-in-one run.

``make demo`` seeds, for the machining enterprise, one line whose equipment is the simulator's
plant (two machining centres read over OPC UA, the moulding machine over Modbus TCP, the
packaging line publishing MQTT JSON to the embedded broker, and a second packaging line behind a
Sparkplug B edge node on that broker), then runs the broker, the simulator, the pollers, a
Sparkplug host and the web server in one process, so the console shows live data from real
protocol round trips rather than from a generator.

The Sparkplug host logs in to the embedded broker with a password made up at each start, held in
memory only; the edge node logs in as its registry device, like the MQTT JSON devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.assets.service import TagSpec
from hexmill.connect.registry import service as registry
from hexmill.core.config import Settings
from hexmill.core.context import Context

if TYPE_CHECKING:
    from hexmill.connect.simulator.plant import MachineSpec

log = logging.getLogger(__name__)

OPCUA_MACHINES = ("cnc-1", "cnc-2")
MQTT_MACHINES = ("pack-1",)
SPARKPLUG_MACHINES = ("pack-2",)
#: The Sparkplug B group and edge node the simulator publishes the Sparkplug machines under.
SPARKPLUG_GROUP = "demo-plant"
SPARKPLUG_NODE = "line-2"
#: The demo's Sparkplug Host Application id (its STATE topic and its username on the broker).
SPARKPLUG_HOST_ID = "hexmill-demo"
#: Where the demo keeps the secrets of its MQTT and Sparkplug devices, so the simulator can log in
#: with them; the format of ``hexmill simulate --devices-file``.
SECRETS_FILE = "demo-devices.json"


def demo_layout() -> tuple[MachineSpec, ...]:
    """Return the demo's plant: the simulator's default one and a second packaging line (Sparkplug)."""
    from hexmill.connect.simulator.plant import (  # noqa: PLC0415 - the simulator loads with the demo
        DEFAULT_LAYOUT,
        MachineKind,
        MachineSpec,
    )

    second_line = MachineSpec(
        "pack-2",
        MachineKind.PACKAGING,
        "Packaging line 2",
        cycle_s=1.5,
        scrap_rate=0.015,
        mtbf_s=1800.0,
        repair_s=(60.0, 240.0),
        idle_chance=0.003,
        idle_s=(20.0, 120.0),
        batch_size=1200,
        setup_s=(120.0, 300.0),
    )
    return (*DEFAULT_LAYOUT, second_line)


@dataclass(frozen=True, slots=True)
class DemoPorts:
    """Where the demo's simulator serves OPC UA and Modbus TCP (loopback only)."""

    opcua: int = 48400
    modbus: int = 15020
    mqtt: int = 18830


def seed_connected_cell(session: Session, ctx: Context, *, site_id: int, ports: DemoPorts, data_dir: Path) -> int:
    """Create the connected cell's equipment, tags and devices; return how many devices were made.

    The MQTT and Sparkplug devices' secrets are written to ``data_dir/demo-devices.json``
    (readable by the owner only): the simulator publishes as those devices.
    """
    from hexmill.connect.simulator.opcua_server import node_id  # noqa: PLC0415 - the simulator loads with the demo
    from hexmill.connect.simulator.registers import modbus_device_configs  # noqa: PLC0415 - as above

    area = assets.create_area(session, ctx, site_id=site_id, name="Connected cell")
    line = assets.create_line(session, ctx, area_id=area.id, name="Simulated plant", kind="line")
    layout = demo_layout()
    modbus = modbus_device_configs(layout, port=ports.modbus)
    mqtt_secrets: dict[str, str] = {}
    sparkplug_login: dict[str, str] = {}
    made = 0
    for spec in layout:
        tags = [TagSpec(f.name, unit=f.unit, data_type=f.data_type, description=f.description) for f in spec.fields]
        equipment = assets.create_equipment(session, ctx, line_id=line.id, name=spec.name, tags=tags)
        config: dict[str, Any]
        client_id = None
        if spec.machine_id in MQTT_MACHINES:
            protocol, config, client_id = "mqtt", {}, spec.machine_id
        elif spec.machine_id in SPARKPLUG_MACHINES:
            protocol, client_id = "sparkplug", spec.machine_id
            config = {"group_id": SPARKPLUG_GROUP, "edge_node_id": SPARKPLUG_NODE, "device_id": spec.machine_id}
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
        if protocol == "mqtt":
            mqtt_secrets[spec.machine_id] = secret
        elif protocol == "sparkplug" and not sparkplug_login:
            # Every device of the edge node names the node: the first one's credentials log the node in.
            sparkplug_login = {"username": spec.machine_id, "password": secret}
        made += 1
    path = data_dir / SECRETS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps({"devices": mqtt_secrets, "sparkplug": sparkplug_login}))
    return made


def _saved_secrets(data_dir: Path) -> dict[str, Any]:
    path = data_dir / SECRETS_FILE
    saved = json.loads(path.read_text()) if path.exists() else {}
    # A demo seeded before the Sparkplug line kept its MQTT devices' secrets at the top level.
    return saved if "devices" in saved else {"devices": saved, "sparkplug": {}}


def demo_device_secrets(data_dir: Path) -> dict[str, str]:
    """Return the demo's MQTT device secrets by client id (empty before the demo is seeded)."""
    return {str(k): str(v) for k, v in _saved_secrets(data_dir)["devices"].items()}


def demo_sparkplug_login(data_dir: Path) -> tuple[str, str] | None:
    """Return the username and password the demo's Sparkplug edge node logs in with (None if not seeded)."""
    login = _saved_secrets(data_dir).get("sparkplug") or {}
    if not login:
        return None
    return str(login["username"]), str(login["password"])


async def start_plant(
    settings: Settings,
    sessions: sessionmaker[Session],
    store: Any,
    *,
    ports: DemoPorts,
    seed: int = 0,
    step_ms: int = 1000,
) -> list[asyncio.Task[None]]:
    """Start the embedded broker, the simulator, the pollers and the Sparkplug host; return their tasks (cancel)."""
    from pydantic import SecretStr  # noqa: PLC0415 - only the all-in-one process runs these

    from hexmill.connect.runner import run_connect  # noqa: PLC0415 - as above
    from hexmill.connect.simulator.runner import SimulatorOptions, run_simulator  # noqa: PLC0415 - as above
    from hexmill.connect.sparkplug.config import SparkplugHostConfig  # noqa: PLC0415 - as above

    host_password = secrets.token_urlsafe(24)
    listening = asyncio.Event()
    broker = asyncio.create_task(
        _run_broker(sessions, store, port=ports.mqtt, hosts={SPARKPLUG_HOST_ID: host_password}, started=listening),
        name="broker",
    )
    await asyncio.wait_for(listening.wait(), 60)
    edge = demo_sparkplug_login(settings.data_dir)
    options = SimulatorOptions(
        seed=seed,
        step_ms=step_ms,
        layout=demo_layout(),
        opcua_port=ports.opcua,
        modbus_port=ports.modbus,
        mqtt_port=ports.mqtt,
        mqtt_devices=demo_device_secrets(settings.data_dir),
        sparkplug_group=SPARKPLUG_GROUP if edge else None,
        sparkplug_node=SPARKPLUG_NODE if edge else None,
        sparkplug_username=edge[0] if edge else None,
        sparkplug_password=edge[1] if edge else None,
        sparkplug_machines=SPARKPLUG_MACHINES,
    )
    started = asyncio.Event()
    simulator = asyncio.create_task(run_simulator(options, started=started), name="simulator")
    await started.wait()
    host = SparkplugHostConfig(
        port=ports.mqtt,
        username=SPARKPLUG_HOST_ID,
        password=SecretStr(host_password),
        mqtt_version="3.1.1",  # amqtt speaks 3.1.1 only
        host_id=SPARKPLUG_HOST_ID,
    )
    connect = asyncio.create_task(run_connect(sessions, store, reload_s=15, sparkplug=host), name="connect")
    return [connect, simulator, broker]


async def _run_broker(
    sessions: sessionmaker[Session], store: Any, *, port: int, hosts: dict[str, str], started: asyncio.Event
) -> None:
    """Run the embedded broker, with in-process ingest and the given Sparkplug hosts, until cancelled."""
    # amqtt takes a second to import: only the all-in-one process pays for it.
    from hexmill.connect.limits import IngestLimits  # noqa: PLC0415
    from hexmill.connect.mqtt.broker import BrokerRuntime, embedded_broker  # noqa: PLC0415
    from hexmill.connect.mqtt.pipeline import TelemetryPipeline  # noqa: PLC0415

    runtime = BrokerRuntime(sessions, TelemetryPipeline(sessions, store, IngestLimits()), sparkplug_hosts=hosts)
    async with embedded_broker(runtime, port=port):
        log.info("Embedded MQTT broker on 127.0.0.1:%s", port)
        started.set()
        await asyncio.Event().wait()  # until cancelled


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
