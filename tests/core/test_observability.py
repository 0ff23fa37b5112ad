"""Health, readiness and Prometheus metrics: what a load balancer and a scraper see."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hexmill.app import create_app
from hexmill.core.config import Settings


def _requests(client: TestClient) -> list[dict[str, str]]:
    """Return the label sets of hexmill_http_requests_total as the scraper reads them."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return [s.labels for s in families["hexmill_http_requests"].samples if s.name.endswith("_total")]


def test_healthz_answers_while_the_process_runs(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.fixture
def app_on(tmp_path: Path) -> Iterator[Callable[[str | None], Any]]:
    """Return a maker of apps on a database of their own (default: a new, unmigrated SQLite file)."""
    made: list[Any] = []

    def make(database_url: str | None = None) -> Any:
        settings = Settings(
            data_dir=tmp_path, database_url=database_url, secret_key="test-only", log_json=False, log_level="WARNING"
        )
        made.append(create_app(settings))
        return made[-1]

    yield make
    for application in made:
        application.state.engine.dispose()


def test_readyz_is_unavailable_while_migrations_are_pending(app_on: Callable[..., Any]) -> None:
    with TestClient(app_on()) as fresh:
        response = fresh.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "migrations pending"}
        # Alive all the same: a pending migration is no reason to restart the process.
        assert fresh.get("/healthz").status_code == 200


def test_readyz_is_unavailable_without_a_database(tmp_path: Path, app_on: Callable[..., Any]) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'hexmill.db'}"
    with TestClient(app_on(url)) as orphan:
        response = orphan.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "database unavailable"}


def test_metrics_label_requests_by_full_route_template(client: TestClient, actor_factory: Callable[..., Any]) -> None:
    actor = actor_factory()
    assert client.get("/api/v1/me", headers=actor.headers).status_code == 200
    assert client.get(f"/api/v1/tenants/{actor.tenant.id}", headers=actor.headers).status_code == 200
    assert client.get("/api/v1/no-such-thing", headers=actor.headers).status_code == 404
    assert client.get("/healthz").status_code == 200

    labels = _requests(client)
    routes = {(s["method"], s["route"], s["status"]) for s in labels}
    assert ("GET", "/api/v1/me", "200") in routes
    assert ("GET", "/api/v1/tenants/{tenant_id}", "200") in routes
    assert ("GET", "/healthz", "200") in routes
    assert ("GET", "unmatched", "404") in routes
    # Never the raw path (one series per object id) nor the path relative to the router.
    assert not any(s["route"] in {f"/api/v1/tenants/{actor.tenant.id}", "/me", "/tenants/{tenant_id}"} for s in labels)


def test_metrics_time_requests_by_route(client: TestClient) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counts = [
        s
        for s in families["hexmill_http_request_seconds"].samples
        if s.name.endswith("_count") and s.labels["route"] == "/healthz"
    ]
    assert counts
    assert counts[0].value >= 1


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_operations_endpoints_stay_out_of_the_api_schema(client: TestClient, path: str) -> None:
    assert path not in client.get("/api/v1/openapi.json").json()["paths"]
