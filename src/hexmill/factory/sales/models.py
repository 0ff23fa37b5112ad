"""Tables of sales (filled in by the sales work)."""

from __future__ import annotations
