"""The demo's connected cell: simulated machines provisioned as devices, and the all-in-one run.

``make demo`` seeds, for the machining enterprise, one line whose equipment is the simulator's
plant (two machining centres read over OPC UA, the moulding machine and the packaging line over
Modbus TCP), then runs the simulator, the pollers and the web server in one process, so the
console shows live data from a real protocol round trip rather than from a generator.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.assets.service import TagSpec
from hexmill.connect.registry import service as registry
from hexmill.core.context import Context

OPCUA_MACHINES = ("cnc-1", "cnc-2")


@dataclass(frozen=True, slots=True)
class DemoPorts:
    """Where the demo's simulator serves OPC UA and Modbus TCP (loopback only)."""

    opcua: int = 48400
    modbus: int = 15020


def seed_connected_cell(session: Session, ctx: Context, *, site_id: int, ports: DemoPorts) -> int:
    """Create the connected cell's equipment, tags and devices; return how many devices were made."""
    from hexmill.connect.simulator.opcua_server import node_id  # noqa: PLC0415 - the simulator loads with the demo
    from hexmill.connect.simulator.plant import DEFAULT_LAYOUT  # noqa: PLC0415 - as above
    from hexmill.connect.simulator.registers import modbus_device_configs  # noqa: PLC0415 - as above

    area = assets.create_area(session, ctx, site_id=site_id, name="Connected cell")
    line = assets.create_line(session, ctx, area_id=area.id, name="Simulated plant", kind="line")
    modbus = modbus_device_configs(DEFAULT_LAYOUT, port=ports.modbus)
    made = 0
    for spec in DEFAULT_LAYOUT:
        tags = [TagSpec(f.name, unit=f.unit, data_type=f.data_type, description=f.description) for f in spec.fields]
        equipment = assets.create_equipment(session, ctx, line_id=line.id, name=spec.name, tags=tags)
        config: dict[str, Any]
        if spec.machine_id in OPCUA_MACHINES:
            protocol = "opcua"
            config = {
                "endpoint": f"opc.tcp://127.0.0.1:{ports.opcua}/hexmill/simulator",
                "mode": "subscription",
                "nodes": [{"node_id": node_id(spec.machine_id, f.name), "field": f.name} for f in spec.fields],
            }
        else:
            protocol = "modbus"
            config = modbus[spec.machine_id]
        registry.create_device(
            session,
            ctx,
            name=f"{spec.machine_id} ({protocol})",
            protocol=protocol,
            equipment_id=equipment.id,
            config=config,
            description=f"Simulated {spec.kind} read over {protocol}",
        )
        made += 1
    return made


async def run_all_in_one(
    app: Any, sessions: sessionmaker[Session], store: Any, *, host: str, port: int, ports: DemoPorts, seed: int = 0
) -> None:
    """Serve the console and API, the plant simulator and the pollers in one event loop until cancelled."""
    import uvicorn  # noqa: PLC0415 - only the all-in-one process serves from here

    from hexmill.connect.runner import ConnectRunner  # noqa: PLC0415 - as above
    from hexmill.connect.simulator.runner import SimulatorOptions, run_simulator  # noqa: PLC0415 - as above

    started = asyncio.Event()
    simulator = asyncio.create_task(
        run_simulator(SimulatorOptions(seed=seed, opcua_port=ports.opcua, modbus_port=ports.modbus), started=started),
        name="simulator",
    )
    await started.wait()
    pollers = asyncio.create_task(ConnectRunner(sessions, store, reload_s=15).run(), name="pollers")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    try:
        await server.serve()
    finally:
        for task in (pollers, simulator):
            task.cancel()
        for task in (pollers, simulator):
            with contextlib.suppress(asyncio.CancelledError):
                await task
