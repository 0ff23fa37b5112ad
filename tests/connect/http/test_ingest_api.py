"""HTTP ingest: device-token authentication, mixed good and bad payloads, dead letters, size and
rate limits, and bulk CSV and Parquet files."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from hexmill.connect.http.api import IngestRuntime
from hexmill.connect.limits import IngestLimits, RateLimiter
from tests.telemetry.plant import API, PROBLEM, Plant

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def _ts(seconds: int = 0) -> str:
    return (NOW + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _latest(client: TestClient, plant: Plant, *names: str) -> dict[str, object]:
    params = [("tag_id", plant.tags[n]) for n in names]
    points = client.get(f"{API}/telemetry/latest", params=params, headers=plant.headers).json()
    by_id = {v: k for k, v in plant.tags.items()}
    return {by_id[p["tag_id"]]: p["value"] for p in points}


def test_good_payload_is_stored_before_the_answer(client: TestClient, plant: Plant) -> None:
    body = {"ts": _ts(), "values": {"speed": 1200.5, "door": True, "program": "O1234"}}
    response = client.post(f"{API}/telemetry", json=body, headers=plant.token)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 3, "rejected": [], "rejected_total": 0}
    assert _latest(client, plant, "speed", "door", "program") == {"speed": 1200.5, "door": 1.0, "program": "O1234"}
    device = client.get(f"{API}/devices/{plant.device['id']}", headers=plant.headers).json()
    assert device["points_accepted"] == 3
    assert device["link_state"] == "online"
    assert device["last_seen_at"] is not None


def test_mixed_payload_stores_the_good_and_lists_the_bad(client: TestClient, plant: Plant) -> None:
    body = [
        {"ts": _ts(1), "values": {"speed": 900, "nosuch": 1, "temp": "hot"}},
        {"ts": "yesterday", "values": {"speed": 1}},
        {"ts": _ts(2), "values": {"temp": 41.5}},
    ]
    response = client.post(f"{API}/telemetry", json=body, headers=plant.token)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 2
    rejected = {r["location"]: r["reason"] for r in answer["rejected"]}
    assert set(rejected) == {"[1].ts", "values.nosuch", "values.temp"}
    assert "RFC 3339" in rejected["[1].ts"]
    assert "no tag" in rejected["values.nosuch"]
    assert _latest(client, plant, "speed", "temp") == {"speed": 900.0, "temp": 41.5}
    letters = client.get(f"{API}/dead-letters", params={"device_id": plant.device["id"]}, headers=plant.headers).json()
    assert letters["total"] == 3
    assert {item["location"] for item in letters["items"]} == set(rejected)
    assert all(item["channel"] == "http" for item in letters["items"])
    assert "nosuch" in letters["items"][0]["payload"]
    device = client.get(f"{API}/devices/{plant.device['id']}", headers=plant.headers).json()
    assert (device["points_accepted"], device["records_rejected"]) == (2, 3)


def test_unreadable_json_is_one_refusal(client: TestClient, plant: Plant) -> None:
    response = client.post(f"{API}/telemetry", content=b"{not json", headers=plant.token)
    assert response.status_code == 200
    assert response.json()["accepted"] == 0
    assert response.json()["rejected"][0]["location"] == "$"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Device-Token": "nonsense"},
        {"X-Device-Token": "dev-000000000000:wrong"},
    ],
)
def test_missing_or_wrong_token_is_refused(client: TestClient, plant: Plant, headers: dict[str, str]) -> None:
    response = client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert _latest(client, plant, "speed") == {}


def test_wrong_secret_of_a_real_device_is_refused(client: TestClient, plant: Plant) -> None:
    token = {"X-Device-Token": f"{plant.device['client_id']}:not-the-secret"}
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=token).status_code == 401


def test_user_credentials_do_not_ingest(client: TestClient, plant: Plant) -> None:
    response = client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=plant.headers)
    assert response.status_code == 401


def test_token_in_the_url_is_ignored(client: TestClient, plant: Plant) -> None:
    response = client.post(f"{API}/telemetry", params={"token": plant.device["token"]}, json={"values": {"speed": 1}})
    assert response.status_code == 401


def test_revoked_device_is_refused_at_once(client: TestClient, plant: Plant) -> None:
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=plant.token).status_code == 200
    client.post(f"{API}/devices/{plant.device['id']}/revoke", headers=plant.headers)
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 2}}, headers=plant.token).status_code == 401


def test_rotation_retires_the_old_secret(client: TestClient, plant: Plant) -> None:
    assert client.post(f"{API}/telemetry", json={"values": {"speed": 1}}, headers=plant.token).status_code == 200
    rotated = client.post(f"{API}/devices/{plant.device['id']}/rotate-secret", headers=plant.headers).json()
    old = client.post(f"{API}/telemetry", json={"values": {"speed": 2}}, headers=plant.token)
    assert old.status_code == 401
    new = client.post(f"{API}/telemetry", json={"values": {"speed": 3}}, headers={"X-Device-Token": rotated["token"]})
    assert new.status_code == 200
    assert _latest(client, plant, "speed") == {"speed": 3.0}


def test_field_mapping_applies_at_once(client: TestClient, plant: Plant) -> None:
    client.put(
        f"{API}/devices/{plant.device['id']}/fields",
        json={"fields": [{"field": "S1", "tag_id": plant.tags["speed"]}]},
        headers=plant.headers,
    )
    response = client.post(f"{API}/telemetry", json={"values": {"S1": 77}}, headers=plant.token)
    assert response.json()["accepted"] == 1
    assert _latest(client, plant, "speed") == {"speed": 77.0}


def test_oversized_body_is_413(client: TestClient, plant: Plant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        client.app.state, "ingest_runtime", IngestRuntime(IngestLimits(max_payload_bytes=100)), raising=False
    )  # type: ignore[attr-defined]
    body = {"ts": _ts(), "values": {"program": "x" * 200}}
    response = client.post(f"{API}/telemetry", json=body, headers=plant.token)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == "urn:hexmill:problem:payload-too-large"
    # The same cap holds when the body arrives in pieces without a Content-Length.
    chunked = client.post(
        f"{API}/telemetry", content=iter([b'{"values": {"program": "', b"y" * 200, b'"}}']), headers=plant.token
    )
    assert chunked.status_code == 413
    assert _latest(client, plant, "program") == {}


def test_flood_is_refused_for_that_device_only(
    client: TestClient, plant: Plant, plant_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = plant_factory()
    limits = IngestLimits(device_messages_per_s=3)
    # A frozen clock: the buckets never refill, so exactly three messages pass.
    runtime = IngestRuntime(limits, limiter=RateLimiter(limits, clock=lambda: 1000.0))
    monkeypatch.setattr(client.app.state, "ingest_runtime", runtime, raising=False)  # type: ignore[attr-defined]
    codes = [
        client.post(f"{API}/telemetry", json={"values": {"speed": n}}, headers=plant.token).status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    refused = client.post(f"{API}/telemetry", json={"values": {"speed": 9}}, headers=plant.token)
    assert refused.json()["type"] == "urn:hexmill:problem:rate-limited"
    assert "3" in refused.json()["detail"]
    assert _latest(client, plant, "speed") == {"speed": 2.0}
    theirs = client.post(f"{API}/telemetry", json={"values": {"speed": 5}}, headers=other.token)
    assert theirs.status_code == 200
    assert _latest(client, other, "speed") == {"speed": 5.0}


# -- bulk --------------------------------------------------------------------------------------


def _csv(rows: list[str]) -> bytes:
    return ("ts,field,value,quality\n" + "\n".join(rows) + "\n").encode()


def test_bulk_csv_stores_good_rows_and_names_the_bad(client: TestClient, plant: Plant) -> None:
    start = int(NOW.timestamp() * 1000) - 3_600_000
    rows = [f"{start + i * 1000},speed,{i},good" for i in range(1000)]
    # Three bad rows among the thousand; file rows count the header as row 1.
    rows[9] = f"{start + 9000},speed,fast,good"  # row 11: text for a number tag
    rows[499] = "not-a-time,speed,1,good"  # row 501
    rows[899] = f"{start + 899_000},speed,2,excellent"  # row 901
    response = client.post(
        f"{API}/telemetry/bulk", content=_csv(rows), headers={**plant.token, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 997
    assert answer["rejected_total"] == 3
    bad = sorted((r["row"], r["column"]) for r in answer["rejected"] if r["row"] is not None)
    assert bad == [(501, "ts"), (901, "quality")]
    mapped = [r for r in answer["rejected"] if r["row"] is None]
    assert [r["location"] for r in mapped] == ["values.speed"]
    assert "text" in mapped[0]["reason"]
    raw = client.get(
        f"{API}/telemetry/raw",
        params={"tag_id": plant.tags["speed"], "start": _ts(-7200), "end": _ts(60)},
        headers=plant.headers,
    ).json()
    assert len(raw) == 997
    assert {p["value"] for p in raw} == {float(i) for i in range(1000)} - {9.0, 499.0, 899.0}


def test_bulk_csv_rows_report_row_numbers(client: TestClient, plant: Plant) -> None:
    body = b"field,value,ts\nspeed,1," + _ts().encode() + b"\nspeed,,2026-01-01T00:00:00Z\n,1," + _ts().encode() + b"\n"
    answer = client.post(
        f"{API}/telemetry/bulk", content=body, headers={**plant.token, "Content-Type": "text/csv; charset=utf-8"}
    ).json()
    assert answer["accepted"] == 1
    assert sorted((r["row"], r["column"]) for r in answer["rejected"]) == [(3, "value"), (4, "field")]


def test_bulk_csv_without_header_is_refused_whole(client: TestClient, plant: Plant) -> None:
    body = f"{_ts()},speed,1\n".encode()
    answer = client.post(
        f"{API}/telemetry/bulk", content=body, headers={**plant.token, "Content-Type": "text/csv"}
    ).json()
    assert answer["accepted"] == 0
    assert answer["rejected"][0]["row"] == 1


def test_bulk_parquet_is_stored(client: TestClient, plant: Plant) -> None:
    stamps = [NOW - timedelta(seconds=s) for s in (30, 20, 10, 5)]
    table = pa.table(
        {
            "ts": pa.array(stamps, type=pa.timestamp("ms", tz="UTC")),
            "field": ["temp", "temp", "program", "temp"],
            "value": pa.array([20.5, None, None, float("nan")], type=pa.float64()),
            "text": pa.array([None, None, "O42", None], type=pa.string()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    response = client.post(
        f"{API}/telemetry/bulk",
        content=sink.getvalue(),
        headers={**plant.token, "Content-Type": "application/vnd.apache.parquet"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 2
    assert sorted((r["row"], r["column"]) for r in answer["rejected"]) == [(2, "value"), (4, "value")]
    assert _latest(client, plant, "temp", "program") == {"temp": 20.5, "program": "O42"}


def test_bulk_parquet_with_epoch_milliseconds(client: TestClient, plant: Plant) -> None:
    ms = int(NOW.timestamp() * 1000)
    table = pa.table(
        {"ts": pa.array([ms, ms + 1000], type=pa.int64()), "field": ["speed", "speed"], "value": [1.0, 2.0]}
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    answer = client.post(
        f"{API}/telemetry/bulk",
        content=sink.getvalue(),
        headers={**plant.token, "Content-Type": "application/vnd.apache.parquet"},
    ).json()
    assert answer == {"accepted": 2, "rejected": [], "rejected_total": 0}
    assert _latest(client, plant, "speed") == {"speed": 2.0}


def test_bulk_needs_a_known_media_type_and_a_token(client: TestClient, plant: Plant) -> None:
    wrong = client.post(
        f"{API}/telemetry/bulk", content=b"{}", headers={**plant.token, "Content-Type": "application/json"}
    )
    assert wrong.status_code == 415
    anonymous = client.post(f"{API}/telemetry/bulk", content=_csv([]), headers={"Content-Type": "text/csv"})
    assert anonymous.status_code == 401
