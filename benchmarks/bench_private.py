"""Private messages: the round trip of a ``pm`` answered by a ``pm``, zmqchat against
the bare relay product.py measures it against, and windowed throughput against a
relay that acks.

The round trip has two sessions in two processes (load.pm_pinger and pm_ponger): pa
sends pb a ``pm``, pb answers with a ``pm``, one in flight. Through zmqchat both
decode what they get, as clients do; through the bare relay (baselines.pair_relay)
nothing is decoded anywhere, as in product.py's relay.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from benchmarks.baselines import pair_relay, relay
from benchmarks.harness import (
    CTX,
    WINDOW,
    Children,
    Metric,
    at_most,
    get,
    paired,
    percentile,
    zmqchat_broker,
)
from benchmarks.load import library_pinger, library_ponger, pm_pinger, pm_ponger, pm_stream


@contextlib.contextmanager
def _endpoint(system: str) -> Iterator[str]:
    """zmqchat, ``bare`` (pair_relay) or ``acking`` (baselines.relay): its endpoint."""
    if system == "zmqchat":
        with zmqchat_broker() as broker:
            yield broker.endpoint
        return
    with Children() as children:
        ports: Any = CTX.Queue()
        children.start(pair_relay if system == "bare" else relay, ports)
        port, _ = get(ports, 20, f"a port from the {system} relay")
        yield f"tcp://127.0.0.1:{port}"


def round_trips(system: str, samples: int) -> list[float]:
    """Sorted round-trip times (s) through ``system`` (zmqchat or bare)."""
    out: Any = CTX.Queue()
    stop = CTX.Event()
    raw = system == "bare"
    with _endpoint(system) as endpoint, Children() as children:
        children.start(pm_ponger, endpoint, raw, out, stop)
        get(out, 30, "pb registered")
        children.start(pm_pinger, endpoint, samples, raw, out)
        _, rtts = get(out, 120, "round trips")
        stop.set()
    return list(rtts)


def library_round_trips(samples: int) -> list[float]:
    """Sorted round-trip times (s) of a conversation between two library clients
    through zmqchat: each ``pm`` call returns once acknowledged, as a bot sees it."""
    out: Any = CTX.Queue()
    stop = CTX.Event()
    with _endpoint("zmqchat") as endpoint, Children() as children:
        children.start(library_ponger, endpoint, out, stop)
        get(out, 30, "lb registered")
        children.start(library_pinger, endpoint, samples, out)
        _, rtts = get(out, 120, "library round trips")
        stop.set()
    return list(rtts)


def throughput(system: str, duration: float) -> float:
    """pms delivered per second through ``system`` (zmqchat or acking)."""
    out: Any = CTX.Queue()
    with _endpoint(system) as endpoint, Children() as children:
        children.start(pm_stream, endpoint, WINDOW, duration, out)
        _, rate = get(out, 60 + duration, "pm throughput")
    return float(rate)


def run(quick: bool) -> list[Metric]:
    runs = 1 if quick else 3
    samples = 2000 if quick else 10_000
    duration = 1.0 if quick else 3.0
    bare = "bare DEALER->ROUTER->DEALER relay"
    p50 = Metric("pm round trip p50", "us", baseline=bare, better="lower",
                 goal="<= 1.5x", goal_check=at_most(1.5))  # fmt: skip
    p99 = Metric("pm round trip p99", "us", baseline=bare, better="lower")
    rate = Metric(f"pm throughput, window {WINDOW}", "msg/s", baseline="minimal relay with acks")
    # What a bot written with zmqchat.Client gets: each pm() waits for its ack. No
    # goal: the clients' own threads are in it, which the bare relay has none of.
    library = Metric("pm round trip p50, Client.pm both ways", "us", baseline=bare,
                     better="lower")  # fmt: skip

    def rtt(system: str) -> None:
        times = round_trips(system, samples)
        side = "ours" if system == "zmqchat" else "base"
        getattr(p50, side).append(percentile(times, 0.5) * 1e6)
        getattr(p99, side).append(percentile(times, 0.99) * 1e6)

    def stream(system: str) -> None:
        getattr(rate, "ours" if system == "zmqchat" else "base").append(
            throughput(system, duration)
        )

    def conversation(ours: bool) -> None:
        n = samples // 4
        times = library_round_trips(n) if ours else round_trips("bare", n)
        (library.ours if ours else library.base).append(percentile(times, 0.5) * 1e6)

    paired(runs, lambda: rtt("zmqchat"), lambda: rtt("bare"))
    paired(runs, lambda: conversation(True), lambda: conversation(False))
    paired(runs, lambda: stream("zmqchat"), lambda: stream("acking"))
    return [p50, p99, library, rate]
