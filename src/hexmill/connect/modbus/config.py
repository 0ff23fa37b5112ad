"""Validated settings of one Modbus TCP device link, and a real connection test."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hexmill.connect.base import ConnectionFailed
from hexmill.connect.modbus.client import ModbusClient, ModbusError
from hexmill.connect.modbus.mapping import (
    ADDRESS_SPACE,
    MAX_BITS,
    MAX_REGISTERS,
    DataType,
    Order,
    PointSpec,
    ReadBlock,
    Table,
    plan_reads,
)
from hexmill.core.i18n import N_


class RegisterPoint(BaseModel):
    """One device field read from a Modbus table: where it lives and how to read its value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, max_length=200, description="The device's name for the value.")
    table: Table
    address: int = Field(ge=0, le=ADDRESS_SPACE - 1, description="0-based protocol address.")
    data_type: DataType
    byte_order: Order = Order.BIG
    word_order: Order = Order.BIG
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self) -> Self:
        """Refuse combinations the device tables cannot hold."""
        if self.table.is_bits and self.data_type is not DataType.BOOL:
            raise ValueError(f"{self.field!r}: {self.table} holds single bits, so data_type must be bool")
        if not self.table.is_bits and self.data_type is DataType.BOOL:
            raise ValueError(f"{self.field!r}: bool is read from coil or discrete_input tables only")
        if self.data_type is DataType.BOOL and (self.scale != 1.0 or self.offset != 0.0):
            raise ValueError(f"{self.field!r}: a bool takes no scale or offset")
        if self.scale == 0.0:
            raise ValueError(f"{self.field!r}: scale must not be 0")
        if self.address + self.data_type.width > ADDRESS_SPACE:
            raise ValueError(
                f"{self.field!r}: {self.data_type} at {self.address} runs past the last address {ADDRESS_SPACE - 1}"
            )
        return self

    def spec(self) -> PointSpec:
        """Return the frozen description the mapping functions work on."""
        return PointSpec(
            field=self.field,
            table=self.table,
            address=self.address,
            data_type=self.data_type,
            byte_order=self.byte_order,
            word_order=self.word_order,
            scale=self.scale,
            offset=self.offset,
        )


class ModbusConfig(BaseModel):
    """Settings of one Modbus TCP device: where it is, how often to poll it and what to read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(502, ge=1, le=65535)
    unit_id: int = Field(1, ge=0, le=247, description="Modbus unit (slave) identifier.")
    poll_interval_s: float = Field(1.0, gt=0, le=86_400)
    timeout_s: float = Field(3.0, gt=0, le=60)
    retries: int = Field(
        0, ge=0, le=5, description="Resends of a request that timed out before the link counts as lost."
    )
    max_gap: int = Field(
        8, ge=0, le=MAX_BITS, description="Unused items a read may span to join two points into one request."
    )
    max_registers_per_request: int = Field(MAX_REGISTERS, ge=1, le=MAX_REGISTERS)
    max_bits_per_request: int = Field(MAX_BITS, ge=1, le=MAX_BITS)
    points: list[RegisterPoint] = Field(min_length=1)

    @field_validator("points")
    @classmethod
    def _check_points(cls, points: list[RegisterPoint], info: ValidationInfo) -> list[RegisterPoint]:
        """Refuse duplicate field names and points wider than one request."""
        max_registers = info.data.get("max_registers_per_request", MAX_REGISTERS)
        seen: dict[str, int] = {}
        problems: list[str] = []
        for index, point in enumerate(points):
            if point.field in seen:
                problems.append(
                    f"points[{index}] {point.field!r}: field name already used by points[{seen[point.field]}]"
                )
            else:
                seen[point.field] = index
            if not point.table.is_bits and point.data_type.width > max_registers:
                problems.append(
                    f"points[{index}] {point.field!r}: {point.data_type} needs {point.data_type.width} registers, "
                    f"more than max_registers_per_request={max_registers}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return points

    def specs(self) -> tuple[PointSpec, ...]:
        """Return the frozen descriptions of every point, in configuration order."""
        return tuple(point.spec() for point in self.points)

    def plan(self) -> list[ReadBlock]:
        """Return the merged reads one poll issues."""
        return plan_reads(
            self.specs(),
            max_gap=self.max_gap,
            max_registers=self.max_registers_per_request,
            max_bits=self.max_bits_per_request,
        )

    def make_client(self) -> ModbusClient:
        """Return an unconnected client for this device."""
        return ModbusClient(self.host, self.port, unit_id=self.unit_id, timeout_s=self.timeout_s, retries=self.retries)


async def test_connection(config: ModbusConfig) -> None:
    """Connect to the device and read the first planned block; raise ``ConnectionFailed`` if either fails."""
    client = config.make_client()
    block = config.plan()[0]
    try:
        await client.connect()
        await client.read(block.table, block.address, block.count)
    except ModbusError as exc:
        if exc.link_lost:
            raise ConnectionFailed(
                N_("Cannot reach the Modbus device at %(host)s:%(port)s: %(reason)s"),
                field="host",
                host=config.host,
                port=config.port,
                reason=str(exc),
            ) from exc
        raise ConnectionFailed(
            N_("The Modbus device refused to read %(count)s %(table)s from address %(address)s: %(reason)s"),
            field="points",
            count=block.count,
            table=str(block.table),
            address=block.address,
            reason=str(exc),
        ) from exc
    finally:
        client.close()
