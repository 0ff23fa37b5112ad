"""The device registry's logic: provisioning, credentials, field mappings and the ingest pipeline.

Provisioning needs ``devices.manage`` and reading ``devices.view``. A device's secret is made
here, returned once, and kept only as a hash. ``ingest`` is the one path every connector's
readings take into telemetry: readings are mapped from device fields to equipment tags, bad ones
go to the dead-letter table with their reason, good ones are written to the telemetry store and
committed before the caller acknowledges anything (DESIGN §5).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hexmill.assets import service as assets
from hexmill.connect.payload import Point, Rejection
from hexmill.connect.registry.filters import DEAD_LETTER_FILTERS, DEVICE_FILTERS
from hexmill.connect.registry.models import PROTOCOLS, DeadLetter, Device, DeviceField, IngestWorkerSeen
from hexmill.core import audit
from hexmill.core.clock import utcnow
from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotAuthenticated, NotFound
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT, count_of
from hexmill.core.security import hash_device_secret, same, verify_device_secret
from hexmill.core.tenancy import widened
from hexmill.telemetry.points import Reading, Value, quality_code
from hexmill.telemetry.store import PointRow, TelemetryStore

if TYPE_CHECKING:
    from sqlalchemy import Table

VIEW = "devices.view"
MANAGE = "devices.manage"
MAX_PAYLOAD_EXCERPT: Final = 2000
MAX_DEAD_LETTERS_PER_BATCH: Final = 1000
PUSHING: Final = frozenset({"mqtt", "http"})


# ---------------------------------------------------------------------------------------------
# Provisioning
# ---------------------------------------------------------------------------------------------


def _new_client_id() -> str:
    return "dev-" + secrets.token_hex(6)


_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")


def _check_client_id(session: Session, client_id: str) -> None:
    if not _CLIENT_ID.match(client_id):
        message = N_("A client id has 3 to 64 letters, digits, dots, dashes or underscores.")
        raise InvalidInput(message, field="client_id", errors=[FieldError(message, field="client_id")])
    with widened(session):
        taken = session.scalar(select(Device.id).where(Device.client_id == client_id))
    if taken is not None:
        raise Conflict(N_("The client id %(client_id)s is taken."), field="client_id", client_id=client_id)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def list_devices(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Device], int]:
    """Return one page of the enterprise's devices, and their total."""
    ctx.require(VIEW)
    stmt = DEVICE_FILTERS.apply(select(Device).order_by(Device.name, Device.id), filters or {})
    return list(session.scalars(stmt.offset(offset).limit(limit))), count_of(session, stmt)


def get_device(session: Session, ctx: Context, device_id: int) -> Device:
    """Return one device of the enterprise, or raise NotFound."""
    ctx.require(VIEW)
    device = session.scalar(select(Device).where(Device.id == device_id))
    if device is None:
        raise NotFound(N_("Device %(id)s not found."), id=device_id)
    return device


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        message = N_("Unknown protocol %(value)s; use one of %(choices)s.")
        raise InvalidInput(
            message,
            field="protocol",
            errors=[FieldError(message, field="protocol", params={"value": protocol, "choices": ", ".join(PROTOCOLS)})],
            value=protocol,
            choices=", ".join(PROTOCOLS),
        )


def _config_model(protocol: str) -> type[BaseModel] | None:
    """Return the pydantic model a protocol's device configuration must satisfy (None: no settings)."""
    if protocol == "modbus":
        from hexmill.connect.modbus.config import ModbusConfig  # noqa: PLC0415 - protocol packages load on demand

        return ModbusConfig
    if protocol == "opcua":
        from hexmill.connect.opcua.config import OpcUaConfig  # noqa: PLC0415 - as above

        return OpcUaConfig
    if protocol == "sparkplug":
        from hexmill.connect.sparkplug.config import SparkplugDeviceConfig  # noqa: PLC0415 - as above

        return SparkplugDeviceConfig
    return None


def check_device_config(protocol: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a device's protocol settings; raise InvalidInput naming each bad ``config.<path>``."""
    model = _config_model(protocol)
    if model is None:
        if config:
            message = N_("Devices speaking %(protocol)s take no settings.")
            raise InvalidInput(
                message,
                field="config",
                errors=[FieldError(message, field="config", params={"protocol": protocol})],
                protocol=protocol,
            )
        return {}
    try:
        model.model_validate(dict(config))
    except ValidationError as exc:
        errors = [
            FieldError(
                N_("%(reason)s"),
                field=".".join(["config", *(str(p) for p in err["loc"])]),
                params={"reason": err["msg"]},
            )
            for err in exc.errors()
        ]
        raise InvalidInput(N_("The device settings have errors."), errors=errors) from None
    return dict(config)


def _check_equipment(session: Session, ctx: Context, equipment_id: int) -> None:
    try:
        assets.get_equipment(session, ctx, equipment_id)
    except NotFound:
        message = N_("Equipment %(id)s does not exist.")
        raise InvalidInput(
            message,
            field="equipment_id",
            errors=[FieldError(message, field="equipment_id", params={"id": equipment_id})],
            id=equipment_id,
        ) from None


def _flush_unique(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(N_("A device named %(name)s already exists."), field="name", name=name) from None


def create_device(
    session: Session,
    ctx: Context,
    *,
    name: str,
    protocol: str,
    equipment_id: int,
    config: Mapping[str, Any] | None = None,
    description: str = "",
    auto_tags: bool = False,
    client_id: str | None = None,
) -> tuple[Device, str]:
    """Provision a device bound to a piece of equipment; return it and its secret (shown once).

    ``client_id`` lets an integrator keep the name a device already uses on the wire; it must be
    unique on the platform and safe as one MQTT topic level. One is generated when not given.
    """
    ctx.require(MANAGE)
    tenant_id = ctx.require_tenant()
    if client_id is not None:
        _check_client_id(session, client_id)
    _check_protocol(protocol)
    _check_equipment(session, ctx, equipment_id)
    config = check_device_config(protocol, config or {})
    secret = _new_secret()
    device = Device(
        tenant_id=tenant_id,
        name=name,
        client_id=client_id or _new_client_id(),
        protocol=protocol,
        equipment_id=equipment_id,
        config=dict(config or {}),
        description=description,
        auto_tags=auto_tags,
        secret_hash=hash_device_secret(secret),
        secret_set_at=utcnow(),
    )
    session.add(device)
    _flush_unique(session, name)
    audit.record(
        session,
        ctx,
        "connect.device.create",
        object_type="device",
        object_id=device.id,
        detail={"name": name, "protocol": protocol, "equipment_id": equipment_id, "client_id": device.client_id},
    )
    return device, secret


def update_device(session: Session, ctx: Context, device_id: int, **fields: Any) -> Device:
    """Change a device's name, description, equipment, configuration or switches."""
    ctx.require(MANAGE)
    device = get_device(session, ctx, device_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    if "protocol" in changes:
        _check_protocol(changes["protocol"])
    if "equipment_id" in changes:
        _check_equipment(session, ctx, changes["equipment_id"])
    if "config" in changes or "protocol" in changes:
        changes["config"] = check_device_config(
            changes.get("protocol", device.protocol), changes.get("config", device.config)
        )
    for key, value in changes.items():
        setattr(device, key, value)
    _flush_unique(session, changes.get("name", device.name))
    audit.record(
        session,
        ctx,
        "connect.device.update",
        object_type="device",
        object_id=device.id,
        detail={k: v for k, v in changes.items() if k != "config"}
        | ({"config": "changed"} if "config" in changes else {}),
    )
    return device


def delete_device(session: Session, ctx: Context, device_id: int) -> None:
    """Delete a device; its stored telemetry stays with the equipment's tags."""
    ctx.require(MANAGE)
    device = get_device(session, ctx, device_id)
    session.delete(device)
    session.flush()
    audit.record(
        session,
        ctx,
        "connect.device.delete",
        object_type="device",
        object_id=device_id,
        detail={"name": device.name, "client_id": device.client_id},
    )


def rotate_device_secret(session: Session, ctx: Context, device_id: int) -> tuple[Device, str]:
    """Give a device a new secret (the old one stops working); return the new one, shown once."""
    ctx.require(MANAGE)
    device = get_device(session, ctx, device_id)
    secret = _new_secret()
    device.secret_hash = hash_device_secret(secret)
    device.secret_set_at = utcnow()
    device.revoked_at = None
    session.flush()
    audit.record(session, ctx, "connect.device.rotate_secret", object_type="device", object_id=device.id)
    return device, secret


def revoke_device(session: Session, ctx: Context, device_id: int) -> Device:
    """Revoke a device's credentials: it can no longer connect or send until given a new secret."""
    ctx.require(MANAGE)
    device = get_device(session, ctx, device_id)
    device.secret_hash = None
    device.revoked_at = utcnow()
    session.flush()
    audit.record(session, ctx, "connect.device.revoke", object_type="device", object_id=device.id)
    return device


def list_device_fields(session: Session, ctx: Context, device_id: int) -> list[DeviceField]:
    """Return a device's explicit field → tag mappings."""
    device = get_device(session, ctx, device_id)
    return list(
        session.scalars(select(DeviceField).where(DeviceField.device_id == device.id).order_by(DeviceField.field))
    )


def set_device_fields(session: Session, ctx: Context, device_id: int, mapping: Mapping[str, int]) -> list[DeviceField]:
    """Replace a device's field → tag mappings; every tag must belong to the device's equipment."""
    ctx.require(MANAGE)
    device = get_device(session, ctx, device_id)
    tags = {t.id: t for t in _equipment_tags(session, ctx, device.equipment_id)}
    errors = [
        FieldError(
            N_("Tag %(id)s is not a tag of this device's equipment."), field=f"fields.{name}", params={"id": tag_id}
        )
        for name, tag_id in mapping.items()
        if tag_id not in tags
    ]
    errors += [
        FieldError(N_("Field names have 1 to 200 characters."), field="fields")
        for name in mapping
        if not name or len(name) > 200
    ]
    if errors:
        raise InvalidInput(N_("The field mapping has errors."), errors=errors)
    for row in session.scalars(select(DeviceField).where(DeviceField.device_id == device.id)):
        session.delete(row)
    session.flush()
    rows = [DeviceField(tenant_id=device.tenant_id, device_id=device.id, field=k, tag_id=v) for k, v in mapping.items()]
    session.add_all(rows)
    session.flush()
    audit.record(
        session, ctx, "connect.device.set_fields", object_type="device", object_id=device.id, detail=dict(mapping)
    )
    return rows


def list_dead_letters(
    session: Session, ctx: Context, *, filters: Mapping[str, Any] | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[DeadLetter], int]:
    """Return one page of refused records, newest first, and their total."""
    ctx.require(VIEW)
    stmt = DEAD_LETTER_FILTERS.apply(select(DeadLetter).order_by(DeadLetter.id.desc()), filters or {})
    return list(session.scalars(stmt.offset(offset).limit(limit))), count_of(session, stmt)


def _equipment_tags(session: Session, ctx: Context, equipment_id: int) -> list[Any]:
    tags, _ = assets.list_tags(session, ctx, filters={"equipment_id": equipment_id}, limit=MAX_LIMIT)
    return tags


# ---------------------------------------------------------------------------------------------
# Authentication of devices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who a connection or request speaks for: a device, its enterprise and its equipment."""

    device_id: int
    tenant_id: int
    equipment_id: int
    client_id: str
    protocol: str


@dataclass
class DeviceAuthenticator:
    """Check device credentials, remembering good ones for ``ttl`` seconds.

    Checking a PBKDF2 hash for every MQTT message would cost more than storing the message; a
    rotation or revocation therefore takes effect within ``ttl`` seconds on live connections
    (new connections are always checked against the database).
    """

    ttl: float = 10.0
    _cache: dict[str, tuple[float, str, DeviceIdentity]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, session: Session, client_id: str, secret: str, *, fresh: bool = False) -> DeviceIdentity:
        """Return the identity of a device whose client id and secret match; else raise NotAuthenticated."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(client_id)
        if cached and not fresh and cached[0] > now and same(cached[1], secret):
            return cached[2]
        with widened(session):
            device = session.scalar(select(Device).where(Device.client_id == client_id))
        if device is None or not device.enabled or not verify_device_secret(device.secret_hash, secret):
            with self._lock:
                self._cache.pop(client_id, None)
            raise NotAuthenticated(N_("Unknown device or wrong device secret."))
        identity = DeviceIdentity(device.id, device.tenant_id, device.equipment_id, device.client_id, device.protocol)
        with self._lock:
            self._cache[client_id] = (now + self.ttl, secret, identity)
        return identity

    def forget(self, client_id: str) -> None:
        """Drop a cached credential, so the next use is checked against the database."""
        with self._lock:
            self._cache.pop(client_id, None)


def parse_device_token(raw: str) -> tuple[str, str]:
    """Split a device token ``<client-id>:<secret>``; raise NotAuthenticated when malformed."""
    client_id, sep, secret = raw.strip().partition(":")
    if not sep or not client_id or not secret:
        raise NotAuthenticated(N_("Send the device token as <client-id>:<secret>."))
    return client_id, secret


# ---------------------------------------------------------------------------------------------
# The ingest pipeline
# ---------------------------------------------------------------------------------------------

_NUMERIC: Final = ("float", "integer", "boolean")


@dataclass(frozen=True, slots=True)
class FieldMap:
    """How one device's fields land in telemetry: field name → (series id = tag id, data type)."""

    tenant_id: int
    equipment_id: int
    fields: Mapping[str, tuple[int, str]]
    auto_tags: bool
    enabled: bool


@dataclass
class FieldResolver:
    """Cache each device's field map for ``ttl`` seconds (mappings change rarely, messages often)."""

    ttl: float = 10.0
    _cache: dict[int, tuple[float, FieldMap]] = field(default_factory=dict)

    def get(self, session: Session, device_id: int, *, fresh: bool = False) -> FieldMap:
        """Return the field map of a device, loading it when absent, stale or ``fresh`` is asked."""
        now = time.monotonic()
        hit = self._cache.get(device_id)
        if hit and hit[0] > now and not fresh:
            return hit[1]
        with widened(session):
            device = session.scalar(select(Device).where(Device.id == device_id))
            if device is None:
                raise NotFound(N_("Device %(id)s not found."), id=device_id)
            ctx = Context.system(device.tenant_id, name=f"device:{device.client_id}")
            tags = {t.id: t for t in _equipment_tags(session, ctx, device.equipment_id)}
            fields = {t.name: (t.id, t.data_type) for t in tags.values()}
            for row in session.scalars(select(DeviceField).where(DeviceField.device_id == device.id)):
                tag = tags.get(row.tag_id)
                if tag is not None:
                    fields[row.field] = (tag.id, tag.data_type)
            fmap = FieldMap(
                device.tenant_id,
                device.equipment_id,
                fields,
                device.auto_tags,
                device.enabled and device.secret_hash is not None,
            )
        self._cache[device_id] = (now + self.ttl, fmap)
        return fmap

    def forget(self, device_id: int) -> None:
        """Drop a device's cached map."""
        self._cache.pop(device_id, None)


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One message's worth of readings from one device, with what parsing already refused.

    The values come as ``readings`` or, from the JSON payload parser, as plain ``points`` tuples
    (which win when given): the MQTT hot path makes no object per value.
    """

    device: DeviceIdentity
    readings: Sequence[Reading]
    channel: str
    rejections: Sequence[Rejection] = ()
    payload: bytes | str = b""
    points: Sequence[Point] | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one message: points stored and records refused (with reasons)."""

    accepted: int
    rejections: list[Rejection]


def _row(series: int, data_type: str, ts_us: int, value: Value | None, quality: int) -> PointRow:
    if value is None:
        return (series, ts_us, None, None, quality)
    if data_type in _NUMERIC:
        if isinstance(value, str):
            raise ValueError(f"text sent for the {data_type} tag")
        return (series, ts_us, float(value), None, quality)
    text = value if isinstance(value, str) else str(value).lower()
    if "\x00" in text:
        raise ValueError("text contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return (series, ts_us, None, text, quality)


def _points(item: IngestItem) -> Sequence[Point]:
    if item.points is not None:
        return item.points
    return [(r.field, r.ts_us, r.value, quality_code(r.quality, historical=r.historical)) for r in item.readings]


def _rows(
    points: Sequence[Point],
    fields: Mapping[str, tuple[int, str]],
    rows: list[PointRow],
    rejected: list[Rejection],
    *,
    unknown_stops: bool,
) -> int | None:
    """Append the store rows of ``points`` and the refusals; return how many were accepted.

    With ``unknown_stops``, a field no tag maps to undoes the appends and returns None (the caller
    then looks for new mappings or tags first); without, it is refused.
    """
    rows_start, rejected_start = len(rows), len(rejected)
    append = rows.append
    accepted = 0
    for field_name, ts_us, value, quality in points:
        target = fields.get(field_name)
        if target is None:
            if unknown_stops:
                del rows[rows_start:], rejected[rejected_start:]
                return None
            rejected.append(Rejection(f"values.{field_name}", "no tag of the equipment has this name or mapping"))
            continue
        series, data_type = target
        kind = type(value)
        if (kind is float or kind is int or kind is bool) and data_type in _NUMERIC:
            append((series, ts_us, float(value), None, quality))  # type: ignore[arg-type]  # checked just above
        else:
            try:
                append(_row(series, data_type, ts_us, value, quality))
            except ValueError as exc:
                rejected.append(Rejection(f"values.{field_name}", str(exc)))
                continue
        accepted += 1
    return accepted


def _storable(text: str) -> str:
    """Return ``text`` as any database can keep it: lone surrogates and NUL replaced."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _excerpt(payload: bytes | str) -> str:
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    return _storable(text[:MAX_PAYLOAD_EXCERPT])


def ingest(
    session: Session,
    store: TelemetryStore,
    resolver: FieldResolver,
    items: Sequence[IngestItem],
    *,
    defer_counters: bool = False,
) -> list[IngestResult]:
    """Store the readings of many messages at once; record refusals and device counters.

    The points are committed to the telemetry store before this returns; the dead letters are
    written to ``session``, which the caller commits. The device counters are written to
    ``session`` too, unless ``defer_counters``: then the caller adds the results to its
    ``DeviceCounters`` once it has committed, and writes those later. Returns one result per item.
    """
    rows_by_tenant: dict[int, list[PointRow]] = defaultdict(list)
    results: list[IngestResult] = []
    # Many items of one batch come from one device: ask the resolver once per device and batch.
    fmaps: dict[int, FieldMap] = {}
    refreshed: set[int] = set()
    for item in items:
        device_id = item.device.device_id
        fmap = fmaps.get(device_id) or resolver.get(session, device_id)
        fmaps[device_id] = fmap
        rejected = list(item.rejections)
        if not fmap.enabled:
            rejected.append(Rejection("$", "the device is disabled or its credentials were revoked"))
            results.append(IngestResult(0, rejected))
            continue
        points = _points(item)
        accepted = _rows(points, fmap.fields, rows_by_tenant[fmap.tenant_id], rejected, unknown_stops=True)
        if accepted is None:
            unknown = {p[0] for p in points if p[0] not in fmap.fields}
            # Reload once per batch: a device that keeps sending an unmapped field would otherwise
            # cost a reload per message.
            if device_id not in refreshed:
                fmap = resolver.get(session, device_id, fresh=True)
                refreshed.add(device_id)
            if fmap.auto_tags:
                fmap = _create_tags(session, resolver, item.device, unknown=unknown, points=points)
            fmaps[device_id] = fmap
            accepted = _rows(points, fmap.fields, rows_by_tenant[fmap.tenant_id], rejected, unknown_stops=False) or 0
        results.append(IngestResult(accepted, rejected))
    for tenant_id, rows in rows_by_tenant.items():
        store.write(tenant_id, rows)
    _record_outcome(session, items, results, defer_counters=defer_counters)
    return results


def _create_tags(
    session: Session,
    resolver: FieldResolver,
    device: DeviceIdentity,
    *,
    unknown: set[str],
    points: Sequence[Point],
) -> FieldMap:
    ctx = Context.system(device.tenant_id, name=f"device:{device.client_id}")
    kinds = {p[0]: p[2] for p in points if p[0] in unknown}
    with widened(session):
        for name, value in sorted(kinds.items()):
            data_type = (
                "boolean"
                if isinstance(value, bool)
                else "string"
                if isinstance(value, str)
                else "integer"
                if isinstance(value, int)
                else "float"
            )
            if 0 < len(name) <= 128:
                assets.ensure_tag(session, ctx, equipment_id=device.equipment_id, name=name, data_type=data_type)
    return resolver.get(session, device.device_id, fresh=True)


def _record_outcome(
    session: Session,
    items: Sequence[IngestItem],
    results: Sequence[IngestResult],
    *,
    defer_counters: bool,
) -> None:
    now = utcnow()
    letters: list[DeadLetter] = []
    for item, result in zip(items, results, strict=True):
        for rejection in result.rejections:
            if len(letters) < MAX_DEAD_LETTERS_PER_BATCH:
                letters.append(
                    DeadLetter(
                        tenant_id=item.device.tenant_id,
                        device_id=item.device.device_id,
                        channel=item.channel,
                        received_at=now,
                        location=_storable(rejection.location[:200]),
                        reason=_storable(rejection.reason),
                        payload=_excerpt(item.payload),
                    )
                )
    if not defer_counters:
        batch = DeviceCounters()
        batch.add(items, results, now)
        write_device_counters(session, batch.take())
    if letters:
        with widened(session):
            session.add_all(letters)
            session.flush()


@dataclass(slots=True)
class DeviceTally:
    """What one device's messages added to its counters since they were last written."""

    accepted: int = 0
    rejected: int = 0
    last_seen_at: datetime | None = None
    pushed: bool = False

    def merge(self, other: DeviceTally) -> None:
        """Add ``other`` (an older tally whose write failed) into this one."""
        self.accepted += other.accepted
        self.rejected += other.rejected
        if other.last_seen_at is not None and (self.last_seen_at is None or other.last_seen_at > self.last_seen_at):
            self.last_seen_at = other.last_seen_at
        self.pushed = self.pushed or other.pushed


@dataclass
class DeviceCounters:
    """Add up device counters (points accepted, records rejected, last seen) in memory between writes.

    A caller of ``ingest(..., defer_counters=True)`` adds each committed batch's results here
    instead of updating the device rows in every batch, and writes the tallies with
    ``write_device_counters`` every ``interval`` seconds and when it stops. The counters are
    statistics only: they may lag the stored points by up to the interval and lose that much on a
    crash (ADR 0007). Thread-safe.
    """

    interval: float = 5.0
    _pending: dict[int, DeviceTally] = field(default_factory=dict)
    _written_at: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, items: Sequence[IngestItem], results: Sequence[IngestResult], now: datetime | None = None) -> None:
        """Count the outcome of one committed batch, seen at ``now`` (default: the current time)."""
        now = now or utcnow()
        with self._lock:
            pending = self._pending
            for item, result in zip(items, results, strict=True):
                device = item.device
                tally = pending.get(device.device_id)
                if tally is None:
                    tally = pending[device.device_id] = DeviceTally()
                tally.accepted += result.accepted
                tally.rejected += len(result.rejections)
                tally.last_seen_at = now
                # Devices that push (MQTT, HTTP) have no connection the platform watches; a message
                # received is what shows them online. Pollers and the Sparkplug host report their
                # links themselves.
                tally.pushed = tally.pushed or device.protocol in PUSHING

    def due(self) -> bool:
        """Return True when tallies are waiting and the interval has passed since the last write."""
        return bool(self._pending) and time.monotonic() - self._written_at >= self.interval

    def take(self) -> dict[int, DeviceTally]:
        """Remove and return the tallies waiting, by device id."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._written_at = time.monotonic()
        return pending

    def give_back(self, tallies: Mapping[int, DeviceTally]) -> None:
        """Put back tallies whose write failed, so the next write carries them."""
        with self._lock:
            for device_id, old in tallies.items():
                tally = self._pending.get(device_id)
                if tally is None:
                    self._pending[device_id] = old
                else:
                    tally.merge(old)


def write_device_counters(session: Session, tallies: Mapping[int, DeviceTally]) -> None:
    """Add tallies to their devices' counters in one statement; the caller commits.

    The rows are updated in device-id order, so concurrent writers lock them in the same order and
    cannot deadlock each other. ``last_seen_at`` never moves back (two workers' writes may arrive
    out of order).
    """
    if not tallies:
        return
    table = cast("Table", Device.__table__)
    seen = bindparam("b_seen", type_=table.c.last_seen_at.type)
    counters = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            points_accepted=table.c.points_accepted + bindparam("b_accepted"),
            records_rejected=table.c.records_rejected + bindparam("b_rejected"),
            last_seen_at=case(
                (table.c.last_seen_at.is_(None), seen), (table.c.last_seen_at < seen, seen), else_=table.c.last_seen_at
            ),
            link_state=case((bindparam("b_push"), "online"), else_=table.c.link_state),
        )
    )
    params = [
        {
            "b_id": device_id,
            "b_accepted": tally.accepted,
            "b_rejected": tally.rejected,
            "b_seen": tally.last_seen_at,
            "b_push": tally.pushed,
        }
        for device_id, tally in sorted(tallies.items())
    ]
    with widened(session):
        session.execute(counters, params)


def set_link_state(session: Session, device_id: int, state: str, reason: str | None = None) -> None:
    """Record a device's connection state as a connector or broker saw it."""
    with widened(session):
        session.execute(
            update(Device).where(Device.id == device_id).values(link_state=state, link_reason=(reason or "")[:500])
        )


def ingest_workers_alive(session: Session, *, group: str, client_id: str, now: datetime, stale_after: timedelta) -> int:
    """Record that ``client_id`` of ``group`` is alive at ``now``; return how many of the group are (itself included).

    A worker that stopped or died drops out of the count once it has not been seen for
    ``stale_after``. The caller commits.
    """
    row = session.get(IngestWorkerSeen, client_id)
    if row is None:
        session.add(IngestWorkerSeen(client_id=client_id, group_name=group, seen_at=now))
    else:
        row.group_name, row.seen_at = group, now
    session.flush()
    alive = session.scalar(
        select(func.count())
        .select_from(IngestWorkerSeen)
        .where(IngestWorkerSeen.group_name == group, IngestWorkerSeen.seen_at > now - stale_after)
    )
    return max(1, int(alive or 0))


def ingest_worker_gone(session: Session, client_id: str) -> None:
    """Forget a worker that stops cleanly, so the others take its share of the limits at once; the caller commits."""
    row = session.get(IngestWorkerSeen, client_id)
    if row is not None:
        session.delete(row)
