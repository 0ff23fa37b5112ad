"""Modbus settings: what is accepted, and refusals that name the point and the reason."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hexmill.connect.modbus.config import ModbusConfig, RegisterPoint
from hexmill.connect.modbus.mapping import DataType, Order, PointSpec, Table


def config(points: list[dict[str, Any]], **overrides: Any) -> ModbusConfig:
    return ModbusConfig.model_validate({"host": "plc-1.local", "points": points, **overrides})


def errors(points: list[dict[str, Any]], **overrides: Any) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        config(points, **overrides)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


HR = {"table": "holding_register", "data_type": "uint16"}


def test_defaults_and_spec() -> None:
    cfg = config([{"field": "speed", "table": "holding_register", "address": 3, "data_type": "float32", "scale": 2}])
    assert (cfg.port, cfg.unit_id, cfg.poll_interval_s, cfg.max_registers_per_request) == (502, 1, 1.0, 125)
    assert cfg.specs() == (
        PointSpec("speed", Table.HOLDING_REGISTER, 3, DataType.FLOAT32, Order.BIG, Order.BIG, 2.0, 0.0),
    )
    assert [(b.address, b.count) for b in cfg.plan()] == [(3, 2)]


def test_bool_only_on_bit_tables_and_bit_tables_only_bool() -> None:
    found = errors(
        [
            {"field": "ok", "table": "coil", "address": 0, "data_type": "bool"},
            {"field": "alarm", "table": "holding_register", "address": 0, "data_type": "bool"},
            {"field": "level", "table": "discrete_input", "address": 0, "data_type": "int16"},
        ]
    )
    assert found == [
        (("points", 1), "Value error, 'alarm': bool is read from coil or discrete_input tables only"),
        (("points", 2), "Value error, 'level': discrete_input holds single bits, so data_type must be bool"),
    ]


def test_duplicate_field_names_are_refused_with_both_indexes() -> None:
    found = errors(
        [{"field": "a", "address": 0, **HR}, {"field": "b", "address": 1, **HR}, {"field": "a", "address": 2, **HR}]
    )
    assert found == [(("points",), "Value error, points[2] 'a': field name already used by points[0]")]


def test_address_plus_width_must_fit_the_address_space() -> None:
    config([{"field": "last", "table": "holding_register", "address": 65535, "data_type": "uint16"}])
    config([{"field": "last", "table": "holding_register", "address": 65532, "data_type": "float64"}])
    found = errors([{"field": "wide", "table": "holding_register", "address": 65533, "data_type": "float64"}])
    assert found == [(("points", 0), "Value error, 'wide': float64 at 65533 runs past the last address 65535")]


def test_point_wider_than_the_request_limit() -> None:
    found = errors(
        [{"field": "energy", "table": "input_register", "address": 0, "data_type": "float64"}],
        max_registers_per_request=3,
    )
    assert found == [
        (
            ("points",),
            "Value error, points[0] 'energy': float64 needs 4 registers, more than max_registers_per_request=3",
        )
    ]


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"port": 0}, ("port",)),
        ({"port": 65536}, ("port",)),
        ({"unit_id": 248}, ("unit_id",)),
        ({"poll_interval_s": 0}, ("poll_interval_s",)),
        ({"max_registers_per_request": 126}, ("max_registers_per_request",)),
        ({"max_bits_per_request": 2001}, ("max_bits_per_request",)),
        ({"colour": "red"}, ("colour",)),
        ({"points": []}, ("points",)),
    ],
)
def test_link_settings_out_of_range(overrides: dict[str, Any], loc: tuple[str, ...]) -> None:
    points = overrides.pop("points", [{"field": "x", "address": 0, **HR}])
    assert [found_loc for found_loc, _ in errors(points, **overrides)] == [loc]


@pytest.mark.parametrize(
    ("point", "loc"),
    [
        ({"address": -1}, ("points", 0, "address")),
        ({"address": 65536}, ("points", 0, "address")),
        ({"data_type": "int64"}, ("points", 0, "data_type")),
        ({"byte_order": "middle"}, ("points", 0, "byte_order")),
        ({"scale": float("nan")}, ("points", 0, "scale")),
        ({"offset": float("inf")}, ("points", 0, "offset")),
        ({"unit": "bar"}, ("points", 0, "unit")),
        ({"field": ""}, ("points", 0, "field")),
    ],
)
def test_point_settings_out_of_range(point: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    assert [found_loc for found_loc, _ in errors([{"field": "x", "address": 0, **HR, **point}])] == [loc]


def test_zero_scale_and_scaled_bools_are_refused() -> None:
    assert errors([{"field": "x", "address": 0, **HR, "scale": 0}]) == [
        (("points", 0), "Value error, 'x': scale must not be 0")
    ]
    assert errors([{"field": "on", "table": "coil", "address": 0, "data_type": "bool", "offset": 1}]) == [
        (("points", 0), "Value error, 'on': a bool takes no scale or offset")
    ]


def test_points_are_frozen() -> None:
    point = RegisterPoint(field="x", table=Table.COIL, address=1, data_type=DataType.BOOL)
    with pytest.raises(ValidationError):
        point.address = 2  # type: ignore[misc]
