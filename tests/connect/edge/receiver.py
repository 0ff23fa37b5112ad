"""A stand-in platform for edge tests: ``POST /api/v1/telemetry`` on 127.0.0.1, served by uvicorn in a thread.

It parses bodies with the platform's own payload parser (``hexmill.connect.payload``), so the
edge's wire format is checked against the real contract, and keeps points idempotent on
(field, timestamp) as the platform does, while also counting every delivery. Tests can make it
answer with a fixed status or refuse records carrying a given field.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hexmill.connect.edge.buffer import now_us
from hexmill.connect.payload import parse_records
from hexmill.telemetry.points import Value
from tests.brokers import free_port


@dataclass(frozen=True, slots=True)
class Point:
    """One stored point as the receiver keeps it."""

    value: Value | None
    historical: bool
    quality: str


@dataclass
class Receiver:
    """The receiving side's state and switches."""

    token: str
    port: int = field(default_factory=free_port)
    status: int | None = None
    refuse_field: str | None = None
    points: dict[tuple[str, int], Point] = field(default_factory=dict)
    deliveries: int = 0
    posts: int = 0
    conflicts: list[tuple[tuple[str, int], Point, Point]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _telemetry(self, request: Request) -> JSONResponse:
        body = await request.body()
        with self.lock:
            self.posts += 1
        if request.headers.get("x-device-token") != self.token:
            return JSONResponse({"detail": "Unknown device or wrong device secret."}, status_code=401)
        if self.status is not None:
            return JSONResponse({"detail": "forced answer"}, status_code=self.status)
        document = json.loads(body)
        if self.refuse_field and any(self.refuse_field in r.get("values", {}) for r in document):
            return JSONResponse({"detail": f"field {self.refuse_field} refused"}, status_code=400)
        parsed = parse_records(document, now_us=now_us())
        with self.lock:
            for reading in parsed.readings:
                key = (reading.field, reading.ts_us)
                point = Point(reading.value, reading.historical, reading.quality.name.lower())
                old = self.points.get(key)
                if old is not None and old.value != point.value:
                    self.conflicts.append((key, old, point))
                # Idempotent on (field, ts): a replay overwrites with the same value.
                self.points[key] = point
                self.deliveries += 1
        rejected = [{"location": r.location, "reason": r.reason} for r in parsed.rejections]
        return JSONResponse({"accepted": len(parsed.readings), "rejected": rejected})

    def start(self) -> None:
        app = Starlette(routes=[Route("/api/v1/telemetry", self._telemetry, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="none")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("receiver did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = None
