"""``history`` in a room holding 1,000,000 messages: the latest 50, and 50 after a seq
deep in the past. The baseline answers the same requests with the bare SQL query."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.baselines import history_server
from benchmarks.harness import (
    CTX,
    PAYLOAD_TEXT,
    Children,
    Metric,
    below,
    get,
    paired,
    percentile,
    zmqchat_broker,
)
from benchmarks.load import history_client
from zmqchat.broker.schema import SCHEMA_VERSION
from zmqchat.broker.store import Store

ROOM = "big"
CACHE = Path(__file__).parent / ".cache"
DEEP_AFTER = 1000  # "after" a seq near the start of the room


def big_store(messages: int) -> Path:
    """A store whose room ``big`` holds ``messages`` chats, written through the
    broker's own Store (built once, then reused from benchmarks/.cache)."""
    path = CACHE / f"history-{messages}-v{SCHEMA_VERSION}.db"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    store = Store(str(tmp))
    for seq in range(1, messages + 1):
        store.add_chat(ROOM, seq, 1.7e9 + seq / 1000, f"user{seq % 50}", PAYLOAD_TEXT, None,
                       1, None)  # fmt: skip
        if seq % 10_000 == 0:
            store.commit()
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    tmp.replace(path)
    return path


def history_run(system: str, source: Path, samples: int) -> dict[str, list[float]]:
    out: Any = CTX.Queue()
    with (
        tempfile.TemporaryDirectory(prefix="zmqchat-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        db = str(Path(tmp) / "history.db")
        shutil.copyfile(source, db)  # the broker writes (sessions, presence): a copy
        children = stack.enter_context(Children())
        if system == "zmqchat":
            endpoint = stack.enter_context(zmqchat_broker(db=db)).endpoint
        else:
            ports: Any = CTX.Queue()
            children.start(history_server, ports, db, ROOM)
            port, _ = get(ports, 20, "a port from the history server")
            endpoint = f"tcp://127.0.0.1:{port}"
        children.start(history_client, endpoint, ROOM, DEEP_AFTER, samples, out)
        _, results = get(out, 120, "history timings")
    return dict(results)


def run(quick: bool) -> list[Metric]:
    messages = 1_000_000
    source = big_store(messages)
    runs = 1 if quick else 3
    samples = 300 if quick else 2000
    latest = Metric("history: latest 50 of 1M, p50", "ms", baseline="bare SQL over ROUTER",
                    better="lower", goal="<= 2 ms", goal_check=below(2.0))  # fmt: skip
    deep = Metric(f"history: 50 after seq {DEEP_AFTER} of 1M, p50", "ms",
                  baseline="bare SQL over ROUTER", better="lower", goal="<= 2 ms",
                  goal_check=below(2.0))  # fmt: skip
    latest99 = Metric("history: latest 50 of 1M, p99", "ms", baseline="bare SQL over ROUTER",
                      better="lower")  # fmt: skip

    def measure(system: str) -> None:
        result = history_run(system, source, samples)
        side = "ours" if system == "zmqchat" else "base"
        getattr(latest, side).append(percentile(result["latest"], 0.5) * 1e3)
        getattr(latest99, side).append(percentile(result["latest"], 0.99) * 1e3)
        getattr(deep, side).append(percentile(result["deep"], 0.5) * 1e3)

    paired(runs, lambda: measure("zmqchat"), lambda: measure("sql"))
    return [latest, latest99, deep]
