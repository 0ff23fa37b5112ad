"""The JSON telemetry payload devices send over MQTT and HTTP, parsed record by record.

A payload is ``{"ts": <RFC 3339 or epoch ms>, "values": {"<field>": <number|bool|string>}}`` or a
JSON array of such objects. Two optional keys serve gateways and the edge agent: ``"historical":
true`` marks replayed points, and ``"quality": {"<field>": "good|uncertain|bad|stale"}``.
Parsing never fails as a whole once the JSON is readable: each bad
record or value is returned as a rejection with where it was and why, and the good values
beside it are kept.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from hexmill.telemetry.points import Quality, Reading, to_micros

MAX_TEXT: Final = 1000
MAX_FIELD: Final = 200
#: Timestamps further ahead of the receiver's clock than this are refused (clock gone wrong).
FUTURE_TOLERANCE_US: Final = 24 * 3_600_000_000
#: The earliest timestamp accepted: 2000-01-01, before which a device clock has not been set.
EARLIEST_US: Final = 946_684_800_000_000


_QUALITIES: Final = {q.name.lower(): q for q in Quality}


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused record or value: where it was in the payload and why."""

    location: str
    reason: str


@dataclass(frozen=True, slots=True)
class Parsed:
    """The readings a payload carried, and what was refused from it."""

    readings: list[Reading]
    rejections: list[Rejection]


def parse_timestamp(raw: Any, now_us: int) -> int:
    """Return microseconds since the epoch from RFC 3339 text or epoch milliseconds; raise ValueError."""
    if isinstance(raw, bool):
        raise ValueError("ts must be RFC 3339 text or epoch milliseconds, not a boolean")
    if isinstance(raw, int | float):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise ValueError("ts is not a finite number")
        us = round(raw * 1000)
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError("ts is not an RFC 3339 timestamp") from None
        if moment.tzinfo is None:
            raise ValueError("ts has no time zone offset")
        us = to_micros(moment)
    else:
        raise ValueError("ts must be RFC 3339 text or epoch milliseconds")
    if us < EARLIEST_US:
        raise ValueError("ts is before 2000-01-01")
    if us > now_us + FUTURE_TOLERANCE_US:
        raise ValueError("ts is more than a day in the future")
    return us


def _value(raw: Any) -> float | int | bool | str:
    if isinstance(raw, bool | int):
        if not isinstance(raw, bool) and abs(raw) > 2**53:
            raise ValueError("integer is too large to store exactly")
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError("value is not a finite number")
        return raw
    if isinstance(raw, str):
        if len(raw) > MAX_TEXT:
            raise ValueError(f"text is longer than {MAX_TEXT} characters")
        return raw
    raise ValueError("value must be a number, a boolean or text")


def parse_records(document: Any, *, now_us: int, max_points: int | None = None) -> Parsed:
    """Turn a decoded JSON document into readings, refusing bad records one by one."""
    records = document if isinstance(document, list) else [document]
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    for index, record in enumerate(records):
        where = f"[{index}]" if isinstance(document, list) else ""
        if not isinstance(record, dict):
            rejections.append(Rejection(where or "$", "record must be an object with ts and values"))
            continue
        unknown = sorted(set(record) - {"ts", "values", "historical", "quality"})
        if unknown:
            rejections.append(
                Rejection(f"{where}.{unknown[0]}", "unknown key; a record has ts, values, historical, quality")
            )
            continue
        historical = record.get("historical", False)
        qualities = record.get("quality", {})
        if not isinstance(historical, bool):
            rejections.append(Rejection(f"{where}.historical", "historical must be true or false"))
            continue
        if not isinstance(qualities, dict) or any(q not in _QUALITIES for q in qualities.values()):
            rejections.append(Rejection(f"{where}.quality", "quality maps fields to good, uncertain, bad or stale"))
            continue
        values = record.get("values")
        if not isinstance(values, dict) or not values:
            rejections.append(Rejection(f"{where}.values", "values must be a non-empty object"))
            continue
        try:
            ts_us = parse_timestamp(record["ts"], now_us) if "ts" in record else now_us
        except ValueError as exc:
            rejections.append(Rejection(f"{where}.ts", str(exc)))
            continue
        for field, raw in values.items():
            location = f"{where}.values.{field}"[:MAX_FIELD]
            if not field or len(field) > MAX_FIELD:
                rejections.append(Rejection(location, f"field names have 1 to {MAX_FIELD} characters"))
                continue
            if max_points is not None and len(readings) >= max_points:
                rejections.append(Rejection(location, f"more than {max_points} points in one message"))
                continue
            try:
                quality = _QUALITIES[qualities.get(field, "good")]
                readings.append(Reading(field, ts_us, _value(raw), quality, historical))
            except ValueError as exc:
                rejections.append(Rejection(location, str(exc)))
    return Parsed(readings, rejections)


def parse_payload(payload: bytes, *, now_us: int, max_points: int | None = None) -> Parsed:
    """Decode a UTF-8 JSON payload and parse it; unreadable JSON is one rejection."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Parsed([], [Rejection("$", f"not valid JSON: {exc}")])
    except RecursionError:
        return Parsed([], [Rejection("$", "JSON is nested too deeply")])
    return parse_records(document, now_us=now_us, max_points=max_points)
