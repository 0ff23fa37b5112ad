"""An independent Sparkplug B edge node (pysparkplug 0.3.0) for the integration tests, run as a subprocess.

Usage: ``python edge_node.py PORT GROUP NODE``. It connects to 127.0.0.1:PORT, publishes NBIRTH and
the oven's DBIRTH, and answers a ``Node Control/Rebirth`` NCMD by reconnecting (which makes the
library publish its births again). Commands on stdin, one a line:

- ``ddata TEMPERATURE COUNT`` publishes a DDATA of the oven, with aliases and no datatypes;
- ``skip`` spends one sequence number without publishing (a lost message).

It prints ``READY``, ``SENT``, ``REBIRTH`` and ``REBORN`` so the test can follow it.
"""

from __future__ import annotations

import queue
import sys
import threading
import time

import paho.mqtt.client as paho

# pysparkplug 0.3.0 calls paho 1.x's message_retry_set(), a no-op setter paho 2 removed.
paho.Client.message_retry_set = lambda self, retry: None  # type: ignore[attr-defined]

import pysparkplug as spb  # noqa: E402 - the shim above must come first

REBIRTH = "Node Control/Rebirth"


def say(word: str) -> None:
    """Tell the test what happened: stdout is the channel it follows."""
    sys.stdout.write(word + "\n")
    sys.stdout.flush()


def now_ms() -> int:
    return int(time.time() * 1000)


def main() -> None:
    port, group, node = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    commands: queue.Queue[str] = queue.Queue()

    def on_ncmd(_edge: spb.EdgeNode, message: spb.Message) -> None:
        for metric in message.payload.metrics:  # type: ignore[attr-defined]
            if metric.name == REBIRTH and metric.value is True:
                say("REBIRTH")
                commands.put("rebirth")

    edge = spb.EdgeNode(
        group,
        node,
        metrics=[
            spb.Metric(timestamp=now_ms(), name=REBIRTH, datatype=spb.DataType.BOOLEAN, value=False),
            spb.Metric(timestamp=now_ms(), name="Uptime", datatype=spb.DataType.INT64, value=1, alias=1),
        ],
        cmd_callback=on_ncmd,
    )
    oven = spb.Device(
        "oven",
        metrics=[
            spb.Metric(timestamp=now_ms(), name="Temperature", datatype=spb.DataType.DOUBLE, value=20.5, alias=10),
            spb.Metric(timestamp=now_ms(), name="Count", datatype=spb.DataType.INT32, value=-1, alias=11),
        ],
    )
    edge.register(oven)
    edge.connect("127.0.0.1", port=port)
    say("READY")

    def read_stdin() -> None:
        for line in sys.stdin:
            commands.put(line.strip())

    threading.Thread(target=read_stdin, daemon=True).start()
    while True:
        command = commands.get()
        if command == "rebirth":
            edge.disconnect()
            edge.connect("127.0.0.1", port=port)
            say("REBORN")
        elif command == "skip":
            edge._seq  # noqa: B018 - reading the property spends one sequence number
        elif command.startswith("ddata "):
            _, temperature, count = command.split()
            metrics = [
                spb.Metric(
                    timestamp=now_ms(), name=None, alias=10, datatype=spb.DataType.DOUBLE, value=float(temperature)
                ),
                spb.Metric(timestamp=now_ms(), name=None, alias=11, datatype=spb.DataType.INT32, value=int(count)),
            ]
            # EdgeNode.update_device of 0.3.0 leaves the device out of the DDATA topic; publish it directly.
            topic = spb.Topic(message_type=spb.MessageType.DDATA, group_id=group, edge_node_id=node, device_id="oven")
            payload = spb.DData(timestamp=now_ms(), seq=edge._seq, metrics=metrics)
            edge._client.publish(spb.Message(topic=topic, payload=payload, qos=spb.QoS.AT_MOST_ONCE, retain=False))
            say("SENT")


if __name__ == "__main__":
    main()
