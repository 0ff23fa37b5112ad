"""Health, readiness and Prometheus metrics of the API process."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hexmill.core.migrate import current_head, database_revision

router = APIRouter(include_in_schema=False)


class Metrics:
    """The process's metrics, in a registry of their own (one per app, so tests can make many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hexmill_http_requests_total",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hexmill_http_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=self.registry,
        )

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Count and time every request by its route template (not its raw path)."""
        start = time.perf_counter()
        status = "500"  # an exception passing through here becomes the server error handler's 500
        try:
            response = await call_next(request)
            status = str(response.status_code)
        finally:
            template = route_template(request.scope)
            self.requests.labels(request.method, template, status).inc()
            self.latency.labels(request.method, template).observe(time.perf_counter() - start)
        return response


def route_template(scope: Mapping[str, Any]) -> str:
    """Return the full path template of the route that answered (``/api/v1/parks/{park_id}``).

    This FastAPI keeps included routers as branches and puts the route itself in the scope, with
    its path relative to its router; the full template, prefixes included, is on the effective
    route context it records. Older versions copied routes with their prefix into the app, so
    the route's own path is the fallback. Requests no route matched share one label.
    """
    effective = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(effective, "path_format", None)
    if not template:
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer while the process runs."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Response:
    """Answer 200 when the database answers and its schema is at the code's migration head."""
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = database_revision(conn)
    except SQLAlchemyError:
        return Response('{"status":"database unavailable"}', status_code=503, media_type="application/json")
    if revision != current_head():
        return Response('{"status":"migrations pending"}', status_code=503, media_type="application/json")
    return Response('{"status":"ready"}', media_type="application/json")


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Expose the Prometheus metrics of this process."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
