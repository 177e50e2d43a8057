"""Load for the Redis engine's benchmarks (bench_cluster.py): the hop of a room event
from one node to a subscriber of another, and clients failing over from a node
killed with SIGKILL to the other, as protocol.md §6 has them do it.

Each function runs in a child process and reports on ``out``, as load.py's do.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from benchmarks.harness import PAYLOAD_TEXT, ROOM, TOPIC, now
from benchmarks.load import PING_EVERY, dealer, new_context, register
from zmqchat.common.codec import encode
from zmqchat.common.requests import Chat, History, Ping, Register


def _sub(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    sub: zmq.Socket[Any] = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
    sub.connect(endpoint)
    return sub


# ----------------------------------------------------------------------- the hop


def hop_prober(sender: str, member: str, pub: str, samples: int, out: Any) -> None:
    """One chat in flight at a time from a session on ``sender`` (node A), timed from
    its send to its arrival on a SUB of ``pub`` (node B's PUB), whose client holds a
    session on ``member`` (node B) in the room, as a real client does. The next chat
    goes once both the event and the ack are in. Reports the sorted latencies (s)
    after a warm-up tenth. With one broker, all three are that broker's."""
    ctx = new_context()
    sock = dealer(ctx, sender)
    register(sock, "hop-a", (ROOM,))
    listener = dealer(ctx, member)
    register(listener, "hop-b", (ROOM,))
    sub = _sub(ctx, pub)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(sub, zmq.POLLIN)
    request = Chat(room=ROOM, text=PAYLOAD_TEXT, ref=0).to_wire()
    clock = time.perf_counter
    _until_heard(sock, sub, request)
    latencies = []
    next_ping = now() + PING_EVERY
    for i in range(samples + samples // 10):
        request["ref"] += 1
        t = clock()
        sock.send(encode(request))
        arrived = acked = False
        while not (arrived and acked):
            events = dict(poller.poll(5000))
            if not events:
                raise RuntimeError(f"hop: chat {i} not back within 5s")
            if sub in events:
                sub.recv()
                event = msgpack.unpackb(sub.recv())
                if event.get("from") == "hop-a" and event.get("type") == "chat":
                    t_arrived = clock()
                    arrived = True
            if sock in events:
                reply = msgpack.unpackb(sock.recv())
                if reply.get("type") == "ack":
                    acked = True
                elif reply.get("type") == "error":
                    raise RuntimeError(f"hop: {reply}")
        if i >= samples // 10:
            latencies.append(t_arrived - t)
        if now() >= next_ping:  # the listener's session stays alive
            next_ping = now() + PING_EVERY
            listener.send(encode(Ping()))
            with contextlib.suppress(zmq.Again):
                while True:
                    listener.recv(zmq.NOBLOCK)
    out.put(("done", sorted(latencies)))
    ctx.destroy(0)


def _until_heard(sock: zmq.Socket[Any], sub: zmq.Socket[Any], request: dict[str, Any]) -> None:
    """Chat until the SUB hears the room (its subscription is live), then drain it."""
    deadline = now() + 20
    heard = False
    while not heard:
        if now() > deadline:
            raise RuntimeError("hop: the subscriber on node B heard nothing in 20s")
        request["ref"] += 1
        sock.send(encode(request))
        if sock.poll(5000):
            sock.recv()
        heard = bool(sub.poll(100))
    with contextlib.suppress(zmq.Again):
        while True:
            sub.recv(zmq.NOBLOCK)


# ----------------------------------------------------------------------- failover


def _watch(sock: zmq.Socket[Any]) -> zmq.Socket[Any]:
    """A monitor of ``sock``'s connection: readable when its node went away (the
    library client's transport watches the same event)."""
    return sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)


def failover_crowd(
    a: str, b: str, first: int, count: int, rooms: int, out: Any, events: tuple[Any, Any]
) -> None:
    """``count`` sessions (one DEALER each) registered on node ``a``, each in one of
    ``rooms`` rooms; they ping like live clients. When their node's connection drops
    (one monitor for the process: every session's connection goes to the same dead
    node) each closes its DEALER, opens one to ``b`` and registers with ``resume``.

    Reports ("registered", failures), then ("resumed", t_noticed, t_last_welcome,
    sessions resumed as themselves, failures)."""
    go, stop = events
    ctx = new_context(2 * count)
    go.wait()
    users = [f"f{first + i}" for i in range(count)]
    socks = [dealer(ctx, a) for _ in users]
    monitor = _watch(socks[0])
    for i, (user, sock) in enumerate(zip(users, socks, strict=True)):
        room = f"room{(first + i) % rooms}"
        sock.send(encode(Register(user=user, rooms=(room,), client="bench")))
    welcomes, failures = _welcomes(socks)
    tokens = [w.get("session", "") for w in welcomes]
    out.put(("registered", failures[:3] + [f"{len(failures)} in all"] * bool(failures)))
    ping, next_ping = encode(Ping()), now() + PING_EVERY
    while not monitor.poll(50):
        if stop.is_set():
            ctx.destroy(0)
            return
        if now() >= next_ping:
            next_ping = now() + PING_EVERY
            for sock in socks:
                sock.send(ping)
                with contextlib.suppress(zmq.Again):
                    while True:
                        sock.recv(zmq.NOBLOCK)
    noticed = now()
    recv_monitor_message(monitor)
    for sock in socks:
        sock.close(0)
    socks = [dealer(ctx, b) for _ in users]
    for user, sock, token in zip(users, socks, tokens, strict=True):
        sock.send(encode(Register(user=user, rooms=(), resume=token, client="bench")))
    welcomes, failures = _welcomes(socks)
    last = now()
    same = sum(w.get("session") == t for w, t in zip(welcomes, tokens, strict=True))
    out.put(("resumed", noticed, last, same, failures[:3]))
    while not stop.wait(PING_EVERY):
        for sock in socks:
            sock.send(ping)
            with contextlib.suppress(zmq.Again):
                while True:
                    sock.recv(zmq.NOBLOCK)
    ctx.destroy(0)


def _welcomes(socks: list[zmq.Socket[Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every socket's reply to its register, in order, and what went wrong."""
    poller = zmq.Poller()
    index = {sock: i for i, sock in enumerate(socks)}
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    replies: list[dict[str, Any]] = [{} for _ in socks]
    pending = set(socks)
    failures: list[str] = []
    while pending:
        ready = poller.poll(30_000)
        if not ready:
            failures.append(f"{len(pending)} sessions got no welcome in 30s")
            break
        for sock, _ in ready:
            reply = msgpack.unpackb(sock.recv())
            if sock in pending and reply.get("type") in ("welcome", "error"):
                pending.discard(sock)
                poller.unregister(sock)
                replies[index[sock]] = reply
                if reply.get("type") != "welcome":
                    failures.append(str(reply))
    return replies, failures


def failover_publisher(
    a: str, b: str, user: str, rate: float, out: Any, events: tuple[Any, Any]
) -> None:
    """A session on node ``a`` chatting ``rate`` chats a second (a few in flight)
    into the bench room; when its node's connection drops it resumes on ``b`` and
    resends what had no ack yet, same ``ref`` and text (protocol.md §6.2). Until
    ``stop``, then until every chat is acked. Reports ("done", {text: seq} of the
    acks, errors)."""
    go, stop = events
    ctx = new_context()
    sock = dealer(ctx, a)
    token = register(sock, user, (ROOM,))["session"]
    monitor = _watch(sock)
    out.put(("ready", user))
    go.wait()
    unacked: dict[int, bytes] = {}  # ref -> the request as sent
    texts: dict[int, str] = {}
    acked: dict[str, int] = {}
    errors: list[str] = []
    ref = 0
    started = now()
    deadline: float | None = None
    while unacked or deadline is None or now() < deadline:
        if deadline is None and stop.is_set():
            deadline = now()  # send no more; wait for the acks (10 s at most)
        if deadline is not None and now() > deadline + 10:
            errors.append(f"{len(unacked)} chats never acked")
            break
        if deadline is None and len(unacked) < 8 and ref < (now() - started) * rate:
            ref += 1
            texts[ref] = f"{user}-{ref}"
            unacked[ref] = encode(Chat(room=ROOM, text=texts[ref], ref=ref))
            sock.send(unacked[ref])
        if monitor.poll(0):
            recv_monitor_message(monitor)
            monitor.close(0)
            sock.close(0)
            sock = dealer(ctx, b)  # the next node; the session and its unacked chats go on
            welcome = register_resume(sock, user, token)
            if welcome.get("session") != token:
                errors.append(f"{user}: resumed as a new session")
            monitor = _watch(sock)
            for frame in unacked.values():
                sock.send(frame)
        if not sock.poll(2):
            continue
        reply = msgpack.unpackb(sock.recv())
        if reply.get("type") == "ack" and reply.get("ref") in unacked:
            del unacked[reply["ref"]]
            acked[texts[reply["ref"]]] = reply["seq"]
        elif reply.get("type") == "error":
            errors.append(str(reply))
    out.put(("done", acked, errors[:5]))
    ctx.destroy(0)


def register_resume(sock: zmq.Socket[Any], user: str, token: str) -> dict[str, Any]:
    sock.send(encode(Register(user=user, rooms=(), resume=token, client="bench")))
    if not sock.poll(10_000):
        raise RuntimeError(f"{user}: no welcome on the other node within 10s")
    welcome: dict[str, Any] = msgpack.unpackb(sock.recv())
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"{user}: resume refused: {welcome}")
    return welcome


def room_witness(endpoint: str, pub: str, out: Any, stop: Any) -> None:
    """A member of the bench room on node B: notes the seqs its SUB hears (gaps and
    repeats, from the first one heard) until ``stop``, then reads the room's whole
    history from B. Reports ("done", seqs heard, [(seq, type, from, text)] stored)."""
    ctx = new_context()
    sock = dealer(ctx, endpoint)
    register(sock, "witness", (ROOM,))
    sub = _sub(ctx, pub)
    out.put(("ready", "witness"))
    heard: list[int] = []
    next_ping = now() + PING_EVERY
    while not stop.is_set():
        if sub.poll(50):
            with contextlib.suppress(zmq.Again):
                while True:
                    sub.recv(zmq.NOBLOCK)
                    heard.append(msgpack.unpackb(sub.recv())["seq"])
        if now() >= next_ping:
            next_ping = now() + PING_EVERY
            sock.send(encode(Ping()))
            with contextlib.suppress(zmq.Again):
                while True:
                    sock.recv(zmq.NOBLOCK)
    stored: list[tuple[int, str, str, str]] = []
    after, more = 0, True
    while more:
        sock.send(encode(History(room=ROOM, after=after, limit=500, ref=after)))
        while True:
            if not sock.poll(10_000):
                raise RuntimeError("witness: no history reply within 10s")
            reply = msgpack.unpackb(sock.recv())
            if reply.get("type") == "history" and reply.get("ref") == after:
                break
        for m in reply["messages"]:
            stored.append((m["seq"], m["type"], m.get("from", ""), m.get("text", "")))
        more = bool(reply["more"]) and bool(reply["messages"])
        if reply["messages"]:
            after = reply["messages"][-1]["seq"]
    out.put(("done", heard, stored))
    ctx.destroy(0)


def member(endpoint: str, user: str, rooms: tuple[str, ...], out: Any, stop: Any) -> None:
    """A session in ``rooms`` on a node, pinging until ``stop``: a node follows a
    room's events (and publishes them) once someone there is in it."""
    ctx = new_context()
    sock = dealer(ctx, endpoint)
    register(sock, user, rooms)
    out.put(("ready", user))
    while not stop.wait(PING_EVERY):
        sock.send(encode(Ping()))
        with contextlib.suppress(zmq.Again):
            while True:
                sock.recv(zmq.NOBLOCK)
    ctx.destroy(0)
