"""REST API of production."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/factory")
