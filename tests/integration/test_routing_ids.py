"""Peers that pick their own routing id (ZMQ_ROUTING_ID), against a real broker.

libzmq numbers anonymous ROUTER peers ``00`` + a 32-bit counter starting at glibc's
unseeded ``rand()`` (``00 6b 8b 45 67``, ``…68``, …), and lets a peer choose its id.
Before the broker seeded the counter and bound sessions to connections, one peer
holding ``00 6b 8b 45 67`` aborted the broker as soon as anyone else connected, and a
peer taking the id of a client whose connection had just dropped acted as that
client. Here each kind of chosen id is tried, and the broker must keep serving, the
victim keep its session, and the peer get nothing of the victim's. See
docs/security.md, "Routing ids".
"""

from __future__ import annotations

import itertools
import random
import re
import resource
import time
from collections.abc import Iterable, Iterator
from typing import Any

import msgpack
import pytest
import zmq
from tests.helpers import RawPeer, pack

from zmqchat.broker.peers import Rid, Router
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(90)

# glibc's first rand() after no srand(): where an unseeded libzmq starts counting.
UNSEEDED_FIRST = 0x6B8B4567
# Sockets per wave of squatters: each costs this process two descriptors (its
# connection and its mailbox) and the broker one; libzmq frees a closed socket's a
# little later, so two waves may overlap.
WAVE = 2000


def unseeded_id(k: int) -> bytes:
    """The routing id an unseeded broker gives its (k+1)-th anonymous peer."""
    return b"\x00" + ((UNSEEDED_FIRST + k) % 2**32).to_bytes(4, "big")


def routing_id_of(broker: BrokerProcess, user: str) -> bytes:
    """The routing id libzmq gave ``user``'s connection, from the broker's debug log."""
    pattern = re.compile(rf"DEBUG +zmqchat\.broker: {user} is on ([0-9a-f]+) ")

    def found() -> bytes | None:
        matches = pattern.findall(broker.log_file.read_text(errors="replace"))
        return bytes.fromhex(matches[-1]) if matches else None

    return wait_until(found, 5.0, f"the log line naming {user}'s routing id")


class Thief:
    """A DEALER presenting a routing id of its choosing; keeps all it receives."""

    def __init__(self, context: zmq.Context[Any], endpoint: str, rid: bytes) -> None:
        self.sock = context.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.setsockopt(zmq.ROUTING_ID, rid)
        self.sock.connect(endpoint)
        self.got: list[dict[str, Any]] = []
        self._refs = itertools.count(1)

    def send(self, msg: dict[str, Any]) -> int:
        ref = next(self._refs)
        self.sock.send(pack({**msg, "ref": ref}))
        return ref

    def drain(self, timeout: float) -> list[dict[str, Any]]:
        """What arrives within ``timeout`` (and stays in ``got``)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and self.sock.poll(int(left * 1000) + 1):
            self.got.append(msgpack.unpackb(self.sock.recv(), raw=False))
        return self.got

    def request(self, msg: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        ref = self.send(msg)

        def reply() -> dict[str, Any] | None:
            for frame in self.drain(0.01):
                if frame.get("ref") == ref:
                    return frame
            return None

        return wait_until(reply, timeout, f"the reply to {msg['type']!r}", interval=0)

    def close(self) -> None:
        self.sock.close(0)


@pytest.fixture
def context() -> Iterator[zmq.Context[Any]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx: zmq.Context[Any] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 2 * WAVE + 64)
    yield ctx
    ctx.destroy(0)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def broker(make_broker: Any) -> BrokerProcess:
    # Rate limits off: the squatters' pings are many. A long timeout: no expiry
    # ends a session during a test, only the broker's knowledge of connections.
    # Debug logs name the routing id each user is on.
    return make_broker(rate_limit=0, timeout=60, log_level="debug")  # type: ignore[no-any-return]


def assert_serving(broker: BrokerProcess, regular: RawPeer, newcomers: int = 3) -> None:
    """The broker runs, an established client is served, and new anonymous
    clients (the ones libzmq numbers) register and chat."""
    assert broker.running, broker.log_tail()
    assert regular.request({"type": "ping"})["type"] == "pong"
    assert (
        regular.request({"type": "chat", "room": "general", "text": "still here"})["type"] == "ack"
    )
    for _ in range(newcomers):
        peer = RawPeer(broker.endpoint)
        try:
            peer.register(f"n{random.randrange(10**9)}")
            assert peer.request({"type": "chat", "room": "general", "text": "hi"})["type"] == "ack"
        finally:
            peer.close()
    assert broker.running, broker.log_tail()


def squat(
    context: zmq.Context[Any], endpoint: str, ids: Iterable[bytes], timeout: float = 30.0
) -> list[zmq.Socket[Any]]:
    """Connect one DEALER per id, each presenting that id, and return them once the
    broker has answered a ping from every one (so each holds its id there)."""
    ping = pack({"type": "ping"})
    socks = []
    for rid in ids:
        sock = context.socket(zmq.DEALER)
        sock.linger = 0
        sock.setsockopt(zmq.ROUTING_ID, rid)
        sock.connect(endpoint)
        sock.send(ping)
        socks.append(sock)
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    codes: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    while len(codes) < len(socks) and time.monotonic() < deadline:
        for sock, _ in poller.poll(100):
            codes[id(sock)] = msgpack.unpackb(sock.recv(), raw=False).get("code")
            poller.unregister(sock)
    assert len(codes) == len(socks), f"{len(socks) - len(codes)} squatters got no answer"
    assert set(codes.values()) == {"not_registered"}
    return socks


def close_all(socks: list[zmq.Socket[Any]]) -> None:
    for sock in socks:
        sock.close(0)


def test_the_id_of_a_live_client_gets_its_taker_nothing(
    broker: BrokerProcess, context: zmq.Context[Any]
) -> None:
    alice, bob = RawPeer(broker.endpoint), RawPeer(broker.endpoint)
    thief = None
    try:
        alice.register("alice")
        bob.register("bob")
        thief = Thief(context, broker.endpoint, routing_id_of(broker, "alice"))
        thief.send({"type": "ping"})
        thief.send({"type": "chat", "room": "general", "text": "I am alice"})
        assert bob.request({"type": "pm", "to": "alice", "text": "for alice"})["type"] == "ack"
        assert alice.recv_type("pm")["text"] == "for alice"
        assert alice.request({"type": "ping"})["type"] == "pong"
        # libzmq ignores a peer presenting an id in use (ROUTER_HANDOVER is off).
        # It may take the peer's first frame for an id of its own: then it hears
        # `not_registered`, for itself.
        got = thief.drain(0.5)
        assert all(frame.get("code") == "not_registered" for frame in got), got
        history = bob.request({"type": "history", "room": "general"})["messages"]
        assert not [m for m in history if m.get("text") == "I am alice"]
        assert_serving(broker, bob)
    finally:
        for peer in (alice, bob):
            peer.close()
        if thief is not None:
            thief.close()


def test_the_id_of_a_client_that_just_dropped_gets_its_taker_nothing(
    broker: BrokerProcess, context: zmq.Context[Any]
) -> None:
    alice, bob = RawPeer(broker.endpoint), RawPeer(broker.endpoint)
    thieves: list[Thief] = []
    try:
        token = alice.register("alice")["session"]
        bob.register("bob")
        assert bob.request({"type": "pm", "to": "alice", "text": "before"})["type"] == "ack"
        assert alice.recv_type("pm")["text"] == "before"
        rid = routing_id_of(broker, "alice")
        alice.close()  # the connection drops; the session waits for a resume

        def taken() -> Thief | None:
            # Until the broker has let go of the dropped connection, libzmq ignores
            # a peer presenting its id: try again with a fresh connection.
            thief = Thief(context, broker.endpoint, rid)
            thieves.append(thief)
            thief.send({"type": "ping"})
            return thief if thief.drain(0.2) else None

        thief = wait_until(taken, 10.0, "a connection holding alice's old routing id")
        assert thief.got[0]["code"] == "not_registered", thief.got
        for msg in (
            {"type": "chat", "room": "general", "text": "I am alice"},
            {"type": "history", "with": "bob"},
            {"type": "pm", "to": "bob", "text": "from alice?"},
        ):
            assert thief.request(msg)["code"] == "not_registered"
        assert thief.request({"type": "register", "user": "alice", "proto": 1})["code"] == (
            "name_taken"
        )
        # Nothing for alice reaches her old id while she is away.
        assert bob.request({"type": "pm", "to": "alice", "text": "lost?"})["code"] == (
            "user_offline"
        )
        got = thief.drain(0.3)
        assert {frame["type"] for frame in got} == {"error"}, got
        history = bob.request({"type": "history", "room": "general"})["messages"]
        assert not [m for m in history if m.get("text") == "I am alice"]

        # Alice's token gets her session back, with her private messages.
        back = RawPeer(broker.endpoint)
        alice = back
        assert back.register("alice", resume=token)["session"] == token
        pms = back.request({"type": "history", "with": "bob"})["messages"]
        assert [m["text"] for m in pms] == ["before"]
        assert bob.request({"type": "pm", "to": "alice", "text": "after"})["type"] == "ack"
        assert back.recv_type("pm")["text"] == "after"
        assert {frame["type"] for frame in thief.drain(0.2)} == {"error"}
        assert_serving(broker, bob)
    finally:
        for peer in (alice, bob):
            peer.close()
        for thief in thieves:
            thief.close()


def test_the_ids_an_unseeded_broker_would_give_next_do_not_stop_it(
    broker: BrokerProcess, context: zmq.Context[Any]
) -> None:
    # Each of the first 1,000 ids of an unseeded counter, held before anyone else
    # connects: an unseeded broker aborts when the next peer arrives.
    socks = squat(context, broker.endpoint, (unseeded_id(k) for k in range(1000)))
    regular = RawPeer(broker.endpoint)
    try:
        assert "not_registered to 006b8b4567" in broker.log_file.read_text()
        regular.register("regular")
        assert_serving(broker, regular, newcomers=10)
        close_all(socks)
        assert_serving(broker, regular)
    finally:
        close_all(socks)
        regular.close()


def test_ten_thousand_random_ids_do_not_stop_the_broker(
    broker: BrokerProcess, context: zmq.Context[Any]
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wave = min(WAVE, (hard - 256) // 4)
    rng = random.Random()
    regular = RawPeer(broker.endpoint)
    try:
        regular.register("regular")
        left = 10_000
        while left:
            ids = {b"\x00" + rng.randbytes(4) for _ in range(min(wave, left))}
            socks = squat(context, broker.endpoint, ids)
            try:
                assert_serving(broker, regular)
            finally:
                close_all(socks)
            left -= len(ids)
        assert_serving(broker, regular)
    finally:
        regular.close()


def test_the_router_tags_unknown_ids_with_their_connection_and_frames_stay_whole(
    context: zmq.Context[Any],
) -> None:
    router = context.socket(zmq.ROUTER, socket_class=Router)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    known: set[bytes] = set()
    router.track(known)
    peer = context.socket(zmq.DEALER)
    peer.linger = 0
    peer.connect(f"tcp://127.0.0.1:{port}")

    def drain_one() -> tuple[bytes, list[bytes]]:
        # The server loop's way: routing id, body, then extra frames while RCVMORE.
        assert router.poll(5000)
        rid = router.recv(zmq.NOBLOCK)
        frames = [router.recv()]
        while router.getsockopt(zmq.RCVMORE):
            frames.append(router.recv())
        return rid, frames

    messages = [[b"one"], [b"a", b"b", b"c"], [b"two"], [b"x", b""], [b"three"]]
    for message in messages:
        peer.send_multipart(message)
    seen = [drain_one() for _ in messages]
    assert [frames for _, frames in seen] == messages
    rid = seen[0][0]
    assert isinstance(rid, Rid)
    assert isinstance(rid.conn, int)
    assert rid.conn >= 0
    assert all(isinstance(r, Rid) and r.conn == rid.conn for r, _ in seen)

    known.add(bytes(rid))  # a session now: its ids come back plain
    for message in messages:
        peer.send_multipart(message)
    seen = [drain_one() for _ in messages]
    assert [frames for _, frames in seen] == messages
    assert all(type(r) is bytes and r == rid for r, _ in seen)

    def drain_frame() -> list[bytes]:
        # The server loop's way for a known id: the body as a Frame, whose `more`
        # says whether extra frames follow, then those while RCVMORE.
        assert router.poll(5000)
        assert router.recv(zmq.NOBLOCK) == rid
        body = router.recv(copy=False)
        frames = [body.bytes]
        if body.more:
            while router.getsockopt(zmq.RCVMORE):
                frames.append(router.recv())
        return frames

    for message in messages:
        peer.send_multipart(message)
    assert [drain_frame() for _ in messages] == messages
    for message in messages:
        peer.send_multipart(message)
    assert [router.recv_multipart()[1:] for _ in messages] == messages
    peer.close(0)
    router.close(0)
