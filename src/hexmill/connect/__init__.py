"""Connect: device registry, protocol connectors, the edge agent and the plant simulator."""
