"""Sparkplug B 3.0 Host Application: a hexmill connector that consumes edge nodes over MQTT."""
