"""A session is bound to its connection, not to a routing id: BrokerCore without
sockets, fed routing ids tagged with their connection (as the server's Router tags
them) and a fake of the server's connection watch.

The server half (libzmq's monitor, the tags on real frames) is tested with real
sockets in tests/integration/test_routing_ids.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.peers import Rid
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig

Msg = dict[str, Any]


class FakeConnections:
    """The server's ConnectionWatch: connections end when a test says so."""

    def __init__(self) -> None:
        self.pending: list[int] = []
        self.ended: set[int] = set()
        self.reads = 0

    def end(self, conn: int) -> None:
        self.pending.append(conn)
        self.ended.add(conn)

    def reuse(self, conn: int) -> None:
        """The OS hands ``conn`` to a new connection (libzmq's ACCEPTED event)."""
        self.pending.append(conn)
        self.ended.discard(conn)

    def closed(self) -> list[int]:
        self.reads += 1
        pending, self.pending = self.pending, []
        return pending

    def is_open(self, conn: int) -> bool:
        return conn not in self.ended


def rid(data: bytes, conn: int) -> Rid:
    tagged = Rid(data)
    tagged.conn = conn
    return tagged


class Harness:
    def __init__(self, path: str) -> None:
        self.store = Store(path)
        self.conns = FakeConnections()
        self.core = BrokerCore(
            BrokerConfig(), self.store, pub_port=6001, capacity=100, connections=self.conns
        )
        self.now = 100.0

    def batch(self, *frames: tuple[bytes, Msg]) -> dict[bytes, list[Msg]]:
        """Handle ``frames`` as one batch of the server loop (one ``now``, then expire),
        and return what would be sent, by routing id."""
        self.now += 0.001
        now = float(self.now)  # a fresh object per batch, as time.monotonic() gives
        for to, msg in frames:
            self.core.handle(to, encode(msg), now)
        self.core.expire(now)
        self.store.commit()
        sent: dict[bytes, list[Msg]] = {}
        out = self.core.out
        for pm in out.pms:
            if pm.to is not None:
                sent.setdefault(pm.to, []).append(decode(pm.frame, None))
                sent.setdefault(pm.sender.rid or b"", []).append(decode(pm.ack, None))
            else:
                sent.setdefault(pm.sender.rid or b"", []).append(
                    decode(self.core.undelivered(pm), None)
                )
        for to, body in out.replies:
            sent.setdefault(to, []).append(decode(body, None))
        out.clear()
        return sent

    def register(self, to: bytes, user: str, **extra: Any) -> Msg:
        (welcome,) = self.batch((to, {"type": "register", "user": user, "proto": 1, **extra}))[to]
        assert welcome["type"] == "welcome", welcome
        return welcome


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(str(tmp_path / "store.db"))
    yield harness
    harness.store.close()


ALICE = rid(b"\x00\x00\x00\x00\x01", 10)
BOB = rid(b"\x00\x00\x00\x00\x02", 11)


def test_a_closed_connection_detaches_its_session_and_its_id_gets_nothing_of_it(
    h: Harness,
) -> None:
    welcome = h.register(ALICE, "alice")
    h.register(BOB, "bob")
    h.conns.end(10)
    # The same id on another connection (a peer that chose it): a stranger.
    thief = rid(bytes(ALICE), 12)
    sent = h.batch(
        (thief, {"type": "ping", "ref": 1}),
        (BOB, {"type": "pm", "to": "alice", "text": "secret", "ref": 2}),
    )
    assert [m["code"] for m in sent[thief]] == ["not_registered"]
    assert [(m["type"], m.get("code")) for m in sent[BOB]] == [("error", "user_offline")]
    # The session waits: its name is held, and its token gets it back.
    taken = h.batch((rid(b"x", 13), {"type": "register", "user": "alice", "proto": 1}))
    assert taken[b"x"][0]["code"] == "name_taken"
    back = h.register(rid(b"y", 14), "alice", resume=welcome["session"])
    assert back["session"] == welcome["session"]
    sent = h.batch((BOB, {"type": "pm", "to": "alice", "text": "again", "ref": 3}))
    assert [m["text"] for m in sent[b"y"]] == ["again"]


def test_the_same_id_on_a_reused_descriptor_is_a_stranger_too(h: Harness) -> None:
    h.register(ALICE, "alice")
    h.conns.end(10)
    h.conns.reuse(10)  # the OS gave the descriptor to the next connection
    sent = h.batch((rid(bytes(ALICE), 10), {"type": "ping", "ref": 1}))
    assert [m["code"] for m in sent[bytes(ALICE)]] == ["not_registered"]


def test_connection_events_are_read_once_per_batch_and_before_its_first_frame(
    h: Harness,
) -> None:
    h.register(ALICE, "alice")
    h.register(BOB, "bob")
    reads = h.conns.reads
    h.conns.end(10)
    sent = h.batch(
        *[(BOB, {"type": "ping", "ref": n}) for n in range(5)], (ALICE, {"type": "ping"})
    )
    assert len(sent[BOB]) == 5
    assert [m["code"] for m in sent[ALICE]] == ["not_registered"]
    assert h.conns.reads == reads + 2  # the batch's first frame, and expire


def test_what_a_batch_queued_for_a_connection_that_closed_meanwhile_is_not_sent(
    h: Harness,
) -> None:
    h.register(ALICE, "alice")
    h.register(BOB, "bob")
    # Bob's pm and Alice's pong are queued; her connection closes before they leave.
    h.now += 0.001
    now = float(h.now)
    h.core.handle(BOB, encode({"type": "pm", "to": "alice", "text": "secret", "ref": 2}), now)
    h.core.handle(ALICE, encode({"type": "ping", "ref": 1}), now)
    assert any(to == ALICE for to, _ in h.core.out.replies)
    h.conns.end(10)
    h.core.expire(now)
    assert all(to != ALICE for to, _ in h.core.out.replies)
    (pm,) = h.core.out.pms
    assert pm.to is None
    assert decode(h.core.undelivered(pm), None)["code"] == "user_offline"


def test_a_register_from_a_connection_already_gone_binds_nothing(h: Harness) -> None:
    h.conns.end(10)
    sent = h.batch((ALICE, {"type": "register", "user": "alice", "proto": 1, "ref": 1}))
    assert sent == {}
    assert "alice" not in h.core.state.by_key
    # The descriptor's next connection registers as usual.
    h.conns.reuse(10)
    assert h.register(rid(b"\x00\x00\x00\x00\x03", 10), "alice")["user"] == "alice"


def test_a_resume_moves_the_session_to_its_new_connection(h: Harness) -> None:
    welcome = h.register(ALICE, "alice")
    moved = rid(b"\x00\x00\x00\x00\x09", 20)
    sent = h.batch(
        (moved, {"type": "register", "user": "alice", "proto": 1, "resume": welcome["session"]})
    )
    assert sent[moved][0]["type"] == "welcome"
    assert sent[bytes(ALICE)][0] == {"type": "closed", "reason": "replaced"}
    h.conns.end(10)  # the old connection's end no longer concerns the session
    sent = h.batch((moved, {"type": "ping", "ref": 1}))
    assert sent[moved][0]["type"] == "pong"
    h.conns.end(20)
    sent = h.batch((moved, {"type": "ping", "ref": 2}))
    assert sent[moved][0]["code"] == "not_registered"


def test_ids_without_a_connection_keep_the_old_binding(h: Harness) -> None:
    # A server that tags nothing (or a plain bytes id) still works as before.
    h.register(b"plain", "alice")
    h.conns.end(10)
    sent = h.batch((b"plain", {"type": "ping", "ref": 1}))
    assert sent[b"plain"][0]["type"] == "pong"
