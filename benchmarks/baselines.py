"""The baselines zmqchat is measured against: the least Python that does the same job.

Each runs in its own process, binds free loopback ports, reports them on ``ports``
and serves until terminated. They speak just enough of protocol v1 for the same load
generators to drive them: ``register`` gets a welcome with the PUB port; nothing is
validated, stored or rate limited.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import msgpack
import zmq


def _bind(ctx: zmq.Context[Any], kind: int) -> tuple[zmq.Socket[Any], int]:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 10_000)
    sock.setsockopt(zmq.RCVHWM, 10_000)
    sock.setsockopt(zmq.BACKLOG, 4096)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    return sock, port


def minimal_broker(ports: Any) -> None:
    """ROUTER in, decode, stamp seq/ts/from, encode, PUB out, ack the sender."""
    ctx: zmq.Context[Any] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 32)
    router, port = _bind(ctx, zmq.ROUTER)
    pub, pub_port = _bind(ctx, zmq.PUB)
    ports.put((port, pub_port))
    packb, unpackb = msgpack.packb, msgpack.unpackb
    names: dict[bytes, str] = {}
    seq = 0
    recv, send, publish = router.recv, router.send, pub.send
    more, noblock = zmq.SNDMORE, zmq.NOBLOCK
    # fanout.py's pybroker loop (product.py's reference): poll, then up to 512
    # requests. A blocking recv per request measured about 9% fewer acks/s.
    while True:
        if not router.poll(50):
            continue
        for _ in range(512):
            try:
                rid = recv(noblock)
            except zmq.Again:
                break
            msg = unpackb(recv())
            kind = msg.get("type")
            if kind == "chat":
                seq += 1
                ts = time.time()
                publish(msg["room"].encode() + b"\x00", more)
                publish(
                    packb(
                        {"type": "chat", "room": msg["room"], "seq": seq,
                         "from": names.get(rid, "?"), "text": msg["text"], "ts": ts}
                    )
                )  # fmt: skip
                reply = {"type": "ack", "ref": msg.get("ref"), "room": msg["room"],
                         "seq": seq, "ts": ts}  # fmt: skip
            elif kind == "register":
                names[rid] = msg["user"]
                reply = {"type": "welcome", "ref": msg.get("ref"), "user": msg["user"],
                         "pub_port": pub_port, "rooms": {}}  # fmt: skip
            elif kind == "ping":
                reply = {"type": "pong", "ref": msg.get("ref"), "heads": {}}
            else:
                continue
            send(rid, more)
            send(packb(reply))


def relay(ports: Any, ack: bool = True) -> None:
    """DEALER -> ROUTER -> DEALER: forward each ``pm`` to the peer registered under
    its ``to`` name, stamped with the sender, and (with ``ack``) acknowledge it to the
    sender as protocol v1 requires. No validation, no store, no ids."""
    ctx: zmq.Context[Any] = zmq.Context()
    router, port = _bind(ctx, zmq.ROUTER)
    ports.put((port, 0))
    packb, unpackb = msgpack.packb, msgpack.unpackb
    by_name: dict[str, bytes] = {}
    names: dict[bytes, str] = {}
    while True:
        rid = router.recv()
        msg = unpackb(router.recv())
        kind = msg.get("type")
        if kind == "pm":
            target = by_name.get(msg["to"])
            if target is None:
                continue
            out = {"type": "pm", "from": names[rid], "to": msg["to"], "text": msg["text"],
                   "ts": time.time()}  # fmt: skip
            router.send(target, zmq.SNDMORE)
            router.send(packb(out))
            if ack:
                router.send(rid, zmq.SNDMORE)
                router.send(packb({"type": "ack", "to": msg["to"], "status": "delivered",
                                   "ts": out["ts"], "ref": msg.get("ref")}))  # fmt: skip
        elif kind == "register":
            by_name[msg["user"]] = rid
            names[rid] = msg["user"]
            router.send(rid, zmq.SNDMORE)
            router.send(packb({"type": "welcome", "user": msg["user"], "pub_port": 0}))


def pair_relay(ports: Any) -> None:
    """DEALER -> ROUTER -> DEALER as product.py's reference has it (relay.py): the
    first two peers to register are paired, then every frame from one is forwarded
    to the other as it came: no decoding, no ack, the floor for a relayed round trip."""
    ctx: zmq.Context[Any] = zmq.Context()
    router, port = _bind(ctx, zmq.ROUTER)
    ports.put((port, 0))
    peers: list[bytes] = []
    while len(peers) < 2:
        rid = router.recv()
        msg = msgpack.unpackb(router.recv())
        if msg.get("type") == "register":
            peers.append(rid)
            router.send(rid, zmq.SNDMORE)
            router.send(msgpack.packb({"type": "welcome", "user": msg["user"], "pub_port": 0}))
    other = {peers[0]: peers[1], peers[1]: peers[0]}
    recv, send, more, noblock = router.recv, router.send, zmq.SNDMORE, zmq.NOBLOCK
    # relay.py's loop, poll then drain, so that this is the floor the goal is judged
    # against (a blocking recv per frame measured the same, within the noise).
    while True:
        if not router.poll(20):
            continue
        for _ in range(512):
            try:
                rid = recv(noblock)
            except zmq.Again:
                break
            body = recv()
            send(other[rid], more)
            send(body)


def history_server(ports: Any, db: str, room: str) -> None:
    """Answer ``history`` straight from SQLite with the query zmqchat's index serves,
    without validation or records: the floor for a history request over ZeroMQ."""
    ctx: zmq.Context[Any] = zmq.Context()
    router, port = _bind(ctx, zmq.ROUTER)
    ports.put((port, 0))
    conn = sqlite3.connect(db)
    packb, unpackb = msgpack.packb, msgpack.unpackb
    cols = "SELECT seq, ts, kind, user, text FROM events WHERE room = ?"
    while True:
        rid = router.recv()
        msg = unpackb(router.recv())
        if msg.get("type") == "register":
            reply: dict[str, Any] = {"type": "welcome", "user": msg["user"], "pub_port": 0}
        else:
            limit = msg.get("limit", 50)
            after = msg.get("after")
            if after is None:
                rows = conn.execute(cols + " ORDER BY seq DESC LIMIT ?", (room, limit + 1))
            else:
                rows = conn.execute(
                    cols + " AND seq > ? ORDER BY seq LIMIT ?", (room, after, limit + 1)
                )
            found = rows.fetchall()
            more = len(found) > limit
            found = found[:limit]
            if after is None:
                found.reverse()
            reply = {
                "type": "history",
                "ref": msg.get("ref"),
                "room": room,
                "messages": [
                    {
                        "type": "chat",
                        "room": room,
                        "seq": r[0],
                        "ts": r[1],
                        "from": r[3],
                        "text": r[4],
                    }
                    for r in found
                ],
                "more": more,
            }
        router.send(rid, zmq.SNDMORE)
        router.send(packb(reply))
