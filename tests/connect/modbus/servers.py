"""Two independent Modbus TCP servers on loopback, behind one small interface, for integration tests.

Both hold ``SIZE`` items in each table (reads past that answer "illegal data address"), count the
read requests they serve, and can be stopped and started again on the same port with their data.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pyModbusTCP.server import DataBank, DataHandler, ModbusServer

from hexmill.connect.modbus.mapping import Table
from tests.brokers import free_port

SIZE = 512  # items per table; a multiple of 16 so pymodbus' bit blocks end exactly there
UNIT_ID = 1
_FUNCTION_CODE = {Table.COIL: 1, Table.DISCRETE_INPUT: 2, Table.HOLDING_REGISTER: 3, Table.INPUT_REGISTER: 4}


class ModbusTestServer(Protocol):
    """A Modbus TCP server the tests can fill, count and restart."""

    kind: str
    port: int
    requests: int

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def write(self, table: Table, address: int, values: list[int]) -> None: ...


class PymodbusServer:
    """pymodbus' own asyncio server, in the test's event loop."""

    kind = "pymodbus"

    def __init__(self) -> None:
        self.port = free_port()
        self.requests = 0
        # pymodbus keeps data per server object: replay everything written when restarting.
        self._memory: dict[Table, dict[int, int]] = {t: {} for t in Table}
        self._server: ModbusTcpServer | None = None

    def _count(self, sending: bool, pdu: Any) -> Any:
        if not sending:
            self.requests += 1
        return pdu

    async def start(self) -> None:
        def bits() -> list[SimData]:
            return [SimData(0, count=SIZE, values=False, datatype=DataType.BITS)]

        def registers() -> list[SimData]:
            return [SimData(0, count=SIZE, values=0, datatype=DataType.REGISTERS)]

        device = SimDevice(UNIT_ID, simdata=(bits(), bits(), registers(), registers()))
        self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port), trace_pdu=self._count)
        await self._server.serve_forever(background=True)
        for table, cells in self._memory.items():
            for address, value in cells.items():
                await self._set(table, address, [value])

    async def stop(self) -> None:
        if self._server is None:
            return
        await self._server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
        self._server = None

    async def write(self, table: Table, address: int, values: list[int]) -> None:
        for i, value in enumerate(values):
            self._memory[table][address + i] = value
        if self._server is not None:
            await self._set(table, address, values)

    async def _set(self, table: Table, address: int, values: list[int]) -> None:
        assert self._server is not None
        data: list[int] | list[bool] = [bool(v) for v in values] if table.is_bits else values
        await self._server.async_setValues(UNIT_ID, _FUNCTION_CODE[table], address, data)


class _CountingHandler(DataHandler):  # type: ignore[misc]
    """pyModbusTCP's data handler, counting the read requests it serves."""

    def __init__(self, data_bank: DataBank, owner: PyModbusTcpServer) -> None:
        super().__init__(data_bank)
        self._owner = owner

    def read_coils(self, address: int, count: int, srv_info: Any) -> Any:
        self._owner.requests += 1
        return super().read_coils(address, count, srv_info)

    def read_d_inputs(self, address: int, count: int, srv_info: Any) -> Any:
        self._owner.requests += 1
        return super().read_d_inputs(address, count, srv_info)

    def read_h_regs(self, address: int, count: int, srv_info: Any) -> Any:
        self._owner.requests += 1
        return super().read_h_regs(address, count, srv_info)

    def read_i_regs(self, address: int, count: int, srv_info: Any) -> Any:
        self._owner.requests += 1
        return super().read_i_regs(address, count, srv_info)


class PyModbusTcpServer:
    """pyModbusTCP's threaded server: an implementation independent of pymodbus."""

    kind = "pyModbusTCP"

    def __init__(self) -> None:
        self.port = free_port()
        self.requests = 0
        self._bank = DataBank(coils_size=SIZE, d_inputs_size=SIZE, h_regs_size=SIZE, i_regs_size=SIZE)
        self._server: ModbusServer | None = None

    async def start(self) -> None:
        # A fresh server object on each start: the connection threads of a stopped one watch their
        # own server's running flag and must see it stay down.
        self._server = ModbusServer("127.0.0.1", self.port, no_block=True, data_hdl=_CountingHandler(self._bank, self))
        self._server.start()

    async def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        await asyncio.to_thread(server.stop)

    async def write(self, table: Table, address: int, values: list[int]) -> None:
        if table is Table.COIL:
            self._bank.set_coils(address, [bool(v) for v in values])
        elif table is Table.DISCRETE_INPUT:
            self._bank.set_discrete_inputs(address, [bool(v) for v in values])
        elif table is Table.HOLDING_REGISTER:
            self._bank.set_holding_registers(address, values)
        else:
            self._bank.set_input_registers(address, values)


SERVERS: dict[str, type[PymodbusServer] | type[PyModbusTcpServer]] = {
    "pymodbus": PymodbusServer,
    "pyModbusTCP": PyModbusTcpServer,
}
