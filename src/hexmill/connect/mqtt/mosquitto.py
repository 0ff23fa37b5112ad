"""Keep an external Mosquitto in step with the device registry: its password file, ACL file and reload.

Device secrets are already stored as Mosquitto ``$7$`` PBKDF2-SHA512 hashes, so the password
file is the registry's MQTT devices (enabled, not revoked) under their client ids, plus the
ingest service's own user. The ACL lets each username write its own telemetry topic and nothing
else; Mosquitto refuses ``%u`` patterns for usernames containing ``+`` or ``#``, and no device
can have such a name (client ids are ``dev-<hex>``). The ingest user may read the telemetry
topics, shared or not. After writing, a SIGHUP makes a running Mosquitto reload both files and
drop connected clients whose credentials are gone.
"""

from __future__ import annotations

import os
import re
import signal
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from hexmill.connect.mqtt.config import TELEMETRY_FILTER
from hexmill.connect.registry.models import Device
from hexmill.core.tenancy import widened

#: Names Mosquitto can take as a username: no separators, no wildcards, no spaces, no colon.
_SAFE_NAME: Final = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync wrote: how many device users, and whether a broker was told to reload."""

    devices: int
    skipped: int
    reloaded: bool


def broker_credentials(session: Session) -> list[tuple[str, str]]:
    """Return (client id, secret hash) of every enabled, unrevoked MQTT device, across all enterprises."""
    with widened(session):
        rows = session.execute(
            select(Device.client_id, Device.secret_hash)
            .where(
                Device.protocol == "mqtt",
                Device.enabled.is_(True),
                Device.revoked_at.is_(None),
                Device.secret_hash.is_not(None),
            )
            .order_by(Device.client_id)
        )
        return [(client_id, secret_hash) for client_id, secret_hash in rows if secret_hash]


def render_password_file(users: Iterable[tuple[str, str]]) -> tuple[str, int]:
    """Return the password file for ``(username, $7$ hash)`` pairs and how many unsafe names were left out."""
    lines: list[str] = []
    skipped = 0
    for username, secret_hash in users:
        if not _SAFE_NAME.match(username) or not secret_hash.startswith("$7$") or "\n" in secret_hash:
            skipped += 1
            continue
        lines.append(f"{username}:{secret_hash}")
    return "".join(f"{line}\n" for line in lines), skipped


def render_acl_file(*, ingest_username: str, group: str | None = None) -> str:
    """Return the ACL file: devices write their own telemetry topic only; the ingest user reads them all."""
    if not _SAFE_NAME.match(ingest_username):
        raise ValueError(f"unsafe ingest username {ingest_username!r}")
    shared = f"$share/{group}/{TELEMETRY_FILTER}" if group else f"$share/+/{TELEMETRY_FILTER}"
    return (
        "# Written by `hexmill mqtt mosquitto-files`; edits are overwritten.\n"
        f"user {ingest_username}\n"
        f"topic read {TELEMETRY_FILTER}\n"
        f"topic read {shared}\n"
        "\n"
        "# Every other user is a device: it may publish its own telemetry and nothing else.\n"
        "pattern write hexmill/v1/%u/telemetry\n"
    )


def _write_atomically(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def reload_broker(pid_file: Path) -> None:
    """Send SIGHUP to the Mosquitto whose pid ``pid_file`` holds, so it rereads its files."""
    pid = int(pid_file.read_text().strip())
    os.kill(pid, signal.SIGHUP)


def sync_mosquitto_files(
    session: Session,
    *,
    password_file: Path,
    acl_file: Path,
    ingest_username: str,
    ingest_password_hash: str,
    group: str | None = None,
    pid_file: Path | None = None,
    file_mode: int = 0o640,
) -> SyncResult:
    """Write Mosquitto's password and ACL files from the registry; reload the broker when given its pid file."""
    devices = broker_credentials(session)
    text, skipped = render_password_file([(ingest_username, ingest_password_hash), *devices])
    _write_atomically(password_file, text, file_mode)
    _write_atomically(acl_file, render_acl_file(ingest_username=ingest_username, group=group), file_mode)
    if pid_file is not None:
        reload_broker(pid_file)
    return SyncResult(devices=len(devices) - skipped, skipped=skipped, reloaded=pid_file is not None)
