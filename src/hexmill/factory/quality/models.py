"""Tables of quality (filled in by the quality work)."""

from __future__ import annotations
