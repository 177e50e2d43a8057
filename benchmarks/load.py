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
from zmqchat import Client
from zmqchat.common.codec import encode
from zmqchat.common.messages import PmEvent
from zmqchat.common.requests import Chat, History, Ping, Pm, Register
from zmqchat.errors import Timeout

WARM_ROOM = "warm"
WARM_TOPIC = WARM_ROOM.encode() + b"\x00"
HWM = 10_000
PING_EVERY = 3.0  # seconds; the broker expires a session idle for its timeout (15 s)
QUIET = 0.2  # seconds without a room event, once the publishers are done: all arrived


def new_context(sockets: int = 64) -> zmq.Context[Any]:
    ctx: zmq.Context[Any] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, sockets + 16)
    return ctx


def dealer(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = ctx.socket(zmq.DEALER)
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


def subscribers(
    pub_endpoint: str, count: int, out: Any, stop: Any, members: tuple[str, str] | None = None
) -> None:
    """``count`` SUB sockets on the room topic. With ``members`` (the broker's request
    endpoint and a name prefix) each SUB also holds a session registered into the
    room, as a real client does, and pings it every few seconds. Reports "ready" once
    a warm-up event reached every socket (so the room subscription is live too: a PUB
    applies subscriptions in order), then counts room events until ``stop`` and quiet."""
    ctx = new_context(2 * count)
    sessions = _members(ctx, members, count) if members else []
    socks = [_sub(ctx, pub_endpoint) for _ in range(count)]
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    warm: set[int] = set()
    received = 0
    last = 0.0
    ready_sent = False
    ping, next_ping = encode(Ping()), now() + PING_EVERY
    while True:
        # product.py's subscriber loop (fanout.py): poll, then drain each ready socket.
        # Sweeping every socket and polling only when idle put the fan-out ratio 0.1
        # to 0.2 above product.py's at 100 subscribers (docs/performance.md).
        events = poller.poll(20)
        if not events and stop.is_set() and now() - last >= QUIET:
            break
        before = received
        for sock, _ in events:
            recv = sock.recv
            for _ in range(512):
                try:
                    topic = recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                recv()
                if topic == TOPIC:
                    received += 1
                elif not ready_sent:
                    warm.add(id(sock))
        if received != before:
            last = now()
        if not ready_sent and len(warm) == count:
            ready_sent = True
            out.put(("ready", count))
        if sessions and now() >= next_ping:
            next_ping = now() + PING_EVERY
            _ping(sessions, ping)
    out.put(("done", received, last))
    ctx.destroy(0)


def _members(ctx: zmq.Context[Any], members: tuple[str, str], count: int) -> list[zmq.Socket[Any]]:
    endpoint, prefix = members
    sessions = [dealer(ctx, endpoint) for _ in range(count)]
    for i, sock in enumerate(sessions):
        register(sock, f"{prefix}{i}", (ROOM,))
    return sessions


def _sub(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = ctx.socket(zmq.SUB)  # default RCVHWM (1,000), as product.py's
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, TOPIC)
    sock.setsockopt(zmq.SUBSCRIBE, WARM_TOPIC)
    sock.connect(endpoint)
    return sock


def _ping(sessions: list[zmq.Socket[Any]], ping: bytes) -> None:
    """Keep idle sessions alive (the broker expires them after its timeout)."""
    for sock in sessions:
        with contextlib.suppress(zmq.Again):
            while True:
                sock.recv(zmq.NOBLOCK)  # pongs, and whatever else the broker sent
        sock.send(ping)


def chat_publisher(
    endpoint: str, user: str, window: int, duration: float, out: Any, warm: Any, go: Any
) -> None:
    """A session sending ``chat`` into the bench room with ``window`` requests in
    flight for ``duration`` seconds; warm-up chats go to another room until ``go``."""
    ctx = new_context()
    sock = dealer(ctx, endpoint)
    register(sock, user, (ROOM, WARM_ROOM))
    out.put(("ready", user))
    warm_frame = encode(Chat(room=WARM_ROOM, text="warm-up"))
    while not go.is_set():
        if warm.is_set():
            sock.send(warm_frame)
            sock.recv()
        go.wait(0.005)
    # The record's wire map, built once: only its ref changes from chat to chat, and
    # building a record per chat would cost the load generator 5 us of CPU that the
    # broker it shares the machine with could use.
    request = Chat(room=ROOM, text=PAYLOAD_TEXT, ref=0).to_wire()
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
            request["ref"] += 1
            send(encode(request))
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
    ctx = new_context()
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


def pm_ponger(endpoint: str, raw: bool, out: Any, stop: Any) -> None:
    """Session "pb": answers every ``pm`` with a ``pm`` back to its sender, decoding
    it as a user's client does, until ``stop``. With ``raw`` (the relay baseline,
    which forwards frames undecoded) it echoes each frame as it came."""
    ctx = new_context()
    sock = dealer(ctx, endpoint)
    register(sock, "pb", ())
    out.put(("ready", "pb"))
    answer = Pm(to="", text=PAYLOAD_TEXT, ref=0).to_wire()
    recv, send = sock.recv, sock.send
    while not stop.is_set():
        if not sock.poll(20):
            continue
        if raw:  # relay.py's echoer: one frame per poll
            send(recv())
            continue
        for _ in range(1000):  # product.py's pm_peer: drain what came
            try:
                frame = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            event = msgpack.unpackb(frame)
            if event.get("type") == "pm":
                answer["to"], answer["text"] = event["from"], event["text"]
                answer["ref"] += 1
                send(encode(answer))
    ctx.destroy(0)


def pm_pinger(endpoint: str, samples: int, raw: bool, out: Any) -> None:
    """Session "pa": one ``pm`` in flight to pb (see pm_ponger); a round trip ends
    when pb's ``pm`` is back, the acks zmqchat sends on the way decoded and skipped.
    With ``raw`` the first frame back ends it. Reports the sorted round trips (s)
    after a warm-up tenth."""
    ctx = new_context()
    sock = dealer(ctx, endpoint)
    register(sock, "pa", ())
    request = Pm(to="pb", text=PAYLOAD_TEXT, ref=0).to_wire()
    send, recv, poll, clock = sock.send, sock.recv, sock.poll, time.perf_counter
    rtts = []
    for i in range(samples + samples // 10):
        request["ref"] += 1
        t = clock()
        send(encode(request))
        while True:
            if not poll(5000):
                raise RuntimeError("pm round trip: nothing back within 5s")
            frame = recv()
            if raw or _kind(frame) == "pm":
                break
        if i >= samples // 10:
            rtts.append(clock() - t)
    out.put(("done", sorted(rtts)))
    ctx.destroy(0)


def library_ponger(endpoint: str, out: Any, stop: Any) -> None:
    """Session "lb" through the library, as a bot is written: each pm it gets is
    answered with ``Client.pm``, which returns once the broker acknowledged it."""
    with Client("lb", endpoint, rooms=()) as client:
        out.put(("ready", None))
        while not stop.is_set():
            try:
                event = client.next_event(timeout=0.2)
            except Timeout:
                continue
            if isinstance(event, PmEvent):
                client.pm(event.sender, event.text)


def library_pinger(endpoint: str, samples: int, out: Any) -> None:
    """Session "la" through the library: ``Client.pm`` to lb (waiting for its ack,
    as the call does), then lb's answer; reports the sorted round trips (s) after a
    warm-up tenth."""
    rtts = []
    with Client("la", endpoint, rooms=()) as client:
        for i in range(samples + samples // 10):
            t = time.perf_counter()
            client.pm("lb", PAYLOAD_TEXT)
            while not isinstance(client.next_event(timeout=5), PmEvent):
                pass
            if i >= samples // 10:
                rtts.append(time.perf_counter() - t)
    out.put(("done", sorted(rtts)))


def pm_stream(endpoint: str, window: int, duration: float, out: Any) -> None:
    """Two sessions in one process: a keeps ``window`` pms on their way to b for
    ``duration`` seconds; reports pms delivered to b per second."""
    ctx = new_context()
    a, b = dealer(ctx, endpoint), dealer(ctx, endpoint)
    register(a, "sa", ())
    register(b, "sb", ())
    request = Pm(to="sb", text=PAYLOAD_TEXT, ref=0).to_wire()
    delivered = sent = 0
    started = now()
    deadline = started + duration
    while True:
        t = now()
        while t < deadline and sent - delivered < window:
            request["ref"] += 1
            a.send(encode(request))
            sent += 1
        if t >= deadline and delivered >= sent:
            break
        if not b.poll(5000):
            raise RuntimeError("pm throughput: b got nothing for 5s")
        with contextlib.suppress(zmq.Again):
            while True:
                if _kind(b.recv(zmq.NOBLOCK)) == "pm":
                    delivered += 1
        with contextlib.suppress(zmq.Again):
            while True:  # a's acks: drained so they never fill its queue
                a.recv(zmq.NOBLOCK)
    out.put(("done", delivered / (now() - started)))
    ctx.destroy(0)


# ----------------------------------------------------------------------- history


def history_client(endpoint: str, room: str, deep_after: int, samples: int, out: Any) -> None:
    """Sequential ``history`` requests: the latest 50, then 50 after an old seq."""
    ctx = new_context()
    sock = dealer(ctx, endpoint)
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
