"""Load generators: raw DEALER/SUB sockets speaking protocol v1 through zmqchat's own
records and codec, so zmqchat and the baselines get exactly the same frames.

Each function runs in a child process and reports on ``out`` (a multiprocessing
queue). ``go``/``stop`` are multiprocessing events set by the coordinator.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import msgpack
import zmq

from benchmarks.harness import PAYLOAD_TEXT, ROOM, TOPIC, now
from zmqchat.common.codec import encode
from zmqchat.common.messages import Chat, History, Ping, Pm, Register

WARM_ROOM = "warm"
WARM_TOPIC = WARM_ROOM.encode() + b"\x00"
HWM = 10_000


def _context(sockets: int = 64) -> zmq.Context[Any]:
    ctx: zmq.Context[Any] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, sockets + 16)
    return ctx


def _dealer(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    sock.connect(endpoint)
    return sock


def _kind(frame: bytes) -> str:
    kind: str = msgpack.unpackb(frame).get("type", "")
    return kind


def register(
    sock: zmq.Socket[Any], user: str, rooms: tuple[str, ...], timeout: float = 10.0
) -> dict[str, Any]:
    """Register and return the welcome map (any broker, zmqchat or baseline)."""
    sock.send(encode(Register(user=user, rooms=rooms, client="bench")))
    if not sock.poll(int(timeout * 1000)):
        raise RuntimeError(f"{user}: no welcome within {timeout}s")
    welcome: dict[str, Any] = msgpack.unpackb(sock.recv())
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"{user}: register refused: {welcome}")
    return welcome


# --------------------------------------------------------------------------- rooms


def subscribers(pub_endpoint: str, count: int, out: Any, stop: Any) -> None:
    """``count`` SUB sockets on the room topic. Reports "ready" once a warm-up event
    reached every socket (so the room subscription is live too: a PUB applies
    subscriptions in order), then counts room events until ``stop`` and quiet."""
    ctx = _context(count)
    socks = []
    for _ in range(count):
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, HWM)
        sock.setsockopt(zmq.SUBSCRIBE, TOPIC)
        sock.setsockopt(zmq.SUBSCRIBE, WARM_TOPIC)
        sock.connect(pub_endpoint)
        socks.append(sock)
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    warm: set[int] = set()
    received = 0
    last = 0.0
    ready_sent = False
    recvs = [(id(sock), sock.recv) for sock in socks]
    busy = True
    while True:
        # Sweep every socket without waiting; poll only when a sweep found nothing,
        # so a steady stream costs no poll per message (same loop for every system).
        if not busy and not poller.poll(200):
            if stop.is_set():
                break
            continue
        before = received
        busy = False
        for ident, recv in recvs:
            for _ in range(1000):
                try:
                    topic = recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                recv()
                busy = True
                if topic == TOPIC:
                    received += 1
                elif not ready_sent:
                    warm.add(ident)
        if received != before:
            last = now()
        if not ready_sent and len(warm) == count:
            ready_sent = True
            out.put(("ready", count))
    out.put(("done", received, last))
    ctx.destroy(0)


def chat_publisher(
    endpoint: str, user: str, window: int, duration: float, out: Any, warm: Any, go: Any
) -> None:
    """A session sending ``chat`` into the bench room with ``window`` requests in
    flight for ``duration`` seconds; warm-up chats go to another room until ``go``."""
    ctx = _context()
    sock = _dealer(ctx, endpoint)
    register(sock, user, (ROOM, WARM_ROOM))
    out.put(("ready", user))
    warm_frame = encode(Chat(room=WARM_ROOM, text="warm-up"))
    while not go.is_set():
        if warm.is_set():
            sock.send(warm_frame)
            sock.recv()
        go.wait(0.005)
    ref = 0
    acks = errors = inflight = 0
    error = None
    started = now()
    deadline = started + duration
    send, recv = sock.send, sock.recv
    while True:
        t = now()
        sending = t < deadline
        if not sending and inflight == 0:
            break
        while sending and inflight < window:
            ref += 1
            send(encode(Chat(room=ROOM, text=PAYLOAD_TEXT, ref=ref)))
            inflight += 1
        if not sock.poll(5000):
            error = f"{user}: no reply for 5s with {inflight} in flight"
            break
        for _ in range(window):
            try:
                frame = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            inflight -= 1
            if _kind(frame) == "ack":
                acks += 1
            else:
                errors += 1
                error = error or str(msgpack.unpackb(frame))
    out.put(("done", acks, errors, started, now(), error))
    ctx.destroy(0)


def raw_publisher(ports: Any, duration: float, out: Any, warm: Any, go: Any) -> None:
    """The floor for fan-out: a PUB socket fed directly with a pre-encoded chat event
    as fast as Python can call ``send``."""
    ctx = _context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, HWM)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    ports.put((0, port))
    body = msgpack.packb(
        {"type": "chat", "room": ROOM, "seq": 1, "from": "pub0", "text": PAYLOAD_TEXT,
         "ts": time.time()}
    )  # fmt: skip
    warm_body = b"warm-up"
    out.put(("ready", "raw"))
    while not go.is_set():
        if warm.is_set():
            pub.send(WARM_TOPIC, zmq.SNDMORE)
            pub.send(warm_body)
        go.wait(0.005)
    sent = 0
    started = now()
    deadline = started + duration
    send = pub.send
    while now() < deadline:
        for _ in range(1000):
            send(TOPIC, zmq.SNDMORE)
            send(body)
        sent += 1000
    out.put(("done", sent, 0, started, now(), None))
    pub.close()
    ctx.destroy(0)


# ----------------------------------------------------------------------- private


def pm_pair(endpoint: str, samples: int, window: int, duration: float, out: Any) -> None:
    """Two sessions in one process: ping-pong round trips, then windowed throughput.

    One round trip is a ``pm`` from a to b and b's ``pm`` back, each relayed by the
    broker; the acks zmqchat also sends are drained but not waited for.
    """
    ctx = _context()
    a, b = _dealer(ctx, endpoint), _dealer(ctx, endpoint)
    register(a, "pa", ())
    register(b, "pb", ())
    to_b = encode(Pm(to="pb", text=PAYLOAD_TEXT))
    to_a = encode(Pm(to="pa", text=PAYLOAD_TEXT))

    def wait_pm(sock: zmq.Socket[Any]) -> None:
        while True:
            if not sock.poll(5000):
                raise RuntimeError("no pm within 5s")
            if _kind(sock.recv()) == "pm":
                return

    rtts = []
    for i in range(samples + samples // 10):
        t = time.perf_counter()
        a.send(to_b)
        wait_pm(b)
        b.send(to_a)
        wait_pm(a)
        if i >= samples // 10:  # the first tenth warms caches and connections
            rtts.append(time.perf_counter() - t)
    # Windowed: a keeps `window` pms on their way to b.
    delivered = sent = 0
    started = now()
    deadline = started + duration
    while True:
        t = now()
        while t < deadline and sent - delivered < window:
            a.send(to_b)
            sent += 1
        if t >= deadline and delivered >= sent:
            break
        if not b.poll(5000):
            raise RuntimeError("pm throughput: b got nothing for 5s")
        while True:
            try:
                frame = b.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if _kind(frame) == "pm":
                delivered += 1
        while True:  # a's acks: drain so they never fill its queue
            try:
                a.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
    elapsed = now() - started
    out.put(("done", sorted(rtts), delivered / elapsed))
    ctx.destroy(0)


# ----------------------------------------------------------------------- history


def history_client(endpoint: str, room: str, deep_after: int, samples: int, out: Any) -> None:
    """Sequential ``history`` requests: the latest 50, then 50 after an old seq."""
    ctx = _context()
    sock = _dealer(ctx, endpoint)
    register(sock, "historian", (room,))
    results = {}
    for name, request in (
        ("latest", History(room=room, limit=50)),
        ("deep", History(room=room, after=deep_after, limit=50)),
    ):
        frame = encode(request)
        times = []
        for i in range(samples + 20):
            t = time.perf_counter()
            sock.send(frame)
            if not sock.poll(5000):
                raise RuntimeError("no history reply within 5s")
            reply = msgpack.unpackb(sock.recv())
            if i >= 20:
                times.append(time.perf_counter() - t)
            if reply.get("type") != "history" or len(reply["messages"]) != 50:
                raise RuntimeError(f"unexpected history reply: {str(reply)[:200]}")
        results[name] = sorted(times)
    out.put(("done", results))
    ctx.destroy(0)


# ------------------------------------------------------------------------- scale


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
    ctx = _context(2 * count)
    go.wait()
    dealers = [_dealer(ctx, endpoint) for _ in range(count)]
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
    ctx = _context()
    sock = _dealer(ctx, endpoint)
    register(sock, "announcer", (ROOM,))
    out.put(("ready",))
    frame = encode(Chat(room=ROOM, text="hello, crowd"))
    while not stop.is_set():
        sock.send(frame)
        if sock.poll(5000):
            sock.recv()
        stop.wait(0.2)
    ctx.destroy(0)
