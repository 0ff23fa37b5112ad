"""Async tests of the plant simulator run on asyncio (asyncua, pymodbus and the runner need it)."""

from __future__ import annotations
