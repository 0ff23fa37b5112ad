"""Property-based run of the whole API from its own OpenAPI schema (schemathesis).

Every operation is called with generated input, valid and invalid, authenticated as a tenant admin;
a run fails on any server error and on any response whose status, media type or body the schema
does not promise (error answers are documented as ``application/problem+json``).
One test per operation, so xdist spreads them. The operations are driven through schemathesis'
hypothesis strategies rather than ``schemathesis.pytest.from_fixture``, whose lazy loader reaches
into pytest internals that pytest 9 no longer has.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from hexmill.app import create_app
from hexmill.core.config import Settings

OPENAPI = "/api/v1/openapi.json"
EXAMPLES = 20  # per operation, valid and invalid together: enough to find bugs, quick on two cores
METHODS = {"get", "put", "post", "patch", "delete"}
# No server errors; and every answer, errors included, has a documented status, media type and shape.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _operations() -> list[tuple[str, str]]:
    """Return (method, path) of every operation in the schema, read from an app on no database."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings(data_dir=Path(tmp), database_url="sqlite://", secret_key="collect-only", log_json=False)
        )
        paths = app.openapi()["paths"]
        app.state.engine.dispose()
    return sorted((method.upper(), path) for path, item in paths.items() for method in item if method in METHODS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Make one test per API operation."""
    if "operation" in metafunc.fixturenames:
        ops = _operations()
        metafunc.parametrize("operation", ops, ids=[f"{m} {p}" for m, p in ops])


@pytest.fixture(scope="session")
def api_schema(app: Any) -> Any:
    """Return the app's OpenAPI schema, loaded in-process once per worker."""
    return schemathesis.openapi.from_asgi(OPENAPI, app)


# The API's behaviour does not depend on the backend; one is enough, and SQLite is the faster.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_operation_answers_by_its_schema(
    api_schema: Any, operation: tuple[str, str], actor_factory: Callable[..., Any]
) -> None:
    method, path = operation
    endpoint = api_schema[path][method]
    headers = actor_factory().headers
    cases = st.one_of(endpoint.as_strategy(GenerationMode.POSITIVE), endpoint.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def answers_by_schema(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    answers_by_schema()


def test_every_operation_is_covered() -> None:
    # The parametrisation above reads the schema; an empty list would make the run pass vacuously.
    ops = _operations()
    assert ("GET", "/api/v1/me") in ops
    assert len(ops) >= 20
