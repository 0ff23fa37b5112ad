"""MQTT JSON telemetry: the ingest worker, the embedded broker and the Mosquitto credential sync."""
