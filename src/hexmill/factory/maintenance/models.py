"""Tables of maintenance (filled in by the maintenance work)."""

from __future__ import annotations
