"""API shapes of HTTP ingest: the tally of what was stored and what was refused."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, Field

#: At most this many refusals are listed in an answer (all are counted, and kept as dead letters).
MAX_LISTED: Final = 1000


class RejectionRead(BaseModel):
    """One refused value or row: where and why."""

    location: str = Field(description="Where in the payload: a JSON path, or 'row N, column C' of a file.")
    reason: str
    row: int | None = Field(default=None, description="The row of a bulk file (CSV: the header is row 1).")
    column: str | None = None


class IngestAnswer(BaseModel):
    """What became of a message or file: points stored, and refusals."""

    accepted: int = Field(description="Points stored (committed before this answer).")
    rejected: list[RejectionRead] = Field(description=f"What was refused and why (at most {MAX_LISTED} listed).")
    rejected_total: int = Field(description="How many values or rows were refused in all.")
