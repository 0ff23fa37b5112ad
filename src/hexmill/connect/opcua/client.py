"""Thin asyncua wrapper: the only module that imports the OPC UA library; its errors become ``OpcUaError``."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif, Subscription
from asyncua.common.utils import ServiceError
from asyncua.crypto import security_policies
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIdNames, ObjectIds
from asyncua.ua.status_codes import StatusCodes, get_name_and_doc
from asyncua.ua.uaerrors import UaError, UaStatusCodeError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from hexmill.connect.opcua.mapping import BrowseNode, IdKind, Sample, parse_node_id
from hexmill.core.errors import HexmillError
from hexmill.core.i18n import N_
from hexmill.telemetry.points import to_micros

if TYPE_CHECKING:
    from hexmill.connect.opcua.config import OpcUaConfig

log = logging.getLogger(__name__)

#: Browsing stops after this many nodes, so a huge server cannot flood the node picker.
MAX_BROWSE_NODES = 2000
MAX_BROWSE_DEPTH = 5


class ErrorKind(StrEnum):
    """What went wrong talking to an OPC UA server, for callers that react differently."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    SECURITY = "security"
    LOGIN = "login"
    CERTIFICATE = "certificate"
    UNTRUSTED = "untrusted"
    UNSUPPORTED = "unsupported"
    LINK_LOST = "link-lost"
    REFUSED = "refused"


class OpcUaError(HexmillError):
    """The OPC UA server could not be reached or refused a request; ``kind`` says how."""

    status = 502
    slug = "opcua-error"
    title = N_("OPC UA server error")

    def __init__(self, detail: str, *, kind: ErrorKind, **params: Any) -> None:
        super().__init__(detail, **params)
        self.kind = kind


_LOGIN_CODES = frozenset(
    {
        StatusCodes.BadUserAccessDenied,
        StatusCodes.BadIdentityTokenInvalid,
        StatusCodes.BadIdentityTokenRejected,
        StatusCodes.BadUserSignatureInvalid,
    }
)
_SECURITY_CODES = frozenset(
    {
        StatusCodes.BadSecurityChecksFailed,
        StatusCodes.BadSecurityModeRejected,
        StatusCodes.BadSecurityPolicyRejected,
        StatusCodes.BadCertificateInvalid,
        StatusCodes.BadCertificateUntrusted,
        StatusCodes.BadCertificateUriInvalid,
        StatusCodes.BadCertificateHostNameInvalid,
        StatusCodes.BadCertificateTimeInvalid,
        StatusCodes.BadCertificateRevoked,
        StatusCodes.BadCertificateUseNotAllowed,
        StatusCodes.BadNoValidCertificates,
    }
)
#: Answers meaning "this server does not do subscriptions (now)": the poller falls back to polling.
_UNSUPPORTED_CODES = frozenset(
    {
        StatusCodes.BadServiceUnsupported,
        StatusCodes.BadNotSupported,
        StatusCodes.BadNotImplemented,
        StatusCodes.BadTooManySubscriptions,
        StatusCodes.BadTooManyMonitoredItems,
        StatusCodes.BadTooManyOperations,
    }
)
#: What is checked of a server certificate when the device has a trust list: validity period,
#: application URI against the endpoint's, and a chain to a trusted certificate. Key usage is left
#: out: servers in the field often lack the non-repudiation bit asyncua's check insists on.
_SERVER_CHECKS = (
    CertificateValidatorOptions.TIME_RANGE
    | CertificateValidatorOptions.URI
    | CertificateValidatorOptions.TRUSTED
    | CertificateValidatorOptions.PEER_SERVER
)
_MODES = {
    "None": ua.MessageSecurityMode.None_,
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
_POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
_ID_TYPES = {
    IdKind.NUMERIC: ua.NodeIdType.Numeric,
    IdKind.STRING: ua.NodeIdType.String,
    IdKind.GUID: ua.NodeIdType.Guid,
    IdKind.OPAQUE: ua.NodeIdType.ByteString,
}


class _RedactCredentials(logging.Filter):
    """Keep the library's debug dump of ActivateSession (it holds the user's password) out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if any(isinstance(arg, ua.ActivateSessionRequest) for arg in args) or "IdentityToken(" in record.getMessage():
            record.msg = "%s"
            record.args = ("<message with user credentials redacted>",)
        return True


#: The library loggers that dump whole requests at debug level.
_REQUEST_LOGGERS = ("asyncua.client.ua_client.UASocketProtocol", "asyncua.client.ua_session.UaSession")


def _redact_credentials_in_library_logs() -> None:
    """Install the redacting filter once (at first connect, not at import)."""
    for name in _REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactCredentials) for f in logger.filters):
            logger.addFilter(_RedactCredentials())


def status_name(code: int) -> str:
    """Return the symbolic name of a StatusCode, e.g. ``BadUserAccessDenied``."""
    return get_name_and_doc(code)[0]


def load_pem_certificates(text: str) -> list[x509.Certificate]:
    """Parse one or more PEM certificates; raise ValueError when there is none or one is malformed."""
    return x509.load_pem_x509_certificates(text.encode())


def fingerprint(certificate: x509.Certificate) -> str:
    """Return a certificate's SHA-256 fingerprint as colon-separated hex, as certificate viewers show it."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def to_ua_node_id(text: str) -> ua.NodeId:
    """Build the library's node id from our validated string form."""
    spec = parse_node_id(text)
    namespace = ua.Int16(spec.namespace)
    if spec.kind is IdKind.NUMERIC:
        # Left to the library to pick the compact two- or four-byte encoding when it fits.
        return ua.NodeId(ua.Int32(int(spec.identifier)), namespace)
    if spec.kind is IdKind.GUID:
        return ua.NodeId(ua.Guid(spec.identifier), namespace, ua.NodeIdType.Guid)
    if spec.kind is IdKind.OPAQUE:
        return ua.NodeId(ua.ByteString(base64.b64decode(spec.identifier)), namespace, ua.NodeIdType.ByteString)
    return ua.NodeId(ua.String(spec.identifier), namespace, ua.NodeIdType.String)


def _micros(ts: datetime | None) -> int | None:
    if ts is None:
        return None
    us = to_micros(ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC))
    # OPC UA's "no timestamp" is 1601-01-01; anything before 1970 is no real reading time.
    return us if us > 0 else None


def to_sample(data_value: ua.DataValue) -> Sample:
    """Turn a DataValue into a library-free sample (LocalizedText becomes its text)."""
    status = data_value.StatusCode.value if data_value.StatusCode is not None else 0
    variant = data_value.Value
    if variant is None:
        value: object = None
        variant_type = "Null"
        is_array = False
    else:
        value = variant.Value
        variant_type = variant.VariantType.name
        is_array = bool(variant.is_array)
        if isinstance(value, ua.LocalizedText):
            value = value.Text
    return Sample(
        value=value,
        variant_type=variant_type,
        status=int(status),
        is_array=is_array,
        source_ts_us=_micros(data_value.SourceTimestamp),
        server_ts_us=_micros(data_value.ServerTimestamp),
    )


#: Receives (index of the node in the subscribed list, its new sample).
SampleSink = Callable[[int, Sample], None]


class _SubscriptionHandler:
    """Route the library's data-change callbacks to a sample sink, by node."""

    def __init__(self, indices: dict[ua.NodeId, list[int]], on_sample: SampleSink, on_lost: Callable[[str], None]):
        self._indices = indices
        self._on_sample = on_sample
        self._on_lost = on_lost

    def datachange_notification(self, node: Node, val: object, data: DataChangeNotif) -> None:
        """Hand one changed value to the sink, once for each field mapped to the node."""
        sample = to_sample(data.monitored_item.Value)
        for index in self._indices.get(node.nodeid, ()):
            self._on_sample(index, sample)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        """Treat a subscription that turned Bad (timed out, server shut down) as a lost link."""
        code = status.Status.value
        if code & 0x8000_0000:
            self._on_lost(f"subscription status {status_name(code)}")


class OpcUaClient:
    """One session with an OPC UA server: connect, browse, read, subscribe, disconnect.

    Use as ``async with OpcUaClient(config) as client:``; every library error surfaces as
    ``OpcUaError``. ``lost`` is set when the library detects the connection has gone.
    """

    def __init__(self, config: OpcUaConfig) -> None:
        self._config = config
        self._client: Client | None = None
        self._subscription: Subscription | None = None
        self.lost = asyncio.Event()
        self.lost_reason: str | None = None
        #: The server certificate the trust check refused on the last connect, and the check's status.
        self._refused: tuple[x509.Certificate, int] | None = None

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.disconnect()

    @property
    def endpoint(self) -> str:
        """Return the endpoint URL this client talks to."""
        return self._config.endpoint

    def _library_client(self) -> Client:
        if self._client is None:
            raise OpcUaError(
                N_("Not connected to the OPC UA server at %(endpoint)s"),
                kind=ErrorKind.LINK_LOST,
                endpoint=self.endpoint,
            )
        return self._client

    async def connect(self) -> None:
        """Open the secure channel and an activated session, as the configuration says."""
        config = self._config
        client = Client(config.endpoint, timeout=config.timeout_s, watchdog_intervall=config.keepalive_s)
        client.application_uri = config.application_uri
        client.name = client.description = "hexmill"
        # A session the server no longer hears from is freed after a minute, not the library's hour.
        client.session_timeout = 60_000
        if config.username is not None and config.password is not None:
            _redact_credentials_in_library_logs()
            client.set_user(config.username)
            client.set_password(config.password.get_secret_value())
        client.connection_lost_callback = self._connection_lost
        self._refused = None
        try:
            if config.security_mode != "None":
                await self._set_security(client)
                if config.verifies_server:
                    # Checked on CreateSession, before ActivateSession sends the user's password.
                    client.certificate_validator = self._server_validator(await self._trust_store())
                else:
                    log.warning("OPC UA server %s: its certificate is not checked (no trust list)", config.endpoint)
            await asyncio.wait_for(client.connect(auto_reconnect=False), timeout=config.timeout_s * 2)
        except (UaError, OSError, TimeoutError) as exc:
            if self._refused is not None:
                raise self._untrusted(*self._refused) from exc
            raise self._error(exc) from exc
        self._client = client
        self.lost.clear()
        self.lost_reason = None
        log.info("connected to OPC UA server %s (security %s)", config.endpoint, config.security_mode)

    async def _set_security(self, client: Client) -> None:
        config = self._config
        certificate, private_key = await self._client_certificate(client)
        policy = _POLICIES[str(config.security_policy)]
        try:
            await client.set_security(policy, certificate, private_key, mode=_MODES[config.security_mode])
        except UaError as exc:
            if isinstance(exc, UaStatusCodeError):
                raise
            # The library says "no matching endpoint" with a plain UaError.
            raise OpcUaError(
                N_("The OPC UA server at %(endpoint)s offers no %(mode)s endpoint with policy %(policy)s"),
                kind=ErrorKind.SECURITY,
                endpoint=config.endpoint,
                mode=str(config.security_mode),
                policy=str(config.security_policy),
            ) from exc
        except (ValueError, TypeError) as exc:
            # cryptography's answer to a file that is not a certificate or key (or a key needing a password).
            raise OpcUaError(
                N_("The client certificate cannot be read or created: %(reason)s"),
                kind=ErrorKind.CERTIFICATE,
                reason=str(exc) or type(exc).__name__,
            ) from exc

    async def _trust_store(self) -> TrustStore:
        """Load the device's trusted server certificates (inline PEM and/or ``trust_dir``) into asyncua's store."""
        config = self._config
        folders: list[Path] = []
        with tempfile.TemporaryDirectory(prefix="hexmill-opcua-trust-") as scratch:
            try:
                if config.trusted_server_certificates is not None:
                    # asyncua's trust store reads folders: the inline certificates go through a scratch one.
                    for index, cert in enumerate(load_pem_certificates(config.trusted_server_certificates)):
                        (Path(scratch) / f"trusted-{index}.der").write_bytes(
                            cert.public_bytes(serialization.Encoding.DER)
                        )
                    folders.append(Path(scratch))
                if config.trust_dir is not None:
                    if not config.trust_dir.is_dir():
                        raise FileNotFoundError(f"trust_dir {config.trust_dir} is not a folder")
                    folders.append(config.trust_dir)
                store = TrustStore(folders, [])
                await store.load_trust()
            except (OSError, ValueError) as exc:
                raise OpcUaError(
                    N_("The trusted server certificates cannot be read: %(reason)s"),
                    kind=ErrorKind.CERTIFICATE,
                    reason=str(exc) or type(exc).__name__,
                ) from exc
        return store

    def _server_validator(self, store: TrustStore) -> Callable[[x509.Certificate, ua.ApplicationDescription], Any]:
        """Return asyncua's certificate check against ``store``, remembering what it refused."""
        validator = CertificateValidator(_SERVER_CHECKS, store)

        async def validate(certificate: x509.Certificate, server: ua.ApplicationDescription) -> None:
            try:
                await validator.validate(certificate, server)
            except ServiceError as exc:
                self._refused = (certificate, int(exc.code))
                raise

        return validate

    def _untrusted(self, certificate: x509.Certificate, code: int) -> OpcUaError:
        """Say which server certificate was refused and why, with what an integrator needs to check it."""
        return OpcUaError(
            N_(
                "The OPC UA server at %(endpoint)s presented a certificate that is not trusted (%(status)s): "
                "%(subject)s, SHA-256 fingerprint %(fingerprint)s"
            ),
            kind=ErrorKind.UNTRUSTED,
            endpoint=self.endpoint,
            status=status_name(code),
            subject=_common_name(certificate),
            fingerprint=fingerprint(certificate),
        )

    async def _client_certificate(self, client: Client) -> tuple[Path, Path]:
        config = self._config
        try:
            if config.certificate_path is not None and config.private_key_path is not None:
                for path in (config.certificate_path, config.private_key_path):
                    if not path.is_file():
                        raise FileNotFoundError(path)
                return config.certificate_path, config.private_key_path
            directory = config.certificate_dir
            if directory is None:  # the configuration validator rules this out
                raise FileNotFoundError("certificate_dir")
            # Generated once, kept and reused: the server operator trusts this certificate.
            return await client.setup_self_signed_certificate(
                directory / "hexmill-client.key.pem",
                directory / "hexmill-client.der",
                extended=[ExtendedKeyUsageOID.CLIENT_AUTH],
                host_name=socket.gethostname(),
            )
        except (OSError, ValueError) as exc:
            raise OpcUaError(
                N_("The client certificate cannot be read or created: %(reason)s"),
                kind=ErrorKind.CERTIFICATE,
                reason=str(exc) or type(exc).__name__,
            ) from exc

    async def _connection_lost(self, exc: Exception) -> None:
        self._mark_lost(f"{type(exc).__name__}: {exc}")

    def _mark_lost(self, reason: str) -> None:
        if not self.lost.is_set():
            self.lost_reason = reason
            self.lost.set()
            log.warning("OPC UA link to %s lost: %s", self.endpoint, reason)

    def _error(self, exc: BaseException) -> OpcUaError:
        """Turn a library, socket or timeout error into our one error type."""
        endpoint = self.endpoint
        if isinstance(exc, OpcUaError):
            return exc
        if isinstance(exc, UaStatusCodeError):
            return self._status_error(int(exc.code))
        if isinstance(exc, TimeoutError):
            return OpcUaError(
                N_("The OPC UA server at %(endpoint)s did not answer in time"),
                kind=ErrorKind.TIMEOUT,
                endpoint=endpoint,
            )
        if isinstance(exc, ConnectionError) and self._client is not None:
            return OpcUaError(
                N_("The link to the OPC UA server at %(endpoint)s was lost: %(reason)s"),
                kind=ErrorKind.LINK_LOST,
                endpoint=endpoint,
                reason=str(exc) or type(exc).__name__,
            )
        if isinstance(exc, OSError):
            return OpcUaError(
                N_("Cannot reach the OPC UA server at %(endpoint)s: %(reason)s"),
                kind=ErrorKind.UNREACHABLE,
                endpoint=endpoint,
                reason=exc.strerror or str(exc) or type(exc).__name__,
            )
        return OpcUaError(
            N_("The OPC UA server at %(endpoint)s failed: %(reason)s"),
            kind=ErrorKind.REFUSED,
            endpoint=endpoint,
            reason=str(exc) or type(exc).__name__,
        )

    def _status_error(self, code: int) -> OpcUaError:
        """Turn a Bad StatusCode answer into our error, classed as login, security, unsupported or refused."""
        endpoint = self.endpoint
        if code in _LOGIN_CODES:
            return OpcUaError(
                N_("The OPC UA server at %(endpoint)s refused the login of user %(username)s (%(status)s)"),
                kind=ErrorKind.LOGIN,
                endpoint=endpoint,
                username=self._config.username or "anonymous",
                status=status_name(code),
            )
        if code in _SECURITY_CODES:
            return OpcUaError(
                N_("The OPC UA server at %(endpoint)s refused the secure channel (%(status)s)"),
                kind=ErrorKind.SECURITY,
                endpoint=endpoint,
                status=status_name(code),
            )
        kind = ErrorKind.UNSUPPORTED if code in _UNSUPPORTED_CODES else ErrorKind.REFUSED
        return OpcUaError(
            N_("The OPC UA server at %(endpoint)s answered %(status)s"),
            kind=kind,
            endpoint=endpoint,
            status=status_name(code),
        )

    async def disconnect(self) -> None:
        """Close the session and the channel; quiet when the link is already gone."""
        client, self._client = self._client, None
        self._subscription = None
        if client is None:
            return
        try:
            await asyncio.wait_for(client.disconnect(), timeout=self._config.timeout_s)
        except (UaError, OSError, TimeoutError) as exc:
            log.info("disconnect from %s was not clean: %s", self.endpoint, exc)

    async def server_state(self) -> str:
        """Return the server's state (``Running``, ``Suspended``...)."""
        client = self._library_client()
        try:
            state = await client.nodes.server_state.read_value()
        except (UaError, OSError, TimeoutError) as exc:
            raise self._error(exc) from exc
        return ua.ServerState(state).name

    async def read(self, node_ids: Sequence[str]) -> list[Sample]:
        """Read the current value of each node in one request; a missing node gives a Bad sample."""
        client = self._library_client()
        try:
            values = await client.read_attributes([client.get_node(to_ua_node_id(n)) for n in node_ids])
        except (UaError, OSError, TimeoutError) as exc:
            raise self._error(exc) from exc
        return [to_sample(v) for v in values]

    async def subscribe(
        self,
        node_ids: Sequence[str],
        on_sample: SampleSink,
        *,
        sampling_interval_ms: float,
        publishing_interval_ms: float,
    ) -> list[int]:
        """Subscribe to data changes of the nodes; return each node's StatusCode (0 when monitored).

        ``on_sample(index, sample)`` runs for every change, ``index`` being the node's place in
        ``node_ids``. Raises ``OpcUaError`` of kind ``UNSUPPORTED`` when the server will not
        subscribe at all.
        """
        client = self._library_client()
        indices: dict[ua.NodeId, list[int]] = {}
        for index, node_id in enumerate(node_ids):
            indices.setdefault(to_ua_node_id(node_id), []).append(index)
        handler = _SubscriptionHandler(indices, on_sample, self._mark_lost)
        try:
            subscription = await client.create_subscription(publishing_interval_ms, handler)
            self._subscription = subscription
            results = await subscription.subscribe_data_change(
                [client.get_node(n) for n in indices], sampling_interval=ua.Double(sampling_interval_ms)
            )
        except (UaError, OSError, TimeoutError) as exc:
            raise self._error(exc) from exc
        by_node = {
            node: (int(result.value) if isinstance(result, ua.StatusCode) else 0)
            for node, result in zip(indices, results, strict=True)
        }
        statuses = [0] * len(node_ids)
        for node, positions in indices.items():
            for index in positions:
                statuses[index] = by_node[node]
        return statuses

    async def browse(self, node_id: str | None = None, depth: int = 1) -> list[BrowseNode]:
        """List the objects and variables below a node (default: the Objects folder), ``depth`` levels deep."""
        client = self._library_client()
        start = to_ua_node_id(node_id) if node_id else client.nodes.objects.nodeid
        depth = max(1, min(depth, MAX_BROWSE_DEPTH))
        try:
            return await self._browse_tree(start, depth)
        except (UaError, OSError, TimeoutError) as exc:
            raise self._error(exc) from exc

    async def _browse_tree(self, start: ua.NodeId, depth: int) -> list[BrowseNode]:
        """Browse level by level (one request per level), then build the tree bottom-up."""
        seen = {start}
        kept: dict[ua.NodeId, list[ua.ReferenceDescription]] = {}
        has_children: dict[ua.NodeId, bool] = {}
        frontier = [start]
        total = 0
        # One level more than shown: the last pass only learns whether the deepest nodes have children.
        for level in range(depth + 1):
            if not frontier:
                break
            refs_per_parent = await self._hierarchical_children(frontier)
            next_frontier: list[ua.NodeId] = []
            for parent, refs in zip(frontier, refs_per_parent, strict=True):
                has_children[parent] = bool(refs)
                if level == depth:
                    continue
                fresh = [ref for ref in refs if ref.NodeId not in seen][: max(0, MAX_BROWSE_NODES - total)]
                total += len(fresh)
                seen.update(ref.NodeId for ref in fresh)
                kept[parent] = fresh
                next_frontier.extend(ref.NodeId for ref in fresh)
            frontier = next_frontier
        variables = [ref.NodeId for refs in kept.values() for ref in refs if ref.NodeClass == ua.NodeClass.Variable]
        data_types = await self._data_type_names(variables)

        def build(parent: ua.NodeId) -> list[BrowseNode]:
            return [
                BrowseNode(
                    node_id=ref.NodeId.to_string(),
                    browse_name=ref.BrowseName.Name or "",
                    display_name=ref.DisplayName.Text or ref.BrowseName.Name or "",
                    node_class=ua.NodeClass(ref.NodeClass).name,
                    data_type=data_types.get(ref.NodeId),
                    has_children=has_children.get(ref.NodeId, False),
                    children=tuple(build(ref.NodeId)),
                )
                for ref in kept.get(parent, [])
            ]

        return build(start)

    async def _hierarchical_children(self, parents: Iterable[ua.NodeId]) -> list[list[ua.ReferenceDescription]]:
        """Return, for each parent, its forward hierarchical references to objects and variables."""
        parents = list(parents)
        if not parents:
            return []
        params = ua.BrowseParameters()
        params.RequestedMaxReferencesPerNode = 0
        for parent in parents:
            desc = ua.BrowseDescription()
            desc.NodeId = parent
            desc.BrowseDirection = ua.BrowseDirection.Forward
            desc.ReferenceTypeId = ua.NodeId(ua.Int32(ObjectIds.HierarchicalReferences))
            desc.IncludeSubtypes = True
            desc.NodeClassMask = ua.NodeClass.Object | ua.NodeClass.Variable
            desc.ResultMask = ua.BrowseResultMask.All
            params.NodesToBrowse.append(desc)
        results = await self._library_client().uaclient.browse(params)
        out: list[list[ua.ReferenceDescription]] = []
        for parent, result in zip(parents, results, strict=True):
            if not result.StatusCode.is_good():
                log.info("browse of %s answered %s", parent.to_string(), status_name(result.StatusCode.value))
            out.append(list(result.References or []))
        return out

    async def _data_type_names(self, variables: list[ua.NodeId]) -> dict[ua.NodeId, str]:
        """Return the data type name of each variable (standard names without a server round trip)."""
        if not variables:
            return {}
        client = self._library_client()
        values = await client.uaclient.read_attributes(variables, AttributeIds.DataType)
        type_ids = {
            node: dv.Value.Value
            for node, dv in zip(variables, values, strict=True)
            if dv.Value is not None and isinstance(dv.Value.Value, ua.NodeId)
        }
        names: dict[ua.NodeId, str] = {}
        unknown = []
        for type_id in set(type_ids.values()):
            standard = (
                ObjectIdNames.get(type_id.Identifier)
                if isinstance(type_id.Identifier, int) and type_id.NamespaceIndex == 0
                else None
            )
            if isinstance(standard, str):
                names[type_id] = standard
            else:
                unknown.append(type_id)
        if unknown:
            browse_names = await client.uaclient.read_attributes(unknown, AttributeIds.BrowseName)
            for type_id, dv in zip(unknown, browse_names, strict=True):
                value = dv.Value.Value if dv.Value is not None else None
                names[type_id] = value.Name if isinstance(value, ua.QualifiedName) else type_id.to_string()
        return {node: names[type_id] for node, type_id in type_ids.items()}
