"""Telemetry API: raw points, buckets (and the stored level they come from), latest values, exports,
retention and the live stream, on hand-computed data; permissions and tenant separation."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.telemetry.plant import API, PROBLEM, Plant

# An hour boundary three hours ago: every bucket below starts on a whole hour.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
SERIES = [(0, 10.0), (10, 20.0), (20, 30.0), (70, 40.0), (3700, 50.0)]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _at(seconds: float) -> str:
    return _iso(T0 + timedelta(seconds=seconds))


def _send(client: TestClient, plant: Plant, points: list[tuple[float, Any]], field: str = "speed") -> None:
    body = [{"ts": _at(s), "values": {field: v}} for s, v in points]
    response = client.post(f"{API}/telemetry", json=body, headers=plant.token)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(points), response.text


def _window(plant: Plant, **extra: Any) -> dict[str, Any]:
    return {"tag_id": plant.tags["speed"], "start": _at(0), "end": _at(7200), **extra}


@pytest.fixture
def loaded(client: TestClient, plant: Plant) -> Plant:
    """Return a plant whose speed tag holds SERIES."""
    _send(client, plant, SERIES)
    return plant


def test_raw_returns_points_in_range(client: TestClient, loaded: Plant) -> None:
    response = client.get(f"{API}/telemetry/raw", params=_window(loaded), headers=loaded.headers)
    assert response.status_code == 200, response.text
    points = response.json()
    assert [p["value"] for p in points] == [v for _, v in SERIES]
    assert points[0]["ts"] == _iso(T0)
    assert {p["quality"] for p in points} == {"good"}
    part = client.get(
        f"{API}/telemetry/raw", params=_window(loaded, start=_at(10), end=_at(70), limit=5), headers=loaded.headers
    ).json()
    assert [p["value"] for p in part] == [20.0, 30.0]
    limited = client.get(f"{API}/telemetry/raw", params=_window(loaded, limit=2), headers=loaded.headers).json()
    assert len(limited) == 2


@pytest.mark.parametrize(
    ("bucket", "level", "expected"),
    [
        (
            10,
            "raw",
            [(0, 1, 10.0, 10.0), (10, 1, 20.0, 20.0), (20, 1, 30.0, 30.0), (70, 1, 40.0, 40.0), (3700, 1, 50.0, 50.0)],
        ),
        (300, "1m", [(0, 4, 10.0, 40.0), (3600, 1, 50.0, 50.0)]),
        (3600, "1h", [(0, 4, 10.0, 40.0), (3600, 1, 50.0, 50.0)]),
    ],
)
def test_buckets_come_from_the_best_level(
    client: TestClient, loaded: Plant, bucket: int, level: str, expected: list[tuple[int, int, float, float]]
) -> None:
    response = client.get(f"{API}/telemetry/buckets", params=_window(loaded, bucket=bucket), headers=loaded.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == level
    assert body["bucket_seconds"] == bucket
    got = [
        (int((datetime.fromisoformat(b["start"]) - T0).total_seconds()), b["count"], b["min"], b["max"])
        for b in body["buckets"]
    ]
    assert got == expected
    first = body["buckets"][0]
    if first["count"] == 4:
        assert first["avg"] == pytest.approx(25.0)
        assert (first["first"], first["last"]) == (10.0, 40.0)


def test_a_late_point_updates_the_rollups(client: TestClient, loaded: Plant) -> None:
    params = _window(loaded, bucket=3600)
    before = client.get(f"{API}/telemetry/buckets", params=params, headers=loaded.headers).json()["buckets"][0]
    assert (before["count"], before["max"]) == (4, 40.0)
    _send(client, loaded, [(30, 100.0)])
    after = client.get(f"{API}/telemetry/buckets", params=params, headers=loaded.headers).json()["buckets"][0]
    assert (after["count"], after["max"], after["last"]) == (5, 100.0, 40.0)
    assert after["avg"] == pytest.approx(40.0)
    # A corrected value (same instant, sent again) replaces the old one rather than adding to it.
    _send(client, loaded, [(30, 0.0)])
    fixed = client.get(f"{API}/telemetry/buckets", params=params, headers=loaded.headers).json()["buckets"][0]
    assert (fixed["count"], fixed["min"], fixed["max"]) == (5, 0.0, 40.0)


def test_latest_and_series(client: TestClient, loaded: Plant) -> None:
    _send(client, loaded, [(3700, "M30")], field="program")
    latest = client.get(
        f"{API}/telemetry/latest",
        params=[("tag_id", loaded.tags["speed"]), ("tag_id", loaded.tags["program"]), ("tag_id", loaded.tags["temp"])],
        headers=loaded.headers,
    ).json()
    assert [(p["tag_id"], p["value"]) for p in latest] == [
        (loaded.tags["speed"], 50.0),
        (loaded.tags["program"], "M30"),
    ]
    series = client.get(f"{API}/telemetry/series", params={"equipment_id": loaded.equipment}, headers=loaded.headers)
    assert series.status_code == 200
    by_name = {s["name"]: s for s in series.json()}
    assert set(by_name) == {"speed", "temp", "door", "program"}
    assert by_name["speed"]["latest"]["value"] == 50.0
    assert by_name["speed"]["unit"] == "rpm"
    assert by_name["temp"]["latest"] is None


def test_quality_travels_with_the_point(client: TestClient, plant: Plant) -> None:
    body = {"ts": _at(5), "values": {"temp": 21.5}, "quality": {"temp": "uncertain"}, "historical": True}
    client.post(f"{API}/telemetry", json=body, headers=plant.token)
    point = client.get(f"{API}/telemetry/latest", params={"tag_id": plant.tags["temp"]}, headers=plant.headers).json()
    assert (point[0]["quality"], point[0]["historical"]) == ("uncertain", True)


def test_csv_export_round_trips(client: TestClient, loaded: Plant) -> None:
    response = client.get(f"{API}/telemetry/export", params=_window(loaded, format="csv"), headers=loaded.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [float(r["value"]) for r in rows] == [v for _, v in SERIES]
    assert {r["tag"] for r in rows} == {"speed"}
    table = pacsv.read_csv(io.BytesIO(response.content))
    assert table.column("value").to_pylist() == [v for _, v in SERIES]
    assert table.column("ts").to_pylist()[0] == T0


def test_parquet_export_round_trips(client: TestClient, loaded: Plant) -> None:
    response = client.get(f"{API}/telemetry/export", params=_window(loaded, format="parquet"), headers=loaded.headers)
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column("value").to_pylist() == [v for _, v in SERIES]
    assert table.column("ts").to_pylist() == [T0 + timedelta(seconds=s) for s, _ in SERIES]
    assert set(table.column("quality").to_pylist()) == {"good"}


def test_retention_drops_old_chunks_only(client: TestClient, plant: Plant) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=10)
    body = [
        {"ts": _iso(old), "values": {"speed": 1.0}},
        {"ts": _iso(now - timedelta(minutes=1)), "values": {"speed": 2.0}},
    ]
    assert client.post(f"{API}/telemetry", json=body, headers=plant.token).json()["accepted"] == 2
    assert client.get(f"{API}/telemetry/retention", headers=plant.headers).json() == {
        "raw_days": 90,
        "minute_days": 400,
        "hour_days": 3650,
    }
    kept = client.post(f"{API}/telemetry/retention/enforce", headers=plant.headers).json()["dropped"]
    assert kept == {"raw": [], "1m": [], "1h": []}
    policy = {"raw_days": 3, "minute_days": 3, "hour_days": 3}
    assert client.put(f"{API}/telemetry/retention", json=policy, headers=plant.headers).json() == policy
    dropped = client.post(f"{API}/telemetry/retention/enforce", headers=plant.headers).json()["dropped"]
    assert dropped["raw"] == [f"raw_{plant.actor.tenant.id}_{old:%Y%m%d}"]
    window = {"tag_id": plant.tags["speed"], "start": _iso(old - timedelta(hours=1)), "end": _iso(now)}
    raw = client.get(f"{API}/telemetry/raw", params=window, headers=plant.headers).json()
    assert [p["value"] for p in raw] == [2.0]


def test_retention_rules_are_checked(client: TestClient, plant: Plant) -> None:
    response = client.put(
        f"{API}/telemetry/retention", json={"raw_days": 30, "minute_days": 10, "hour_days": 400}, headers=plant.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "minute_days"
    zero = client.put(
        f"{API}/telemetry/retention", json={"raw_days": 0, "minute_days": 10, "hour_days": 400}, headers=plant.headers
    )
    assert zero.status_code == 422
    assert zero.json()["field"] == "raw_days"


@pytest.mark.parametrize(
    ("path", "extra", "field"),
    [
        ("raw", {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
        ("raw", {"start": "2026-01-01T00:00:00"}, "start"),
        ("buckets", {"bucket": 0}, "bucket"),
        ("buckets", {"bucket": 1, "start": "2000-01-01T00:00:00Z"}, "bucket"),
        ("raw", {"tag_id": "x"}, "tag_id.0"),
        ("export", {"format": "xlsx"}, "format"),
    ],
)
def test_bad_queries_name_the_field(
    client: TestClient, plant: Plant, path: str, extra: dict[str, Any], field: str
) -> None:
    params = {"tag_id": plant.tags["speed"], **extra}
    response = client.get(f"{API}/telemetry/{path}", params=params, headers=plant.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == field


def test_a_tag_is_required(client: TestClient, plant: Plant) -> None:
    response = client.get(f"{API}/telemetry/latest", headers=plant.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "tag_id"


def test_another_enterprises_series_are_not_found(client: TestClient, loaded: Plant, plant_factory) -> None:
    intruder = plant_factory()
    for path, params in [
        ("raw", _window(loaded)),
        ("buckets", _window(loaded, bucket=60)),
        ("latest", {"tag_id": loaded.tags["speed"]}),
        ("export", _window(loaded)),
        ("series", {"equipment_id": loaded.equipment}),
        ("stream", {"equipment_id": loaded.equipment}),
    ]:
        response = client.get(f"{API}/telemetry/{path}", params=params, headers=intruder.headers)
        assert response.status_code == 404, (path, response.text)
    mixed = {"tag_id": [intruder.tags["speed"], loaded.tags["speed"]]}
    assert client.get(f"{API}/telemetry/latest", params=mixed, headers=intruder.headers).status_code == 404


def test_operator_reads_but_cannot_manage_retention(client: TestClient, loaded: Plant, actor_factory) -> None:
    operator = actor_factory("operator", tenant=loaded.actor.tenant)
    assert client.get(f"{API}/telemetry/raw", params=_window(loaded), headers=operator.headers).status_code == 200
    assert client.get(f"{API}/telemetry/retention", headers=operator.headers).status_code == 200
    policy = {"raw_days": 3, "minute_days": 3, "hour_days": 3}
    assert client.put(f"{API}/telemetry/retention", json=policy, headers=operator.headers).status_code == 403
    assert client.post(f"{API}/telemetry/retention/enforce", headers=operator.headers).status_code == 403


def test_every_endpoint_needs_credentials(client: TestClient, loaded: Plant) -> None:
    for method, path in [
        ("GET", "series"),
        ("GET", "raw"),
        ("GET", "buckets"),
        ("GET", "latest"),
        ("GET", "export"),
        ("GET", "stream"),
        ("GET", "retention"),
        ("PUT", "retention"),
        ("POST", "retention/enforce"),
    ]:
        response = client.request(method, f"{API}/telemetry/{path}", params=_window(loaded, equipment_id=1, bucket=60))
        assert response.status_code == 401, (method, path)


# -- the live stream ---------------------------------------------------------------------------


@pytest.fixture
def live_url(app, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Serve the test app on 127.0.0.1 (a real server, so the event stream really streams)."""
    monkeypatch.setattr(app.state, "stream_poll_s", 0.1, raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="telemetry-sse", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind == "points":
            yield json.loads(line.removeprefix("data: "))


def test_stream_sends_an_event_after_a_point_is_ingested(live_url: str, plant: Plant) -> None:
    timeout = httpx.Timeout(10.0)
    with (
        httpx.Client(base_url=live_url, timeout=timeout) as http,
        http.stream(
            "GET", f"{API}/telemetry/stream", params={"equipment_id": plant.equipment}, headers=plant.headers
        ) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream.iter_lines())
        first = next(events)
        assert first["points"] == []
        assert [(d["name"], d["link_state"]) for d in first["devices"]] == [("gateway", "unknown")]
        sent = http.post(f"{API}/telemetry", json={"values": {"speed": 1234.5}}, headers=plant.token)
        assert sent.status_code == 200
        update = next(events)
        assert [(p["name"], p["value"], p["quality"]) for p in update["points"]] == [("speed", 1234.5, "good")]
        assert update["devices"][0]["link_state"] == "online"


def test_too_many_tags_is_refused_with_the_cap(client: TestClient, plant: Plant) -> None:
    params = [("tag_id", n) for n in range(1, 202)]
    response = client.get(f"{API}/telemetry/latest", params=params, headers=plant.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "tag_id"


def test_the_series_cap_names_its_number(db) -> None:  # type: ignore[no-untyped-def]
    from hexmill.core.context import Context  # noqa: PLC0415 - only this test calls the service directly
    from hexmill.core.errors import InvalidInput  # noqa: PLC0415 - as above
    from hexmill.telemetry import service  # noqa: PLC0415 - as above

    with pytest.raises(InvalidInput) as caught:
        service.resolve_series(db, Context.system(1), list(range(1, 202)))
    assert caught.value.render()["errors"][0]["detail"] == "Ask for at most 200 tags at once."
