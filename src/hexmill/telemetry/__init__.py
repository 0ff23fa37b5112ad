"""Telemetry: series, points, rollups, retention, queries and the live stream."""
