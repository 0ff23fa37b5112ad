"""Shared API parameter types: object ids, offsets and limits with the bounds the database holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from hexmill.core.pagination import MAX_LIMIT

MAX_ID = 2**31 - 1

ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
