"""Console pages of quality."""

from __future__ import annotations

from fastapi import APIRouter

from hexmill.web.auth import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
