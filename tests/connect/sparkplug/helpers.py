"""Builders of Sparkplug B messages and a fake clock for the host state machine tests."""

from __future__ import annotations

from dataclasses import dataclass

from hexmill.connect.sparkplug.codec import BD_SEQ, REBIRTH, DataType, MessageType, MetricSpec, Topic, encode_payload
from hexmill.connect.sparkplug.host import (
    BirthReceived,
    Effect,
    HostApplication,
    LinkChanged,
    MessageRefused,
    Publish,
    ReadingsReceived,
)

GROUP = "plant"
NODE = "edge-1"
BASE_MS = 1_700_000_000_000


@dataclass
class FakeClock:
    """Monotonic seconds and wall milliseconds that move only when a test says so."""

    now: float = 100.0
    wall: int = BASE_MS

    def monotonic(self) -> float:
        return self.now

    def wall_ms(self) -> int:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += int(seconds * 1000)


def make_host(clock: FakeClock, reorder_timeout_s: float = 2.0) -> HostApplication:
    return HostApplication(
        "hexmill-test", reorder_timeout_s=reorder_timeout_s, monotonic=clock.monotonic, wall_ms=clock.wall_ms
    )


def node_topic(kind: MessageType, node: str = NODE) -> str:
    return Topic.node(kind, GROUP, node).to_str()


def device_topic(kind: MessageType, device: str, node: str = NODE) -> str:
    return Topic.device(kind, GROUP, node, device).to_str()


def nbirth(bd_seq: int, metrics: list[MetricSpec] | None = None, seq: int = 0) -> bytes:
    specs = [
        MetricSpec(BD_SEQ, DataType.INT64, bd_seq),
        MetricSpec(REBIRTH, DataType.BOOLEAN, False),
        *(metrics if metrics is not None else [MetricSpec("Uptime", DataType.UINT32, 10, alias=1)]),
    ]
    return encode_payload(specs, timestamp_ms=BASE_MS, seq=seq)


def ndeath(bd_seq: int | None) -> bytes:
    metrics = [MetricSpec(BD_SEQ, DataType.INT64, bd_seq)] if bd_seq is not None else []
    return encode_payload(metrics, timestamp_ms=BASE_MS)


def dbirth(seq: int, metrics: list[MetricSpec] | None = None) -> bytes:
    specs = (
        metrics
        if metrics is not None
        else [
            MetricSpec("Temperature", DataType.DOUBLE, 20.5, alias=10),
            MetricSpec("Count", DataType.INT32, -1, alias=11),
        ]
    )
    return encode_payload(specs, timestamp_ms=BASE_MS + 1, seq=seq)


def data(seq: int, metrics: list[MetricSpec], *, include_datatypes: bool = False, ts: int | None = None) -> bytes:
    return encode_payload(
        metrics, timestamp_ms=ts if ts is not None else BASE_MS + 10 + seq, seq=seq, include_datatypes=include_datatypes
    )


def readings(effects: list[Effect]) -> list[ReadingsReceived]:
    return [e for e in effects if isinstance(e, ReadingsReceived)]


def births(effects: list[Effect]) -> list[BirthReceived]:
    return [e for e in effects if isinstance(e, BirthReceived)]


def links(effects: list[Effect]) -> list[LinkChanged]:
    return [e for e in effects if isinstance(e, LinkChanged)]


def refusals(effects: list[Effect]) -> list[MessageRefused]:
    return [e for e in effects if isinstance(e, MessageRefused)]


def publishes(effects: list[Effect]) -> list[Publish]:
    return [e for e in effects if isinstance(e, Publish)]


def values(effects: list[Effect]) -> dict[str, object]:
    """Map field → value over every reading in the effects (later readings win)."""
    return {r.field: r.value for batch in readings(effects) for r in batch.readings}
