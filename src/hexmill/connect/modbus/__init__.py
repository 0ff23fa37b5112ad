"""Modbus TCP connector: register maps, merged block reads, polling with reconnect and back-off."""
