"""Import and export of the hierarchy: CSV all-or-nothing with every error located, JSON, round trips."""

from __future__ import annotations

import csv
import json
from io import StringIO

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexmill.assets import io
from hexmill.assets.io import COLUMNS, Record
from hexmill.core.errors import InvalidInput
from tests.assets.conftest import API, World

HEADER = ",".join(COLUMNS)


def upload(client: TestClient, headers: dict[str, str], body: bytes, name: str = "assets.csv", **params: str):
    """POST a file to the import endpoint."""
    return client.post(f"{API}/assets/import", files={"file": (name, body)}, params=params, headers=headers)


def export(client: TestClient, headers: dict[str, str], fmt: str) -> bytes:
    """GET the export in ``fmt``."""
    response = client.get(f"{API}/assets/export", params={"format": fmt}, headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def row(**cells: str) -> str:
    """Return one CSV line with the given cells (others empty)."""
    buf = StringIO()
    csv.writer(buf, lineterminator="").writerow([cells.get(c, "") for c in COLUMNS])
    return buf.getvalue()


def big_file() -> list[str]:
    """Return the lines of a valid file: two types, a site, 3 areas, 6 lines, 24 machines with tags."""
    lines = [HEADER]
    for t in ("Lathe", "Press"):
        lines.append(row(record="equipment_type", equipment_type=t, manufacturer="ACME"))
        lines.append(row(record="tag", equipment_type=t, tag="power", unit="kW", data_type="float"))
    lines.append(row(record="site", site="Plant", description="Main, with a comma"))
    for a in range(3):
        lines.append(row(record="area", site="Plant", area=f"Hall {a}"))
        for li in range(2):
            kind = "line" if li == 0 else "work_centre"
            lines.append(row(record="line", site="Plant", area=f"Hall {a}", line=f"L{li}", line_kind=kind))
            for e in range(4):
                path = {"site": "Plant", "area": f"Hall {a}", "line": f"L{li}", "equipment": f"M{e}"}
                lines.append(row(record="equipment", **path, equipment_type="Lathe", serial_number=f"SN{a}{li}{e}"))
                lines.append(row(record="tag", **path, tag="running", data_type="boolean"))
    return lines


def test_export_of_an_empty_enterprise_is_just_the_header(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    assert export(client, actor.headers, "csv").decode().splitlines() == [HEADER]
    assert json.loads(export(client, actor.headers, "json")) == {
        "format": "hexmill.assets",
        "version": 1,
        "equipment_types": [],
        "sites": [],
    }


def test_a_valid_csv_imports_everything(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    lines = big_file()
    response = upload(client, actor.headers, "\n".join(lines).encode())
    assert response.status_code == 200, response.text
    assert response.json() == {"created": len(lines) - 1, "updated": 0}
    tree = client.get(f"{API}/assets/tree", headers=actor.headers).json()
    assert [a["name"] for a in tree[0]["areas"]] == ["Hall 0", "Hall 1", "Hall 2"]
    assert sum(len(li["equipment"]) for a in tree[0]["areas"] for li in a["lines"]) == 24
    machines = client.get(f"{API}/equipment", params={"serial_number": "SN210"}, headers=actor.headers).json()
    assert machines["total"] == 1
    # Importing the same file again changes nothing: objects are matched by their names.
    again = upload(client, actor.headers, "\n".join(lines).encode())
    assert again.json() == {"created": 0, "updated": 0}


def test_csv_with_three_bad_rows_imports_nothing_and_names_them(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    lines = big_file()
    assert len(lines) > 50
    bad = {
        # row numbers as a spreadsheet shows them: the header is row 1
        10: (row(record="gizmo", site="Plant"), "record"),
        20: (row(record="line", site="Plant", area="Hall 1", line="L9", line_kind="loop"), "line_kind"),
        30: (row(record="equipment", site="Plant", area="Nowhere", line="L0", equipment="M9"), "line"),
    }
    for number, (text, _column) in bad.items():
        lines.insert(number - 1, text)
    response = upload(client, actor.headers, "\n".join(lines).encode())
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:hexmill:problem:validation-error"
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(n, c) for n, (_t, c) in sorted(bad.items())]
    assert all(e["detail"] for e in problem["errors"])
    assert client.get(f"{API}/sites", headers=actor.headers).json()["total"] == 0
    assert client.get(f"{API}/equipment-types", headers=actor.headers).json()["total"] == 0


def test_csv_errors_cover_values_and_duplicates(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    lines = [
        HEADER,
        row(record="site", site="P"),
        row(record="site", site="P"),
        row(record="area", site="P", area="x" * 201),
        row(record="area", site="P", area="A", unit="kg"),
        row(record="tag", site="P", area="A", line="L", equipment="E", tag="t", data_type="complex"),
        row(record="equipment", site="P", area="A", line="L", equipment="E", equipment_type="Ghost"),
        row(record="line", site="P", area="A", line="L"),
    ]
    response = upload(client, actor.headers, "\n".join(lines).encode())
    assert response.status_code == 422
    located = [(e["row"], e["column"]) for e in response.json()["errors"]]
    assert located == [(3, "site"), (4, "area"), (5, "unit"), (6, "data_type"), (7, "equipment_type")]


@pytest.mark.parametrize(
    ("body", "column"),
    [
        (b"site,area\nP,A\n", "record"),
        (b"record,colour\nsite,red\n", "colour"),
    ],
)
def test_a_bad_header_is_reported_on_row_one(client: TestClient, actor_factory, body: bytes, column: str) -> None:
    actor = actor_factory()
    response = upload(client, actor.headers, body)
    assert response.status_code == 422
    assert {"row": 1, "column": column} in [{k: e.get(k) for k in ("row", "column")} for e in response.json()["errors"]]


@pytest.mark.parametrize("body", [b"", b"\xff\xfe\x00bad", b"\n\n"])
def test_unreadable_files_are_refused(client: TestClient, actor_factory, body: bytes) -> None:
    actor = actor_factory()
    response = upload(client, actor.headers, body)
    assert response.status_code == 422
    assert response.json()["field"] == "file"


def test_import_updates_what_exists(client: TestClient, world: World) -> None:
    h = world.headers
    body = "\n".join(
        [
            HEADER,
            row(record="site", site="Suzhou plant", description="Renamed hall"),
            row(record="area", site="Suzhou plant", area="Hall 9"),
        ]
    ).encode()
    response = upload(client, h, body)
    assert response.json() == {"created": 1, "updated": 1}
    assert client.get(f"{API}/sites/{world.ids['site']}", headers=h).json()["description"] == "Renamed hall"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_gives_the_same_hierarchy(client: TestClient, world: World, actor_factory, fmt: str) -> None:
    client.post(
        f"{API}/sites",
        json={"name": 'Wuxi, "east"', "description": "line one\nline two; 无锡"},
        headers=world.headers,
    )
    exported = export(client, world.headers, fmt)
    other = actor_factory()
    response = upload(client, other.headers, exported, name=f"assets.{fmt}")
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 0
    assert export(client, other.headers, fmt) == exported


def test_json_errors_name_the_field(client: TestClient, actor_factory) -> None:
    actor = actor_factory()
    doc = {
        "sites": [{"name": "P", "areas": [{"name": "", "lines": []}, {"name": "B", "colour": "red"}]}],
        "equipment_types": [{"name": "T", "tags": [{"name": "t", "data_type": 5}]}],
    }
    response = upload(client, actor.headers, json.dumps(doc).encode(), name="a.json")
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert sorted(fields) == [
        "equipment_types[0].tags[0].data_type",
        "sites[0].areas[0].name",
        "sites[0].areas[1].colour",
    ]
    assert client.get(f"{API}/sites", headers=actor.headers).json()["total"] == 0


def test_json_import_needs_parents_in_file_or_enterprise(client: TestClient, world: World) -> None:
    doc = {
        "sites": [
            {
                "name": "Suzhou plant",
                "areas": [
                    {
                        "name": "Hall 1",
                        "lines": [
                            {"name": "Milling", "equipment": [{"name": "M-09", "equipment_type": "Unknown type"}]},
                        ],
                    }
                ],
            }
        ]
    }
    response = upload(client, world.headers, json.dumps(doc).encode(), format="json")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["sites[0].areas[0].lines[0].equipment[0].equipment_type"]


# -- properties of the pure parser and renderer ------------------------------------------------

NAME_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\ufffe\uffff")
names = st.text(NAME_CHARS, min_size=1, max_size=12).map(str.strip).filter(bool)
short = st.text(NAME_CHARS, max_size=10).map(str.strip)
descriptions = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff") | st.sampled_from("\t\r\n"),
    max_size=30,
)


@st.composite
def hierarchies(draw: st.DrawFn) -> list[Record]:
    """Draw a well-formed hierarchy as export order lays it out."""
    out: list[Record] = []
    type_names = draw(st.lists(names, max_size=3, unique=True))
    for t in type_names:
        out.append(
            Record(
                "equipment_type",
                (t,),
                {"manufacturer": draw(short), "model": draw(short), "description": draw(descriptions)},
            )
        )
        for tag in draw(st.lists(names, max_size=2, unique=True)):
            out.append(
                Record(
                    "type_tag",
                    (t, tag),
                    {
                        "unit": draw(short),
                        "data_type": draw(st.sampled_from(io.DATA_TYPES)),
                        "description": draw(descriptions),
                    },
                )
            )
    for s in draw(st.lists(names, max_size=2, unique=True)):
        out.append(Record("site", (s,), {"description": draw(descriptions)}))
        for a in draw(st.lists(names, max_size=2, unique=True)):
            out.append(Record("area", (s, a), {"description": draw(descriptions)}))
            for li in draw(st.lists(names, max_size=2, unique=True)):
                out.append(
                    Record(
                        "line",
                        (s, a, li),
                        {"line_kind": draw(st.sampled_from(io.LINE_KINDS)), "description": draw(descriptions)},
                    )
                )
                for e in draw(st.lists(names, max_size=2, unique=True)):
                    etype = draw(st.sampled_from(["", *type_names]))
                    out.append(
                        Record(
                            "equipment",
                            (s, a, li, e),
                            {
                                "equipment_type": etype,
                                "manufacturer": draw(short),
                                "model": draw(short),
                                "serial_number": draw(short),
                                "description": draw(descriptions),
                            },
                        )
                    )
                    for tag in draw(st.lists(names, max_size=2, unique=True)):
                        out.append(
                            Record(
                                "tag",
                                (s, a, li, e, tag),
                                {
                                    "unit": draw(short),
                                    "data_type": draw(st.sampled_from(io.DATA_TYPES)),
                                    "description": draw(descriptions),
                                },
                            )
                        )
    return out


@given(hierarchies())
def test_csv_round_trip_keeps_the_hierarchy(records: list[Record]) -> None:
    assert io.parse_csv(io.render_csv(records)) == records


@given(hierarchies())
def test_json_round_trip_keeps_the_hierarchy(records: list[Record]) -> None:
    assert io.parse_json(io.render_json(records)) == records


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_junk_bytes_raise_nothing_but_invalid_input(data: bytes) -> None:
    for parse in (io.parse_csv, io.parse_json):
        try:
            parse(data)
        except InvalidInput as exc:
            assert exc.errors


cells = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8) | st.sampled_from(
    ["site", "area", "line", "equipment", "equipment_type", "tag", "work_centre", "float", "", "P", "A"]
)


@given(st.lists(st.lists(cells, max_size=len(COLUMNS) + 2), max_size=12))
def test_junk_rows_under_a_good_header_raise_nothing_but_invalid_input(rows: list[list[str]]) -> None:
    buf = StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    try:
        records = io.parse_csv(buf.getvalue().encode("utf-8"))
    except InvalidInput as exc:
        assert exc.errors
        assert all(e.row is not None or e.field == "file" for e in exc.errors)
    else:
        assert all(r.valid for r in records)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.sampled_from(["name", "sites"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "sites", "areas", "lines", "equipment", "tags", "kind", "equipment_types", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(json_values)
def test_junk_json_raises_nothing_but_invalid_input(value: object) -> None:
    try:
        io.parse_json(json.dumps(value).encode())
    except InvalidInput as exc:
        assert exc.errors
