"""examples/pipeline: producer, two workers and a collector as separate processes,
started with the pytest plugin's fixtures; a worker is killed halfway and started
again, and every job the producer got an ack for still gets its result."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zmqchat import ChatEvent
from zmqchat.testing import expect

pytestmark = pytest.mark.timeout(90)

PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "pipeline"
JOBS = 120


def python(script: str, *args: object) -> list[str]:
    return [sys.executable, str(PIPELINE / script), *map(str, args)]


def test_a_killed_worker_loses_no_acked_job(zmqchat_broker_factory, zmqchat_spawn, zmqchat_client):
    # A short session timeout, so the killed worker's name is free again soon.
    broker = zmqchat_broker_factory(timeout=2, heartbeat=0.5)
    observer = zmqchat_client("observer", rooms=["results", "jobs"], broker=broker)
    collector = zmqchat_spawn(python("collector.py", JOBS), broker=broker)
    workers = [
        zmqchat_spawn(python("worker.py", index, 2, 0.01), broker=broker) for index in (0, 1)
    ]
    producer = zmqchat_spawn(
        python("producer.py", JOBS), broker=broker, stdout=subprocess.PIPE, text=True
    )

    # Halfway through worker-1's share: kill it, no goodbye, and start another.
    for _ in range(10):
        expect(observer, ChatEvent, sender="worker-1", timeout=20)
    workers[1].kill()
    zmqchat_spawn(python("worker.py", 1, 2, 0.01), broker=broker)

    out, _ = producer.popen.communicate(timeout=60)  # type: ignore[union-attr]
    assert producer.returncode == 0, out
    assert f"collector says: all {JOBS} results in, 0 wrong" in out
    assert collector.wait(10) == 0

    # Every job is in the store, and so is a result for each of them.
    jobs, results = set(), set()
    for room, found in (("jobs", jobs), ("results", results)):
        after = 0
        while True:
            page = observer.history(room, after=after, limit=500)
            found |= {m.data["job"] for m in page.messages if isinstance(m, ChatEvent)}
            if not page.more:
                break
            after = page.messages[-1].seq
    assert jobs == set(range(JOBS))
    assert results == jobs
