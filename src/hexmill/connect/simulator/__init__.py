"""Plant simulator: simulated machines exposed over OPC UA, Modbus TCP and MQTT (``hexmill simulate``)."""
