"""Room traffic: ingest (acks/s) and fan-out (deliveries/s) against subscriber count.

Three systems carry the same frames from the same load generators:
* ``zmqchat``: the real broker (validation, SQLite, acks, sequence numbers);
* ``minimal``: the least Python broker with acks (baselines.minimal_broker);
* ``raw``: no broker at all, a PUB socket fed directly (the floor for fan-out).
"""

from __future__ import annotations

import contextlib
from typing import Any

from benchmarks.baselines import minimal_broker
from benchmarks.harness import CTX, Children, Metric, at_least, get, now, zmqchat_broker
from benchmarks.load import chat_publisher, raw_publisher, subscribers

SYSTEMS = ("zmqchat", "minimal", "raw")
SUB_PROCESSES = 2  # the machine has 2 cores; more readers would only share them


def room_run(
    system: str, n_subs: int, duration: float, publishers: int = 1, window: int = 100
) -> dict[str, float]:
    """One measurement: publishers send for ``duration`` s, ``n_subs`` SUBs count."""
    pub_q: Any = CTX.Queue()
    sub_q: Any = CTX.Queue()
    warm, go, stop = CTX.Event(), CTX.Event(), CTX.Event()
    with contextlib.ExitStack() as stack:
        children = stack.enter_context(Children())
        endpoint = ""
        if system == "zmqchat":
            broker = stack.enter_context(zmqchat_broker())
            endpoint, pub_port = broker.endpoint, broker.pub_port
        elif system == "minimal":
            ports: Any = CTX.Queue()
            children.start(minimal_broker, ports)
            port, pub_port = get(ports, 20, "ports from the minimal broker")
            endpoint = f"tcp://127.0.0.1:{port}"
        if system == "raw":
            ports = CTX.Queue()
            children.start(raw_publisher, ports, duration, pub_q, warm, go)
            _, pub_port = get(ports, 20, "a port from the raw publisher")
            publishers = 1
        else:
            for i in range(publishers):
                children.start(
                    chat_publisher, endpoint, f"pub{i}", window, duration, pub_q, warm, go
                )
        shares = [
            n_subs // SUB_PROCESSES + (i < n_subs % SUB_PROCESSES) for i in range(SUB_PROCESSES)
        ]
        shares = [s for s in shares if s]
        for share in shares:
            children.start(subscribers, f"tcp://127.0.0.1:{pub_port}", share, sub_q, stop)
        for _ in range(publishers):
            get(pub_q, 30, "a publisher ready")
        warm.set()
        for _ in shares:
            get(sub_q, 30, "subscribers ready (warm-up events on every socket)")
        warm.clear()
        t_go = now()
        go.set()
        acks = errors = 0
        t_end = t_go
        for _ in range(publishers):
            _, n_acks, n_errors, _, ended, error = get(pub_q, duration + 60, "a publisher done")
            if error:
                raise RuntimeError(f"{system}: {error}")
            acks += n_acks
            errors += n_errors
            t_end = max(t_end, ended)
        stop.set()
        received = 0
        last = t_go
        for _ in shares:
            _, n, t_last = get(sub_q, 30, "subscriber counts")
            received += n
            last = max(last, t_last)
    return {
        "sent_per_s": acks / (t_end - t_go),
        "deliveries_per_s": received / (last - t_go) if received else 0.0,
        "delivered_share": received / (acks * n_subs) if acks else 0.0,
    }


INGEST_WINDOW = 100  # a bot pipelining its messages, waiting for acks as it goes
# Fan-out measures delivery capacity, so the publisher keeps the broker saturated, as
# the raw PUB baseline is: a window of 100 left it idle 20-40% of the time at 100
# subscribers (each event costs ~10 us more to hand to 100 pipes).
FANOUT_WINDOW = 500


def _sweep(
    systems: tuple[str, ...], sub_counts: tuple[int, ...], runs: int, duration: float, window: int
) -> dict[int, dict[str, list[dict[str, float]]]]:
    """[subscribers][system] -> one result per run, systems interleaved."""
    rates: dict[int, dict[str, list[dict[str, float]]]] = {
        n: {s: [] for s in systems} for n in sub_counts
    }
    for n in sub_counts:
        for i in range(runs):
            order = systems if i % 2 == 0 else tuple(reversed(systems))
            for system in order:
                rates[n][system].append(room_run(system, n, duration, window=window))
    return rates


def run(quick: bool) -> list[Metric]:
    runs = 1 if quick else 3
    duration = 1.0 if quick else 3.0
    ingest = _sweep(("zmqchat", "minimal"), (1, 10), runs, duration, INGEST_WINDOW)
    fanout = _sweep(SYSTEMS, (1, 10, 100), runs, duration, FANOUT_WINDOW)
    metrics = []
    for n, rates in ingest.items():
        plural = "s" if n > 1 else ""
        metrics.append(
            Metric(
                name=f"ingest, {n} subscriber{plural}, window {INGEST_WINDOW}: acks/s",
                unit="msg/s",
                ours=[r["sent_per_s"] for r in rates["zmqchat"]],
                base=[r["sent_per_s"] for r in rates["minimal"]],
                baseline="minimal Python broker with acks",
                goal=">= 0.5x",
                goal_check=at_least(0.5),
                extra={
                    "zmqchat_deliveries_per_s": [r["deliveries_per_s"] for r in rates["zmqchat"]],
                    "minimal_deliveries_per_s": [r["deliveries_per_s"] for r in rates["minimal"]],
                },
            )
        )
    for n, rates in fanout.items():
        plural = "s" if n > 1 else ""
        metrics.append(
            Metric(
                name=f"fan-out, {n} subscriber{plural}: deliveries/s",
                unit="deliveries/s",
                ours=[r["deliveries_per_s"] for r in rates["zmqchat"]],
                base=[r["deliveries_per_s"] for r in rates["raw"]],
                baseline="raw PUB->SUB",
                goal=">= 0.75x" if n == 100 else "",
                goal_check=at_least(0.75) if n == 100 else None,
                extra={
                    "subscribers": [n],
                    "minimal": [r["deliveries_per_s"] for r in rates["minimal"]],
                    "zmqchat_delivered_share": [r["delivered_share"] for r in rates["zmqchat"]],
                },
            )
        )
    return metrics
