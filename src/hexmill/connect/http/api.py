"""HTTP ingest: devices POST telemetry, authenticated by their device token, stored before the answer.

A device sends ``X-Device-Token: <client_id>:<secret>`` (never in the URL, where proxies log
it; no user credentials are read here) and a JSON payload (``connect/payload.py``), or a bulk
file to ``/telemetry/bulk`` (CSV or Parquet, ``bulk.py``). The body is capped before it is read
in full (413), each device and each enterprise has a message rate (429), and the good values are
stored by ``registry.service.ingest`` and committed before the 200 answer lists what was
refused and why; refused values also land in the dead-letter table.

The credential cache, the field-map cache and the rate buckets live on ``app.state`` (one per
process, created on first use). A rotation, revocation or mapping change through this process's
API takes effect at once; through another process, within the caches' ten seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool

from hexmill.connect.http import bulk
from hexmill.connect.http.schemas import MAX_LISTED, IngestAnswer, RejectionRead
from hexmill.connect.limits import IngestLimits, RateLimiter
from hexmill.connect.payload import Parsed, Rejection, parse_payload
from hexmill.connect.registry.service import (
    DeviceAuthenticator,
    DeviceIdentity,
    FieldResolver,
    IngestItem,
    ingest,
    parse_device_token,
    set_link_state,
)
from hexmill.core.clock import utcnow
from hexmill.core.db import transaction
from hexmill.core.deps import get_sessionmaker
from hexmill.core.errors import NotAuthenticated, PayloadTooLarge, RateLimited, UnsupportedMediaType
from hexmill.core.i18n import N_
from hexmill.telemetry.points import to_micros
from hexmill.telemetry.service import open_store

router = APIRouter()
TAG = "ingest"
TOKEN_HEADER: Final = "X-Device-Token"  # noqa: S105 - a header name, not a secret
CHANNEL: Final = "http"
#: Points per store write of a bulk upload (each write is one transaction of the store).
BULK_CHUNK: Final = 50_000
#: Bulk files may be larger than one message, but are still read into memory whole.
BULK_MAX_BYTES: Final = 64 * 1_048_576
CSV_TYPES: Final = frozenset({"text/csv"})
PARQUET_TYPES: Final = frozenset({"application/vnd.apache.parquet", "application/x-parquet"})


@dataclass
class IngestRuntime:
    """What HTTP ingest keeps for the life of the process: caches and rate buckets."""

    limits: IngestLimits = field(default_factory=IngestLimits)
    authenticator: DeviceAuthenticator = field(default_factory=DeviceAuthenticator)
    resolver: FieldResolver = field(default_factory=FieldResolver)
    limiter: RateLimiter | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = RateLimiter(self.limits)

    def admit(self, device: DeviceIdentity) -> str | None:
        """Take one message's tokens for the device and its tenant (the buckets are shared by threads)."""
        assert self.limiter is not None  # noqa: S101 - set in __post_init__
        with self.lock:
            return self.limiter.admit(device.device_id, device.tenant_id)


_runtime_lock = threading.Lock()


def ingest_runtime(app: FastAPI) -> IngestRuntime:
    """Return the app's ingest runtime, creating it on first use."""
    with _runtime_lock:
        runtime: IngestRuntime | None = getattr(app.state, "ingest_runtime", None)
        if runtime is None:
            runtime = IngestRuntime()
            app.state.ingest_runtime = runtime
        return runtime


def forget_device(app: Any, device_id: int, client_id: str | None) -> None:
    """Drop a device's cached credential and field map, after a change through the API."""
    runtime: IngestRuntime | None = getattr(app.state, "ingest_runtime", None)
    if runtime is None:
        return
    runtime.resolver.forget(device_id)
    if client_id is not None:
        runtime.authenticator.forget(client_id)


# -- answers -----------------------------------------------------------------------------------


def _answer(accepted: int, rejections: Sequence[Rejection]) -> IngestAnswer:
    listed = []
    for r in rejections[:MAX_LISTED]:
        row, column = bulk.split_location(r.location)
        listed.append(RejectionRead(location=r.location, reason=r.reason, row=row, column=column))
    return IngestAnswer(accepted=accepted, rejected=listed, rejected_total=len(rejections))


# -- the steps ---------------------------------------------------------------------------------


def _token(raw: str | None) -> tuple[str, str]:
    if not raw:
        raise NotAuthenticated(N_("Send the device token in the X-Device-Token header."), field=TOKEN_HEADER)
    return parse_device_token(raw)


def _check_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(N_("The body is larger than %(limit)s bytes."), limit=limit)


async def _read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it grows past ``limit`` (whatever Content-Length said)."""
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(N_("The body is larger than %(limit)s bytes."), limit=limit)
        parts.append(part)
    return b"".join(parts)


async def _admit(
    request: Request, raw_token: str | None, limit: int | None = None
) -> tuple[IngestRuntime, DeviceIdentity]:
    """Authenticate the device and take its rate tokens; raise 401, 413 or 429."""
    client_id, secret = _token(raw_token)
    runtime = ingest_runtime(request.app)
    _check_length(request, limit or runtime.limits.max_payload_bytes)

    def authenticate() -> DeviceIdentity:
        with transaction(get_sessionmaker(request)) as db:
            return runtime.authenticator.authenticate(db, client_id, secret)

    device = await run_in_threadpool(authenticate)
    refusal = runtime.admit(device)
    if refusal is not None:
        limits = runtime.limits
        rate = limits.device_messages_per_s if "device sends" in refusal else limits.tenant_messages_per_s
        raise RateLimited(refusal, rate=f"{rate:g}")
    return runtime, device


def _store(
    request: Request, runtime: IngestRuntime, device: DeviceIdentity, parsed: Parsed, payload: bytes
) -> IngestAnswer:
    """Write the readings in chunks and the refusals as dead letters; commit; return the tally."""
    store = open_store(request.app.state.settings)
    readings = parsed.readings
    accepted = 0
    rejections: list[Rejection] = []
    with transaction(get_sessionmaker(request)) as db:
        chunks = [readings[i : i + BULK_CHUNK] for i in range(0, len(readings), BULK_CHUNK)] or [[]]
        for n, chunk in enumerate(chunks):
            item = IngestItem(
                device, chunk, CHANNEL, parsed.rejections if n == 0 else (), payload=payload if n == 0 else b""
            )
            for result in ingest(db, store, runtime.resolver, [item]):
                accepted += result.accepted
                rejections.extend(result.rejections)
        set_link_state(db, device.device_id, "online")
    return _answer(accepted, rejections)


def _now_us() -> int:
    return to_micros(utcnow())


# -- routes ------------------------------------------------------------------------------------

DeviceToken = Annotated[str | None, Header(alias=TOKEN_HEADER, description="The device token: <client_id>:<secret>.")]

_JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {"ts": "2026-11-22T08:00:00Z", "values": {"spindle_speed": 1200.5, "door_open": False}},
            }
        },
    }
}
_BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": "ts,field,value\n2026-11-22T08:00:00Z,speed,1200\n"},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _limit_responses() -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI answers of the ingest limits, as the problem documents they are."""
    from hexmill.app import PROBLEM  # noqa: PLC0415 - the app module imports this router
    from hexmill.core.schemas import Problem  # noqa: PLC0415 - as above

    titles = {413: "Payload too large", 415: "Unsupported media type", 429: "Too many messages"}
    return {code: {"model": Problem, "description": title, "content": {PROBLEM: {}}} for code, title in titles.items()}


@router.post(
    "/telemetry", response_model=IngestAnswer, tags=[TAG], openapi_extra=_JSON_BODY, responses=_limit_responses()
)
async def post_telemetry(request: Request, token: DeviceToken = None) -> IngestAnswer:
    """Store a device's readings: ``{"ts": ..., "values": {"<field>": <value>}}`` or a list of them.

    Authenticated only by the device token in ``X-Device-Token``. Fields are the equipment's tag
    names or the device's mapped fields. Good values are stored even when others are refused; the
    answer lists each refusal with its location and reason. 413 for a body over the size cap, 429
    when the device or its enterprise sends faster than its rate.
    """
    runtime, device = await _admit(request, token)
    limits = runtime.limits
    body = await _read_body(request, limits.max_payload_bytes)
    parsed = parse_payload(body, now_us=_now_us(), max_points=limits.max_points_per_message)
    return await run_in_threadpool(_store, request, runtime, device, parsed, body)


@router.post(
    "/telemetry/bulk", response_model=IngestAnswer, tags=[TAG], openapi_extra=_BULK_BODY, responses=_limit_responses()
)
async def post_telemetry_bulk(request: Request, token: DeviceToken = None) -> IngestAnswer:
    """Store a file of readings: CSV (``ts,field,value[,quality]`` with a header row) or Parquet.

    Send it as ``text/csv`` or ``application/vnd.apache.parquet`` with the device token. Every bad
    row is refused with its row, column and reason; the good rows are stored, in chunks.
    """
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in CSV_TYPES | PARQUET_TYPES:
        raise UnsupportedMediaType(
            N_("Send a bulk file as text/csv or application/vnd.apache.parquet."), field="Content-Type"
        )
    runtime, device = await _admit(request, token, BULK_MAX_BYTES)
    body = await _read_body(request, BULK_MAX_BYTES)
    now = _now_us()

    def parse() -> Parsed:
        return bulk.parse_csv(body, now_us=now) if kind in CSV_TYPES else bulk.parse_parquet(body, now_us=now)

    parsed = await run_in_threadpool(parse)
    return await run_in_threadpool(_store, request, runtime, device, parsed, b"")
