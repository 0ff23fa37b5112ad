"""The JSON payload parser against the plain ``json`` parser it replaced: same points, same refusals, same reasons."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hexmill.connect.payload import Parsed, Rejection, parse_payload, parse_records
from hexmill.telemetry.points import Quality, Reading, to_micros

NOW_US = 1_795_309_323_000_000
GOOD_MS = NOW_US // 1000 - 60_000

# -- the reference: the parser as it was before orjson and the shortcut (json.loads, one Reading per value) --

_QUALITIES = {q.name.lower(): q for q in Quality}


def _ref_timestamp(raw: Any, now_us: int) -> int:
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
    if us < 946_684_800_000_000:
        raise ValueError("ts is before 2000-01-01")
    if us > now_us + 24 * 3_600_000_000:
        raise ValueError("ts is more than a day in the future")
    return us


def _ref_value(raw: Any) -> Any:
    if isinstance(raw, bool | int):
        if not isinstance(raw, bool) and abs(raw) > 2**53:
            raise ValueError("integer is too large to store exactly")
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError("value is not a finite number")
        return raw
    if isinstance(raw, str):
        if len(raw) > 1000:
            raise ValueError("text is longer than 1000 characters")
        return raw
    raise ValueError("value must be a number, a boolean or text")


def _ref_records(document: Any, *, now_us: int, max_points: int | None) -> Parsed:
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
        # The one change: an unhashable quality used to raise TypeError out of the parser.
        if not isinstance(qualities, dict) or any(
            not isinstance(q, str) or q not in _QUALITIES for q in qualities.values()
        ):
            rejections.append(Rejection(f"{where}.quality", "quality maps fields to good, uncertain, bad or stale"))
            continue
        values = record.get("values")
        if not isinstance(values, dict) or not values:
            rejections.append(Rejection(f"{where}.values", "values must be a non-empty object"))
            continue
        try:
            ts_us = _ref_timestamp(record["ts"], now_us) if "ts" in record else now_us
        except ValueError as exc:
            rejections.append(Rejection(f"{where}.ts", str(exc)))
            continue
        for field, raw in values.items():
            location = f"{where}.values.{field}"[:200]
            if not field or len(field) > 200:
                rejections.append(Rejection(location, "field names have 1 to 200 characters"))
                continue
            if max_points is not None and len(readings) >= max_points:
                rejections.append(Rejection(location, f"more than {max_points} points in one message"))
                continue
            try:
                quality = _QUALITIES[qualities.get(field, "good")]
                readings.append(Reading(field, ts_us, _ref_value(raw), quality, historical))
            except ValueError as exc:
                rejections.append(Rejection(location, str(exc)))
    return Parsed(readings, rejections)


def _reference(payload: bytes, *, now_us: int, max_points: int | None) -> Parsed:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Parsed([], [Rejection("$", f"not valid JSON: {exc}")])
    except RecursionError:
        return Parsed([], [Rejection("$", "JSON is nested too deeply")])
    return _ref_records(document, now_us=now_us, max_points=max_points)


def _same(payload: bytes, max_points: int | None = 50) -> None:
    got = parse_payload(payload, now_us=NOW_US, max_points=max_points)
    want = _reference(payload, now_us=NOW_US, max_points=max_points)
    assert got.rejections == want.rejections
    # Compare types too: 1 and 1.0 and True are equal in Python but stored differently.
    assert [(r, type(r.value)) for r in got.readings] == [(r, type(r.value)) for r in want.readings]


# -- documents that look like telemetry, with every kind of mistake mixed in --

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**53, 2**53 + 1, -(2**53), 2**63, 2**64, -(2**63) - 1, 2**64 + 1])
    | st.floats()
    | st.text(max_size=20)
    | st.text(min_size=999, max_size=1001, alphabet="ab")
)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3))
field_names = st.text(max_size=6) | st.sampled_from(["", "x" * 200, "y" * 201, "temperature"])
timestamps = (
    st.integers(min_value=GOOD_MS - 10**6, max_value=GOOD_MS + 10**6)
    | st.floats(min_value=9e11, max_value=2e12)
    | st.sampled_from(["2026-11-22T08:00:00Z", "2026-11-22T08:00:00", "soon", 1, True, None, 2**64, -(2**64)])
    | scalars
)
qualities = st.dictionaries(
    field_names, st.sampled_from(["good", "bad", "uncertain", "stale", "GOOD", 1, None, [1]]), max_size=3
)
records = st.fixed_dictionaries(
    {"values": st.dictionaries(field_names, values, max_size=6) | values},
    optional={
        "ts": timestamps,
        "historical": st.booleans() | scalars,
        "quality": qualities | scalars,
        "extra": scalars,
    },
)
documents = records | st.lists(records | values, max_size=5) | values


def _encode(document: Any) -> bytes:
    # allow_nan: NaN and Infinity are what some devices send; json reads them, orjson does not.
    return json.dumps(document, allow_nan=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )


@settings(max_examples=800, deadline=None)
@given(documents, st.sampled_from([None, 3, 50]))
def test_documents_are_parsed_as_the_json_parser_did(document: Any, max_points: int | None) -> None:
    _same(_encode(document), max_points)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_documents_with_escaped_text_are_parsed_as_the_json_parser_did(document: Any) -> None:
    _same(json.dumps(document, allow_nan=True).encode())


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | documents.map(_encode).flatmap(lambda b: st.sampled_from([b, b[:-1], b"\xef\xbb\xbf" + b]))
)
@example(b'{"ts": 1795309263000, "values": {"a": 18446744073709551616}}')
@example(b'{"ts": 1795309263000, "values": {"a": -9223372036854775809, "b": 1}}')
@example(b'{"ts": 1795309263000, "values": {"a": NaN, "b": Infinity}}')
@example(b'{"ts": 1795309263000, "values": {"a": "\\ud800"}}')
@example(b'{"ts": 1795309263000, "values": {"a": 1e400}}')
@example(b'{"values": {"a": 1}, "quality": {"a": [1]}}')
@example("[" * 300 + "]" * 300)
@example(b"[" * 2000 + b"]" * 2000)
@example('{"ts": 1795309263000, "values": {"a": 1}}'.encode("utf-16"))
def test_any_bytes_are_parsed_as_the_json_parser_did(raw: bytes | str) -> None:
    _same(raw.encode() if isinstance(raw, str) else raw)


@pytest.mark.parametrize(
    "document",
    [
        {"ts": GOOD_MS, "values": {"a": 1.5, "b": 2, "c": True, "d": "text"}},
        [{"ts": GOOD_MS + n, "values": {"a": n}} for n in range(10)],
        {"values": {"a": 1}},
        {"ts": GOOD_MS * 1.0, "values": {"a": 1}},
    ],
)
def test_plain_records_keep_their_values_and_types(document: Any) -> None:
    _same(_encode(document), None)
    assert parse_records(document, now_us=NOW_US).rejections == []
