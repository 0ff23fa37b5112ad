"""The simulator's Modbus register map, published as data a Modbus connector configuration is made from.

Each machine is one Modbus unit (unit id 1, 2, ... in layout order). Inside a unit, by field order:

* integer fields with a maximum of at most 32767 (``state_code``, ``fault_code``) are ``int16`` holding
  registers, the counters ``uint32`` holding registers (two words), both from address 0 upwards;
* float fields are ``float32`` input registers (two words) from address 0 upwards;
* boolean fields are coils from address 0 upwards (mirrored as discrete inputs at the same addresses);
* string fields (``state``) have no register: ``state_code`` carries the state.

Words are big-endian and the high word comes first (byte order and word order ``big``), packed by
``hexmill.connect.modbus.mapping.encode``. Every register is read-only: writes are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hexmill.connect.modbus.mapping import DataType, Order, PointSpec, Table
from hexmill.connect.simulator.plant import DEFAULT_LAYOUT, FIELDS, FieldSpec, MachineKind, MachineSpec


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """Where one field of one machine lives on the simulator's Modbus server and how it is packed."""

    machine_id: str
    unit_id: int
    field: str
    table: Table
    address: int
    data_type: DataType
    unit: str
    byte_order: Order = Order.BIG
    word_order: Order = Order.BIG

    @property
    def count(self) -> int:
        """Return how many registers (or bits) the field spans."""
        return self.data_type.width

    def point(self) -> PointSpec:
        """Return the Modbus connector's description of this field."""
        return PointSpec(self.field, self.table, self.address, self.data_type, self.byte_order, self.word_order)

    def as_dict(self) -> dict[str, str | int]:
        """Return the entry as plain data (field, table, address, data_type, byte_order, word_order, ...)."""
        return {
            "machine_id": self.machine_id,
            "unit_id": self.unit_id,
            "field": self.field,
            "table": self.table.value,
            "address": self.address,
            "data_type": self.data_type.value,
            "byte_order": self.byte_order.value,
            "word_order": self.word_order.value,
            "count": self.count,
            "unit": self.unit,
        }


def register_type(spec: FieldSpec) -> DataType | None:
    """Return how a field is packed into registers, ``None`` for fields without a register."""
    if spec.data_type == "boolean":
        return DataType.BOOL
    if spec.data_type == "float":
        return DataType.FLOAT32
    if spec.data_type == "integer":
        return DataType.INT16 if spec.maximum is not None and spec.maximum <= 32767 else DataType.UINT32
    return None


def _table(data_type: DataType) -> Table:
    if data_type is DataType.BOOL:
        return Table.COIL
    return Table.INPUT_REGISTER if data_type.is_float else Table.HOLDING_REGISTER


def kind_register_map(kind: MachineKind) -> tuple[tuple[FieldSpec, Table, int, DataType], ...]:
    """Return the registers of one kind of machine: field, table, address and packing."""
    next_address = dict.fromkeys(Table, 0)
    rows: list[tuple[FieldSpec, Table, int, DataType]] = []
    for spec in FIELDS[kind]:
        data_type = register_type(spec)
        if data_type is None:
            continue
        table = _table(data_type)
        rows.append((spec, table, next_address[table], data_type))
        next_address[table] += data_type.width
    return tuple(rows)


def register_map(layout: Iterable[MachineSpec] = DEFAULT_LAYOUT) -> tuple[RegisterEntry, ...]:
    """Return every register of the plant: one unit id per machine, in layout order from 1."""
    return tuple(
        RegisterEntry(machine.machine_id, unit_id, spec.name, table, address, data_type, spec.unit)
        for unit_id, machine in enumerate(layout, start=1)
        for spec, table, address, data_type in kind_register_map(machine.kind)
    )


def register_map_dicts(layout: Iterable[MachineSpec] = DEFAULT_LAYOUT) -> list[dict[str, str | int]]:
    """Return the register map as a list of plain dicts, one per field of each machine."""
    return [entry.as_dict() for entry in register_map(layout)]


def modbus_device_configs(
    layout: Iterable[MachineSpec] = DEFAULT_LAYOUT, *, host: str = "127.0.0.1", port: int = 5020
) -> dict[str, dict[str, object]]:
    """Return, per machine id, the settings of a Modbus connector link that reads that machine.

    Each value validates as ``hexmill.connect.modbus.config.ModbusConfig`` (host, port, unit id, points).
    """
    keys = ("field", "table", "address", "data_type", "byte_order", "word_order")
    units: dict[str, int] = {}
    points: dict[str, list[dict[str, str | int]]] = {}
    for entry in register_map(layout):
        units[entry.machine_id] = entry.unit_id
        row = entry.as_dict()
        points.setdefault(entry.machine_id, []).append({key: row[key] for key in keys})
    return {
        machine_id: {"host": host, "port": port, "unit_id": unit_id, "points": points[machine_id]}
        for machine_id, unit_id in units.items()
    }
