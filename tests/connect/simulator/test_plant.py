"""The simulated plant: deterministic, physically sane, and every state reachable."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hexmill.connect.simulator.plant import (
    DEFAULT_LAYOUT,
    FIELDS,
    STATE_CODES,
    MachineKind,
    MachineSpec,
    Plant,
    State,
)

START = 1_700_000_000.0
COUNTERS = ("cycle_count", "good_count", "scrap_count", "energy")
PY_TYPES = {"float": float, "integer": int, "boolean": bool, "string": str}


def run(plant: Plant, times: list[float]) -> list[dict[str, dict[str, object]]]:
    return [plant.step(t) for t in times]


def grid(hours: float, step_s: float) -> list[float]:
    return [START + i * step_s for i in range(int(hours * 3600 / step_s) + 1)]


# A plant of fast-changing machines, so every state shows up within a short simulated run.
def busy(spec: MachineSpec) -> MachineSpec:
    return dataclasses.replace(
        spec,
        mtbf_s=min(300.0, 30 * spec.cycle_s),
        idle_chance=0.25,
        idle_s=(20.0, 60.0),
        batch_size=8,
        repair_s=(20.0, 60.0),
        setup_s=(20.0, 60.0),
    )


BUSY_LAYOUT = tuple(busy(spec) for spec in DEFAULT_LAYOUT)

step_sizes = st.lists(st.floats(min_value=0.0, max_value=120.0), min_size=1, max_size=150)


def test_same_seed_same_series() -> None:
    times = grid(1, 2.0)
    assert run(Plant(seed=7), times) == run(Plant(seed=7), times)
    assert run(Plant(seed=7), times) != run(Plant(seed=8), times)


def test_values_match_the_field_tables() -> None:
    values = Plant().step(START)
    assert set(values) == {"cnc-1", "cnc-2", "imm-1", "pack-1"}
    for spec in DEFAULT_LAYOUT:
        fields = FIELDS[spec.kind]
        assert list(values[spec.machine_id]) == [f.name for f in fields]
        for f in fields:
            assert type(values[spec.machine_id][f.name]) is PY_TYPES[f.data_type], f.name
            assert f.data_type in {"float", "integer", "boolean", "string"}


def test_time_may_not_go_backwards() -> None:
    plant = Plant()
    plant.step(START)
    with pytest.raises(ValueError, match="backwards"):
        plant.step(START - 1)
    with pytest.raises(ValueError, match="finite"):
        plant.step(float("nan"))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), steps=step_sizes)
def test_counters_never_decrease_and_parts_add_up(seed: int, steps: list[float]) -> None:
    plant = Plant(BUSY_LAYOUT, seed=seed)
    previous = plant.step(START)
    now = START
    for step in steps:
        now += step
        current = plant.step(now)
        for machine_id, values in current.items():
            for counter in COUNTERS:
                assert values[counter] >= previous[machine_id][counter], (machine_id, counter)
            assert values["good_count"] + values["scrap_count"] == values["cycle_count"]
        previous = current


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), steps=step_sizes)
def test_values_stay_inside_physical_bounds(seed: int, steps: list[float]) -> None:
    plant = Plant(BUSY_LAYOUT, seed=seed)
    now = START
    for step in [0.0, *steps]:
        now += step
        for machine_id, values in plant.step(now).items():
            kind = plant.spec(machine_id).kind
            for f in FIELDS[kind]:
                value = values[f.name]
                if f.minimum is not None:
                    assert value >= f.minimum, (machine_id, f.name, value)
                if f.maximum is not None:
                    assert value <= f.maximum, (machine_id, f.name, value)
            state = State(values["state"])
            assert values["state_code"] == STATE_CODES[state]
            assert values["fault"] is (state is State.FAULT)
            assert (values["fault_code"] != 0) is (state is State.FAULT)
            if state is not State.RUNNING:
                assert values.get("spindle_speed", 0.0) == 0.0
                assert values.get("throughput", 0.0) == 0.0
            if kind is MachineKind.INJECTION_MOULDING and values["heaters_on"]:
                assert values["barrel_temperature"] > 150


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_every_state_is_reached_and_a_fault_is_repaired_into_running(seed: int) -> None:
    plant = Plant(BUSY_LAYOUT, seed=seed)
    series = [plant.step(START)]
    # Stepping to each event in turn shows every state the machines pass through, however brief.
    while (when := plant.next_event_s()) is not None and when < START + 7200:
        series.append(plant.step(when))
    for machine_id in series[0]:
        states = [State(values[machine_id]["state"]) for values in series]
        assert set(states) == set(State), machine_id
        after_fault = {b for a, b in itertools.pairwise(states) if a is State.FAULT and b is not a}
        assert after_fault == {State.RUNNING}, machine_id


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), cuts=st.lists(st.floats(0.0, 7200.0), max_size=40))
def test_counters_do_not_depend_on_how_often_the_plant_is_stepped(seed: int, cuts: list[float]) -> None:
    end = START + 7200.0
    once = Plant(seed=seed)
    once.step(START)
    final_once = once.step(end)
    often = Plant(seed=seed)
    often.step(START)
    for cut in sorted(cuts):
        often.step(START + cut)
    final_often = often.step(end)
    for machine_id, values in final_once.items():
        for name in ("state", "cycle_count", "good_count", "scrap_count", "fault_code"):
            assert final_often[machine_id][name] == values[name], (machine_id, name)
        assert final_often[machine_id]["energy"] == pytest.approx(values["energy"], abs=1e-3)


def test_temperatures_lag_towards_ambient_when_the_heaters_trip() -> None:
    # Find a heater fault of the moulding machine and watch the barrel cool through it.
    plant = Plant(BUSY_LAYOUT, seed=3)
    cooling: list[float] = []
    for t in grid(12, 5.0):
        imm = plant.step(t)["imm-1"]
        if imm["heaters_on"]:
            if len(cooling) > 3:
                break
            cooling = []
        else:
            cooling.append(imm["barrel_temperature"])
    assert len(cooling) > 3, "no heater fault in twelve hours"
    assert cooling[-1] < cooling[0] < 235
    assert all(t > 25 for t in cooling)


def test_power_depends_on_state() -> None:
    plant = Plant(BUSY_LAYOUT, seed=11)
    power: dict[str, list[float]] = {}
    for t in grid(2, 5.0):
        values = plant.step(t)["cnc-1"]
        power.setdefault(values["state"], []).append(values["power"])
    mean = {state: sum(p) / len(p) for state, p in power.items()}
    assert mean["running"] > mean["idle"] > mean["fault"]
    assert mean["running"] > mean["setup"]


def test_duplicate_machine_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        Plant((DEFAULT_LAYOUT[0], DEFAULT_LAYOUT[0]))
