"""The simulator's OPC UA server: one object per machine, one variable per field.

Address space, under ``Objects``, in the namespace ``urn:hexmill:simulator`` (index 2 on this server;
clients should look the index up by the URI):

* an object per machine, node id ``ns=2;s=<machine>`` (e.g. ``ns=2;s=cnc-1``);
* a variable per field, browse name ``<field>``, node id ``ns=2;s=<machine>.<field>``
  (e.g. ``ns=2;s=cnc-1.spindle_speed``); floats are ``Double``, integers ``Int64``, booleans
  ``Boolean`` and strings ``String``. Each step writes every variable with the step's source timestamp.

The endpoint is ``opc.tcp://<host>:<port>/hexmill/simulator``, without security (a test peer).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC

from asyncua import ua
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds

from hexmill.connect.simulator.plant import DataType, MachineSpec
from hexmill.telemetry.points import Value

log = logging.getLogger(__name__)

#: The namespace URI of the simulator's nodes.
NAMESPACE = "urn:hexmill:simulator"

_VARIANT: Mapping[DataType, ua.VariantType] = {
    "float": ua.VariantType.Double,
    "integer": ua.VariantType.Int64,
    "boolean": ua.VariantType.Boolean,
    "string": ua.VariantType.String,
}
_INITIAL: Mapping[DataType, Value] = {"float": 0.0, "integer": 0, "boolean": False, "string": ""}


def node_id(machine_id: str, field: str | None = None) -> str:
    """Return the string node id (``ns=2;s=...``) of a machine object, or of one of its fields."""
    return f"ns=2;s={machine_id}" if field is None else f"ns=2;s={machine_id}.{field}"


class OpcUaExposure:
    """Serve the plant's values as an OPC UA address space on ``host:port``."""

    def __init__(self, layout: Iterable[MachineSpec], *, host: str = "127.0.0.1", port: int = 4840) -> None:
        self.layout = tuple(layout)
        self.host = host
        self.port = port
        self._server: Server | None = None
        self._nodes: dict[tuple[str, str], tuple[ua.NodeId, ua.VariantType]] = {}

    @property
    def endpoint(self) -> str:
        """Return the URL clients connect to."""
        return f"opc.tcp://{self.host}:{self.port}/hexmill/simulator"

    async def start(self) -> None:
        """Build the address space and start listening."""
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("hexmill plant simulator")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        index = await server.register_namespace(NAMESPACE)
        for machine in self.layout:
            obj = await server.nodes.objects.add_object(
                ua.NodeId(ua.String(machine.machine_id), ua.Int16(index)), ua.QualifiedName(machine.machine_id, index)
            )
            await obj.write_attribute(
                AttributeIds.DisplayName, ua.DataValue(ua.Variant(ua.LocalizedText(machine.name)))
            )
            for spec in machine.fields:
                variant = _VARIANT[spec.data_type]
                nid = ua.NodeId(ua.String(f"{machine.machine_id}.{spec.name}"), ua.Int16(index))
                await obj.add_variable(
                    nid, ua.QualifiedName(spec.name, index), _INITIAL[spec.data_type], varianttype=variant
                )
                self._nodes[machine.machine_id, spec.name] = (nid, variant)
        await server.start()
        self._server = server
        log.info("OPC UA server on %s (namespace index %s)", self.endpoint, index)

    async def publish(self, now_s: float, values: Mapping[str, Mapping[str, Value]]) -> None:
        """Write every variable from one plant step, stamped with the step's time."""
        if self._server is None:
            return
        stamp = ua.DateTime.fromtimestamp(now_s, UTC)
        for machine_id, machine_values in values.items():
            for field, value in machine_values.items():
                found = self._nodes.get((machine_id, field))
                if found is None:
                    continue
                nid, variant = found
                data = ua.DataValue(ua.Variant(value, variant), SourceTimestamp=stamp, ServerTimestamp=stamp)
                await self._server.write_attribute_value(nid, data)

    async def stop(self) -> None:
        """Stop the server and close its sessions."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
