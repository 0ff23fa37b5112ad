"""HTTP ingest: devices post telemetry with their device token."""
