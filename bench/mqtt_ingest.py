"""End-to-end MQTT ingest benchmark: devices -> Mosquitto (persistent) -> ``hexmill ingest`` -> store.

One run:

1. creates a throwaway directory, migrates a SQLite database there (or, with
   ``--backend postgresql``, starts a throwaway PostgreSQL cluster on 127.0.0.1 and migrates it);
2. provisions ``--devices`` MQTT devices, each bound to a piece of equipment with 3 tags, through
   the registry service, and writes Mosquitto's password and ACL files with the registry sync;
3. starts Debian's Mosquitto (persistence on, ``autosave_interval 1``) on a free loopback port and
   ``--workers`` ``hexmill ingest`` processes (one shared-subscription group, rate caps off);
4. runs ``--publishers`` publisher processes (raw sockets and ``connect.mqtt.codec``, MQTT v5, QoS 1,
   ``--inflight`` in flight per device), each device sending ``{"ts": <ms>, "values": {3 fields}}``
   with strictly increasing timestamps, at full speed or at ``--rate`` messages/s in total, for ``--duration`` seconds;
5. waits until the store holds every point, then reports published msgs/s (broker PUBACKs),
   end-to-end msgs/s and points/s (stored points / time from the first publish to the last point
   stored), loss and duplicates, peak RSS of the ingest processes and of Mosquitto, and CPU.

The publishers, the broker and the ingest workers share the machine's cores: on a small machine
the publishers' CPU is taken from the platform under test.

Usage::

    .venv/bin/python bench/mqtt_ingest.py --duration 300 --devices 20 --workers 1
    .venv/bin/python bench/mqtt_ingest.py --backend postgresql --duration 60 --workers 2
    .venv/bin/python bench/mqtt_ingest.py --duration 90 --rate 2000 --burst-factor 10 --burst-at 30 --burst-s 30
    .venv/bin/python bench/mqtt_ingest.py --duration 60 --profile         # cProfile of the ingest loop
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import pstats
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import psycopg
from rich.console import Console
from rich.live import Live
from rich.table import Table

from hexmill.assets import service as assets
from hexmill.assets.service import TagSpec
from hexmill.connect.mqtt import codec
from hexmill.connect.mqtt.mosquitto import sync_mosquitto_files
from hexmill.connect.registry import service as registry
from hexmill.core import identity
from hexmill.core.context import Context
from hexmill.core.db import make_engine, make_sessionmaker, transaction
from hexmill.core.migrate import upgrade
from hexmill.core.security import hash_device_secret
from hexmill.core.tenancy import ALL_TENANTS, set_scope
from hexmill.telemetry.sqlite_store import _merge as merge_segments

# The broker binary and loopback port helpers are the test suite's (tests/brokers.py); run as a script, the
# repository root is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.brokers import MOSQUITTO, free_port, wait_for_port

FIELDS = ("temperature", "pressure", "speed")
INGEST_USER = "hexmill-ingest"
INGEST_PASSWORD = "bench-ingest-secret"  # noqa: S105 - a throwaway broker on loopback
console = Console()

# The ingest process, with the worker loop of each consumer thread and its MQTT network thread
# each under cProfile (bench only): ``<worker>.prof`` and ``<worker>.net.prof``.
PROFILED_INGEST = """
import cProfile, os, sys
from hexmill.connect.mqtt import client, poller
def profiled(method, suffix):
    def run(self, *args):
        prof = cProfile.Profile()
        prof.enable()
        try:
            method(self, *args)
        finally:
            prof.disable()
            prof.dump_stats(os.environ["BENCH_PROFILE"] + "." + self.config.client_id + suffix)
    return run
poller.IngestWorker.run = profiled(poller.IngestWorker.run, ".prof")
client.IngestClient._run = profiled(client.IngestClient._run, ".net.prof")
from hexmill.cli import main
main()
"""


# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(work: Path) -> Iterator[tuple[str, str]]:
    """A throwaway PostgreSQL cluster (default durability); yield the app URL and a superuser URL."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
    pg_bin = bins[-1]
    root = Path(tempfile.mkdtemp(prefix="hexmill-bench-pg."))  # outside root's 0700 directories
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*prefix, str(pg_bin / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust",  # noqa: S603
                    "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)  # fmt: skip
    port = free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c shared_buffers=256MB -c max_wal_size=4GB"
    subprocess.run([*prefix, str(pg_bin / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w",  # noqa: S603
                    "-o", opts, "start"], check=True, capture_output=True)  # fmt: skip
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE ROLE hexmill_app LOGIN PASSWORD 'hexmill_app' NOSUPERUSER NOBYPASSRLS")
            conn.execute("CREATE DATABASE bench OWNER hexmill_app")
        yield (
            f"postgresql+psycopg://hexmill_app:hexmill_app@127.0.0.1:{port}/bench",
            f"postgresql://postgres@127.0.0.1:{port}/bench",
        )
    finally:
        subprocess.run([*prefix, str(pg_bin / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "-w", "stop"],  # noqa: S603
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


class StoreProbe:
    """Read what the store holds, without going through the platform (a second connection)."""

    def __init__(self, backend: str, data_dir: Path, admin_url: str | None) -> None:
        self.backend = backend
        self.path = data_dir / "telemetry.db"
        self.admin_url = admin_url

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.backend == "postgresql":
            with psycopg.connect(self.admin_url or "") as conn:
                return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]
        if not self.path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def latest(self) -> dict[int, int]:
        """Return each series' latest stored timestamp (µs)."""
        return {int(s): int(ts) for s, ts in self._query("SELECT series, ts FROM tlm_latest")}

    def count(self) -> tuple[int, int]:
        """Return (points as read back, distinct (series, ts) among them).

        The embedded store keeps points in segments (ADR 0010): a redelivered message is a second
        copy in another segment, which reads drop (the newest write wins). What a user reads is what
        counts, so the segments are decoded and merged as the store's reads merge them; the copies
        written are reported apart (``copies``).
        """
        if self.backend == "postgresql":
            [(n, d)] = self._query("SELECT count(*), count(DISTINCT (series, ts)) FROM tlm_raw")
            return int(n), int(d)
        names = [r[0] for r in self._query("SELECT name FROM tlm_chunks WHERE level = 'raw'")]
        n = d = copies = 0
        for name in names:
            rows = self._query(
                f"SELECT series, seq, n, first_ts, data, text FROM {name} ORDER BY series, block, first_ts"  # noqa: S608
            )
            copies += sum(int(r[2]) for r in rows)
            series, ts, *_ = merge_segments(rows)
            n += len(ts)
            d += len(np.unique(series.astype(np.int64) * (1 << 42) + (ts - int(ts.min(initial=0)))))
        self.copies = copies
        return n, d

    copies = 0


# ---------------------------------------------------------------------------------------------
# Devices, broker, ingest
# ---------------------------------------------------------------------------------------------


@dataclass
class Provisioned:
    client_id: str
    secret: str
    series: list[int]


def provision(url: str, devices: int) -> tuple[Any, list[Provisioned]]:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    out: list[Provisioned] = []
    with transaction(factory) as s:
        set_scope(s, ALL_TENANTS)
        tenant = identity.create_tenant(s, Context.system(), name="bench-enterprise")
        ctx = Context.system(tenant.id)
        set_scope(s, tenant.id)
        site = assets.create_site(s, ctx, name="plant")
        area = assets.create_area(s, ctx, site_id=site.id, name="hall")
        line = assets.create_line(s, ctx, area_id=area.id, name="line")
        for n in range(devices):
            eq = assets.create_equipment(s, ctx, line_id=line.id, name=f"press-{n}", tags=[TagSpec(f) for f in FIELDS])
            tags = assets.list_tags(s, ctx, filters={"equipment_id": eq.id})[0]
            device, secret = registry.create_device(s, ctx, name=f"device-{n}", protocol="mqtt", equipment_id=eq.id)
            out.append(Provisioned(device.client_id, secret, [t.id for t in tags]))
    return factory, out


@dataclass
class Broker:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    def start(self, factory: Any) -> None:
        d = self.directory
        (d / "data").mkdir(parents=True)
        with transaction(factory) as session:
            set_scope(session, ALL_TENANTS)
            sync_mosquitto_files(
                session,
                password_file=d / "passwd",
                acl_file=d / "acl",
                ingest_username=INGEST_USER,
                ingest_password_hash=hash_device_secret(INGEST_PASSWORD),
            )
        user = "user root\n" if os.geteuid() == 0 else ""  # else it drops to 'mosquitto' and cannot write here
        (d / "mosquitto.conf").write_text(
            f"{user}listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {d / 'data'}/\nautosave_interval 1\n"
            f"allow_anonymous false\npassword_file {d / 'passwd'}\nacl_file {d / 'acl'}\n"
            "max_inflight_messages 1000\nmax_queued_messages 0\n"
        )
        self.log = (d / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(d / "mosquitto.conf")], stdout=self.log, stderr=self.log)  # noqa: S603
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        if self.log is not None:
            self.log.close()


def start_ingest(n: int, args: argparse.Namespace, *, url: str, data_dir: Path, port: int, work: Path) -> Any:
    env = dict(os.environ)
    env.update(
        HEXMILL_DATABASE_URL=url,
        HEXMILL_DATA_DIR=str(data_dir),
        HEXMILL_MQTT_PASSWORD=INGEST_PASSWORD,
        HEXMILL_LOG_LEVEL="INFO",
        HEXMILL_SECRET_KEY="bench",  # noqa: S106 - a throwaway deployment
        BENCH_PROFILE=str(work / f"ingest-{n}"),
    )
    code = PROFILED_INGEST if args.profile else "from hexmill.cli import main; main()"
    command = [
        sys.executable, "-c", code, "ingest", f"--port={port}", f"--client-id=bench-ingest-{n}",
        f"--batch-max-messages={args.batch}", "--device-rate=0", "--tenant-rate=0",
    ]  # fmt: skip
    log = work / f"ingest-{n}.log"
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))  # noqa: S603
    return process, log


# ---------------------------------------------------------------------------------------------
# Publishers
# ---------------------------------------------------------------------------------------------


@dataclass
class _Link:
    """One device's connection in a publisher: what is sent, acknowledged, and waiting to go out."""

    sock: socket.socket
    topic: str
    sent: int = 0
    acked: int = 0
    out: bytes = b""
    buf: bytearray = field(default_factory=bytearray)


def _send_some(link: _Link) -> int:
    """Send what the socket takes of ``link.out``; return the bytes sent (-1 when it takes none now)."""
    try:
        n = link.sock.send(link.out)
    except BlockingIOError:
        return -1
    link.out = link.out[n:]
    return n


def _connect_device(port: int, client_id: str, secret: str) -> _Link:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(
        codec.connect_packet(client_id, keepalive_s=600, clean_start=True, username=client_id, password=secret)
    )
    buf = bytearray()
    while True:
        packets, _ = codec.split_packets(buf)
        if packets:
            break
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"{client_id}: the broker closed the connection")
        buf += data
    first, start, end = packets[0]
    ack = codec.decode_connack(buf, start, end)
    if first >> 4 != codec.CONNACK or ack.failed:
        raise ConnectionError(f"{client_id}: refused: {ack.describe()}")
    sock.setblocking(False)
    link = _Link(sock, f"hexmill/v1/{client_id}/telemetry")
    link.buf = buf[end:]
    return link


def _read_acks(link: _Link) -> None:
    try:
        data = link.sock.recv(1 << 20)
    except BlockingIOError:
        return
    if not data:
        raise ConnectionError(f"the broker closed {link.topic}")
    link.buf += data
    packets, used = codec.split_packets(link.buf)
    link.acked += sum(1 for first, _, _ in packets if first >> 4 == codec.PUBACK)
    del link.buf[:used]


def _allowed(rate: tuple[float, float, float, float], elapsed: float) -> int:
    """Return how many messages may have been sent ``elapsed`` s in: ``(msgs/s, burst factor, burst at, burst s)``."""
    base, factor, at, length = rate
    if not base:
        return 1 << 30
    return int(base * elapsed + base * (factor - 1) * min(max(elapsed - at, 0.0), length))


def publisher(  # noqa: PLR0917 - runs in its own process
    port: int,
    devices: list[tuple[str, str]],
    t0_ms: int,
    rate: tuple[float, float, float, float],
    inflight: int,
    ready: Any,
    go: Any,
    timing: Any,
    acked_total: Any,
    results: Any,
) -> None:
    """Publish QoS 1 telemetry for ``devices`` on raw sockets (``connect.mqtt.codec``), pipelined to ``inflight``.

    A general client library spends more CPU per publish than the platform does per message;
    on a 2-core machine that CPU is taken from the system under test, so the load generator
    writes pre-built packets in bulk and only counts PUBACKs.
    """
    links = [_connect_device(port, cid, secret) for cid, secret in devices]
    by_fd = {link.sock.fileno(): link for link in links}
    ready.release()
    go.wait()
    cpu_at_go = time.process_time()
    start, stop = timing[0], timing[1]
    publish, total, chunk = codec.publish_packet, 0, 64
    while True:
        now = time.time()
        if now >= stop:
            break
        budget = _allowed(rate, now - start) - total
        for link in links:
            if link.out:
                sent_bytes = _send_some(link)
                if link.out or sent_bytes < 0:
                    continue
            k = min(inflight - (link.sent - link.acked), chunk, budget)
            if k <= 0:
                continue
            i0 = link.sent
            link.out = b"".join(
                [
                    publish(
                        link.topic,
                        (
                            f'{{"ts":{t0_ms + i},"values":{{"temperature":{20 + (i % 100) / 10},'
                            f'"pressure":{1 + (i % 50) / 100},"speed":{i % 3000}}}}}'
                        ).encode(),
                        qos=1,
                        packet_id=i % 65_535 + 1,
                    )
                    for i in range(i0, i0 + k)
                ]
            )
            link.sent += k
            total += k
            budget -= k
            _send_some(link)
        readable, _, _ = select.select(list(by_fd), [], [], 0.0005 if budget <= 0 else 0)
        for fd in readable:
            _read_acks(by_fd[fd])
        acked_total.value = sum(link.acked for link in links)
    published_at = time.time()
    deadline = time.monotonic() + 300
    for link in links:
        link.sock.setblocking(True)
        if link.out:
            link.sock.sendall(link.out)
            link.out = b""
        link.sock.setblocking(False)
    while sum(link.acked for link in links) < total and time.monotonic() < deadline:
        readable, _, _ = select.select(list(by_fd), [], [], 0.05)
        for fd in readable:
            _read_acks(by_fd[fd])
        acked_total.value = sum(link.acked for link in links)
    acked_at = time.time()
    acked_total.value = sum(link.acked for link in links)
    for link in links:
        with contextlib.suppress(OSError):
            link.sock.setblocking(True)
            link.sock.sendall(codec.DISCONNECT_PACKET)
        link.sock.close()
    sent = [link.sent for link in links]
    acks = [[link.acked] for link in links]
    results.put(
        {
            "cpu_s": time.process_time() - cpu_at_go,
            "sent": dict(zip((cid for cid, _ in devices), sent, strict=True)),
            "acked": [a[0] for a in acks],
            "published_at": published_at,
            "acked_at": acked_at,
        }
    )


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------


@dataclass
class Sampler:
    """Peak RSS of the ingest processes and the broker, sampled every ``interval`` seconds."""

    ingest: list[psutil.Process]
    broker: psutil.Process
    interval: float = 0.5
    ingest_rss: int = 0
    broker_rss: int = 0
    ingest_now: int = 0
    broker_now: int = 0
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        t0 = time.time()
        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                ingest = sum(p.memory_info().rss for p in self.ingest)
                broker = self.broker.memory_info().rss
                self.ingest_rss = max(self.ingest_rss, *(p.memory_info().rss for p in self.ingest))
                self.broker_rss = max(self.broker_rss, broker)
                self.ingest_now, self.broker_now = ingest, broker
                self.timeline.append((round(time.time() - t0, 1), ingest, broker))

    def stop(self) -> None:
        self._stop.set()


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def describe_machine() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603

    return {
        "cpu": run("sh", "-c", "lscpu | grep -E 'Model name|^CPU\\(s\\)|Thread|L3' | sed 's/  */ /g'"),
        "memory": run("sh", "-c", "free -h | sed -n 2p"),
        "load_before": os.getloadavg(),
        "versions": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "mosquitto": run(MOSQUITTO, "-h").splitlines()[0] if Path(MOSQUITTO).exists() else None,
            "kernel": platform.release(),
        },
    }


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:  # noqa: PLR0912, PLR0915 - one linear script
    result: dict[str, Any] = {"args": vars(args), "machine": describe_machine()}
    data_dir = work / "data"
    data_dir.mkdir()
    with contextlib.ExitStack() as stack:
        if args.backend == "postgresql":
            url, admin = stack.enter_context(postgres(work))
        else:
            url, admin = f"sqlite:///{work / 'hexmill.db'}", None
        console.print(f"[bold]provisioning[/] {args.devices} devices x {len(FIELDS)} tags on {args.backend}")
        factory, devices = provision(url, args.devices)
        probe = StoreProbe(args.backend, data_dir, admin)

        broker = Broker(work / "mosquitto", free_port())
        broker.start(factory)
        stack.callback(broker.stop)
        if broker.process is None:
            raise RuntimeError("mosquitto did not start")

        ingest = [
            start_ingest(n, args, url=url, data_dir=data_dir, port=broker.port, work=work) for n in range(args.workers)
        ]

        def stop_ingest() -> None:
            for process, _ in ingest:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process, _ in ingest:
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()

        stack.callback(stop_ingest)
        deadline = time.monotonic() + 120
        for process, log in ingest:
            while "connected (session present" not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hexmill ingest did not connect:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)

        # Publishers: devices dealt round-robin, each process waits for the common start time.
        ctx = mp.get_context("fork")
        ready, go = ctx.Semaphore(0), ctx.Event()
        timing = ctx.Array("d", 2)
        results = ctx.Queue()
        counters = [ctx.Value("q", 0, lock=False) for _ in range(args.publishers)]
        t0_ms = int(time.time() * 1000) - 6 * 3_600_000
        share = (args.rate / args.publishers if args.rate else 0.0, args.burst_factor, args.burst_at, args.burst_s)
        groups = [devices[p :: args.publishers] for p in range(args.publishers)]
        procs = [
            ctx.Process(
                target=publisher,
                args=(
                    broker.port,
                    [(d.client_id, d.secret) for d in g],
                    t0_ms,
                    share,
                    args.inflight,
                    ready,
                    go,
                    timing,
                    counters[p],
                    results,
                ),
                daemon=True,
            )
            for p, g in enumerate(groups)
        ]
        for proc in procs:
            proc.start()
        for _ in procs:
            if not ready.acquire(timeout=60):
                raise RuntimeError("publishers did not connect")

        ingest_ps = [psutil.Process(p.pid) for p, _ in ingest]
        broker_ps = psutil.Process(broker.process.pid)
        pub_ps = [psutil.Process(p.pid) for p in procs if p.pid is not None]
        sampler = Sampler(ingest_ps, broker_ps)
        threading.Thread(target=sampler.run, daemon=True).start()
        cpu0 = (cpu_seconds(ingest_ps), cpu_seconds([broker_ps]), cpu_seconds(pub_ps), psutil.cpu_times())

        start = time.time() + 0.5
        timing[0], timing[1] = start, start + args.duration
        go.set()

        def estimate(latest: dict[int, int]) -> int:
            return sum((ts // 1000 - t0_ms + 1) for ts in latest.values())

        def table(phase: str, stored: int) -> Table:
            t = Table(show_header=False, box=None)
            elapsed = max(time.time() - start, 1e-9)
            acked = sum(c.value for c in counters)
            t.add_row("phase", phase)
            t.add_row("elapsed", f"{elapsed:,.0f} s of {args.duration} s")
            t.add_row("acked by broker", f"{acked:,} ({acked / elapsed:,.0f} msg/s)")
            t.add_row("stored (est.)", f"{stored:,} points ({stored / elapsed:,.0f} pts/s)")
            t.add_row("backlog", f"{acked - stored // len(FIELDS):,} msgs")
            rss = f"{sampler.ingest_rss / 2**20:,.0f} MiB; broker {sampler.broker_rss / 2**20:,.0f} MiB"
            t.add_row("peak RSS ingest", rss)
            return t

        # Every second: seconds in, broker-acknowledged messages, stored points (estimated from the latest
        # timestamps), ingest and broker RSS; a burst's shape shows here.
        timeline: list[tuple[float, int, int, float, float]] = []
        with Live(table("publishing", 0), console=console, refresh_per_second=2) as live:
            while time.time() < start + args.duration:
                time.sleep(1)
                stored_now = estimate(probe.latest())
                live.update(table("publishing", stored_now))
                timeline.append(
                    (
                        round(time.time() - start, 1),
                        sum(c.value for c in counters),
                        stored_now,
                        round(sampler.ingest_now / 2**20, 1),
                        round(sampler.broker_now / 2**20, 1),
                    )
                )
            result["timeline"] = timeline
            outs = [results.get(timeout=360) for _ in procs]
            for proc in procs:
                proc.join(30)
            # Results arrive in the order the publishers finish: match them by client id.
            by_client = {cid: n for out in outs for cid, n in out["sent"].items()}
            sent = [by_client[d.client_id] for d in devices]
            published = sum(sent)
            acked = sum(sum(o["acked"]) for o in outs)
            published_at = max(o["published_at"] for o in outs)
            acked_at = max(o["acked_at"] for o in outs)
            expected = {s: (t0_ms + sent[i] - 1) * 1000 for i, d in enumerate(devices) for s in d.series if sent[i]}
            want = published * len(FIELDS)
            done_at: float | None = None
            last_progress, last_seen = time.time(), -1
            while True:
                latest = probe.latest()
                est = estimate(latest)
                live.update(table("draining", est))
                if all(latest.get(s, -1) >= ts for s, ts in expected.items()):
                    # The last points are in: that moment ends the run; counting every point (decoding
                    # millions from the segments) takes long and must not count as ingest time.
                    reached_at = time.time()
                    stored, distinct = probe.count()
                    if stored >= want:
                        done_at = reached_at
                        break
                else:
                    stored = est
                if stored != last_seen:
                    last_progress, last_seen = time.time(), stored
                elif time.time() - last_progress > args.stall:
                    break
                time.sleep(0.1)
        cpu1 = (cpu_seconds(ingest_ps), cpu_seconds([broker_ps]), cpu_seconds(pub_ps), psutil.cpu_times())
        sampler.stop()
        stored, distinct = probe.count()
        end = done_at or time.time()
        wall = end - start
        system_busy = (sum(cpu1[3]) - cpu1[3].idle - cpu1[3].iowait) - (sum(cpu0[3]) - cpu0[3].idle - cpu0[3].iowait)
        result.update(
            published=published,
            acked=acked,
            expected_points=want,
            stored_points=stored,
            distinct_points=distinct,
            lost=want - stored,
            duplicates=stored - distinct,
            copies_written=probe.copies,
            complete=done_at is not None and stored == want,
            publish_s=round(published_at - start, 2),
            acked_s=round(acked_at - start, 2),
            end_to_end_s=round(wall, 2),
            published_msg_s=round(acked / (acked_at - start)),
            e2e_msg_s=round(stored / len(FIELDS) / wall),
            e2e_points_s=round(stored / wall),
            drain_after_publish_s=round(end - published_at, 2),
            ingest_peak_rss_mib=round(sampler.ingest_rss / 2**20, 1),
            broker_peak_rss_mib=round(sampler.broker_rss / 2**20, 1),
            cpu_cores={
                "ingest": round((cpu1[0] - cpu0[0]) / wall, 2),
                "mosquitto": round((cpu1[1] - cpu0[1]) / wall, 2),
                "publishers": round(sum(o["cpu_s"] for o in outs) / pub_wall(outs, start), 2),
                "whole_machine": round(system_busy / wall, 2),
            },
            load_after=os.getloadavg(),
            rss_timeline=sampler.timeline[:: max(1, len(sampler.timeline) // 60)],
        )
        stop_ingest()
        if args.profile:
            result["profile"] = [str(p) for p in sorted(work.glob("ingest-*.prof"))]
            for path in result["profile"]:
                console.rule(path)
                stats = pstats.Stats(path)
                stats.sort_stats("tottime").print_stats(25)
                stats.sort_stats("cumulative").print_stats(30)
        for _, log in ingest:
            text = log.read_text(errors="replace")
            if "Traceback" in text or "WARNING" in text:
                console.print(f"[yellow]{log.name}[/]: " + "\n".join(text.splitlines()[-15:]))
    return result


def pub_wall(outs: list[dict[str, Any]], start: float) -> float:
    return max(o["acked_at"] for o in outs) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of publishing")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="hexmill ingest processes")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rate", type=float, default=0, help="total msgs/s (0: as fast as the broker acks)")
    parser.add_argument("--burst-factor", type=float, default=1.0, help="multiply --rate by this during the burst")
    parser.add_argument("--burst-at", type=float, default=0.0, help="seconds into the run the burst starts")
    parser.add_argument("--burst-s", type=float, default=0.0, help="how long the burst lasts, seconds")
    parser.add_argument("--inflight", type=int, default=1000, help="unacknowledged publishes per device")
    parser.add_argument("--batch", type=int, default=500, help="hexmill ingest --batch-max-messages")
    parser.add_argument("--stall", type=float, default=120, help="give up after this long without progress")
    parser.add_argument("--profile", action="store_true", help="cProfile each ingest worker loop")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hexmill-bench-mqtt."))
    try:
        result = run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summary = {k: v for k, v in result.items() if k not in ("rss_timeline", "machine", "args")}
    console.print_json(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
