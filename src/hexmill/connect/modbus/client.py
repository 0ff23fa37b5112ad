"""Thin async Modbus TCP client over pymodbus, the only module that imports it."""

from __future__ import annotations

import logging

from pymodbus import ModbusException
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from hexmill.connect.modbus.mapping import Table

log = logging.getLogger(__name__)

#: Modbus exception codes and their names (application protocol v1.1b3, section 7).
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusError(Exception):
    """A Modbus request failed, either on the link or by the device's own exception response.

    ``exception_code`` is set when the device answered with a Modbus exception (the link is fine);
    it is ``None`` when the connection failed, was lost or timed out.
    """

    def __init__(self, message: str, *, exception_code: int | None = None) -> None:
        super().__init__(message)
        self.exception_code = exception_code

    @property
    def link_lost(self) -> bool:
        """Return whether the failure concerns the connection rather than the request."""
        return self.exception_code is None


class ModbusClient:
    """Connect to one Modbus TCP server and read its tables as plain lists."""

    def __init__(self, host: str, port: int, *, unit_id: int, timeout_s: float, retries: int = 0) -> None:
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self._client = AsyncModbusTcpClient(
            host,
            port=port,
            timeout=timeout_s,
            retries=retries,
            # Reconnecting is the poller's job (with its own back-off), never pymodbus'.
            reconnect_delay=0,
        )

    @property
    def connected(self) -> bool:
        """Return whether the TCP connection is up."""
        return self._client.connected

    async def connect(self) -> None:
        """Open the TCP connection.

        Raises:
            ModbusError: the server cannot be reached.
        """
        try:
            ok = await self._client.connect()
        except ModbusException as exc:
            raise ModbusError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        if not ok:
            raise ModbusError(f"cannot connect to {self.host}:{self.port}")
        log.debug("modbus connected to %s:%s", self.host, self.port)

    def close(self) -> None:
        """Close the connection; reading again needs a new ``connect``."""
        self._client.close()

    async def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """Read ``count`` items of ``table`` from ``address``."""
        if table is Table.COIL:
            return await self.read_coils(address, count)
        if table is Table.DISCRETE_INPUT:
            return await self.read_discrete_inputs(address, count)
        if table is Table.INPUT_REGISTER:
            return await self.read_input_registers(address, count)
        return await self.read_holding_registers(address, count)

    async def read_coils(self, address: int, count: int) -> list[bool]:
        """Read coils (function code 1)."""
        self._require_link()
        try:
            response = await self._client.read_coils(address, count=count, device_id=self.unit_id)
        except ModbusException as exc:
            raise self._link_error("read coils", address, count, exc) from exc
        return list(self._checked(response, "coils", address, count).bits[:count])

    async def read_discrete_inputs(self, address: int, count: int) -> list[bool]:
        """Read discrete inputs (function code 2)."""
        self._require_link()
        try:
            response = await self._client.read_discrete_inputs(address, count=count, device_id=self.unit_id)
        except ModbusException as exc:
            raise self._link_error("read discrete inputs", address, count, exc) from exc
        return list(self._checked(response, "discrete inputs", address, count).bits[:count])

    async def read_input_registers(self, address: int, count: int) -> list[int]:
        """Read input registers (function code 4)."""
        self._require_link()
        try:
            response = await self._client.read_input_registers(address, count=count, device_id=self.unit_id)
        except ModbusException as exc:
            raise self._link_error("read input registers", address, count, exc) from exc
        return list(self._checked(response, "input registers", address, count).registers)

    async def read_holding_registers(self, address: int, count: int) -> list[int]:
        """Read holding registers (function code 3)."""
        self._require_link()
        try:
            response = await self._client.read_holding_registers(address, count=count, device_id=self.unit_id)
        except ModbusException as exc:
            raise self._link_error("read holding registers", address, count, exc) from exc
        return list(self._checked(response, "holding registers", address, count).registers)

    def _require_link(self) -> None:
        """Refuse to read without a connection, so pymodbus never reconnects behind the poller's back."""
        if not self._client.connected:
            raise ModbusError(f"not connected to {self.host}:{self.port}")

    def _link_error(self, what: str, address: int, count: int, exc: ModbusException) -> ModbusError:
        """Describe a failed exchange (time-out, lost connection, garbled frame)."""
        return ModbusError(f"{what} {address}+{count} on {self.host}:{self.port} failed: {exc}")

    def _checked(self, response: ModbusPDU, what: str, address: int, count: int) -> ModbusPDU:
        """Return the response, or raise the device's exception answer as ours."""
        if isinstance(response, ExceptionResponse) or response.isError():
            code = int(getattr(response, "exception_code", 0))
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            raise ModbusError(
                f"device {self.unit_id} refused to read {what} {address}+{count}: exception {code} ({name})",
                exception_code=code,
            )
        return response
