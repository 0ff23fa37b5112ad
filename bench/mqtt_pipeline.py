"""CPU cost per message of the MQTT ingest pipeline alone: ``TelemetryPipeline.process`` in process.

No broker, no publishers, no network thread: batches of 500 messages like the end-to-end
benchmark's (20 devices x 3 tags, ``{"ts": <ms>, "values": {3 fields}}``) go straight into the
pipeline on a throwaway SQLite database, and the process CPU time per message is reported. It
is a figure the machine's other load barely moves, unlike the end-to-end one.

Usage::

    .venv/bin/python bench/mqtt_pipeline.py --batches 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from mqtt_ingest import FIELDS, provision

from hexmill.connect.limits import IngestLimits
from hexmill.connect.mqtt.pipeline import Message, TelemetryPipeline
from hexmill.connect.registry.service import DeviceCounters
from hexmill.core.config import get_settings
from hexmill.telemetry.service import open_store

BATCH = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--devices", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hexmill-bench-pipeline."))
    try:
        os.environ.update(
            HEXMILL_DATABASE_URL=f"sqlite:///{work / 'hexmill.db'}",
            HEXMILL_DATA_DIR=str(work / "data"),
            HEXMILL_SECRET_KEY="bench",  # noqa: S106 - a throwaway deployment
        )
        (work / "data").mkdir()
        factory, devices = provision(os.environ["HEXMILL_DATABASE_URL"], args.devices)
        limits = IngestLimits(device_messages_per_s=0, tenant_messages_per_s=0)
        pipeline = TelemetryPipeline(factory, open_store(get_settings()), limits, counters=DeviceCounters(5.0))
        t0_ms = int(time.time() * 1000) - 6 * 3_600_000
        batches = []
        for b in range(args.batches + 1):
            batch = []
            for k in range(BATCH):
                i = b * BATCH + k
                device, n = devices[i % len(devices)], i // len(devices)
                body = (
                    f'{{"ts":{t0_ms + n},"values":{{"{FIELDS[0]}":{20 + (n % 100) / 10},'
                    f'"{FIELDS[1]}":{1 + (n % 50) / 100},"{FIELDS[2]}":{n % 3000}}}}}'
                )
                batch.append(Message(f"hexmill/v1/{device.client_id}/telemetry", body.encode()))
            batches.append(batch)
        pipeline.process(batches.pop())  # warm the caches
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in batches:
            pipeline.process(batch)
        pipeline.write_counters()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n = args.batches * BATCH
        rate = f"{n / cpu:,.0f} msg/s per CPU second"
        print(f"{n} messages: {cpu / n * 1e6:.1f} us CPU per message ({rate}), wall {wall:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
