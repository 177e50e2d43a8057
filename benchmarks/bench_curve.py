"""What CURVE costs: ingest (acks/s) and fan-out (deliveries/s), plaintext against
CURVE on the same machine, alternating runs, their ratio.

``python -m benchmarks.bench_curve [--duration S] [--subs N] [--rounds R]``

Standalone on purpose (not in ``python -m benchmarks``): its load generators speak
CURVE through bare DEALER and SUB sockets, without the shared harness.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq

from zmqchat.common.protocol import room_topic
from zmqchat.testing import BrokerProcess

CTX = multiprocessing.get_context("spawn")
TEXT = "x" * 100
WINDOW = 100


def publisher(endpoint: str, key: str | None, duration: float, out: Any, go: Any) -> None:
    """A bare DEALER (as the other benchmarks' load) sending ``chat`` with WINDOW
    requests in flight, so the broker, not a client library, sets the pace."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.sndhwm = sock.rcvhwm = 0
    if key is not None:
        sock.curve_serverkey = key.encode()
        sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()
    sock.connect(endpoint)
    sock.send(msgpack.packb({"type": "register", "user": "pub", "proto": 1, "rooms": ["general"]}))
    assert msgpack.unpackb(sock.recv())["type"] == "welcome"
    frame = msgpack.packb({"type": "chat", "room": "general", "text": TEXT})
    out.put("ready")
    go.wait()
    acks = inflight = 0
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        while inflight < WINDOW:
            sock.send(frame)
            inflight += 1
        sock.poll(1000)
        while True:
            try:
                sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            inflight -= 1
            acks += 1
    out.put(acks / duration)
    ctx.destroy(0)


def subscribers(
    pub_endpoint: str, key: str | None, count: int, duration: float, out: Any, go: Any
) -> None:
    ctx = zmq.Context()
    socks = []
    for _ in range(count):
        sock = ctx.socket(zmq.SUB)
        sock.rcvhwm = 0
        if key is not None:
            sock.curve_serverkey = key.encode()
            sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()
        sock.setsockopt(zmq.SUBSCRIBE, room_topic("general"))
        sock.connect(pub_endpoint)
        socks.append(sock)
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    time.sleep(1.0)  # every SUB finishes its handshake before the load starts
    out.put("ready")
    go.wait()
    got, end = 0, time.perf_counter() + duration
    while time.perf_counter() < end:
        for sock, _ in poller.poll(100):
            while True:
                try:
                    sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got += 1
    out.put(got / duration)
    ctx.destroy(0)


def one_run(encryption: str, duration: float, subs: int, directory: Path) -> tuple[float, float]:
    broker = BrokerProcess(
        directory / encryption,
        settings={"encryption": encryption, "rate_limit": 0},
        log_level="warning",
    )
    broker.start()
    try:
        key = broker.public_key
        pub_q, sub_q, go = CTX.Queue(), CTX.Queue(), CTX.Event()
        children = [
            CTX.Process(target=publisher, args=(broker.endpoint, key, duration, pub_q, go)),
            CTX.Process(
                target=subscribers,
                args=(broker.pub_endpoint, key, subs, duration, sub_q, go),
            ),
        ]
        for child in children:
            child.start()
        pub_q.get(timeout=30)
        sub_q.get(timeout=30)
        go.set()
        ingest, fanout = pub_q.get(timeout=duration + 60), sub_q.get(timeout=duration + 60)
        for child in children:
            child.join(10)
        return ingest, fanout
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--subs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"none": [], "curve": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for encryption in ("none", "curve"):
                directory = Path(tmp) / str(n)
                results[encryption].append(one_run(encryption, args.duration, args.subs, directory))
    for i, what in enumerate(("ingest acks/s", f"fan-out deliveries/s ({args.subs} SUBs)")):
        plain = statistics.median(r[i] for r in results["none"])
        curve = statistics.median(r[i] for r in results["curve"])
        print(f"{what}: plaintext {plain:,.0f}, CURVE {curve:,.0f}, ratio {curve / plain:.2f}")


if __name__ == "__main__":
    main()
