"""Room traffic: ingest (acks/s) and fan-out (deliveries/s), loaded as product.py
(../shared/bench) loads them: 1 or 4 publishing sessions keep 200 chats each
unacknowledged; 1, 10 or 100 SUBs count the room's events, each also holding a
session in the room as a client does.

Three systems carry the same frames from the same load generators:
* ``zmqchat``: the real broker (validation, SQLite, acks, sequence numbers);
* ``minimal``: the least Python broker with acks (baselines.minimal_broker);
* ``raw``: no broker at all, a PUB socket fed directly (the floor for fan-out).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from benchmarks.baselines import minimal_broker
from benchmarks.harness import (
    CTX,
    WINDOW,
    Children,
    Metric,
    at_least,
    get,
    median,
    warm_then_go,
    zmqchat_broker,
)
from benchmarks.load import chat_publisher, raw_publisher, subscribers

SYSTEMS = ("zmqchat", "minimal", "raw")


def sub_processes(subscribers: int) -> int:
    """Processes the SUBs are spread over, as product.py spreads them: 100 SUBs in 2
    processes rather than 4 read fewer deliveries from the raw PUB, and put the
    fan-out ratio 0.2 lower (docs/performance.md, "Which figure is which")."""
    return 1 if subscribers == 1 else 2 if subscribers <= 10 else 4


@dataclasses.dataclass(frozen=True)
class Shape:
    """The load of one room measurement."""

    publishers: int = 1  # sessions sending chats
    subscribers: int = 1  # SUB sockets counting the room's events
    window: int = WINDOW  # chats each publisher keeps unacknowledged
    sessions: bool = True  # every SUB also holds a session in the room, as a client does


def _serve(system: str, stack: contextlib.ExitStack, children: Children) -> tuple[str, int]:
    """Start zmqchat or the minimal broker: its request endpoint and PUB port."""
    if system == "zmqchat":
        broker = stack.enter_context(zmqchat_broker())
        return broker.endpoint, broker.pub_port
    ports: Any = CTX.Queue()
    children.start(minimal_broker, ports)
    port, pub_port = get(ports, 20, "ports from the minimal broker")
    return f"tcp://127.0.0.1:{port}", pub_port


def room_run(system: str, shape: Shape, duration: float) -> dict[str, float]:
    """One measurement: publishers send for ``duration`` s, the SUBs count."""
    pub_q: Any = CTX.Queue()
    sub_q: Any = CTX.Queue()
    warm, go, stop = CTX.Event(), CTX.Event(), CTX.Event()
    publishers, n_subs = shape.publishers, shape.subscribers
    with contextlib.ExitStack() as stack:
        children = stack.enter_context(Children())
        if system == "raw":
            ports: Any = CTX.Queue()
            children.start(raw_publisher, ports, duration, pub_q, warm, go)
            _, pub_port = get(ports, 20, "a port from the raw publisher")
            endpoint, publishers = "", 1  # no broker: no sessions either
        else:
            endpoint, pub_port = _serve(system, stack, children)
            for i in range(publishers):
                children.start(
                    chat_publisher, endpoint, f"pub{i}", shape.window, duration, pub_q, warm, go
                )
        procs = sub_processes(n_subs)
        shares = [n_subs // procs + (i < n_subs % procs) for i in range(procs)]
        for k, share in enumerate(shares):
            members = (endpoint, f"sub{k}-") if shape.sessions and endpoint else None
            children.start(subscribers, f"tcp://127.0.0.1:{pub_port}", share, sub_q, stop, members)
        t_go = warm_then_go(pub_q, sub_q, publishers, len(shares), warm, go)
        acks = 0
        t_end = t_go
        for _ in range(publishers):
            _, n_acks, _, _, ended, error = get(pub_q, duration + 60, "a publisher done")
            if error:
                raise RuntimeError(f"{system}: {error}")
            acks += n_acks
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


# (publishers, subscribers) as product.py loads them: the ingest goal holds for each
# case, so the lowest ratio is the one checked. Fan-out is read off the one-publisher
# cases, where the raw PUB also runs; 100 subscribers is its goal.
INGEST_CASES = ((1, 1), (4, 1), (1, 10), (4, 10))
FANOUT_SUBSCRIBERS = (1, 10, 100)
Results = dict[str, list[dict[str, float]]]  # system -> one result per run


def _measure(runs: int, duration: float) -> dict[tuple[int, int], Results]:
    """Every case, each system once per run, the order of the systems flipping each run."""
    cases: dict[tuple[int, int], tuple[str, ...]] = dict.fromkeys(
        INGEST_CASES, ("zmqchat", "minimal")
    )
    cases.update({(1, n): SYSTEMS for n in FANOUT_SUBSCRIBERS})
    results: dict[tuple[int, int], Results] = {c: {s: [] for s in cases[c]} for c in cases}
    for (publishers, subs), systems in cases.items():
        shape = Shape(publishers=publishers, subscribers=subs, window=WINDOW)
        for i in range(runs):
            for system in systems if i % 2 == 0 else reversed(systems):
                results[publishers, subs][system].append(room_run(system, shape, duration))
    return results


def _label(publishers: int, subs: int) -> str:
    return f"{publishers} publisher{'s' * (publishers > 1)}, {subs} subscriber{'s' * (subs > 1)}"


def _ingest(case: tuple[int, int], rates: Results, name: str = "") -> Metric:
    return Metric(
        name=name or f"ingest, {_label(*case)}: acks/s",
        unit="msg/s",
        ours=[r["sent_per_s"] for r in rates["zmqchat"]],
        base=[r["sent_per_s"] for r in rates["minimal"]],
        baseline="minimal Python broker with acks",
        extra={
            "zmqchat_deliveries_per_s": [r["deliveries_per_s"] for r in rates["zmqchat"]],
            "minimal_deliveries_per_s": [r["deliveries_per_s"] for r in rates["minimal"]],
        },
    )


def _fanout(subs: int, rates: Results) -> Metric:
    goal = subs == 100
    return Metric(
        name=f"fan-out, {_label(1, subs)}: deliveries/s",
        unit="deliveries/s",
        ours=[r["deliveries_per_s"] for r in rates["zmqchat"]],
        base=[r["deliveries_per_s"] for r in rates["raw"]],
        baseline="raw PUB->SUB",
        goal=">= 0.75x" if goal else "",
        goal_check=at_least(0.75) if goal else None,
        extra={
            "subscribers": [subs],
            "minimal": [r["deliveries_per_s"] for r in rates["minimal"]],
            "zmqchat_delivered_share": [r["delivered_share"] for r in rates["zmqchat"]],
        },
    )


def run(quick: bool) -> list[Metric]:
    runs = 1 if quick else 3
    duration = 1.0 if quick else 3.0
    results = _measure(runs, duration)
    ingest = {case: _ingest(case, results[case]) for case in INGEST_CASES}
    lowest = min(INGEST_CASES, key=lambda case: median(ingest[case].ratios()))
    worst = _ingest(
        lowest, results[lowest], f"ingest, lowest of the 4 cases ({_label(*lowest)}): acks/s"
    )
    worst.goal, worst.goal_check = ">= 0.5x", at_least(0.5)
    fanout = [_fanout(n, results[1, n]) for n in FANOUT_SUBSCRIBERS]
    return [*ingest.values(), worst, *fanout]
