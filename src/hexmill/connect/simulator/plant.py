"""A small simulated plant: machines with states, counters and physical values, pure and seeded."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from hexmill.telemetry.points import Value

#: The tag data types of the asset model (``hexmill.assets.schemas.DataType``).
DataType = Literal["float", "integer", "boolean", "string"]

#: Ambient temperature of the hall, the temperature every idle part drifts towards.
AMBIENT_C = 25.0


class MachineKind(StrEnum):
    """What a simulated machine is: it decides the fields and the physics."""

    CNC = "cnc"
    INJECTION_MOULDING = "injection_moulding"
    PACKAGING = "packaging"


class State(StrEnum):
    """The operating state of a machine, as an equipment-state model sees it."""

    IDLE = "idle"
    RUNNING = "running"
    SETUP = "setup"
    FAULT = "fault"


#: The integer code of each state, as the Modbus register ``state_code`` carries it.
STATE_CODES: Mapping[State, int] = MappingProxyType({State.IDLE: 0, State.RUNNING: 1, State.SETUP: 2, State.FAULT: 3})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One value a simulated machine reports: its name, unit, tag data type and physical bounds."""

    name: str
    unit: str
    data_type: DataType
    description: str
    minimum: float | None = None
    maximum: float | None = None


_COMMON: tuple[FieldSpec, ...] = (
    FieldSpec("state", "", "string", "Operating state: running, idle, setup or fault"),
    FieldSpec("state_code", "", "integer", "Operating state code: 0 idle, 1 running, 2 setup, 3 fault", 0, 3),
    FieldSpec("fault", "", "boolean", "Fault lamp: the machine stopped on a fault"),
    FieldSpec("fault_code", "", "integer", "Code of the active fault, 0 when none", 0, 999),
    FieldSpec("cycle_count", "", "integer", "Completed cycles since start", 0),
    FieldSpec("good_count", "pcs", "integer", "Good parts since start", 0),
    FieldSpec("scrap_count", "pcs", "integer", "Scrap parts since start", 0),
    FieldSpec("cycle_time", "s", "float", "Duration of the last completed cycle", 0, 3600),
    FieldSpec("power", "kW", "float", "Active electrical power", 0, 200),
    FieldSpec("energy", "kWh", "float", "Electrical energy since start", 0),
)

#: The fields each kind of machine reports, in a fixed order (tags, OPC UA variables, registers).
FIELDS: Mapping[MachineKind, tuple[FieldSpec, ...]] = MappingProxyType(
    {
        MachineKind.CNC: (
            *_COMMON,
            FieldSpec("spindle_speed", "rpm", "float", "Spindle speed", 0, 15_000),
            FieldSpec("spindle_load", "%", "float", "Spindle load", 0, 100),
            FieldSpec("spindle_temperature", "degC", "float", "Spindle bearing temperature", 0, 120),
        ),
        MachineKind.INJECTION_MOULDING: (
            *_COMMON,
            FieldSpec("barrel_temperature", "degC", "float", "Barrel zone 1 temperature", 0, 350),
            FieldSpec("barrel_setpoint", "degC", "float", "Barrel zone 1 setpoint", 0, 350),
            FieldSpec("mould_temperature", "degC", "float", "Mould temperature", 0, 150),
            FieldSpec("mould_setpoint", "degC", "float", "Mould temperature setpoint", 0, 150),
            FieldSpec("injection_pressure", "bar", "float", "Peak injection pressure of the last shot", 0, 2500),
            FieldSpec("heaters_on", "", "boolean", "Barrel and mould heaters switched on"),
        ),
        MachineKind.PACKAGING: (
            *_COMMON,
            FieldSpec("throughput", "packs/min", "float", "Packs per minute", 0, 300),
        ),
    }
)


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """The make-up of one simulated machine: timings, quality, reliability and set points."""

    machine_id: str
    kind: MachineKind
    name: str
    cycle_s: float
    scrap_rate: float
    mtbf_s: float
    repair_s: tuple[float, float]
    idle_chance: float
    idle_s: tuple[float, float]
    batch_size: int
    setup_s: tuple[float, float]
    cycle_jitter: float = 0.05
    spindle_rpm: float = 0.0
    barrel_setpoint: float = 0.0
    mould_setpoint: float = 0.0

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        """Return the fields this machine reports."""
        return FIELDS[self.kind]


#: The default plant: two machining centres, an injection moulding machine and a packaging line.
DEFAULT_LAYOUT: tuple[MachineSpec, ...] = (
    MachineSpec(
        "cnc-1",
        MachineKind.CNC,
        "Machining centre 1",
        cycle_s=42.0,
        scrap_rate=0.02,
        mtbf_s=1800.0,
        repair_s=(60.0, 300.0),
        idle_chance=0.03,
        idle_s=(30.0, 180.0),
        batch_size=40,
        setup_s=(120.0, 420.0),
        spindle_rpm=8000.0,
    ),
    MachineSpec(
        "cnc-2",
        MachineKind.CNC,
        "Machining centre 2",
        cycle_s=65.0,
        scrap_rate=0.035,
        mtbf_s=2400.0,
        repair_s=(90.0, 420.0),
        idle_chance=0.04,
        idle_s=(30.0, 240.0),
        batch_size=30,
        setup_s=(180.0, 480.0),
        spindle_rpm=6000.0,
    ),
    MachineSpec(
        "imm-1",
        MachineKind.INJECTION_MOULDING,
        "Injection moulding machine 1",
        cycle_s=28.0,
        scrap_rate=0.03,
        mtbf_s=2700.0,
        repair_s=(120.0, 480.0),
        idle_chance=0.02,
        idle_s=(30.0, 150.0),
        batch_size=120,
        setup_s=(240.0, 600.0),
        barrel_setpoint=230.0,
        mould_setpoint=60.0,
    ),
    MachineSpec(
        "pack-1",
        MachineKind.PACKAGING,
        "Packaging line 1",
        cycle_s=1.2,
        scrap_rate=0.01,
        mtbf_s=1500.0,
        repair_s=(45.0, 240.0),
        idle_chance=0.002,
        idle_s=(20.0, 120.0),
        batch_size=1500,
        setup_s=(120.0, 300.0),
    ),
)

# Electrical power (kW) of each kind in each state outside the running state's load-dependent part.
_BASE_POWER: Mapping[MachineKind, Mapping[State, float]] = {
    MachineKind.CNC: {State.RUNNING: 6.0, State.IDLE: 2.5, State.SETUP: 1.5, State.FAULT: 0.8},
    MachineKind.INJECTION_MOULDING: {State.RUNNING: 30.0, State.IDLE: 4.0, State.SETUP: 3.0, State.FAULT: 1.5},
    MachineKind.PACKAGING: {State.RUNNING: 9.0, State.IDLE: 3.0, State.SETUP: 2.0, State.FAULT: 1.0},
}
_HEATER_FAULT = 201
_FAULT_CODES: Mapping[MachineKind, tuple[int, ...]] = {
    MachineKind.CNC: (101, 102, 103),  # tool breakage, spindle overload, coolant low
    MachineKind.INJECTION_MOULDING: (_HEATER_FAULT, 202, 203),  # heater, hydraulic pressure, mould protection
    MachineKind.PACKAGING: (301, 302),  # carton jam, film break
}
_SPINDLE_PROGRAMMES = (0.75, 0.9, 1.0, 1.15)  # spindle speed of each part programme, times the nominal
_SPINDLE_TAU_S = 900.0
_BARREL_TAU_S = 600.0
_MOULD_TAU_S = 300.0
_HEATER_POWER_KW = 12.0  # barrel and mould heaters of the moulding machine while they hold temperature
_COLD_SCRAP_K = 15.0  # a moulding shot further than this from its barrel setpoint is scrap


@dataclass(slots=True)
class _Machine:
    """The changing state of one machine between events."""

    spec: MachineSpec
    rng: random.Random
    noise: random.Random
    t: float
    state: State = State.RUNNING
    state_until: float = math.inf
    cycle_started: float = 0.0
    cycle_end: float = math.inf
    fault_at: float = math.inf
    fault_code: int = 0
    cycles_in_batch: int = 0
    cycle_count: int = 0
    good_count: int = 0
    scrap_count: int = 0
    last_cycle_s: float = 0.0
    energy_kwh: float = 0.0
    programme: float = 1.0
    temperatures: dict[str, float] = field(default_factory=dict)

    def next_event(self) -> float:
        """Return when the next cycle end, fault or state end happens."""
        if self.state is State.RUNNING:
            return min(self.cycle_end, self.fault_at)
        return self.state_until

    def advance(self, until: float) -> None:
        """Play every event up to ``until`` and integrate the continuous values in between."""
        while (when := self.next_event()) <= until:
            self._integrate(when)
            self._handle_event(when)
        self._integrate(until)

    # --- discrete events ---------------------------------------------------------------------

    def _handle_event(self, now: float) -> None:
        if self.state is not State.RUNNING:
            self._enter_running(now)
        elif self.fault_at <= self.cycle_end:
            # The cycle in progress is aborted: the part stays in the machine and is not counted.
            self.fault_code = self.rng.choice(_FAULT_CODES[self.spec.kind])
            self._enter(State.FAULT, now, self.spec.repair_s)
        else:
            self._finish_cycle(now)

    def _finish_cycle(self, now: float) -> None:
        spec = self.spec
        self.last_cycle_s = now - self.cycle_started
        self.cycle_count += 1
        self.cycles_in_batch += 1
        scrap_chance = spec.scrap_rate
        if self.cycles_in_batch == 1:
            scrap_chance = max(scrap_chance, 0.2)  # the first part after a setup is often off
        barrel = self.temperatures.get("barrel")
        if barrel is not None and abs(barrel - spec.barrel_setpoint) > _COLD_SCRAP_K:
            scrap_chance = 1.0
        if self.rng.random() < scrap_chance:
            self.scrap_count += 1
        else:
            self.good_count += 1
        if self.cycles_in_batch >= spec.batch_size:
            self._enter(State.SETUP, now, spec.setup_s)
        elif self.rng.random() < spec.idle_chance:
            self._enter(State.IDLE, now, spec.idle_s)
        else:
            self._start_cycle(now)

    def _enter(self, state: State, now: float, duration: tuple[float, float]) -> None:
        self.state = state
        self.state_until = now + self.rng.uniform(*duration)
        self.cycle_end = self.fault_at = math.inf

    def _enter_running(self, now: float) -> None:
        if self.state is State.SETUP:
            self.cycles_in_batch = 0
            self.programme = self.rng.choice(_SPINDLE_PROGRAMMES)
        self.state = State.RUNNING
        self.state_until = math.inf
        self.fault_code = 0
        # Running time to failure is exponential, so drawing it afresh each time running starts is exact.
        self.fault_at = now + self.rng.expovariate(1.0 / self.spec.mtbf_s)
        self._start_cycle(now)

    def _start_cycle(self, now: float) -> None:
        jitter = self.spec.cycle_jitter
        self.cycle_started = now
        self.cycle_end = now + self.spec.cycle_s * self.rng.uniform(1 - jitter, 1 + jitter)

    # --- continuous values -------------------------------------------------------------------

    def spindle_load(self) -> float:
        """Return the mean spindle load (%) of the running part programme, 0 when stopped."""
        return 25.0 + 40.0 * self.programme if self.state is State.RUNNING else 0.0

    def heaters_on(self) -> bool:
        """Tell whether the moulding heaters hold temperature (a heater fault trips them off)."""
        return not (self.state is State.FAULT and self.fault_code == _HEATER_FAULT)

    def power_kw(self) -> float:
        """Return the mean electrical power in the current state."""
        kind = self.spec.kind
        power = _BASE_POWER[kind][self.state]
        if kind is MachineKind.CNC:
            power += 0.12 * self.spindle_load()
        elif kind is MachineKind.INJECTION_MOULDING and self.heaters_on():
            power += _HEATER_POWER_KW
        return power

    def _targets(self) -> dict[str, tuple[float, float]]:
        """Return the temperature each lagged value drifts towards, with its time constant."""
        spec = self.spec
        if spec.kind is MachineKind.CNC:
            return {"spindle": (AMBIENT_C + 0.3 * self.spindle_load(), _SPINDLE_TAU_S)}
        if spec.kind is MachineKind.INJECTION_MOULDING:
            if not self.heaters_on():
                return {"barrel": (AMBIENT_C, _BARREL_TAU_S), "mould": (AMBIENT_C, _MOULD_TAU_S)}
            # Hot melt warms the mould a little above its setpoint while shots are made.
            mould = spec.mould_setpoint + (4.0 if self.state is State.RUNNING else 0.0)
            return {"barrel": (spec.barrel_setpoint, _BARREL_TAU_S), "mould": (mould, _MOULD_TAU_S)}
        return {}

    def _integrate(self, until: float) -> None:
        dt = until - self.t
        if dt <= 0:
            return
        self.energy_kwh += self.power_kw() * dt / 3600.0
        for name, (target, tau) in self._targets().items():
            # Exact solution of a first-order lag towards a constant target over dt.
            self.temperatures[name] = target + (self.temperatures[name] - target) * math.exp(-dt / tau)
        self.t = until

    # --- sampling ----------------------------------------------------------------------------

    def sample(self) -> dict[str, Value]:
        """Return the machine's values now, with measurement noise on the analogue ones."""
        spec = self.spec
        running = self.state is State.RUNNING
        values: dict[str, Value] = {
            "state": self.state.value,
            "state_code": STATE_CODES[self.state],
            "fault": self.state is State.FAULT,
            "fault_code": self.fault_code,
            "cycle_count": self.cycle_count,
            "good_count": self.good_count,
            "scrap_count": self.scrap_count,
            "cycle_time": round(self.last_cycle_s, 3),
            "power": self._noisy(self.power_kw(), 0.02, "power"),
            "energy": round(self.energy_kwh, 4),
        }
        if spec.kind is MachineKind.CNC:
            rpm = spec.spindle_rpm * self.programme if running else 0.0
            values["spindle_speed"] = self._noisy(rpm, 0.003, "spindle_speed")
            values["spindle_load"] = self._noisy(self.spindle_load(), 0.03, "spindle_load")
            values["spindle_temperature"] = self._noisy(self.temperatures["spindle"], 0.002, "spindle_temperature")
        elif spec.kind is MachineKind.INJECTION_MOULDING:
            values["barrel_temperature"] = self._noisy(self.temperatures["barrel"], 0.002, "barrel_temperature")
            values["barrel_setpoint"] = spec.barrel_setpoint
            values["mould_temperature"] = self._noisy(self.temperatures["mould"], 0.004, "mould_temperature")
            values["mould_setpoint"] = spec.mould_setpoint
            values["injection_pressure"] = self._noisy(1100.0 if running else 0.0, 0.03, "injection_pressure")
            values["heaters_on"] = self.heaters_on()
        else:
            packs_per_minute = 60.0 / (self.cycle_end - self.cycle_started) if running else 0.0
            values["throughput"] = self._noisy(packs_per_minute, 0.01, "throughput")
        return values

    def _noisy(self, mean: float, relative: float, name: str) -> float:
        """Return ``mean`` with Gaussian noise of ``relative`` spread, kept inside the field's bounds."""
        value = mean * (1.0 + self.noise.gauss(0.0, relative))
        spec = _BOUNDS[self.spec.kind][name]
        if spec.minimum is not None:
            value = max(value, spec.minimum)
        if spec.maximum is not None:
            value = min(value, spec.maximum)
        return round(value, 3)


_BOUNDS: Mapping[MachineKind, Mapping[str, FieldSpec]] = {
    kind: {spec.name: spec for spec in specs} for kind, specs in FIELDS.items()
}


class Plant:
    """A set of simulated machines stepped by an outside clock; same seed and clock, same values.

    The plant holds no clock of its own: ``step(now_s)`` plays every cycle end, fault and state
    change up to ``now_s`` exactly, so counters and states do not depend on how often it is stepped.
    """

    def __init__(self, layout: Iterable[MachineSpec] = DEFAULT_LAYOUT, *, seed: int = 0) -> None:
        self.layout: tuple[MachineSpec, ...] = tuple(layout)
        ids = [spec.machine_id for spec in self.layout]
        if len(set(ids)) != len(ids):
            raise ValueError("machine ids must be unique")
        self.seed = seed
        self._machines: dict[str, _Machine] = {}
        self._now: float | None = None

    @property
    def now_s(self) -> float | None:
        """Return the time of the last step, ``None`` before the first."""
        return self._now

    def spec(self, machine_id: str) -> MachineSpec:
        """Return the make-up of one machine."""
        for spec in self.layout:
            if spec.machine_id == machine_id:
                return spec
        raise KeyError(machine_id)

    def next_event_s(self) -> float | None:
        """Return when the next cycle end, fault or state change of any machine is due (``None`` before a step)."""
        return min((machine.next_event() for machine in self._machines.values()), default=None)

    def step(self, now_s: float) -> dict[str, dict[str, Value]]:
        """Advance the plant to ``now_s`` (seconds, never decreasing) and return every machine's values."""
        if not math.isfinite(now_s):
            raise ValueError("now_s must be a finite number")
        if self._now is None:
            self._start(now_s)
        elif now_s < self._now:
            raise ValueError(f"time went backwards: {now_s} < {self._now}")
        else:
            self._now = now_s
            for machine in self._machines.values():
                machine.advance(now_s)
        return {machine_id: machine.sample() for machine_id, machine in self._machines.items()}

    def _start(self, now_s: float) -> None:
        self._now = now_s
        for spec in self.layout:
            # A string seed is hashed with SHA-512, so the series is the same on every run and platform.
            rng = random.Random(f"{self.seed}:{spec.machine_id}")  # noqa: S311 -- simulation, not secrecy
            noise = random.Random(f"{self.seed}:{spec.machine_id}:noise")  # noqa: S311 -- simulation
            machine = _Machine(spec, rng, noise, now_s)
            if spec.kind is MachineKind.CNC:
                machine.temperatures["spindle"] = AMBIENT_C + 10.0
            elif spec.kind is MachineKind.INJECTION_MOULDING:
                machine.temperatures["barrel"] = spec.barrel_setpoint
                machine.temperatures["mould"] = spec.mould_setpoint
            machine.programme = rng.choice(_SPINDLE_PROGRAMMES)
            machine.fault_at = now_s + rng.expovariate(1.0 / spec.mtbf_s)
            # Start part-way through a cycle, so machines are not in lock-step.
            machine.cycle_started = now_s - spec.cycle_s * rng.random()
            machine.cycle_end = machine.cycle_started + spec.cycle_s
            self._machines[spec.machine_id] = machine
