"""The JSON telemetry payload devices send over MQTT and HTTP, parsed record by record.

A payload is ``{"ts": <RFC 3339 or epoch ms>, "values": {"<field>": <number|bool|string>}}`` or a
JSON array of such objects. Two optional keys serve gateways and the edge agent: ``"historical":
true`` marks replayed points, and ``"quality": {"<field>": "good|uncertain|bad|stale"}``.
Parsing never fails as a whole once the JSON is readable: each bad
record or value is returned as a rejection with where it was and why, and the good values
beside it are kept.

The hot path (MQTT and HTTP ingest) decodes with orjson and returns plain ``Point`` tuples, with
a shortcut for the common record (``ts`` and plain ``values``, nothing wrong). Anything else goes
through the general record parser, and any payload orjson refuses, or reads differently from the
standard library (integers beyond 64 bits, which it turns into floats; deep nesting), is decoded
with ``json`` as before, so the rejections and their reasons are the same as with ``json`` alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from hexmill.telemetry.points import HISTORICAL, Quality, Reading, Value, quality_code, to_micros, unpack_quality

MAX_TEXT: Final = 1000
MAX_FIELD: Final = 200
#: Timestamps further ahead of the receiver's clock than this are refused (clock gone wrong).
FUTURE_TOLERANCE_US: Final = 24 * 3_600_000_000
#: The earliest timestamp accepted: 2000-01-01, before which a device clock has not been set.
EARLIEST_US: Final = 946_684_800_000_000
#: The largest integer a float (and so the store) holds exactly.
MAX_EXACT_INT: Final = 2**53

_QUALITIES: Final = {q.name.lower(): q for q in Quality}
_CODES: Final = {name: quality_code(q) for name, q in _QUALITIES.items()}
_KEYS: Final = frozenset({"ts", "values", "historical", "quality"})
_PLAIN_KEYS: Final = frozenset({"ts", "values"})
#: orjson reads integer literals outside the 64-bit range as floats of at least this magnitude;
#: ``json`` keeps them integers (and ``_value`` refuses them as too large).
_LOSSY_FLOAT: Final = 2.0**63
#: Payloads with more brackets than this are decoded with ``json``, whose nesting limit
#: ("JSON is nested too deeply") is lower than orjson's.
_MAX_FAST_BRACKETS: Final = 256

#: One parsed value: (field, ts_us, value, stored quality code with the historical flag).
Point = tuple[str, int, Value | None, int]


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


@dataclass(frozen=True, slots=True)
class ParsedPoints:
    """The points a payload carried, as plain tuples, and what was refused from it."""

    points: list[Point]
    rejections: list[Rejection]

    def as_parsed(self) -> Parsed:
        """Return the same content with one ``Reading`` per point."""
        readings = []
        for field, ts_us, value, code in self.points:
            quality, historical = unpack_quality(code)
            readings.append(Reading(field, ts_us, value, quality, historical))
        return Parsed(readings, self.rejections)


class _LossyNumber(Exception):
    """orjson read an integer literal beyond 64 bits as a float: decode the payload with ``json``."""


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


def _value(raw: Any, *, lossy: bool = False) -> Value:
    if isinstance(raw, bool | int):
        if not isinstance(raw, bool) and abs(raw) > MAX_EXACT_INT:
            raise ValueError("integer is too large to store exactly")
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError("value is not a finite number")
        if lossy and abs(raw) >= _LOSSY_FLOAT:
            raise _LossyNumber
        return raw
    if isinstance(raw, str):
        if len(raw) > MAX_TEXT:
            raise ValueError(f"text is longer than {MAX_TEXT} characters")
        return raw
    raise ValueError("value must be a number, a boolean or text")


def _plain_record(  # noqa: PLR0911, PLR0912 - one flat shortcut, kept inline for speed
    record: dict[str, Any], now_us: int, max_points: int | None, points: list[Point]
) -> bool:
    """Add the points of a record with nothing to refuse and return True; else add nothing, return False.

    The shortcut of the common case: ``ts`` (epoch milliseconds) and ``values`` of plain numbers,
    booleans and short text. Whatever it does not take goes through ``_record``, which gives the
    reasons; what it takes, ``_record`` would take the same.
    """
    if not _PLAIN_KEYS.issuperset(record):
        return False
    values = record.get("values")
    if type(values) is not dict or not values:
        return False
    if "ts" in record:
        raw_ts = record["ts"]
        kind = type(raw_ts)
        if kind is int:
            ts_us = raw_ts * 1000
        elif kind is float and -_LOSSY_FLOAT < raw_ts < _LOSSY_FLOAT:
            ts_us = round(raw_ts * 1000)
        else:
            return False
        if ts_us < EARLIEST_US or ts_us > now_us + FUTURE_TOLERANCE_US:
            return False
    else:
        ts_us = now_us
    if max_points is not None and len(points) + len(values) > max_points:
        return False
    start = len(points)
    append = points.append
    for field, raw in values.items():
        kind = type(raw)
        if kind is float:
            if not -_LOSSY_FLOAT < raw < _LOSSY_FLOAT:  # also NaN and infinities
                break
        elif kind is int:
            if not -MAX_EXACT_INT <= raw <= MAX_EXACT_INT:
                break
        elif kind is str:
            if len(raw) > MAX_TEXT:
                break
        elif kind is not bool:
            break
        if not field or len(field) > MAX_FIELD:
            break
        append((field, ts_us, raw, 0))
    else:
        return True
    del points[start:]
    return False


def _record(  # noqa: PLR0917 - the one general record parser, called from one loop
    record: Any,
    where: str,
    now_us: int,
    max_points: int | None,
    lossy: bool,
    points: list[Point],
    rejections: list[Rejection],
) -> None:
    """Parse one record of any shape into ``points``, refusing what is wrong in ``rejections``."""
    if not isinstance(record, dict):
        rejections.append(Rejection(where or "$", "record must be an object with ts and values"))
        return
    if not _KEYS.issuperset(record):
        unknown = sorted(set(record) - _KEYS)
        rejections.append(
            Rejection(f"{where}.{unknown[0]}", "unknown key; a record has ts, values, historical, quality")
        )
        return
    historical = record.get("historical", False)
    qualities = record.get("quality", {})
    if not isinstance(historical, bool):
        rejections.append(Rejection(f"{where}.historical", "historical must be true or false"))
        return
    # A list or an object as a quality is refused like any other unknown one (it is no dict key).
    if not isinstance(qualities, dict) or any(
        not isinstance(q, str) or q not in _QUALITIES for q in qualities.values()
    ):
        rejections.append(Rejection(f"{where}.quality", "quality maps fields to good, uncertain, bad or stale"))
        return
    values = record.get("values")
    if not isinstance(values, dict) or not values:
        rejections.append(Rejection(f"{where}.values", "values must be a non-empty object"))
        return
    try:
        ts_us = parse_timestamp(record["ts"], now_us) if "ts" in record else now_us
    except ValueError as exc:
        rejections.append(Rejection(f"{where}.ts", str(exc)))
        return
    flag = HISTORICAL if historical else 0
    for field, raw in values.items():
        if not field or len(field) > MAX_FIELD:
            location = f"{where}.values.{field}"[:MAX_FIELD]
            rejections.append(Rejection(location, f"field names have 1 to {MAX_FIELD} characters"))
            continue
        if max_points is not None and len(points) >= max_points:
            location = f"{where}.values.{field}"[:MAX_FIELD]
            rejections.append(Rejection(location, f"more than {max_points} points in one message"))
            continue
        try:
            code = _CODES[qualities.get(field, "good")] | flag
            points.append((field, ts_us, _value(raw, lossy=lossy), code))
        except ValueError as exc:
            rejections.append(Rejection(f"{where}.values.{field}"[:MAX_FIELD], str(exc)))


def _points(document: Any, *, now_us: int, max_points: int | None, lossy: bool) -> ParsedPoints:
    is_list = isinstance(document, list)
    records = document if is_list else [document]
    points: list[Point] = []
    rejections: list[Rejection] = []
    for index, record in enumerate(records):
        if type(record) is dict and _plain_record(record, now_us, max_points, points):
            continue
        _record(record, f"[{index}]" if is_list else "", now_us, max_points, lossy, points, rejections)
    return ParsedPoints(points, rejections)


def parse_record_points(document: Any, *, now_us: int, max_points: int | None = None) -> ParsedPoints:
    """Turn a decoded JSON document into points, refusing bad records one by one."""
    return _points(document, now_us=now_us, max_points=max_points, lossy=False)


def parse_records(document: Any, *, now_us: int, max_points: int | None = None) -> Parsed:
    """Turn a decoded JSON document into readings, refusing bad records one by one."""
    return parse_record_points(document, now_us=now_us, max_points=max_points).as_parsed()


def _parse_with_json(payload: bytes, *, now_us: int, max_points: int | None) -> ParsedPoints:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return ParsedPoints([], [Rejection("$", f"not valid JSON: {exc}")])
    except RecursionError:
        return ParsedPoints([], [Rejection("$", "JSON is nested too deeply")])
    return _points(document, now_us=now_us, max_points=max_points, lossy=False)


def parse_payload_points(payload: bytes, *, now_us: int, max_points: int | None = None) -> ParsedPoints:
    """Decode a UTF-8 JSON payload and parse it into points; unreadable JSON is one rejection."""
    if payload.count(b"[") + payload.count(b"{") > _MAX_FAST_BRACKETS:
        return _parse_with_json(payload, now_us=now_us, max_points=max_points)
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        # Refused, or written in a way only ``json`` reads (NaN, a byte order mark, UTF-16, lone
        # surrogates): ``json`` decides, and words the reason, as it always has.
        return _parse_with_json(payload, now_us=now_us, max_points=max_points)
    try:
        return _points(document, now_us=now_us, max_points=max_points, lossy=True)
    except _LossyNumber:
        return _parse_with_json(payload, now_us=now_us, max_points=max_points)


def parse_payload(payload: bytes, *, now_us: int, max_points: int | None = None) -> Parsed:
    """Decode a UTF-8 JSON payload and parse it into readings; unreadable JSON is one rejection."""
    return parse_payload_points(payload, now_us=now_us, max_points=max_points).as_parsed()
