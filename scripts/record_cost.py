"""What one record of the Redis engine costs (cluster/records.py): the append a
node makes for each pm, beside the INCR a pm made before, both against a real
redis-server on a unix socket; and what applying another node's pm costs a
node's store. A short measurement for docs/scaling.md, not a benchmark.

    PYTHONPATH=src nice -n 19 python scripts/record_cost.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import redis

from zmqchat.broker.cluster.records import RecordLog, RedisRecords
from zmqchat.broker.records import PmFields
from zmqchat.broker.store import Store
from zmqchat.testing.redis import RedisProcess

N = 5000
ROUNDS = 10


def per_call(*fns: Callable[[], object], n: int = N // ROUNDS) -> list[float]:
    """Microseconds a call of each of ``fns``, the median of ROUNDS rounds of ``n``
    calls, the functions' rounds taken in turn (the machine's load changes)."""
    rounds: list[list[float]] = [[] for _ in fns]
    for _ in range(ROUNDS):
        for fn, times in zip(fns, rounds, strict=True):
            started = time.perf_counter()
            for _ in range(n):
                fn()
            times.append((time.perf_counter() - started) / n * 1e6)
    return [statistics.median(times) for times in rounds]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisProcess(Path(tmp) / "redis").start()
        try:
            client = redis.Redis.from_url(server.url)
            fields = PmFields(time.time(), "alice", "bob", "x" * 40, None, 1, 2, 7)
            row = msgpack.packb(list(fields))
            log = RecordLog(client, "a")
            per_call(lambda: client.incr("zc:warm"), n=500)
            incr, append = per_call(
                lambda: client.incr("zc:pm:id"), lambda: log.append("pm", row, "zc:pm:id")
            )
            print(f"INCR zc:pm:id (a pm's Redis call before):  {incr:6.1f} us")
            print(f"record append (INCRs, XADD, PUBLISH):      {append:6.1f} us")
            print(f"  so a pm costs its node {append - incr:+.1f} us more in Redis's round trip")
            entries = log.read("0-0", count=N)
            other = RedisRecords(RecordLog(client, "b"))
            store = Store(str(Path(tmp) / "b.db"))
            pages = [entries[i : i + 100] for i in range(0, len(entries), 100)]
            started = time.perf_counter()
            for page in pages:
                other.apply(store, page)
            store.commit()
            applied = (time.perf_counter() - started) / len(entries) * 1e6
            started = time.perf_counter()
            after = "0-0"
            for _ in range(len(entries) // 1000):
                got = log.read(after, count=1000)
                after = got[-1].stream_id
            read = (time.perf_counter() - started) / len(entries) * 1e6
            print(f"another node reading it (pages of 1,000):  {read:6.1f} us")
            print(f"another node applying it (pages of 100):   {applied:6.1f} us")
            info = client.memory_usage("zc:records") or 0
            kept = client.xlen("zc:records")
            print(f"Redis memory a kept entry:                 {info / kept:6.0f} B")
            store.close()
            client.close()
        finally:
            server.close()


if __name__ == "__main__":
    main()
