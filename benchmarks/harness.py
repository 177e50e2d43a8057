"""What every benchmark shares: child processes, a zmqchat broker, paired runs, stats.

The coordinating process holds no ZeroMQ socket: brokers, baselines and load
generators each run in their own process (``spawn``, so no libzmq state is ever
forked), and talk to the coordinator over multiprocessing queues.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import msgpack
import zmq

from zmqchat.testing import BrokerProcess

CTX = mp.get_context("spawn")
ROOM = "bench"
TOPIC = ROOM.encode() + b"\x00"
PAYLOAD_TEXT = "x" * 60  # a chat frame of ~100 bytes of msgpack on the wire
WINDOW = 200  # requests a sending session keeps unacknowledged, as product.py's senders


@dataclasses.dataclass
class Metric:
    """One figure measured for zmqchat and, where there is one, for its baseline."""

    name: str
    unit: str
    ours: list[float] = dataclasses.field(default_factory=list)
    base: list[float] = dataclasses.field(default_factory=list)
    baseline: str = ""
    # "higher" when more is better (throughput), "lower" for latencies and sizes.
    better: str = "higher"
    goal: str = ""  # human-readable goal, e.g. ">= 0.5x" or "<= 2 ms"
    goal_check: Callable[[Metric], bool] | None = None
    extra: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def ratios(self) -> list[float]:
        """Paired ratios ours/base, run by run (machines drift; pairs cancel it)."""
        return [o / b for o, b in zip(self.ours, self.base, strict=False) if b]

    def ok(self) -> bool | None:
        return None if self.goal_check is None else self.goal_check(self)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "unit": self.unit,
            "ours": self.ours,
            "base": self.base,
            "baseline": self.baseline,
            "goal": self.goal,
            "ok": self.ok(),
            **self.extra,
        }
        if self.ratios():
            out["ratio_median"] = statistics.median(self.ratios())
        return out


def at_least(ratio: float) -> Callable[[Metric], bool]:
    """Goal: the median of the paired ratios ours/base is at least ``ratio``."""
    return lambda m: bool(m.ratios()) and median(m.ratios()) >= ratio


def at_most(ratio: float) -> Callable[[Metric], bool]:
    """Goal for latencies: the median paired ratio ours/base is at most ``ratio``."""
    return lambda m: bool(m.ratios()) and median(m.ratios()) <= ratio


def below(limit: float) -> Callable[[Metric], bool]:
    """Goal on zmqchat's own figure: its median is at most ``limit``."""
    return lambda m: bool(m.ours) and median(m.ours) <= limit


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """``median [min..max]`` of a list of runs."""
    if not values:
        return "-"
    med = fmt.format(median(values))
    if len(values) == 1:
        return med
    return f"{med} [{fmt.format(min(values))}..{fmt.format(max(values))}]"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


# ----------------------------------------------------------------------- processes


class Children:
    """Child processes started for one measurement, all killed on exit."""

    def __init__(self) -> None:
        self.procs: list[BaseProcess] = []

    def start(self, target: Callable[..., None], *args: Any) -> BaseProcess:
        proc = CTX.Process(target=target, args=args, daemon=True)
        proc.start()
        self.procs.append(proc)
        return proc

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def get(queue: Any, timeout: float, what: str) -> Any:
    """Next item from a child's queue, or a clear failure naming what was awaited."""
    try:
        return queue.get(timeout=timeout)
    except Exception as exc:
        raise RuntimeError(f"benchmark: no {what} within {timeout:g}s") from exc


def warm_then_go(
    pub_q: Any, sub_q: Any, publishers: int, sub_processes: int, warm: Any, go: Any
) -> float:
    """Start a room measurement: once every publisher is ready, warm up until every
    subscriber process has seen warm-up events, then go; returns when it went."""
    for _ in range(publishers):
        get(pub_q, 30, "a publisher ready")
    warm.set()
    for _ in range(sub_processes):
        get(sub_q, 30, "subscribers ready (warm-up events on every socket)")
    warm.clear()
    t_go = now()
    go.set()
    return t_go


@contextlib.contextmanager
def zmqchat_broker(
    db: str | None = None, log_level: str | None = None, **settings: Any
) -> Iterator[BrokerProcess]:
    """A real ``zmqchat broker`` on free loopback ports, as shipped (its default log
    level and settings) but for its rate limit: a load generator sends thousands of
    chats a second from one session, and the default limit (200/s, bursts of 1,000)
    would turn most of them into ``rate_limited`` errors."""
    with tempfile.TemporaryDirectory(prefix="zmqchat-bench-") as tmp:
        broker = BrokerProcess(tmp, settings={"rate_limit": 0, **settings}, log_level=log_level)
        if db is not None:
            broker.db = db
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def paired(runs: int, measure_ours: Callable[[], None], measure_base: Callable[[], None]) -> None:
    """Run both sides ``runs`` times, alternating which goes first, so slow drift of
    the machine (thermal, other load) hits both sides alike."""
    for i in range(runs):
        first, second = (measure_ours, measure_base) if i % 2 == 0 else (measure_base, measure_ours)
        first()
        second()


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} cores; Linux {platform.release()}; "
        f"Python {platform.python_version()}; pyzmq {zmq.__version__} "
        f"(libzmq {zmq.zmq_version()}); msgpack {'.'.join(map(str, msgpack.version))}"
    )


def now() -> float:
    """Monotonic clock; CLOCK_MONOTONIC is system-wide, so children's stamps compare."""
    return time.monotonic()
