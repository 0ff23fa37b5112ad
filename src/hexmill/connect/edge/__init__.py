"""The edge agent: read machines beside them, buffer durably on disk, forward to the platform."""
