"""Real OPC UA servers for the connector tests: asyncua's own, in-process, and node-opcua as a child process."""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.brokers import wait_for_port

NAMESPACE_URI = "urn:hexmill:test:press"
USERNAME = "operator"
PASSWORD = "s3cret"
SERVER_URI = "urn:hexmill:test:server"
NODE_SERVER_DIR = Path(__file__).parent / "node_server"


def make_certificate(directory: Path, name: str, application_uri: str, *, server: bool) -> tuple[Path, Path]:
    """Write a throwaway self-signed application certificate (DER) and key (PEM); return their paths."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(application_uri),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.der"
    key_path = directory / f"{name}.key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


INITIAL: dict[str, tuple[Any, ua.VariantType]] = {
    "Temperature": (21.5, ua.VariantType.Double),
    "Counter": (0, ua.VariantType.Int32),
    "Running": (True, ua.VariantType.Boolean),
    "Recipe": ("bracket-7", ua.VariantType.String),
    "Profile": ([1.0, 2.0, 3.0], ua.VariantType.Double),
}


class PasswordUsers(UserManager):
    """Let in one user name with one password; refuse everyone else, anonymous included."""

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username == USERNAME and password == PASSWORD:
            return User(role=UserRole.User)
        return None


@dataclass
class UaServer:
    """asyncua's Server on 127.0.0.1 with a small press: Temperature, Counter, Running, Recipe, Profile."""

    port: int
    cert_dir: Path
    secure: bool = False
    server: Server | None = field(default=None, repr=False)
    variables: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/hexmill"

    def node_id(self, name: str) -> str:
        return f"ns=2;s=Press.{name}"

    async def start(self) -> None:
        """Build the address space and listen; values start afresh on every start."""
        server = Server(user_manager=PasswordUsers() if self.secure else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("hexmill test server")
        await server.set_application_uri(SERVER_URI)
        if self.secure:
            cert, key = make_certificate(self.cert_dir, "server", SERVER_URI, server=True)
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
            server.set_security_policy(
                [
                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                ]
            )
            server.set_identity_tokens([ua.UserNameIdentityToken])
        idx = await server.register_namespace(NAMESPACE_URI)
        assert idx == 2
        press = await server.nodes.objects.add_object(ua.NodeId("Press", idx), ua.QualifiedName("Press", idx))
        for name, (value, vtype) in INITIAL.items():
            self.variables[name] = await press.add_variable(
                ua.NodeId(f"Press.{name}", idx), ua.QualifiedName(name, idx), ua.Variant(value, vtype)
            )
        await server.start()
        self.server = server

    async def reset(self) -> None:
        """Put every variable back to its initial value with a Good status."""
        for name, (value, vtype) in INITIAL.items():
            await self.write(name, value, vtype)

    async def restart(self) -> None:
        """Stop listening, dropping every session, and listen again on the same port."""
        assert self.server is not None
        await self.server.stop()
        await self.server.start()

    async def write(self, name: str, value: Any, vtype: ua.VariantType, status: int = 0) -> None:
        """Set a variable's value (and StatusCode) as the device behind the server would."""
        await self.variables[name].write_value(
            ua.DataValue(
                ua.Variant(value, vtype),
                StatusCode=ua.StatusCode(status),
                SourceTimestamp=dt.datetime.now(dt.UTC),
                ServerTimestamp=dt.datetime.now(dt.UTC),
            )
        )

    async def stop(self) -> None:
        """Stop listening and drop every session."""
        if self.server is not None:
            await self.server.stop()
        self.server = None


def npm_available() -> bool:
    """Tell whether npm and node are on PATH."""
    return shutil.which("npm") is not None and shutil.which("node") is not None


def ensure_node_modules() -> None:
    """Install the node-opcua test server's packages from the lockfile when they are missing.

    Test workers run in parallel and may all need the server at once: an exclusive lock on a
    file beside the packages makes one of them install while the others wait, then find it done.
    """
    installed = NODE_SERVER_DIR / "node_modules" / ".hexmill-installed"
    if installed.is_file():
        return
    with (NODE_SERVER_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed.is_file():
            return
        command = ["npm", "ci"] if (NODE_SERVER_DIR / "package-lock.json").is_file() else ["npm", "install"]
        subprocess.run(  # noqa: S603 - fixed command, no user input
            [*command, "--no-audit", "--no-fund"],
            cwd=NODE_SERVER_DIR,
            check=True,
            timeout=600,
            capture_output=True,
        )
        installed.touch()


@dataclass
class NodeOpcUaServer:
    """node-opcua's server as a child process (``node server.js <port> <pki>``)."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log: BinaryIO | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/hexmill"

    def start(self) -> None:
        """Start the server; return once it accepts connections."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log = log = (self.directory / "node-opcua.log").open("ab")
        node = shutil.which("node") or "node"
        self.process = subprocess.Popen(  # noqa: S603 - fixed command, no user input
            [node, str(NODE_SERVER_DIR / "server.js"), str(self.port), str(self.directory / "pki")],
            cwd=NODE_SERVER_DIR,
            stdout=log,
            stderr=log,
            env={**os.environ, "NODE_OPTIONS": ""},
        )
        try:
            # node-opcua loads hundreds of modules and makes its certificates on first start: on a
            # loaded CI machine that alone has taken over a minute.
            wait_for_port(self.port, timeout=240)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None
