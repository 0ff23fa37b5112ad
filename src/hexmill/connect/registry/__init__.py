"""Device registry: devices bound to equipment, their credentials, field mappings and dead letters."""
