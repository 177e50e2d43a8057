"""What a password costs the broker, and what a password guesser gets from it:
``python -m benchmarks.bench_logins`` (about 20 s; not part of ``make bench``).

1. One argon2id check at the default (OWASP) parameters, in this process.
2. A guesser sending wrong passwords for one account over 50 connections to a
   broker with the default limits: how many attempts are answered per second, and
   how many of them were checked at all (the rest are ``rate_limited``).
3. The same with the limits off (``login_attempts_per_* = 0``), as a guesser with
   addresses and accounts enough to stay under them would see it: the checks per
   second the broker's hashing thread does; and meanwhile, another client's ping
   round trip (the loop is not the one hashing).
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgpack
import zmq

from zmqchat.broker import accounts
from zmqchat.broker.accounts import Hasher
from zmqchat.common.config import BrokerConfig
from zmqchat.testing import BrokerProcess

PASSWORD = "correct horse battery"


def verify_cost(rounds: int = 30) -> float:
    """Median milliseconds of one check at the default parameters."""
    hasher = Hasher.of(BrokerConfig())
    hashed = hasher.hash(PASSWORD)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        hasher.verify(hashed, "wrong horse battery")
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def guess(endpoint: str, attempts: int, connections: int = 50) -> tuple[float, Counter[str]]:
    """Send ``attempts`` wrong passwords for alice over ``connections`` DEALERs, each
    with one in flight (a connection whose login is being checked gets
    ``already_registered`` for another); returns the seconds and the reply codes."""
    ctx = zmq.Context.instance()
    socks = [ctx.socket(zmq.DEALER) for _ in range(connections)]
    poller = zmq.Poller()
    for sock in socks:
        sock.linger = 0
        sock.connect(endpoint)
        poller.register(sock, zmq.POLLIN)
    codes: Counter[str] = Counter()
    sent = 0

    def send(sock: zmq.Socket[bytes]) -> None:
        nonlocal sent
        msg = {"type": "register", "user": "alice", "proto": 1, "password": f"g{sent}"}
        sock.send(msgpack.packb({**msg, "ref": sent}))
        sent += 1

    start = time.perf_counter()
    try:
        for sock in socks[:attempts]:
            send(sock)
        while sum(codes.values()) < attempts:
            ready = dict(poller.poll(30_000))
            if not ready:
                raise RuntimeError("the broker stopped answering")
            for sock in ready:
                codes[msgpack.unpackb(sock.recv())["code"]] += 1
                if sent < attempts:
                    send(sock)
    finally:
        for sock in socks:
            sock.close()
    return time.perf_counter() - start, codes


def pinger(endpoint: str, stop: threading.Event, rtts: list[float]) -> None:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    sock.send(msgpack.packb({"type": "register", "user": "watcher", "proto": 1}))
    sock.recv()
    while not stop.is_set():
        t = time.perf_counter()
        sock.send(msgpack.packb({"type": "ping"}))
        sock.recv()
        rtts.append(time.perf_counter() - t)
        time.sleep(0.005)
    sock.close()


def broker_with_alice(directory: Path, **settings: Any) -> BrokerProcess:
    broker = BrokerProcess(directory, settings={"auth": "accounts", **settings}, log_level="error")
    broker.start()
    with sqlite3.connect(broker.db) as db:
        accounts.insert(db, "alice", Hasher.of(BrokerConfig()).hash(PASSWORD), time.time())
    return broker


def main() -> None:
    print(f"argon2id check at m=19456,t=2,p=1: {verify_cost():.1f} ms (median of 30)")
    with tempfile.TemporaryDirectory() as tmp:
        limited = broker_with_alice(Path(tmp) / "limited")
        try:
            seconds, codes = guess(limited.endpoint, 20_000)
        finally:
            limited.stop()
        print(
            f"limits on: {sum(codes.values()) / seconds:,.0f} attempts answered/s, "
            f"{dict(codes)}: {codes['auth_failed']} password(s) checked in {seconds:.1f} s"
        )
        open_ = broker_with_alice(
            Path(tmp) / "unlimited", login_attempts_per_account=0, login_attempts_per_address=0
        )
        rtts: list[float] = []
        stop = threading.Event()
        watcher = threading.Thread(target=pinger, args=(open_.endpoint, stop, rtts))
        try:
            watcher.start()
            seconds, codes = guess(open_.endpoint, 200)
        finally:
            stop.set()
            watcher.join()
            open_.stop()
        rtts.sort()
        print(
            f"limits off: {codes['auth_failed'] / seconds:.1f} passwords checked/s "
            f"({dict(codes)} in {seconds:.1f} s); another client's ping meanwhile: "
            f"p50 {rtts[len(rtts) // 2] * 1000:.2f} ms, "
            f"p99 {rtts[int(len(rtts) * 0.99)] * 1000:.2f} ms, "
            f"max {rtts[-1] * 1000:.2f} ms ({len(rtts)} pings)"
        )


if __name__ == "__main__":
    main()
