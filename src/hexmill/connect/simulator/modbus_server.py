"""The simulator's Modbus TCP server: one read-only unit per machine, laid out as ``registers.py`` says."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from hexmill.connect.modbus.mapping import Table, encode
from hexmill.connect.simulator.plant import MachineSpec
from hexmill.connect.simulator.registers import RegisterEntry, register_map
from hexmill.telemetry.points import Value

log = logging.getLogger(__name__)

# The image each Modbus read function code is served from; coils and discrete inputs share the bits.
_IMAGE_OF_FUNCTION = {1: "bits", 2: "bits", 3: "holding", 4: "input"}
_IMAGE_OF_TABLE = {Table.COIL: "bits", Table.HOLDING_REGISTER: "holding", Table.INPUT_REGISTER: "input"}


class _UnitImage:
    """The register words of one unit, rebuilt each step and copied into pymodbus' store on each read."""

    def __init__(self, entries: list[RegisterEntry]) -> None:
        self.entries = entries
        # Items (bits or registers) in each image; at least one, as pymodbus wants no empty block.
        self.sizes = dict.fromkeys(_IMAGE_OF_TABLE.values(), 1)
        for entry in entries:
            image = _IMAGE_OF_TABLE[entry.table]
            self.sizes[image] = max(self.sizes[image], entry.address + entry.count)
        self.words = {"bits": [0] * ((self.sizes["bits"] + 15) // 16)}
        self.words |= {image: [0] * self.sizes[image] for image in ("holding", "input")}

    def update(self, values: Mapping[str, Value]) -> None:
        """Rebuild the words from one step's values of this machine."""
        bits = [False] * self.sizes["bits"]
        words = {image: [0] * self.sizes[image] for image in ("holding", "input")}
        for entry in self.entries:
            value = values.get(entry.field)
            if value is None or isinstance(value, str):
                continue
            if entry.table is Table.COIL:
                bits[entry.address] = bool(value)
            else:
                words[_IMAGE_OF_TABLE[entry.table]][entry.address : entry.address + entry.count] = encode(
                    entry.point(), value
                )
        # Sixteen bits to a word, the lowest address in the lowest bit (as pymodbus stores bit blocks).
        packed = [sum(1 << i for i, on in enumerate(bits[n : n + 16]) if on) for n in range(0, len(bits), 16)]
        self.words = {"bits": packed, **words}

    def device(self, unit_id: int) -> SimDevice:
        """Return the pymodbus device of this unit: four read-only blocks refreshed on each read."""
        bits = [SimData(0, values=[False] * self.sizes["bits"], datatype=DataType.BITS, readonly=True)]

        def registers(image: str) -> list[SimData]:
            return [SimData(0, count=self.sizes[image], values=0, datatype=DataType.REGISTERS, readonly=True)]

        return SimDevice(
            unit_id, simdata=(bits, list(bits), registers("holding"), registers("input")), action=self._refresh
        )

    async def _refresh(
        self,
        function_code: int,
        _start_address: int,
        _address: int,
        _count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Answer a write with an exception; before a read, copy the current words into the block."""
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        current = self.words[_IMAGE_OF_FUNCTION[function_code]]
        registers[: len(current)] = current
        return None


class ModbusExposure:
    """Serve the plant's values over Modbus TCP on ``host:port`` (unit id per machine)."""

    def __init__(self, layout: Iterable[MachineSpec], *, host: str = "127.0.0.1", port: int = 5020) -> None:
        self.layout = tuple(layout)
        self.host = host
        self.port = port
        self.register_map = register_map(self.layout)
        self._units: dict[str, tuple[int, _UnitImage]] = {}
        for unit_id, machine in enumerate(self.layout, start=1):
            entries = [e for e in self.register_map if e.unit_id == unit_id]
            self._units[machine.machine_id] = (unit_id, _UnitImage(entries))
        self._server: ModbusTcpServer | None = None

    async def start(self) -> None:
        """Start listening; return once the port accepts connections."""
        devices = [image.device(unit_id) for unit_id, image in self._units.values()]
        self._server = ModbusTcpServer(devices, address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        log.info("Modbus TCP server on %s:%s with %s units", self.host, self.port, len(devices))

    async def publish(self, now_s: float, values: Mapping[str, Mapping[str, Value]]) -> None:
        """Refresh every unit's registers from one plant step."""
        del now_s  # Modbus carries no timestamps.
        for machine_id, machine_values in values.items():
            if machine_id in self._units:
                self._units[machine_id][1].update(machine_values)

    async def stop(self) -> None:
        """Close the listener and every client connection."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
            self._server = None
