"""Private messages: ping-pong round trips and windowed throughput, zmqchat against a
minimal DEALER -> ROUTER -> DEALER relay."""

from __future__ import annotations

import contextlib
from typing import Any

from benchmarks.baselines import relay
from benchmarks.harness import (
    CTX,
    Children,
    Metric,
    at_most,
    get,
    paired,
    percentile,
    zmqchat_broker,
)
from benchmarks.load import pm_pair


def pm_run(system: str, samples: int, duration: float) -> tuple[list[float], float]:
    """``system``: zmqchat, relay (acks each pm, as zmqchat does) or relay-noack."""
    """Sorted round-trip times (s) and pm deliveries/s with a window of 100."""
    out: Any = CTX.Queue()
    with contextlib.ExitStack() as stack:
        children = stack.enter_context(Children())
        if system == "zmqchat":
            endpoint = stack.enter_context(zmqchat_broker()).endpoint
        else:
            ports: Any = CTX.Queue()
            children.start(relay, ports, system == "relay")
            port, _ = get(ports, 20, "a port from the relay")
            endpoint = f"tcp://127.0.0.1:{port}"
        children.start(pm_pair, endpoint, samples, 100, duration, out)
        _, rtts, rate = get(out, 120 + duration, "pm results")
    return rtts, rate


def run(quick: bool) -> list[Metric]:
    runs = 1 if quick else 3
    samples = 2000 if quick else 10_000
    duration = 1.0 if quick else 3.0
    p50 = Metric("pm round trip p50", "us", baseline="minimal relay", better="lower",
                 goal="<= 1.5x", goal_check=at_most(1.5))  # fmt: skip
    p99 = Metric("pm round trip p99", "us", baseline="minimal relay", better="lower")
    rate = Metric("pm windowed throughput", "msg/s", baseline="minimal relay",
                  )  # fmt: skip

    def measure(system: str) -> None:
        rtts, per_s = pm_run(system, samples, duration)
        side = "ours" if system == "zmqchat" else "base"
        getattr(p50, side).append(percentile(rtts, 0.5) * 1e6)
        getattr(p99, side).append(percentile(rtts, 0.99) * 1e6)
        getattr(rate, side).append(per_s)

    paired(runs, lambda: measure("zmqchat"), lambda: measure("relay"))
    return [p50, p99, rate]
