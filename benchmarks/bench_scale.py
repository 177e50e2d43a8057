"""Many clients: how long 2,000 and 8,000 clients take to register, what each idle
session costs the broker in memory, and that every one receives a room broadcast."""

from __future__ import annotations

import contextlib
from typing import Any

from benchmarks.baselines import minimal_broker
from benchmarks.harness import (
    CTX,
    Children,
    Metric,
    below,
    get,
    now,
    paired,
    rss_kib,
    zmqchat_broker,
)
from benchmarks.load_crowd import broadcaster, crowd

PER_PROCESS = 2000  # clients per load process (two sockets each)


def scale_run(system: str, clients: int) -> dict[str, float]:
    registered_q: Any = CTX.Queue()
    subscribed_q: Any = CTX.Queue()
    received_q: Any = CTX.Queue()
    out = (registered_q, subscribed_q, received_q)
    go, subscribe, stop = CTX.Event(), CTX.Event(), CTX.Event()
    with contextlib.ExitStack() as stack:
        children = stack.enter_context(Children())
        if system == "zmqchat":
            broker = stack.enter_context(zmqchat_broker())
            endpoint, pid = broker.endpoint, broker.pid
        else:
            ports: Any = CTX.Queue()
            proc = children.start(minimal_broker, ports)
            port, _ = get(ports, 20, "ports from the minimal broker")
            endpoint, pid = f"tcp://127.0.0.1:{port}", proc.pid
        assert pid is not None
        workers = max(2, -(-clients // PER_PROCESS))
        shares = [clients // workers + (i < clients % workers) for i in range(workers)]
        first = 0
        for share in shares:
            children.start(crowd, endpoint, "127.0.0.1", first, share, out, (go, subscribe, stop))
            first += share
        rss_before = rss_kib(pid)
        t_go = now()
        go.set()
        registered = 0.0
        failures: list[str] = []
        for _ in shares:
            _, t, some, count = get(registered_q, 120, "a crowd registered")
            registered = max(registered, t - t_go)
            if count:
                failures.append(f"{count} failed, e.g. {some}")
        if failures:
            raise RuntimeError(f"{system}: register failed: {failures}")
        subscribe.set()
        for _ in shares:
            get(subscribed_q, 60, "a crowd subscribed")
        ann_q: Any = CTX.Queue()
        children.start(broadcaster, endpoint, ann_q, stop)
        get(ann_q, 30, "the broadcaster ready")
        # Each crowd reports once when all its clients have the broadcast, and once
        # more (with its count) when stopped.
        deadline = now() + 60
        complete = 0
        while complete < len(shares) and now() < deadline:
            with contextlib.suppress(RuntimeError):
                get(received_q, max(0.1, deadline - now()), "broadcasts received")
                complete += 1
        # Every client holds both connections now: the broker's footprint is whole.
        rss_after = rss_kib(pid)
        stop.set()
        received = sum(get(received_q, 30, "a crowd's final count")[1] for _ in shares)
    return {
        "register_s": registered,
        "rss_per_session_kib": (rss_after - rss_before) / clients,
        "received_share": received / clients,
    }


def run(quick: bool) -> list[Metric]:
    runs = 1 if quick else 3
    sizes = (2000,) if quick else (2000, 8000)
    metrics = []
    for clients in sizes:
        reg = Metric(f"register {clients:,} clients", "s", baseline="minimal Python broker",
                     better="lower")  # fmt: skip
        if clients == 2000:
            reg.goal, reg.goal_check = "<= 3 s", below(3.0)
        rss = Metric(f"broker RSS per session, {clients:,} clients", "KiB",
                     baseline="minimal Python broker", better="lower")  # fmt: skip
        if clients == max(sizes):
            rss.goal, rss.goal_check = "<= 64 KiB", below(64.0)
        got = Metric(f"clients that received a broadcast, {clients:,}", "share",
                     baseline="minimal Python broker", goal="all",
                     goal_check=lambda m: bool(m.ours) and min(m.ours) == 1.0)  # fmt: skip

        def measure(system: str, clients: int = clients, reg: Metric = reg,
                    rss: Metric = rss, got: Metric = got) -> None:  # fmt: skip
            result = scale_run(system, clients)
            side = "ours" if system == "zmqchat" else "base"
            getattr(reg, side).append(result["register_s"])
            getattr(rss, side).append(result["rss_per_session_kib"])
            getattr(got, side).append(result["received_share"])

        paired(runs, lambda m=measure: m("zmqchat"), lambda m=measure: m("minimal"))
        metrics += [reg, rss, got]
    return metrics
