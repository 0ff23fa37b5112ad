"""OPC UA client connector: settings, the asyncua client, the poller and node mapping."""
