"""What a Redis ``PUBLISH`` costs Redis per subscriber: the ``d`` of docs/scaling.md's
model (each node that follows a room is one subscriber of its channel).

A real ``redis-server`` of its own (zmqchat.testing.redis), 0, 1, 10 and 50
subscribers reading on threads, 20,000 publishes of 200 bytes each, and Redis's own
CPU time (``/proc/PID/stat``, 10 ms ticks: a rough figure) per publish.

    python -m benchmarks.redis_publish
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import redis

from zmqchat.testing.redis import RedisProcess

PUBLISHES = 20_000
PAYLOAD = b"x" * 200


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reader(pubsub: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        pubsub.get_message(timeout=0.1)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="zmqchat-redis-publish-") as tmp:
        server = RedisProcess(Path(tmp)).start()
        try:
            assert server.pid is not None
            for count in (0, 1, 10, 50):
                stop = threading.Event()
                readers = []
                for _ in range(count):
                    pubsub = redis.Redis.from_url(server.url).pubsub()
                    pubsub.subscribe("room")
                    pubsub.get_message(timeout=1)  # the subscription's confirmation
                    thread = threading.Thread(target=_reader, args=(pubsub, stop), daemon=True)
                    thread.start()
                    readers.append((pubsub, thread))
                client = redis.Redis.from_url(server.url)
                before = _cpu(server.pid)
                pipe = client.pipeline(transaction=False)
                for n in range(PUBLISHES):
                    pipe.publish("room", PAYLOAD)
                    if n % 500 == 499:
                        pipe.execute()
                pipe.execute()
                spent = _cpu(server.pid) - before
                each = spent / PUBLISHES * 1e6
                print(f"{count:3d} subscribers: {each:5.2f} us of Redis CPU a publish")
                stop.set()
                for pubsub, thread in readers:
                    thread.join()
                    pubsub.close()
                client.close()
        finally:
            server.close()


if __name__ == "__main__":
    main()
