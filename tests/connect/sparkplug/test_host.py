"""The Host Application state machine, driven by a fake clock: births, data, deaths, seq and rebirth."""

from __future__ import annotations

import pytest

from hexmill.connect.base import LinkState
from hexmill.connect.sparkplug.codec import REBIRTH, DataType, MessageType, MetricSpec, decode_payload, decode_state
from hexmill.connect.sparkplug.host import DeviceKey, MetricDefinition
from hexmill.telemetry.points import Quality

from .helpers import (
    BASE_MS,
    GROUP,
    NODE,
    FakeClock,
    births,
    data,
    dbirth,
    device_topic,
    links,
    make_host,
    nbirth,
    ndeath,
    node_topic,
    publishes,
    readings,
    refusals,
    values,
)

NODE_KEY = DeviceKey(GROUP, NODE)
OVEN = DeviceKey(GROUP, NODE, "oven")
NBIRTH, NDEATH, NDATA = MessageType.NBIRTH, MessageType.NDEATH, MessageType.NDATA
DBIRTH, DDATA, DDEATH = MessageType.DBIRTH, MessageType.DDATA, MessageType.DDEATH


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def born(clock: FakeClock, reorder_timeout_s: float = 2.0):  # type: ignore[no-untyped-def]
    """Return a host that has seen NBIRTH (bdSeq 7, seq 0) and the oven's DBIRTH (seq 1)."""
    host = make_host(clock, reorder_timeout_s)
    host.handle(node_topic(NBIRTH), nbirth(7))
    host.handle(device_topic(DBIRTH, "oven"), dbirth(1))
    return host


def assert_rebirth_requested(effects, node: str = NODE) -> None:  # type: ignore[no-untyped-def]
    (command,) = publishes(effects)
    assert command.topic == f"spBv1.0/{GROUP}/NCMD/{node}"
    payload = decode_payload(command.payload)
    assert [(m.name, m.value) for m in payload.metrics] == [(REBIRTH, True)]


def test_nbirth_reports_definitions_online_and_birth_values(clock: FakeClock) -> None:
    host = make_host(clock)
    effects = host.handle(node_topic(NBIRTH), nbirth(3))
    (birth,) = births(effects)
    assert birth.key == NODE_KEY
    assert birth.metrics == (
        MetricDefinition(REBIRTH, DataType.BOOLEAN),
        MetricDefinition("Uptime", DataType.UINT32, alias=1),
    )
    assert [(c.key, c.state) for c in links(effects)] == [(NODE_KEY, LinkState.ONLINE)]
    (batch,) = readings(effects)
    assert {r.field: (r.value, r.ts_us, r.quality) for r in batch.readings} == {
        REBIRTH: (False, BASE_MS * 1000, Quality.GOOD),
        "Uptime": (10, BASE_MS * 1000, Quality.GOOD),
    }
    assert not refusals(effects)


def test_dbirth_then_ddata_by_alias_without_datatypes(clock: FakeClock) -> None:
    host = make_host(clock)
    host.handle(node_topic(NBIRTH), nbirth(7))
    effects = host.handle(device_topic(DBIRTH, "oven"), dbirth(1))
    assert births(effects)[0].metrics == (
        MetricDefinition("Temperature", DataType.DOUBLE, alias=10),
        MetricDefinition("Count", DataType.INT32, alias=11),
    )
    assert values(effects) == {"Temperature": 20.5, "Count": -1}

    # Aliases only, no datatypes: the birth certificate supplies both name and type (Int32 -5 travels as 2**32-5).
    specs = [MetricSpec(None, DataType.DOUBLE, 21.0, alias=10), MetricSpec(None, DataType.INT32, -5, alias=11)]
    effects = host.handle(device_topic(DDATA, "oven"), data(2, specs))
    (batch,) = readings(effects)
    assert batch.key == OVEN
    assert {(r.field, r.value, r.ts_us) for r in batch.readings} == {
        ("Temperature", 21.0, (BASE_MS + 12) * 1000),
        ("Count", -5, (BASE_MS + 12) * 1000),
    }


def test_metric_timestamp_and_historical_flag_reach_the_reading(clock: FakeClock) -> None:
    host = born(clock)
    spec = MetricSpec("Temperature", DataType.DOUBLE, 19.0, timestamp_ms=BASE_MS - 60_000, is_historical=True)
    (reading,) = readings(host.handle(device_topic(DDATA, "oven"), data(2, [spec])))[0].readings
    assert reading.ts_us == (BASE_MS - 60_000) * 1000
    assert reading.historical


def test_unknown_alias_and_unknown_name_refused_good_metric_kept(clock: FakeClock) -> None:
    host = born(clock)
    specs = [
        MetricSpec(None, DataType.DOUBLE, 1.0, alias=99),
        MetricSpec("Pressure", DataType.DOUBLE, 2.0),
        MetricSpec("Count", DataType.INT32, 4),
        MetricSpec("Temperature", DataType.STRING, "hot"),
    ]
    effects = host.handle(device_topic(DDATA, "oven"), data(2, specs, include_datatypes=True))
    assert values(effects) == {"Count": 4}
    (refused,) = refusals(effects)
    assert refused.reasons == (
        "alias 99: alias is not in the birth certificate",
        "Pressure: metric is not in the birth certificate",
        "Temperature: datatype STRING differs from DOUBLE in the birth certificate",
    )


def test_seq_wraps_from_255_to_0(clock: FakeClock) -> None:
    host = make_host(clock)
    host.handle(node_topic(NBIRTH), nbirth(1, seq=0))
    seq = 1
    for i in range(300):
        effects = host.handle(node_topic(NDATA), data(seq, [MetricSpec(None, DataType.UINT32, i, alias=1)]))
        assert values(effects) == {"Uptime": i}, f"message {i} with seq {seq}"
        seq = (seq + 1) % 256
    assert host.next_deadline() is None


def test_out_of_order_messages_are_held_then_applied_in_order(clock: FakeClock) -> None:
    host = born(clock)
    temp = lambda v: [MetricSpec(None, DataType.DOUBLE, v, alias=10)]  # noqa: E731
    assert host.handle(device_topic(DDATA, "oven"), data(3, temp(3.0))) == []
    assert host.handle(device_topic(DDATA, "oven"), data(4, temp(4.0))) == []
    assert host.next_deadline() == clock.now + 2.0
    clock.advance(1.5)
    assert host.tick() == []
    effects = host.handle(device_topic(DDATA, "oven"), data(2, temp(2.0)))
    assert [r.value for batch in readings(effects) for r in batch.readings] == [2.0, 3.0, 4.0]
    assert host.next_deadline() is None
    clock.advance(5)
    assert host.tick() == []
    assert values(host.handle(device_topic(DDATA, "oven"), data(5, temp(5.0)))) == {"Temperature": 5.0}


def test_reorder_timeout_requests_rebirth_and_drops_until_nbirth(clock: FakeClock) -> None:
    host = born(clock)
    temp = [MetricSpec(None, DataType.DOUBLE, 9.0, alias=10)]
    assert host.handle(device_topic(DDATA, "oven"), data(5, temp)) == []
    clock.advance(1.99)
    assert host.tick() == []
    clock.advance(0.02)
    assert_rebirth_requested(host.tick())
    assert host.next_deadline() is None

    # The missing message arrives too late: the node is waiting for its rebirth, so data is dropped.
    effects = host.handle(device_topic(DDATA, "oven"), data(2, temp))
    assert not readings(effects)
    assert "awaiting rebirth" in refusals(effects)[0].reasons[0]
    assert publishes(effects) == []  # asked a moment ago: not again yet

    effects = host.handle(node_topic(NBIRTH), nbirth(8))
    assert links(effects)[0] == links(effects)[0].__class__(OVEN, LinkState.UNAVAILABLE, "edge node rebirth")
    host.handle(device_topic(DBIRTH, "oven"), dbirth(1))
    assert values(host.handle(device_topic(DDATA, "oven"), data(2, temp))) == {"Temperature": 9.0}


def test_data_before_birth_requests_rebirth_once_per_interval(clock: FakeClock) -> None:
    host = make_host(clock)
    effects = host.handle(node_topic(NDATA, node="stranger"), data(4, [MetricSpec("x", DataType.INT32, 1)]))
    assert not readings(effects)
    assert_rebirth_requested(effects, node="stranger")
    assert publishes(host.handle(node_topic(NDATA, node="stranger"), data(5, []))) == []
    clock.advance(2.5)
    assert_rebirth_requested(host.handle(node_topic(NDATA, node="stranger"), data(6, [])), node="stranger")


def test_ddata_of_unborn_device_requests_rebirth(clock: FakeClock) -> None:
    host = born(clock)
    effects = host.handle(device_topic(DDATA, "press"), data(2, [MetricSpec("x", DataType.INT32, 1)]))
    assert not readings(effects)
    assert_rebirth_requested(effects)


def test_ndeath_marks_node_and_devices_stale_with_last_values(clock: FakeClock) -> None:
    host = born(clock)
    host.handle(device_topic(DDATA, "oven"), data(2, [MetricSpec(None, DataType.DOUBLE, 30.0, alias=10)]))
    clock.advance(10)
    effects = host.handle(node_topic(NDEATH), ndeath(7))
    stale = {(batch.key, r.field): (r.value, r.quality, r.ts_us) for batch in readings(effects) for r in batch.readings}
    assert stale == {
        (NODE_KEY, REBIRTH): (False, Quality.STALE, clock.wall * 1000),
        (NODE_KEY, "Uptime"): (10, Quality.STALE, clock.wall * 1000),
        (OVEN, "Temperature"): (30.0, Quality.STALE, clock.wall * 1000),
        (OVEN, "Count"): (-1, Quality.STALE, clock.wall * 1000),
    }
    assert {(c.key, c.state) for c in links(effects)} == {
        (NODE_KEY, LinkState.UNAVAILABLE),
        (OVEN, LinkState.UNAVAILABLE),
    }
    # Dead now: data is refused and a rebirth is requested.
    assert_rebirth_requested(host.handle(node_topic(NDATA), data(3, [])))


def test_old_ndeath_after_new_nbirth_is_ignored(clock: FakeClock) -> None:
    host = make_host(clock)
    host.handle(node_topic(NBIRTH), nbirth(4))
    host.handle(node_topic(NBIRTH), nbirth(5))  # reconnected before the broker sent the old session's Will
    assert host.handle(node_topic(NDEATH), ndeath(4)) == []
    assert values(host.handle(node_topic(NDATA), data(1, [MetricSpec(None, DataType.UINT32, 11, alias=1)]))) == {
        "Uptime": 11
    }
    effects = host.handle(node_topic(NDEATH), ndeath(5))
    assert links(effects) == [
        links(effects)[0].__class__(NODE_KEY, LinkState.UNAVAILABLE, "edge node death certificate")
    ]
    assert host.handle(node_topic(NDEATH), ndeath(5)) == []  # already dead


def test_ddeath_marks_only_that_device_stale(clock: FakeClock) -> None:
    host = born(clock)
    host.handle(device_topic(DBIRTH, "press"), dbirth(2, [MetricSpec("Force", DataType.FLOAT, 1.5)]))
    effects = host.handle(device_topic(DDEATH, "oven"), data(3, []))
    assert {batch.key for batch in readings(effects)} == {OVEN}
    assert all(r.quality is Quality.STALE for r in readings(effects)[0].readings)
    assert [(c.key, c.state) for c in links(effects)] == [(OVEN, LinkState.UNAVAILABLE)]
    assert set(host.known_devices()) == {NODE_KEY, DeviceKey(GROUP, NODE, "press")}
    # The press still reports; the dead oven asks for a rebirth.
    press = [MetricSpec("Force", DataType.FLOAT, 2.5)]
    assert values(host.handle(device_topic(DDATA, "press"), data(4, press))) == {"Force": 2.5}
    assert_rebirth_requested(host.handle(device_topic(DDATA, "oven"), data(5, [])))


def test_transient_metrics_are_declared_but_not_stored(clock: FakeClock) -> None:
    host = make_host(clock)
    effects = host.handle(node_topic(NBIRTH), nbirth(1, [MetricSpec("Debug", DataType.STRING, "x", is_transient=True)]))
    assert MetricDefinition("Debug", DataType.STRING, is_transient=True) in births(effects)[0].metrics
    assert "Debug" not in values(effects)
    assert "Debug" not in values(host.handle(node_topic(NDATA), data(1, [MetricSpec("Debug", DataType.STRING, "y")])))


def test_null_metric_becomes_a_reading_without_value(clock: FakeClock) -> None:
    host = born(clock)
    effects = host.handle(device_topic(DDATA, "oven"), data(2, [MetricSpec(None, DataType.DOUBLE, None, alias=10)]))
    assert values(effects) == {"Temperature": None}


def test_connection_lost_marks_everything_stale_and_forgets_sessions(clock: FakeClock) -> None:
    host = born(clock)
    effects = host.connection_lost()
    assert {c.key for c in links(effects)} == {NODE_KEY, OVEN}
    assert all(r.quality is Quality.STALE for batch in readings(effects) for r in batch.readings)
    assert_rebirth_requested(host.handle(node_topic(NDATA), data(3, [])))


def test_state_will_and_online_share_the_session_timestamp(clock: FakeClock) -> None:
    host = make_host(clock)
    will = host.start_session()
    clock.advance(3)
    (online,) = host.online()
    assert will.topic == online.topic == "spBv1.0/STATE/hexmill-test"
    assert will.retain and online.retain and will.qos == online.qos == 1
    assert decode_state(will.payload).online is False
    assert decode_state(online.payload).online is True
    assert decode_state(will.payload).timestamp_ms == decode_state(online.payload).timestamp_ms == BASE_MS


def test_state_offline_for_this_host_while_online_is_corrected(clock: FakeClock) -> None:
    host = make_host(clock)
    host.start_session()
    (online,) = host.online()
    assert host.handle(online.topic, online.payload) == []
    assert publishes(host.handle(online.topic, b'{"online":false,"timestamp":1}')) == [online]
    assert host.handle("spBv1.0/STATE/another-host", b'{"online":false,"timestamp":1}') == []


def test_bad_topics_and_payloads_are_refused_not_raised(clock: FakeClock) -> None:
    host = born(clock)
    assert refusals(host.handle("spBv1.0/plant/NOPE/edge-1", b""))
    assert refusals(host.handle("spBv1.0/plant/DDATA/edge-1/oven/extra", b""))
    assert refusals(host.handle(device_topic(DDATA, "oven"), b"\xff\xff\xff"))
    assert refusals(host.handle("spBv1.0/STATE/hexmill-test", b"not json"))
    assert host.handle(node_topic(MessageType.NCMD), b"\x00") == []
