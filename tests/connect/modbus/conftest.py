"""Async tests of the Modbus connector run on asyncio (pymodbus needs it)."""

from __future__ import annotations
