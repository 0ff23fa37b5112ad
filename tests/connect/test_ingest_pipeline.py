"""The ingest pipeline: device fields → equipment tags → telemetry store, refusals to dead letters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hexmill.connect.limits import IngestLimits, RateLimiter
from hexmill.connect.payload import parse_payload
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.models import DeadLetter, Device
from hexmill.connect.registry.service import DeviceAuthenticator, FieldResolver, IngestItem
from hexmill.core.context import Context
from hexmill.core.db import transaction
from hexmill.core.errors import NotAuthenticated
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.telemetry.points import Quality, Reading, unpack_quality
from hexmill.telemetry.store import TelemetryStore
from tests.connect.conftest import Machine

NOW = 1_795_309_323_000_000


def _ingest(
    factory: sessionmaker[Session], store: TelemetryStore, items: list[IngestItem]
) -> list[registry.IngestResult]:
    with transaction(factory) as s:
        set_scope(s, ALL_TENANTS)
        return registry.ingest(s, store, FieldResolver(), items)


def test_good_values_are_stored_beside_refused_ones(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    payload = (
        b'[{"ts": 1795309200000, "values": {"spindle_speed": 1200.5, "running": true, "program": "O100",'
        b' "nope": 1, "temperature": "hot"}}, {"ts": "yesterday", "values": {"cycles": 3}}]'
    )
    parsed = parse_payload(payload, now_us=NOW)
    [result] = _ingest(
        session_factory, store, [IngestItem(m.identity, parsed.readings, "http", parsed.rejections, payload)]
    )
    assert result.accepted == 3
    assert sorted(r.location for r in result.rejections) == ["[1].ts", "values.nope", "values.temperature"]
    latest = {p.series: p for p in store.latest(m.tenant_id, list(m.tags.values()))}
    assert latest[m.tags["spindle_speed"]].value == 1200.5
    assert latest[m.tags["running"]].value == 1.0
    assert latest[m.tags["program"]].text == "O100"
    assert m.tags["temperature"] not in latest
    with transaction(session_factory) as s:
        set_scope(s, m.tenant_id)
        letters = s.scalars(select(DeadLetter).where(DeadLetter.device_id == m.device_id)).all()
        device = s.scalar(select(Device).where(Device.id == m.device_id))
        assert device is not None
        assert (device.points_accepted, device.records_rejected) == (3, 3)
        assert device.link_state == "online"  # an MQTT device is online when it sends
        assert device.last_seen_at is not None
    assert {letter.reason for letter in letters} >= {"no tag of the equipment has this name or mapping"}
    assert all(letter.payload.startswith("[{") for letter in letters)


def test_resending_a_message_stores_each_point_once(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    readings = [Reading("spindle_speed", NOW - i * 1_000_000, float(i)) for i in range(100)]
    for _ in range(3):
        _ingest(session_factory, store, [IngestItem(m.identity, readings, "mqtt")])
    points = store.raw(m.tenant_id, [m.tags["spindle_speed"]], NOW - 10**9, NOW + 1)
    assert len(points) == 100


def test_explicit_field_mapping_wins_over_names(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    with transaction(session_factory) as s:
        set_scope(s, m.tenant_id)
        registry.set_device_fields(s, Context.system(m.tenant_id), m.device_id, {"S1": m.tags["spindle_speed"]})
    _ingest(session_factory, store, [IngestItem(m.identity, [Reading("S1", NOW, 99.0, Quality.UNCERTAIN)], "opcua")])
    [point] = store.latest(m.tenant_id, [m.tags["spindle_speed"]])
    assert point.value == 99.0
    assert unpack_quality(point.quality) == (Quality.UNCERTAIN, False)


def test_auto_tags_creates_tags_for_new_fields(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory(auto_tags=True)
    [result] = _ingest(
        session_factory,
        store,
        [IngestItem(m.identity, [Reading("oil_pressure", NOW, 4.2, historical=True)], "sparkplug")],
    )
    assert result.accepted == 1
    with transaction(session_factory) as s:
        set_scope(s, m.tenant_id)
        series = registry.FieldResolver().get(s, m.device_id).fields["oil_pressure"]
    [point] = store.latest(m.tenant_id, [series[0]])
    assert unpack_quality(point.quality) == (Quality.GOOD, True)


def test_revoked_device_is_refused_and_rotation_replaces_the_secret(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    auth = DeviceAuthenticator()
    with transaction(session_factory) as s:
        assert auth.authenticate(s, m.client_id, m.secret).tenant_id == m.tenant_id
        set_scope(s, m.tenant_id)
        _, new_secret = registry.rotate_device_secret(s, Context.system(m.tenant_id), m.device_id)
    with transaction(session_factory) as s:
        try:
            auth.authenticate(s, m.client_id, m.secret, fresh=True)
            raise AssertionError("the old secret still works")
        except NotAuthenticated:
            pass
        assert auth.authenticate(s, m.client_id, new_secret).device_id == m.device_id
        set_scope(s, m.tenant_id)
        registry.revoke_device(s, Context.system(m.tenant_id), m.device_id)
    with transaction(session_factory) as s:
        try:
            auth.authenticate(s, m.client_id, new_secret, fresh=True)
            raise AssertionError("a revoked device authenticated")
        except NotAuthenticated:
            pass
    [result] = _ingest(session_factory, store, [IngestItem(m.identity, [Reading("cycles", NOW, 1)], "http")])
    assert result.accepted == 0
    assert "revoked" in result.rejections[0].reason


def test_one_batch_for_two_tenants_keeps_each_in_its_own_store_partition(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    a, b = machine_factory(), machine_factory()
    _ingest(
        session_factory,
        store,
        [
            IngestItem(a.identity, [Reading("cycles", NOW, 1)], "mqtt"),
            IngestItem(b.identity, [Reading("cycles", NOW, 2)], "mqtt"),
        ],
    )
    assert [p.value for p in store.latest(a.tenant_id, [a.tags["cycles"], b.tags["cycles"]])] == [1.0]
    assert [p.value for p in store.latest(b.tenant_id, [a.tags["cycles"], b.tags["cycles"]])] == [2.0]


def test_text_that_no_store_can_hold_is_refused_alone(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    readings = [Reading("program", NOW, "a\x00b"), Reading("program", NOW + 1, "\ud800"), Reading("cycles", NOW, 7)]
    [result] = _ingest(session_factory, store, [IngestItem(m.identity, readings, "opcua")])
    assert result.accepted == 1
    assert sorted(r.reason for r in result.rejections) == [
        "text contains a NUL character",
        "text is not valid Unicode (lone surrogate)",
    ]
    assert [p.value for p in store.latest(m.tenant_id, [m.tags["cycles"]])] == [7.0]


def test_a_field_name_no_database_can_hold_still_gets_its_dead_letter(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    payload = b'{"ts": 1795309200000, "values": {"\\ud800\\u0000": 1, "cycles": 5}}'
    parsed = parse_payload(payload, now_us=NOW)
    [result] = _ingest(
        session_factory, store, [IngestItem(m.identity, parsed.readings, "mqtt", parsed.rejections, payload)]
    )
    assert result.accepted == 1
    with transaction(session_factory) as s:
        set_scope(s, m.tenant_id)
        [letter] = s.scalars(select(DeadLetter).where(DeadLetter.device_id == m.device_id)).all()
    assert "\ufffd" in letter.location or "?" in letter.location


def _counters(factory: sessionmaker[Session], m: Machine) -> tuple[int, int, str, bool]:
    with transaction(factory) as s:
        set_scope(s, m.tenant_id)
        device = s.scalar(select(Device).where(Device.id == m.device_id))
        assert device is not None
        return device.points_accepted, device.records_rejected, device.link_state, device.last_seen_at is not None


def test_deferred_counters_reach_the_device_row_only_when_written(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    counters = registry.DeviceCounters(interval=60)
    for n in range(3):
        items = [
            IngestItem(m.identity, [Reading("spindle_speed", NOW + n, 1.0), Reading("nope", NOW + n, 1.0)], "mqtt")
        ]
        with transaction(session_factory) as s:
            set_scope(s, ALL_TENANTS)
            results = registry.ingest(s, store, FieldResolver(), items, defer_counters=True)
        counters.add(items, results)
    assert len(store.raw(m.tenant_id, [m.tags["spindle_speed"]], NOW, NOW + 3)) == 3
    assert _counters(session_factory, m) == (0, 0, "unknown", False)
    assert not counters.due()  # the interval has not passed
    tallies = counters.take()
    with transaction(session_factory) as s:
        registry.write_device_counters(s, tallies)
    assert _counters(session_factory, m) == (3, 3, "online", True)
    assert counters.take() == {}


def test_counters_whose_write_failed_are_kept_for_the_next(
    session_factory: sessionmaker[Session], machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    counters = registry.DeviceCounters(interval=0)
    item = IngestItem(m.identity, [], "mqtt")
    counters.add([item], [registry.IngestResult(5, [])])
    failed = counters.take()
    counters.add([item], [registry.IngestResult(2, [])])
    counters.give_back(failed)
    assert counters.due()
    with transaction(session_factory) as s:
        registry.write_device_counters(s, counters.take())
    assert _counters(session_factory, m)[:2] == (7, 0)


def test_a_device_sending_an_unmapped_field_is_reloaded_once_per_batch(
    session_factory: sessionmaker[Session], store: TelemetryStore, machine_factory: Callable[..., Machine]
) -> None:
    m = machine_factory()
    fresh_loads = []

    class CountingResolver(FieldResolver):
        def get(self, session: Session, device_id: int, *, fresh: bool = False) -> registry.FieldMap:
            fresh_loads.append(fresh)
            return super().get(session, device_id, fresh=fresh)

    items = [
        IngestItem(m.identity, [Reading("nope", NOW + n, 1.0), Reading("cycles", NOW + n, 1)], "mqtt")
        for n in range(50)
    ]
    with transaction(session_factory) as s:
        set_scope(s, ALL_TENANTS)
        results = registry.ingest(s, store, CountingResolver(), items)
    assert [r.accepted for r in results] == [1] * 50
    assert all([r.location for r in result.rejections] == ["values.nope"] for result in results)
    assert fresh_loads.count(True) == 1


def test_ingest_workers_alive_counts_the_group_without_stale_or_foreign_workers(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    stale = timedelta(seconds=15)
    with transaction(session_factory) as s:
        earlier = now - timedelta(seconds=20)
        assert registry.ingest_workers_alive(s, group="g", client_id="w1", now=earlier, stale_after=stale) == 1
        assert registry.ingest_workers_alive(s, group="other", client_id="x1", now=now, stale_after=stale) == 1
        # w1 was last seen 20 s ago: it no longer counts; w2 and w3 do.
        assert registry.ingest_workers_alive(s, group="g", client_id="w2", now=now, stale_after=stale) == 1
        assert registry.ingest_workers_alive(s, group="g", client_id="w3", now=now, stale_after=stale) == 2
        # A worker seen again counts again, once.
        assert registry.ingest_workers_alive(s, group="g", client_id="w1", now=now, stale_after=stale) == 3
        assert registry.ingest_workers_alive(s, group="g", client_id="w1", now=now, stale_after=stale) == 3


def test_a_limiters_share_fills_its_buckets_at_that_part_of_the_limit() -> None:
    limits = IngestLimits(device_messages_per_s=10, tenant_messages_per_s=0)
    now = [100.0]
    half = RateLimiter(limits, clock=lambda: now[0], share=0.5)
    assert [half.admit(1, 1) for _ in range(6)].count(None) == 5
    now[0] += 1.0  # one second refills half of the limit
    assert [half.admit(1, 1) for _ in range(6)].count(None) == 5
    # A share too small for one message a second still lets one through, then one per 1/rate s.
    tiny = RateLimiter(IngestLimits(device_messages_per_s=1, tenant_messages_per_s=0), clock=lambda: now[0], share=0.1)
    assert [tiny.admit(1, 1) for _ in range(3)].count(None) == 1
    now[0] += 10.0
    assert tiny.admit(1, 1) is None
