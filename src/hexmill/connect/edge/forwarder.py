"""Forward buffered readings to the platform at least once, deleting them only after the platform's 200.

A reading is sent **live** (``"historical": false``) only when all of these hold: it was buffered
by this agent process; no send of it has failed; it was buffered while the uplink was up (its
sequence number is above the newest one buffered when the last failure was seen or the process
started); and it is sent within ``live_window_s`` seconds of being buffered. Everything else is a
replay and goes with ``"historical": true``: readings left by an earlier process (restart,
kill -9), readings of a failed send, the backlog of an uplink outage, and readings that waited
too long. A failed send also flags its readings historical in the buffer, so the flag survives
a restart.

The platform's answers decide what happens to a batch: 200 deletes it from the buffer (the
platform committed it; re-sending is safe because points are idempotent on (tag, timestamp));
connection errors, time-outs, 408, 429 and 5xx keep it and back off; 401, 403, 404 and 405 say
the device's token or the platform address is wrong, not the readings, so that device is held
back (its readings stay buffered) and retried later; any other 4xx (400, 413, 422, ...) is
bisected down to the single record the platform refuses, which moves to the local dead-letter
table with the reason, so one bad record never holds back or takes down the good ones beside it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from enum import StrEnum
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from hexmill.connect.base import Backoff
from hexmill.connect.edge.buffer import Buffered, EdgeBuffer, now_us
from hexmill.telemetry.points import Quality, from_micros

log = logging.getLogger(__name__)

TELEMETRY_PATH: Final = "/api/v1/telemetry"
#: Answers that say the link or the platform is busy or down: keep the readings and try again.
_TRANSIENT: Final = frozenset({408, 429})
#: Answers that say the device's token or the platform address is wrong, not the readings.
_MISCONFIGURED: Final = frozenset({401, 403, 404, 405})
_MAX_ANSWER: Final = 64 * 1024
_QUALITY_NAMES: Final = {q: q.name.lower() for q in Quality}


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came back with: an HTTP status and body, or the reason no answer came."""

    status: int | None
    body: bytes = b""
    error: str | None = None
    retry_after_s: float | None = None

    def describe(self) -> str:
        """Return a short text for logs and the dead-letter table."""
        if self.status is None:
            return f"no answer: {self.error}"
        detail = ""
        try:
            document = json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            document = None
        if isinstance(document, dict):
            detail = str(document.get("detail") or document.get("title") or "")
        elif self.body:
            detail = self.body[:200].decode("utf-8", "replace")
        return f"HTTP {self.status}" + (f": {detail}" if detail else "")


class Uplink(Protocol):
    """Where batches go: one POST of a JSON body as a device."""

    async def post(self, token: str, body: bytes) -> Answer:
        """Send ``body`` with the device token; return the answer (never raise for network errors)."""
        ...


class HttpUplink:
    """POST to the platform's ``/api/v1/telemetry`` with the standard library, in a worker thread."""

    def __init__(self, platform_url: str, *, timeout_s: float = 10.0) -> None:
        parts = urlsplit(platform_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"platform URL must be http:// or https://, not {platform_url!r}")
        self.url = platform_url.rstrip("/") + TELEMETRY_PATH
        self.timeout_s = timeout_s

    async def post(self, token: str, body: bytes) -> Answer:
        """Send one batch; connection errors and time-outs come back as an answer without status."""
        return await asyncio.to_thread(self._post, token, body)

    def _post(self, token: str, body: bytes) -> Answer:
        request = urllib.request.Request(  # noqa: S310 -- the scheme was checked to be http(s)
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Device-Token": token, "User-Agent": "hexmill-edge"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 -- checked above
                return Answer(response.status, response.read(_MAX_ANSWER))
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, exc.read(_MAX_ANSWER), retry_after_s=_retry_after(exc.headers))
        except urllib.error.URLError as exc:
            return Answer(None, error=str(exc.reason))
        except (OSError, http.client.HTTPException) as exc:
            return Answer(None, error=str(exc) or type(exc).__name__)


def _retry_after(headers: Message | None) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def rfc3339(ts_us: int) -> str:
    """Return a timestamp as RFC 3339 UTC text with microseconds (replays land on the same key)."""
    return from_micros(ts_us).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Record:
    """One JSON record of a batch and the buffer rows it carries."""

    document: dict[str, Any]
    seqs: tuple[int, ...]


def build_records(items: Sequence[Buffered], is_historical: Callable[[Buffered], bool]) -> list[Record]:
    """Group one device's readings into records by timestamp and historical flag, oldest first."""
    groups: dict[tuple[int, bool], tuple[dict[str, Any], list[int]]] = {}
    for item in items:
        reading = item.reading
        key = (reading.ts_us, is_historical(item))
        if key not in groups:
            groups[key] = ({"ts": rfc3339(reading.ts_us), "values": {}, "historical": key[1]}, [])
        document, seqs = groups[key]
        document["values"][reading.field] = reading.value
        if reading.quality is not Quality.GOOD:
            document.setdefault("quality", {})[reading.field] = _QUALITY_NAMES[reading.quality]
        seqs.append(item.seq)
    return [Record(document, tuple(seqs)) for document, seqs in groups.values()]


class LinkStatus(StrEnum):
    """How the uplink to the platform looks from the edge."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class Round(StrEnum):
    """What one forwarding round did, which decides how long the loop waits."""

    IDLE = "idle"
    SENT = "sent"
    FAILED = "failed"


@dataclass(slots=True)
class ForwarderStats:
    """Counters of what the forwarder did, for the status and tests."""

    posts: int = 0
    readings_sent: int = 0
    readings_historical: int = 0
    failures: int = 0
    dead_lettered: int = 0
    platform_rejected: int = 0
    last_result: str = ""
    last_result_us: int | None = None
    last_success_us: int | None = None
    blocked: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ForwardSettings:
    """How the forwarder batches, judges liveness and backs off."""

    batch_size: int = 500
    live_window_s: float = 10.0
    idle_s: float = 0.5
    backoff: Backoff = Backoff(initial=0.5, maximum=30.0)  # noqa: RUF009 -- frozen value object, safe to share
    #: Pause before a device whose token or address the platform refused is tried again.
    blocked_retry_s: float = 60.0


class Forwarder:
    """Drain the buffer to the platform, oldest first, one POST per device per round."""

    def __init__(
        self,
        buffer: EdgeBuffer,
        uplink: Uplink,
        tokens: Mapping[str, str],
        settings: ForwardSettings | None = None,
    ) -> None:
        self.buffer = buffer
        self.uplink = uplink
        self.settings = settings or ForwardSettings()
        self.stats = ForwarderStats()
        self.link = LinkStatus.UNKNOWN
        self._tokens = dict(tokens)
        self._failures = 0
        self._down = False
        # Everything buffered before this process started is a replay.
        self._backlog_upto = buffer.last_seq()
        self._blocked_until: dict[str, float] = {}

    def is_historical(self, item: Buffered, at_us: int) -> bool:
        """Tell whether a reading goes as a replay (see the module docstring for the rule)."""
        return (
            item.reading.historical
            or item.seq <= self._backlog_upto
            or at_us - item.enqueued_us > self.settings.live_window_s * 1_000_000
        )

    async def run(self) -> None:
        """Forward until cancelled, pausing when the buffer is empty and backing off after failures."""
        while True:
            outcome = await self.forward_once()
            if outcome is Round.FAILED:
                delay = self.settings.backoff.delay(self._failures - 1)
                log.info("edge uplink: retry in %.2f s", delay)
                await asyncio.sleep(delay)
            elif outcome is Round.IDLE:
                await asyncio.sleep(self.settings.idle_s)

    async def forward_once(self) -> Round:
        """Send the oldest waiting readings of each device once; return what the round did."""
        now = time.monotonic()
        for device, until in list(self._blocked_until.items()):
            if until <= now:
                del self._blocked_until[device]
        if self._down:
            # The uplink is thought down: everything buffered so far is backlog.
            self._backlog_upto = max(self._backlog_upto, await asyncio.to_thread(self.buffer.last_seq))
        items = await asyncio.to_thread(self.buffer.peek, self.settings.batch_size, exclude=set(self._blocked_until))
        if not items:
            return Round.IDLE
        by_device: dict[str, list[Buffered]] = {}
        for item in items:
            by_device.setdefault(item.device, []).append(item)
        for device, group in by_device.items():
            if not await self._forward_device(device, group):
                return Round.FAILED
        return Round.SENT

    async def _forward_device(self, device: str, group: list[Buffered]) -> bool:
        """Send one device's readings; return False when the uplink failed (the round stops)."""
        token = self._tokens.get(device)
        if token is None:
            self._block(device, "no device token in the edge configuration")
            return True
        empty = [item.seq for item in group if item.reading.value is None]
        if empty:
            await self._dead_letter(device, empty, "reading has no value; the telemetry API carries values only")
            group = [item for item in group if item.reading.value is not None]
        at_us = now_us()
        pending = [build_records(group, lambda item: self.is_historical(item, at_us))]
        while pending:
            records = pending.pop()
            answer = await self._post(token, records)
            if answer.status == 200:
                await self._acknowledged(device, records, answer)
            elif answer.status in _MISCONFIGURED:
                self._block(device, answer.describe())
                return True
            elif answer.status is not None and 400 <= answer.status < 500 and answer.status not in _TRANSIENT:
                if len(records) > 1:
                    middle = len(records) // 2
                    pending += [records[middle:], records[:middle]]
                else:
                    seqs = list(records[0].seqs)
                    await self._dead_letter(device, seqs, answer.describe())
            else:
                remaining = [seq for part in [records, *pending] for record in part for seq in record.seqs]
                await self._failed(device, remaining, answer)
                return False
        return True

    async def _post(self, token: str, records: list[Record]) -> Answer:
        body = json.dumps([r.document for r in records], separators=(",", ":")).encode()
        self.stats.posts += 1
        return await self.uplink.post(token, body)

    async def _acknowledged(self, device: str, records: list[Record], answer: Answer) -> None:
        seqs = [seq for record in records for seq in record.seqs]
        # The platform holds them now: count them as sent before the buffer forgets them, so a status taken
        # in between never shows readings acknowledged (gone from the buffer) but not yet sent.
        self.stats.readings_sent += len(seqs)
        self.stats.readings_historical += sum(len(r.seqs) for r in records if r.document["historical"])
        await asyncio.to_thread(self.buffer.ack, seqs)
        rejected = _rejected(answer.body)
        self.stats.platform_rejected += len(rejected)
        if rejected:
            log.warning("edge device %s: the platform refused %s values, e.g. %s", device, len(rejected), rejected[0])
        if self._down or self.link is not LinkStatus.UP:
            log.info("edge uplink: up")
        self._down = False
        self._failures = 0
        self.link = LinkStatus.UP
        self.stats.blocked.pop(device, None)
        self._result(f"sent {len(seqs)} readings of {device}", success=True)

    async def _failed(self, device: str, seqs: list[int], answer: Answer) -> None:
        await asyncio.to_thread(self.buffer.mark_historical, seqs)
        self._down = True
        self._failures += 1
        self.stats.failures += 1
        if self.link is not LinkStatus.DOWN:
            log.warning("edge uplink: down (%s)", answer.describe())
        self.link = LinkStatus.DOWN
        self._result(f"{device}: {answer.describe()}", success=False)
        if answer.retry_after_s is not None:
            await asyncio.sleep(min(answer.retry_after_s, self.settings.backoff.maximum))

    async def _dead_letter(self, device: str, seqs: list[int], reason: str) -> None:
        moved = await asyncio.to_thread(self.buffer.dead_letter, seqs, reason)
        self.stats.dead_lettered += moved
        log.warning("edge device %s: %s readings moved to dead letters: %s", device, moved, reason)
        self._result(f"{device}: {moved} readings dead-lettered: {reason}", success=False)

    def _block(self, device: str, reason: str) -> None:
        self._blocked_until[device] = time.monotonic() + self.settings.blocked_retry_s
        if self.stats.blocked.get(device) != reason:
            log.warning("edge device %s: held back for %.0f s: %s", device, self.settings.blocked_retry_s, reason)
        self.stats.blocked[device] = reason
        self._result(f"{device}: {reason}", success=False)

    def _result(self, text: str, *, success: bool) -> None:
        self.stats.last_result = text
        self.stats.last_result_us = now_us()
        if success:
            self.stats.last_success_us = self.stats.last_result_us


def _rejected(body: bytes) -> list[Any]:
    try:
        document = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return []
    rejected = document.get("rejected") if isinstance(document, dict) else None
    return rejected if isinstance(rejected, list) else []
