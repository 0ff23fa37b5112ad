"""Columnar blocks: how the embedded store packs many points (or rollup buckets) into one row.

Pure functions over NumPy arrays, no database (ADR 0009). A *segment* is the points one write
brought to one series and hour: timestamps as deltas, values as float64 (NaN where a point has
no number), quality codes as bytes, each column byte-shuffled (all first bytes, then all second
bytes, …) and the whole compressed with zlib, so regular timestamps and slowly changing values
cost a few bits each. Text values, rare, travel beside as a compressed JSON list.

A *frame* is the in-memory form: a structured array of points or of rollup buckets. Merging
segments keeps, for each (series, ts), the copy of the segment written last (highest ``seq``),
which is what makes writes idempotent on (series, timestamp) without read-before-write.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from hexmill.telemetry.chunks import HOUR_US

#: Width of one raw block: a segment never spans two hours, and a minute rollup block is an hour.
BLOCK_US: Final = HOUR_US
#: Width of one hour-rollup block: the hours of one UTC day.
DAY_BLOCK_US: Final = 24 * HOUR_US

#: One point in memory.
POINT: Final = np.dtype([("series", "<i8"), ("ts", "<i8"), ("value", "<f8"), ("quality", "u1")])

#: One rollup bucket, in memory and on disk (the series is kept so a block decodes into a frame as is).
ROLLUP: Final = np.dtype(
    [
        ("series", "<i8"),
        ("bucket", "<i8"),
        ("count", "<i8"),
        ("min", "<f8"),
        ("max", "<f8"),
        ("sum", "<f8"),
        ("first_ts", "<i8"),
        ("first", "<f8"),
        ("last_ts", "<i8"),
        ("last", "<f8"),
    ]
)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bytes = npt.NDArray[np.uint8]


class BlockError(ValueError):
    """A stored block does not decode: the file was damaged or written by something else."""


def _shuffle(column: npt.NDArray[np.generic]) -> bytes:
    width = column.dtype.itemsize
    return np.ascontiguousarray(column).view(np.uint8).reshape(-1, width).T.tobytes()


def _unshuffle(raw: bytes, n: int, dtype: npt.DTypeLike) -> npt.NDArray[np.generic]:
    kind = np.dtype(dtype)
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(kind.itemsize, n)
    return np.ascontiguousarray(planes.T).view(kind).reshape(n)


def encode_segment(ts: Ints, values: Floats, quality: Bytes) -> bytes:
    """Pack one series' points (time-sorted, distinct timestamps) into a compressed segment."""
    deltas = np.diff(ts, prepend=ts[:1])
    return zlib.compress(_shuffle(deltas) + _shuffle(values) + quality.astype(np.uint8).tobytes(), 1)


def decode_segment(data: bytes, n: int, first_ts: int) -> tuple[Ints, Floats, Bytes]:
    """Unpack a segment of ``n`` points whose first timestamp is ``first_ts``."""
    try:
        raw = zlib.decompress(data)
    except zlib.error as exc:
        raise BlockError(f"segment does not decompress: {exc}") from exc
    if len(raw) != 17 * n:
        raise BlockError(f"segment holds {len(raw)} bytes, expected {17 * n} for {n} points")
    deltas = _unshuffle(raw[: 8 * n], n, np.int64)
    ts = np.cumsum(deltas, dtype=np.int64)
    ts += first_ts
    values = _unshuffle(raw[8 * n : 16 * n], n, np.float64)
    quality = np.frombuffer(raw, dtype=np.uint8, offset=16 * n, count=n)
    return ts, values, quality  # type: ignore[return-value]


def encode_texts(texts: Sequence[str | None]) -> bytes | None:
    """Pack the text values of a segment (None when it has none)."""
    if all(t is None for t in texts):
        return None
    return zlib.compress(json.dumps(list(texts), ensure_ascii=False).encode(), 1)


def decode_texts(data: bytes | None, n: int) -> list[str | None]:
    """Unpack the text values of a segment of ``n`` points."""
    if data is None:
        return [None] * n
    try:
        texts = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError) as exc:
        raise BlockError(f"segment texts do not decode: {exc}") from exc
    if not isinstance(texts, list) or len(texts) != n:
        raise BlockError(f"segment texts hold {len(texts)} entries, expected {n}")
    return texts


def last_per_key(*keys: Ints, tiebreak: Ints | None = None) -> npt.NDArray[np.intp]:
    """Return the indices that keep one row per distinct key, in key order.

    ``keys`` are columns, most significant first. Among rows with equal keys the one with the
    highest ``tiebreak`` is kept, or, without one, the row that came last in the input (the sort
    is stable).
    """
    sort_keys = keys[::-1] if tiebreak is None else (tiebreak, *keys[::-1])
    order = np.lexsort(sort_keys)
    if order.size == 0:
        return order
    change = np.zeros(order.size, dtype=bool)
    change[-1] = True
    for key in keys:
        sorted_key = key[order]
        change[:-1] |= sorted_key[1:] != sorted_key[:-1]
    return order[change]


def runs(*keys: Ints) -> npt.NDArray[np.intp]:
    """Return the start index of each run of equal keys in already-sorted columns (plus the end)."""
    n = keys[0].size
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.append(np.flatnonzero(change), n)


def rollup(series: Ints, ts: Ints, values: Floats, width_us: int) -> npt.NDArray[np.void]:
    """Aggregate time-sorted numeric points (NaN: no number) of sorted series into buckets.

    Buckets without a number are left out, as they have nothing to aggregate.
    """
    numeric = ~np.isnan(values)
    series, ts, values = series[numeric], ts[numeric], values[numeric]
    bucket = ts - ts % width_us
    bounds = runs(series, bucket)
    starts, ends = bounds[:-1], bounds[1:]
    out = np.empty(starts.size, dtype=ROLLUP)
    if not starts.size:
        return out
    out["series"] = series[starts]
    out["bucket"] = bucket[starts]
    out["count"] = ends - starts
    out["min"] = np.minimum.reduceat(values, starts)
    out["max"] = np.maximum.reduceat(values, starts)
    out["sum"] = np.add.reduceat(values, starts)
    out["first_ts"] = ts[starts]
    out["first"] = values[starts]
    out["last_ts"] = ts[ends - 1]
    out["last"] = values[ends - 1]
    return out


def fold(frame: npt.NDArray[np.void], width_us: int) -> npt.NDArray[np.void]:
    """Fold rollup buckets (any order) into buckets of ``width_us``, by series then time.

    Exact for count, min, max and sum, and for first and last, because each bucket carries the
    timestamps of its first and last values. Empty buckets make no bucket.
    """
    frame = frame[frame["count"] > 0]
    if not frame.size:
        return np.empty(0, dtype=ROLLUP)
    frame = frame[np.lexsort((frame["bucket"], frame["series"]))]
    start = frame["bucket"] - frame["bucket"] % width_us
    bounds = runs(frame["series"], start)
    starts, ends = bounds[:-1], bounds[1:]
    if starts.size == frame.size:
        out = frame.copy()
        out["bucket"] = start
        return out
    out = np.empty(starts.size, dtype=ROLLUP)
    out["series"] = frame["series"][starts]
    out["bucket"] = start[starts]
    out["count"] = np.add.reduceat(frame["count"], starts)
    out["min"] = np.minimum.reduceat(frame["min"], starts)
    out["max"] = np.maximum.reduceat(frame["max"], starts)
    out["sum"] = np.add.reduceat(frame["sum"], starts)
    out["first_ts"] = frame["first_ts"][starts]
    out["first"] = frame["first"][starts]
    out["last_ts"] = frame["last_ts"][ends - 1]
    out["last"] = frame["last"][ends - 1]
    return out


def frame_of_rows(rows: Sequence[tuple[object, ...]]) -> npt.NDArray[np.void]:
    """Build a rollup frame from rows in ``ROLLUP`` order, leaving out empty buckets."""
    kept = [r for r in rows if r[2]]
    return np.array(kept, dtype=ROLLUP) if kept else np.empty(0, dtype=ROLLUP)
