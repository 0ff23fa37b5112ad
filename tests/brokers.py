"""Real MQTT brokers for tests: a throwaway Mosquitto (Debian's package) on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Mosquitto:
    """One running Mosquitto process; ``restart()`` stops and starts it on the same port."""

    directory: Path
    port: int
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def config_path(self) -> Path:
        return self.directory / "mosquitto.conf"

    def start(self) -> None:
        """Write the configuration and start the broker; return once it accepts connections."""
        self.directory.mkdir(parents=True, exist_ok=True)
        persistence = self.directory / "data"
        persistence.mkdir(exist_ok=True)
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {persistence}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            f"{self.extra_config or 'allow_anonymous true'}\n"
        )
        self._log = (self.directory / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - Debian's broker with a config this fixture wrote
            [MOSQUITTO, "-c", str(self.config_path)], stdout=self._log, stderr=self._log
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the broker cleanly (SIGTERM) so it writes its persistence file."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start the broker on the same port with the same configuration."""
        self.stop()
        self.start()


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Start throwaway Mosquitto brokers; ``extra_config`` replaces ``allow_anonymous true``."""
    started: list[Mosquitto] = []

    def start(extra_config: str = "") -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto-{len(started)}", free_port(), extra_config)
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """One anonymous Mosquitto broker on a free loopback port."""
    return mosquitto_factory()
