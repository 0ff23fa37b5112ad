"""Bulk telemetry files (CSV and Parquet) parsed row by row into readings, bad rows refused.

Pure functions, no I/O. A CSV file has a header row naming ``ts``, ``field``, ``value`` and
optionally ``quality``, in any order; rows are numbered as a spreadsheet shows them (the header
is row 1). A Parquet file has columns ``ts`` (timestamp, or int64 epoch milliseconds), ``field``
(string) and ``value`` (double) and/or ``text`` (string), optionally ``quality``; its rows are
numbered from 1. Each refused row says where (``row N, column C``) and why; the rows beside it
are kept.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any, Final

from hexmill.connect.payload import EARLIEST_US, FUTURE_TOLERANCE_US, MAX_FIELD, MAX_TEXT, Parsed, Rejection
from hexmill.connect.payload import parse_timestamp as _parse_timestamp
from hexmill.telemetry.points import Quality, Reading

CSV_COLUMNS: Final = ("ts", "field", "value")
_QUALITIES: Final = {q.name.lower(): q for q in Quality}
_INTEGER = re.compile(r"^[+-]?\d+$")
_WHERE = re.compile(r"^row (\d+)(?:, column (\w+))?$")


def where(row: int, column: str | None = None) -> str:
    """Return the location text of a row (and column) of a bulk file."""
    return f"row {row}" if column is None else f"row {row}, column {column}"


def split_location(location: str) -> tuple[int | None, str | None]:
    """Return the row and column named by a bulk location, or (None, None) for other locations."""
    match = _WHERE.match(location)
    if match is None:
        return None, None
    return int(match.group(1)), match.group(2)


def _csv_value(text: str) -> float | int | bool | str:
    raw = text.strip()
    if _INTEGER.match(raw):
        number = int(raw)
        if abs(number) > 2**53:
            raise ValueError("integer is too large to store exactly")
        return number
    try:
        value = float(raw)
    except ValueError:
        lowered = raw.lower()
        if lowered in {"true", "false"}:
            return lowered == "true"
        if len(text) > MAX_TEXT:
            raise ValueError(f"text is longer than {MAX_TEXT} characters") from None
        return text
    if not math.isfinite(value):
        raise ValueError("value is not a finite number")
    return value


def _quality(raw: str | None) -> Quality:
    text = (raw or "").strip().lower() or "good"
    if text not in _QUALITIES:
        raise ValueError("quality is one of good, uncertain, bad, stale")
    return _QUALITIES[text]


def _field(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_FIELD:
        raise ValueError(f"field names have 1 to {MAX_FIELD} characters")
    return raw.strip()


def parse_csv(data: bytes, *, now_us: int) -> Parsed:
    """Parse a CSV telemetry file; every bad row is one rejection naming its row and column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Parsed([], [Rejection("$", "the file is not UTF-8 text")])
    try:
        rows = csv.reader(io.StringIO(text, newline=""))
        header = [cell.strip().lower() for cell in next(rows, [])]
    except csv.Error as exc:
        return Parsed([], [Rejection(where(1), f"not CSV: {exc}")])
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in (*CSV_COLUMNS, "quality")]
    if missing or unknown:
        reason = "the header row names the columns ts, field, value and optionally quality"
        return Parsed([], [Rejection(where(1), reason)])
    index = {name: header.index(name) for name in header}
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    number = 1
    try:
        for number, row in enumerate(rows, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                rejections.append(Rejection(where(number), f"expected {len(header)} columns, found {len(row)}"))
                continue
            column = "ts"
            try:
                raw_ts = row[index["ts"]].strip()
                ts_us = _parse_timestamp(int(raw_ts) if _INTEGER.match(raw_ts) else raw_ts, now_us)
                column = "field"
                field = _field(row[index["field"]])
                column = "value"
                if not row[index["value"]].strip():
                    raise ValueError("value is empty")
                value = _csv_value(row[index["value"]])
                column = "quality"
                quality = _quality(row[index["quality"]] if "quality" in index else None)
                column = "value"
                readings.append(Reading(field, ts_us, value, quality))
            except ValueError as exc:
                rejections.append(Rejection(where(number, column), str(exc)))
    except csv.Error as exc:
        rejections.append(Rejection(where(number + 1), f"not CSV: {exc}"))
    return Parsed(readings, rejections)


def parse_parquet(data: bytes, *, now_us: int) -> Parsed:
    """Parse a Parquet telemetry file; every bad row is one rejection naming its row and column."""
    import pyarrow as pa  # noqa: PLC0415 - only Parquet uploads need Arrow
    import pyarrow.compute as pc  # noqa: PLC0415 - as above
    import pyarrow.parquet as pq  # noqa: PLC0415 - as above

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        return Parsed([], [Rejection("$", f"not a Parquet file: {exc}")])
    names = set(table.column_names)
    if not {"ts", "field"} <= names or not names & {"value", "text"}:
        return Parsed([], [Rejection("$", "the file needs the columns ts, field and value or text")])
    ts_col = table.column("ts")
    try:
        if pa.types.is_timestamp(ts_col.type):
            micros = pc.cast(pc.cast(ts_col, pa.timestamp("us", tz=ts_col.type.tz)), pa.int64()).to_pylist()
        elif pa.types.is_integer(ts_col.type):
            micros = [None if v is None else v * 1000 for v in ts_col.to_pylist()]
        else:
            return Parsed([], [Rejection("$", "ts must be a timestamp or int64 epoch milliseconds")])
        fields = table.column("field").to_pylist()
        values = table.column("value").to_pylist() if "value" in names else [None] * table.num_rows
        texts = table.column("text").to_pylist() if "text" in names else [None] * table.num_rows
        qualities = table.column("quality").to_pylist() if "quality" in names else [None] * table.num_rows
    except pa.ArrowException as exc:
        return Parsed([], [Rejection("$", f"unreadable columns: {exc}")])
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    rows = zip(micros, fields, values, texts, qualities, strict=True)
    for number, (ts_us, field, value, text, quality) in enumerate(rows, start=1):
        try:
            readings.append(_parquet_row(ts_us, field, value, text, quality, now_us=now_us))
        except _RowError as exc:
            rejections.append(Rejection(where(number, exc.column), exc.reason))
    return Parsed(readings, rejections)


class _RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _parquet_row(ts_us: Any, field: Any, value: Any, text: Any, quality: Any, *, now_us: int) -> Reading:
    if ts_us is None:
        raise _RowError("ts", "ts is missing")
    if ts_us < EARLIEST_US:
        raise _RowError("ts", "ts is before 2000-01-01")
    if ts_us > now_us + FUTURE_TOLERANCE_US:
        raise _RowError("ts", "ts is more than a day in the future")
    try:
        name = _field(field)
    except ValueError as exc:
        raise _RowError("field", str(exc)) from None
    reading: float | str
    if value is not None:
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise _RowError("value", "value is not a finite number")
        reading = float(value)
    elif isinstance(text, str):
        if len(text) > MAX_TEXT:
            raise _RowError("text", f"text is longer than {MAX_TEXT} characters")
        reading = text
    else:
        raise _RowError("value", "the row has neither a value nor a text")
    try:
        return Reading(name, int(ts_us), reading, _quality(quality if isinstance(quality, str) else None))
    except ValueError as exc:
        raise _RowError("quality", str(exc)) from None
