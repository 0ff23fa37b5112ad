"""No loss through MQTT ingest: 10,000 QoS 1 messages while `hexmill ingest` is SIGKILLed 20 times.

The ingest worker runs as the real CLI in a subprocess, against a real Mosquitto with the
registry-synced password and ACL files. It is killed at random moments while it consumes, and
restarted; midway the broker is restarted under the running workers, and on PostgreSQL the database is stopped in
immediate mode and started again. Afterwards every published point is stored exactly once and the
store's integrity check passes.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hexmill.assets import service as assets
from hexmill.assets.service import TagSpec
from hexmill.connect.registry import service as registry
from hexmill.connect.registry.models import DeadLetter
from hexmill.core import identity
from hexmill.core.config import Settings
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.telemetry.service import close_stores, open_store
from tests.brokers import free_port
from tests.connect.mqtt.helpers import INGEST_PASSWORD, SecuredBroker, payload, start_secured_broker, wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        r"ignore:unclosed file <_io\.BufferedWriter name='[^']*mosquitto\.log'>:ResourceWarning"
    ),
]

MESSAGES = int(os.environ.get("HEXMILL_FAULT_MESSAGES", "10000"))
DEVICES = 4
KILLS = int(os.environ.get("HEXMILL_FAULT_KILLS", "20"))
T0 = int(time.time() * 1000) - 6 * 3_600_000


class PgCluster:
    """A throwaway PostgreSQL cluster this test owns, so it may stop it in immediate mode."""

    def __init__(self, directory: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            if os.environ.get("CI"):
                pytest.fail("CI needs the PostgreSQL server binaries for the fault tests")
            pytest.skip("no PostgreSQL server binaries")
        self.bin = bins[-1].parent
        self.dir = directory
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
        self._run(
            "initdb", "-D", str(directory / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603

    def start(self) -> None:
        """Start the server (synchronous commit on: an immediate stop must not lose a commit)."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash as far as the database knows."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")

    def database_url(self) -> str:
        """Create the application role and database; return its URL."""
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE ROLE hexmill_app LOGIN PASSWORD 'hexmill_app' NOSUPERUSER NOBYPASSRLS"))
            conn.execute(text('CREATE DATABASE "hexmill" OWNER hexmill_app'))
        admin.dispose()
        return f"postgresql+psycopg://hexmill_app:hexmill_app@127.0.0.1:{self.port}/hexmill"


@dataclass
class Deployment:
    """A database of its own for the test, and the settings the ingest subprocess gets."""

    settings: Settings
    factory: sessionmaker[Session]
    pg: PgCluster | None


@pytest.fixture
def deployment(backend: str, tmp_path: Path) -> Iterator[Deployment]:
    """Migrate a fresh database (SQLite file, or a PostgreSQL cluster started here)."""
    # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 pytest directory.
    pg_dir = Path(tempfile.mkdtemp(prefix="hexmill-fault-pg.")) if backend == "postgresql" else None
    pg = PgCluster(pg_dir) if pg_dir is not None else None
    url = pg.database_url() if pg else f"sqlite:///{tmp_path / 'hexmill.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, data_dir=tmp_path / "data", secret_key="test", log_level="INFO")
    try:
        yield Deployment(settings, make_sessionmaker(engine), pg)
    finally:
        close_stores()
        engine.dispose()
        if pg is not None:
            pg.stop("immediate")
        if pg_dir is not None:
            shutil.rmtree(pg_dir, ignore_errors=True)


@dataclass
class Provisioned:
    """A device the publisher speaks for, with its series."""

    tenant_id: int
    client_id: str
    secret: str
    series: int


def _provision(factory: sessionmaker[Session]) -> list[Provisioned]:
    devices: list[Provisioned] = []
    for n in range(DEVICES):
        with transaction(factory) as s:
            if n % 2 == 0:
                set_scope(s, ALL_TENANTS)
                tenant = identity.create_tenant(s, Context.system(), name=f"enterprise-{n}")
            ctx = Context.system(tenant.id)
            set_scope(s, tenant.id)
            site = assets.create_site(s, ctx, name=f"site-{n}")
            area = assets.create_area(s, ctx, site_id=site.id, name="area")
            line = assets.create_line(s, ctx, area_id=area.id, name="line")
            equipment = assets.create_equipment(s, ctx, line_id=line.id, name=f"cnc-{n}", tags=[TagSpec("temperature")])
            [tag] = assets.list_tags(s, ctx, filters={"equipment_id": equipment.id})[0]
            device, secret = registry.create_device(
                s, ctx, name=f"device-{n}", protocol="mqtt", equipment_id=equipment.id
            )
            devices.append(Provisioned(tenant.id, device.client_id, secret, tag.id))
    return devices


class Publisher:
    """Devices publishing QoS 1 messages on persistent sessions; counts the broker's PUBACKs."""

    def __init__(self, port: int, devices: list[Provisioned]) -> None:
        self.clients: list[tuple[paho.Client, Provisioned, set[int]]] = []
        for device in devices:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=device.client_id, protocol=paho.MQTTv5)
            client.username_pw_set(device.client_id, device.secret)
            client.max_inflight_messages_set(100)
            client.max_queued_messages_set(0)
            client.reconnect_delay_set(1, 2)
            acked: set[int] = set()
            client.on_publish = lambda _c, _u, mid, _r, _p, acked=acked: acked.add(mid)
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 3600
            client.connect("127.0.0.1", port, clean_start=False, properties=properties)
            client.loop_start()
            self.clients.append((client, device, acked))
        self.mids: list[list[int]] = [[] for _ in devices]
        self.thread = threading.Thread(target=self._publish, daemon=True)

    def _publish(self) -> None:
        per_device = MESSAGES // len(self.clients)
        for i in range(per_device):
            for n, (client, device, _) in enumerate(self.clients):
                # An unconnected client keeps the message and sends it once it reconnects.
                info = client.publish(f"hexmill/v1/{device.client_id}/telemetry", payload(T0 + i, temperature=i), qos=1)
                self.mids[n].append(info.mid)
            if i % 5 == 0:
                time.sleep(0.04)  # spread the stream over the kills

    def all_acknowledged(self) -> bool:
        """Return whether the broker acknowledged every publish."""
        return not self.thread.is_alive() and all(
            set(mids) <= acked for mids, (_, _, acked) in zip(self.mids, self.clients, strict=True)
        )

    def close(self) -> None:
        """Disconnect every device."""
        for client, _, _ in self.clients:
            client.disconnect()
            client.loop_stop()


#: How long a `hexmill ingest` start may take: seconds of imports, more on a loaded CI machine.
READY_S = 180


class IngestProcess:
    """`hexmill ingest` in a subprocess; ``ready`` is set once it has connected and subscribed."""

    def __init__(self, deployment: Deployment, port: int, client_id: str) -> None:
        env = dict(os.environ)
        env.update(
            HEXMILL_DATABASE_URL=deployment.settings.resolved_database_url,
            HEXMILL_DATA_DIR=str(deployment.settings.data_dir),
            HEXMILL_MQTT_PASSWORD=INGEST_PASSWORD,
            HEXMILL_LOG_LEVEL="INFO",
            HEXMILL_SECRET_KEY="test",
        )
        command = [
            sys.executable,
            "-c",
            "from hexmill.cli import main; main()",
            "ingest",
            f"--port={port}",
            f"--client-id={client_id}",
            "--batch-max-messages=200",
            "--device-rate=0",
            "--tenant-rate=0",
        ]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace")
            self.lines.put(line)
            if "connected (session present" in line:
                self.ready.set()

    def kill(self) -> None:
        """SIGKILL the worker and reap it."""
        self.process.kill()
        self.process.wait(10)
        assert self.process.stderr is not None
        self.process.stderr.close()

    def stop(self) -> None:
        """Stop the worker cleanly."""
        self.process.terminate()
        self.process.wait(20)
        assert self.process.stderr is not None
        self.process.stderr.close()


def _stored(deployment: Deployment, devices: list[Provisioned]) -> list[list[int]]:
    store = open_store(deployment.settings)
    return [[p.ts_us for p in store.raw(d.tenant_id, [d.series], 0, 2**62, limit=10 * MESSAGES)] for d in devices]


def test_no_message_is_lost_or_duplicated_across_kills_and_restarts(deployment: Deployment, tmp_path: Path) -> None:
    devices = _provision(deployment.factory)
    broker: SecuredBroker = start_secured_broker(tmp_path / "mosquitto", deployment.factory)
    rng = random.Random(20_240_611)
    publisher = Publisher(broker.port, devices)
    # Two stable client ids take turns: while one worker runs, its successor starts (Python and
    # hexmill take seconds to import), so the kills are not spaced by start-up time alone.
    ids = ("fault-ingest-a", "fault-ingest-b")
    workers: list[IngestProcess] = []
    try:
        workers = [IngestProcess(deployment, broker.port, ids[0]), IngestProcess(deployment, broker.port, ids[1])]
        # Both sessions (and their shared subscriptions) exist before the first publish.
        assert all(w.ready.wait(READY_S) for w in workers), "hexmill ingest did not connect"
        publisher.thread.start()
        kills = 0
        while kills < KILLS:
            assert workers[0].ready.wait(READY_S), "hexmill ingest did not connect"
            time.sleep(rng.uniform(0.1, 1.5))  # die at a random moment of consuming
            victim = workers.pop(0)
            victim.kill()
            kills += 1
            if kills == 3 * KILLS // 4 and deployment.pg is not None:
                deployment.pg.stop("immediate")
                time.sleep(rng.uniform(0.5, 1.5))  # the running worker meets a dead database and must wait
                deployment.pg.start()
            workers.append(IngestProcess(deployment, broker.port, ids[kills % 2]))
            if kills == KILLS // 2:
                # The broker restarts under running workers, as in production. Debian's Mosquitto 2.0.11
                # strands what it routes to a shared subscription whose persistent session is offline
                # across its restart (test_mosquitto.py shows it), which no client can undo.
                assert all(w.ready.wait(READY_S) for w in workers), "hexmill ingest did not connect"
                broker.mosquitto.restart()
        wait_for(publisher.all_acknowledged, 60, "the broker to acknowledge every publish")
        expected = [T0 * 1000 + i * 1000 for i in range(MESSAGES // DEVICES)]
        try:
            wait_for(lambda: _stored(deployment, devices) == [expected] * DEVICES, 90, "every point stored")
        except AssertionError:
            counts = [len(s) for s in _stored(deployment, devices)]
            log: list[str] = []
            for w in workers:
                while not w.lines.empty():
                    log.append(w.lines.get())
            raise AssertionError(f"stored {counts} of {len(expected)} each; worker log: {''.join(log[-30:])}") from None
        for w in workers:
            w.stop()
        workers = []
    finally:
        for w in workers:
            w.kill()
        publisher.close()
        broker.mosquitto.stop()
    stored = _stored(deployment, devices)
    assert sum(len(s) for s in stored) == MESSAGES
    assert all(len(s) == len(set(s)) for s in stored)
    assert open_store(deployment.settings).integrity_check() == "ok"  # type: ignore[attr-defined]
    with transaction(deployment.factory) as s:
        set_scope(s, ALL_TENANTS)
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
