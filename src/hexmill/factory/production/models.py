"""Tables of production (filled in by the production work)."""

from __future__ import annotations
