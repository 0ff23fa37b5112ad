"""Fault test of the edge agent: cut its uplink, kill -9 it during the cut, and lose nothing.

``hexmill edge`` runs as a subprocess, polls a Modbus server whose register counts the reads it
served (so every reading has a distinct, consecutive value) and forwards through a TCP proxy the
test controls to a stand-in platform that parses with the platform's own payload parser. The cut
lasts ``HEXMILL_EDGE_CUT_S`` seconds: 60 under ``CI=true`` as the issue asks, 10 locally unless set.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyModbusTCP.server import DataBank, DataHandler, ModbusServer

from hexmill.connect.edge.buffer import now_us
from tests.brokers import free_port, wait_for_port
from tests.connect.edge.receiver import Receiver

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TOKEN = "dev-fault01:s3cret"
CUT_S = float(os.environ.get("HEXMILL_EDGE_CUT_S") or (60 if os.environ.get("CI") else 10))
POLL_S = 0.2
HEXMILL = str(Path(sys.executable).with_name("hexmill"))


class CountingHandler(DataHandler):  # type: ignore[misc]
    """Answer each holding-register read with the number of reads served so far."""

    def __init__(self, bank: DataBank) -> None:
        super().__init__(bank)
        self.reads = 0

    def read_h_regs(self, address: int, count: int, srv_info: Any) -> Any:
        self.reads += 1
        self.data_bank.set_holding_registers(0, [self.reads])
        return super().read_h_regs(address, count, srv_info)


class Proxy:
    """A TCP proxy on 127.0.0.1 in its own event loop; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, target: int) -> None:
        self.port = free_port()
        self.target = target
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    def open(self) -> None:
        self._call(self._open())

    def cut(self) -> None:
        self._call(self._cut())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def modbus() -> Iterator[tuple[int, ModbusServer]]:
    port = free_port()
    handler = CountingHandler(DataBank(h_regs_size=16, coils_size=16, d_inputs_size=16, i_regs_size=16))
    server = ModbusServer("127.0.0.1", port, no_block=True, data_hdl=handler)
    server.start()
    wait_for_port(port)
    yield port, server
    server.stop()


@pytest.fixture
def platform() -> Iterator[Receiver]:
    server = Receiver(TOKEN)
    server.start()
    yield server
    server.stop()


def _write_config(path: Path, modbus_port: int) -> None:
    config = {
        "status_interval_s": 1,
        "forward": {"backoff_initial_s": 0.2, "backoff_max_s": 1.0, "idle_s": 0.1, "live_window_s": 5, "timeout_s": 3},
        "devices": [
            {
                "name": "press-1",
                "token": TOKEN,
                "modbus": {
                    "host": "127.0.0.1",
                    "port": modbus_port,
                    "poll_interval_s": POLL_S,
                    "timeout_s": 1,
                    "points": [{"field": "count", "table": "holding_register", "address": 0, "data_type": "uint16"}],
                },
            }
        ],
    }
    path.write_text(json.dumps(config))


def _start_agent(config: Path, buffer: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 -- our own CLI with arguments we built
            [HEXMILL, "edge", "--config", str(config), "--buffer", str(buffer), "--platform", url],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _buffered(buffer: Path) -> set[tuple[str, int]]:
    db = sqlite3.connect(buffer, timeout=10)
    try:
        return {(field, ts) for field, ts in db.execute("SELECT field, ts_us FROM readings")}
    finally:
        db.close()


def _wait(predicate: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; agent log:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_uplink_cut_and_kill_9_lose_nothing_and_replays_are_historical(
    tmp_path: Path, modbus: tuple[int, ModbusServer], platform: Receiver
) -> None:
    modbus_port, machine = modbus
    proxy = Proxy(platform.port)
    proxy.open()
    config, buffer, log = tmp_path / "edge.json", tmp_path / "edge.db", tmp_path / "agent.log"
    _write_config(config, modbus_port)
    url = f"http://127.0.0.1:{proxy.port}"
    agent = _start_agent(config, buffer, url, log)
    try:
        _wait(lambda: len(platform.points) >= 10, 30, "live readings", log)

        proxy.cut()
        cut_start = now_us()
        time.sleep(CUT_S / 2)
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
        at_kill = _buffered(buffer)
        assert len(at_kill) >= CUT_S / 2 / POLL_S / 2, "the buffer should hold the readings taken during the cut"
        agent = _start_agent(config, buffer, url, log)
        time.sleep(CUT_S / 2)
        cut_end = now_us()
        proxy.open()

        _wait(lambda: any(ts > cut_end + 3_000_000 for _, ts in platform.points), 30, "readings after the cut", log)
        # Stop the machine's answers, then let the agent drain everything it took.
        machine.stop()
        _wait(lambda: not _buffered(buffer), 30, "an empty buffer", log)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=15)
        finally:
            if agent.poll() is None:
                agent.kill()
            proxy.close()

    status = subprocess.run(  # noqa: S603 -- our own CLI
        [HEXMILL, "edge", "status", "--buffer", str(buffer), "--json"], capture_output=True, check=True
    )
    report = json.loads(status.stdout)
    assert report["dropped"] == 0 and report["dead_lettered"] == 0 and report["buffered"] == 0
    assert report["appended"] == report["acknowledged"]

    _check_arrivals(platform, at_kill, cut_start, cut_end)


def _check_arrivals(platform: Receiver, at_kill: set[tuple[str, int]], cut_start: int, cut_end: int) -> None:
    points = platform.points
    # Nothing the agent had committed was lost, and at-least-once never changed a stored value.
    assert at_kill <= set(points)
    assert platform.conflicts == []
    # Every reading is a distinct read of the counter; the only gap allowed is a read whose answer
    # was in flight when kill -9 landed (taken from the device, never committed to the buffer).
    counts = sorted(int(p.value) for (field, _), p in points.items() if field == "count")  # type: ignore[arg-type]
    assert len(counts) == len(set(counts))
    missing = set(range(counts[0], counts[-1] + 1)) - set(counts)
    assert len(missing) <= 1, f"readings lost: {sorted(missing)}"

    during = [p for (_, ts), p in points.items() if cut_start <= ts <= cut_end]
    # The agent spends part of the cut dead and restarting (seconds of imports on a loaded machine),
    # so how many reads the cut holds depends on the machine; what must hold is that the cut's
    # readings from before the kill are all there (checked above) and more followed the restart.
    in_cut_at_kill = [key for key in at_kill if cut_start <= key[1] <= cut_end]
    assert len(during) > len(in_cut_at_kill) > 0
    assert all(p.historical for p in during), "readings taken during the cut must arrive historical"
    before = [p for (_, ts), p in points.items() if ts < cut_start - 1_000_000]
    after = [p for (_, ts), p in points.items() if ts > cut_end + 3_000_000]
    assert before and not any(p.historical for p in before), "readings forwarded at once go live"
    assert after and not any(p.historical for p in after), "once the uplink is back, new readings go live"
