"""Asset Administration Shell export and import, checked with the IDTA's aas_test_engines."""

from __future__ import annotations

import io

import pytest
from aas_test_engines import file as aas_file
from aas_test_engines.result import Level
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from hexmill.assets import aas
from hexmill.assets.service import TagSpec
from hexmill.core.errors import InvalidInput
from tests.assets.conftest import API, World


def machine(client: TestClient, world: World) -> dict:
    """Add tags with awkward names and every data type to the world's machine; return it with tags."""
    h = world.headers
    eq = world.ids["equipment"]
    for body in (
        {"name": "spindle.speed/actual", "unit": "rpm", "data_type": "float", "description": "From the drive"},
        {"name": "1st counter", "data_type": "integer"},
        {"name": "状态", "data_type": "string"},
    ):
        assert client.post(f"{API}/tags", json={"equipment_id": eq, **body}, headers=h).status_code == 201
    client.patch(f"{API}/equipment/{eq}", json={"description": "Five-axis, bought 2021"}, headers=h)
    out = client.get(f"{API}/equipment/{eq}", headers=h).json()
    out["tags"] = client.get(f"{API}/tags", params={"equipment_id": eq}, headers=h).json()["items"]
    return out


def fetch(client: TestClient, world: World, fmt: str) -> bytes:
    """Export the world's machine as an AAS file."""
    response = client.get(
        f"{API}/equipment/{world.ids['equipment']}/aas", params={"format": fmt}, headers=world.headers
    )
    assert response.status_code == 200, response.text
    return response.content


def assert_ok(result) -> None:  # type: ignore[no-untyped-def]
    """Fail with the engine's report unless it found nothing wrong (not even a warning)."""
    report = "\n".join(result.to_lines())
    assert result.ok(), report
    assert result.level == Level.INFO, report


def test_json_export_passes_the_test_engine(client: TestClient, world: World) -> None:
    machine(client, world)
    data = fetch(client, world, "json")
    assert_ok(aas_file.check_json_file(io.StringIO(data.decode("utf-8"))))


def test_aasx_export_passes_the_test_engine(client: TestClient, world: World) -> None:
    machine(client, world)
    data = fetch(client, world, "aasx")
    assert data.startswith(b"PK")
    assert_ok(aas_file.check_aasx_file(io.BytesIO(data)))


@pytest.mark.parametrize("fmt", ["json", "aasx"])
def test_import_gives_back_the_same_machine(client: TestClient, world: World, fmt: str) -> None:
    original = machine(client, world)
    data = fetch(client, world, fmt)
    h = world.headers
    line = client.post(f"{API}/lines", json={"area_id": world.ids["area"], "name": f"Imported {fmt}"}, headers=h).json()
    response = client.post(
        f"{API}/equipment/aas", params={"line_id": line["id"]}, files={"file": (f"m.{fmt}", data)}, headers=h
    )
    assert response.status_code == 201, response.text
    copy = response.json()
    for key in ("name", "manufacturer", "model", "serial_number", "description", "equipment_type_id"):
        assert copy[key] == original[key], key
    tags = client.get(f"{API}/tags", params={"equipment_id": copy["id"]}, headers=h).json()["items"]

    def shape(items: list[dict]) -> list[tuple]:
        return sorted((t["name"], t["unit"], t["data_type"], t["description"]) for t in items)

    assert shape(tags) == shape(original["tags"])
    assert len(tags) == 5


def test_import_into_the_same_line_is_a_name_conflict(client: TestClient, world: World) -> None:
    data = fetch(client, world, "json")
    response = client.post(
        f"{API}/equipment/aas",
        params={"line_id": world.ids["line"]},
        files={"file": ("m.json", data)},
        headers=world.headers,
    )
    assert response.status_code == 409
    assert response.json()["field"] == "name"


@pytest.mark.parametrize("body", [b"", b"{}", b"not json", b"PK\x03\x04broken", b'{"assetAdministrationShells": 5}'])
def test_a_bad_shell_is_invalid_input(client: TestClient, world: World, body: bytes) -> None:
    response = client.post(
        f"{API}/equipment/aas",
        params={"line_id": world.ids["line"]},
        files={"file": ("m.json", body)},
        headers=world.headers,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "file"


def test_a_shell_with_values_beyond_our_limits_is_refused(client: TestClient, world: World) -> None:
    shell = aas.Shell(name="M", serial_number="s" * 101, tags=(TagSpec("t", data_type="float"),))
    data = aas.to_json(shell, identifier="urn:x:1")
    response = client.post(
        f"{API}/equipment/aas",
        params={"line_id": world.ids["line"]},
        files={"file": ("m.json", data)},
        headers=world.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "serial_number"


def test_another_enterprises_machine_cannot_be_exported(client: TestClient, world: World, world_factory) -> None:
    other = world_factory()
    response = client.get(f"{API}/equipment/{world.ids['equipment']}/aas", headers=other.headers)
    assert response.status_code == 404
    assert "M-01" not in response.text


def test_cannot_import_onto_another_enterprises_line(client: TestClient, world: World, world_factory) -> None:
    other = world_factory()
    data = fetch(client, other, "json")
    response = client.post(
        f"{API}/equipment/aas",
        params={"line_id": world.ids["line"]},
        files={"file": ("m.json", data)},
        headers=other.headers,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "line_id"


# -- the pure shell builder and reader ----------------------------------------------------------

TEXT = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
tag_names = st.text(TEXT, min_size=1, max_size=128).map(str.strip).filter(bool)
machine_names = st.text(TEXT, min_size=1, max_size=200).map(str.strip).filter(bool)


@given(
    machine_names,
    st.lists(
        st.builds(
            TagSpec,
            name=tag_names,
            unit=st.sampled_from(["", "rpm", "°C"]),
            data_type=st.sampled_from(["float", "integer", "boolean", "string"]),
            description=st.sampled_from(["", "d", "长描述" * 400]),
        ),
        max_size=6,
        unique_by=lambda t: t.name,
    ),
)
def test_any_names_survive_a_round_trip(name: str, tags: list[TagSpec]) -> None:
    shell = aas.Shell(name=name, manufacturer="ACME", tags=tuple(tags))
    for fmt, render in (("json", aas.to_json), ("aasx", aas.to_aasx)):
        assert aas.parse(render(shell, identifier="urn:hexmill:test:1"), fmt) == shell  # type: ignore[arg-type]


@given(st.binary(max_size=300))
def test_junk_raises_nothing_but_invalid_input(data: bytes) -> None:
    for fmt in ("json", "aasx"):
        try:
            aas.parse(data, fmt)  # type: ignore[arg-type]
        except InvalidInput as exc:
            assert exc.errors
