"""Fixtures: a plant (machine, tags, device) built through the API in a fresh enterprise."""

from tests.telemetry.plant import plant, plant_factory

__all__ = ["plant", "plant_factory"]
