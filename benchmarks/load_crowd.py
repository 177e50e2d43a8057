"""Load for the scale benchmark: crowds of clients that register at once, and a
broadcaster whose room event every one of them must receive."""

from __future__ import annotations

import contextlib
from typing import Any

import msgpack
import zmq

from benchmarks.harness import ROOM, TOPIC, now
from benchmarks.load import dealer, new_context, register
from zmqchat.common.codec import encode
from zmqchat.common.requests import Chat, Ping, Register


def crowd(
    endpoint: str,
    host: str,
    first: int,
    count: int,
    out: tuple[Any, Any, Any],
    events: tuple[Any, Any, Any],
) -> None:
    """``count`` clients (a DEALER and a SUB each), as many as one process can hold.

    On ``go`` they connect and register at once; on ``subscribe`` (once every crowd
    has registered) each subscribes to the bench room; then they ping every few
    seconds like real clients and note when a room event reaches them, until
    ``stop``. Registering all before anyone subscribes keeps the measure to the
    sessions: otherwise each join's presence event fans out to the thousands
    already subscribed, which is a measure of presence storms, not of capacity.

    Reports on its three queues, one per phase: ("registered", t, failures),
    ("subscribed",), then ("received", how many clients got a broadcast, t) when
    all have, and again when stopped.
    """
    registered_q, subscribed_q, received_q = out
    go, subscribe, stop = events
    ctx = new_context(2 * count)
    go.wait()
    dealers = [dealer(ctx, endpoint) for _ in range(count)]
    for i, sock in enumerate(dealers):
        sock.send(encode(Register(user=f"c{first + i}", rooms=(ROOM,), client="bench")))
    poller = zmq.Poller()
    for sock in dealers:
        poller.register(sock, zmq.POLLIN)
    pub_port, failures = _welcomes(poller, set(dealers))
    registered_q.put(("registered", now(), failures[:3], len(failures)))
    while not subscribe.wait(1.0):  # keep the sessions alive meanwhile
        for sock in dealers:
            sock.send(encode(Ping()))
        for sock, _ in poller.poll(0):
            with contextlib.suppress(zmq.Again):
                while True:
                    sock.recv(zmq.NOBLOCK)
    subs = {}
    for _ in range(count):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
        sub.connect(f"tcp://{host}:{pub_port}")
        poller.register(sub, zmq.POLLIN)
        subs[sub] = False
    subscribed_q.put(("subscribed",))
    got = _listen(poller, dealers, subs, received_q, stop)
    received_q.put(("received", got, now()))
    ctx.destroy(0)


def _welcomes(poller: zmq.Poller, pending: set[zmq.Socket[Any]]) -> tuple[int, list[str]]:
    """Wait for every pending DEALER's welcome: the PUB port, and what went wrong."""
    failures: list[str] = []
    pub_port = 0
    while pending:
        events = poller.poll(30_000)
        if not events:
            failures.append(f"{len(pending)} clients got no welcome in 30s")
            break
        for sock, _ in events:
            reply = msgpack.unpackb(sock.recv())
            if sock in pending:
                pending.discard(sock)
                if reply.get("type") == "welcome":
                    pub_port = reply["pub_port"]
                else:
                    failures.append(str(reply))
    return pub_port, failures


def _listen(
    poller: zmq.Poller,
    dealers: list[zmq.Socket[Any]],
    subs: dict[zmq.Socket[Any], bool],
    received_q: Any,
    stop: Any,
) -> int:
    """Ping like a live client and note which SUBs heard the room, until ``stop``."""
    ping = encode(Ping())
    next_ping = now() + 3.0
    got = 0
    while not stop.is_set():
        for sock, _ in poller.poll(100):
            if sock in subs:
                while True:
                    try:
                        sock.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                if not subs[sock]:
                    subs[sock] = True
                    got += 1
                    if got == len(subs):
                        received_q.put(("received", got, now()))
            else:
                sock.recv()  # pongs
        if now() >= next_ping:
            for sock in dealers:
                sock.send(ping)
            next_ping = now() + 3.0
    return got


def broadcaster(endpoint: str, out: Any, stop: Any) -> None:
    """Chat into the bench room every 200 ms until ``stop``: the broadcast every
    client of the crowd must receive (repeated, since a SUB connects when it will)."""
    ctx = new_context()
    sock = dealer(ctx, endpoint)
    register(sock, "announcer", (ROOM,))
    out.put(("ready",))
    frame = encode(Chat(room=ROOM, text="hello, crowd"))
    while not stop.is_set():
        sock.send(frame)
        if sock.poll(5000):
            sock.recv()
        stop.wait(0.2)
    ctx.destroy(0)
