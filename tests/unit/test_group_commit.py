"""The loop's flush with real sockets and an explicit clock: when acks of private
messages wait for a commit shared with the pms after them, and when they don't.

The core is the unit tests' (tests/unit/test_handlers.py); the Flush, its Commits
and its Replies are the server's, on a ROUTER whose DEALER peers stand for three
users. ``now`` is passed to every call, so the hold is tested without sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from tests.unit.test_handlers import Broker

from zmqchat.broker.commits import Commits
from zmqchat.broker.flush import PM_GROUP_COMMIT, Flush
from zmqchat.broker.relay import CONVERSING
from zmqchat.broker.replies import Replies
from zmqchat.common.codec import decode, encode

pytestmark = pytest.mark.timeout(30)

A, B, C = b"rid-a", b"rid-b", b"rid-c"


class Loop:
    """A core, the server's Flush on real sockets, and a DEALER per user."""

    def __init__(self, path: Path) -> None:
        self.broker = Broker(str(path))
        self.ctx = zmq.Context()
        router = self.ctx.socket(zmq.ROUTER)
        router.bind("inproc://group-commit")
        self.pub = self.ctx.socket(zmq.PUB)
        self.dealers: dict[bytes, zmq.Socket[bytes]] = {}
        for rid in (A, B, C):
            dealer = self.ctx.socket(zmq.DEALER)
            dealer.setsockopt(zmq.ROUTING_ID, rid)
            dealer.connect("inproc://group-commit")
            self.dealers[rid] = dealer
        self.router = router
        # No subscriptions are rechecked here: no gate; no connection is cut: no watch.
        gate: Any = None
        replies = Replies(router, 0, gate, 100)
        self.flush = Flush(Commits(self.broker.store), self.pub, replies, gate)
        self.now = 100.0
        for rid, user in ((A, "alice"), (B, "bob"), (C, "carol")):
            self.broker.register(rid, user)

    def pm(self, rid: bytes, to: str, ref: int, after: float) -> None:
        """``rid`` sends a pm ``after`` seconds later; the loop handles and flushes it."""
        self.now += after
        body = {"type": "pm", "to": to, "text": f"pm {ref}", "ref": ref}
        self.broker.core.handle(rid, encode(body), self.now)
        self.flush.flush(self.broker.core, self.now)

    def tick(self, after: float) -> None:
        """The loop wakes ``after`` seconds later with nothing new to read."""
        self.now += after
        self.flush.flush(self.broker.core, self.now)

    def got(self, rid: bytes) -> list[tuple[str, Any]]:
        """(type, ref or text) of every frame ``rid``'s DEALER has now."""
        frames = []
        while self.dealers[rid].poll(0):
            msg = decode(self.dealers[rid].recv(), None)
            frames.append((msg["type"], msg.get("ref", msg.get("text"))))
        return frames

    @property
    def commits(self) -> int:
        return self.broker.store.commits

    def close(self) -> None:
        for sock in (*self.dealers.values(), self.router, self.pub):
            sock.close(0)
        self.ctx.term()
        self.broker.close()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    it = Loop(tmp_path / "broker.db")
    yield it
    it.close()


def test_an_answer_ends_the_hold_and_shares_its_commit(loop: Loop) -> None:
    # Bob writes first: alice has not written, so his ack leaves with its own commit.
    before = loop.commits
    loop.pm(B, "alice", 1, 0)
    assert loop.commits == before + 1
    assert loop.got(B) == [("ack", 1)]
    assert loop.got(A) == [("pm", "pm 1")]

    # Alice answers; bob wrote a moment ago: her pm goes to him at once, her ack
    # waits for the commit that bob's answer will share.
    step = PM_GROUP_COMMIT / 4
    loop.pm(A, "bob", 2, step)
    assert loop.got(B) == [("pm", "pm 2")]
    assert loop.got(A) == []
    assert loop.commits == before + 1

    # Bob's answer is what alice's ack waited for: it goes to her at once, and the
    # commit they share is made in the same turn, not at the end of the hold (a
    # client that waits for its ack before it writes again would wait for all of it).
    loop.pm(B, "alice", 3, step)
    assert loop.commits == before + 2
    assert loop.got(A) == [("pm", "pm 3"), ("ack", 2)]
    assert loop.got(B) == [("ack", 3)]
    # Both stored: acknowledged means stored.
    rows = loop.broker.store.reader().execute("SELECT text FROM pms ORDER BY id").fetchall()
    assert [text for (text,) in rows] == ["pm 1", "pm 2", "pm 3"]

    # And the next pm of the conversation is held again.
    loop.pm(A, "bob", 4, step)
    assert loop.got(B) == [("pm", "pm 4")]
    assert loop.got(A) == []


def test_a_held_ack_waits_at_most_the_hold(loop: Loop) -> None:
    loop.pm(B, "alice", 1, 0)
    loop.got(A), loop.got(B)
    before = loop.commits
    step = PM_GROUP_COMMIT / 4
    loop.pm(A, "bob", 2, step)
    assert loop.got(B) == [("pm", "pm 2")]
    # Bob does not answer: nothing until the hold, counted from alice's pm, is over.
    loop.tick(PM_GROUP_COMMIT - 1e-5)
    assert loop.commits == before
    assert loop.got(A) == loop.got(B) == []
    loop.tick(2e-5)
    assert loop.commits == before + 1
    assert loop.got(A) == [("ack", 2)]
    assert loop.got(B) == []


def test_a_pm_to_someone_who_is_not_writing_is_acked_with_its_own_commit(loop: Loop) -> None:
    loop.pm(B, "alice", 1, 0)
    loop.got(A), loop.got(B)
    # Carol has never written; and bob's last pm is too long ago to be a conversation.
    before = loop.commits
    loop.pm(A, "carol", 2, 0)
    assert loop.got(A) == [("ack", 2)]
    loop.pm(A, "bob", 3, CONVERSING * 2)
    assert loop.got(A) == [("ack", 3)]
    assert loop.commits == before + 2


def test_anything_else_in_the_batch_commits_the_held_acks_with_it(loop: Loop) -> None:
    loop.pm(B, "alice", 1, 0)
    loop.pm(A, "bob", 2, PM_GROUP_COMMIT / 4)
    assert loop.got(A) == [("pm", "pm 1")]
    # A request with a reply of its own (a ping) needs no wait: the held ack goes too.
    loop.now += PM_GROUP_COMMIT / 4
    loop.broker.core.handle(C, encode({"type": "ping", "ref": 9}), loop.now)
    loop.flush.flush(loop.broker.core, loop.now)
    assert loop.got(A) == [("ack", 2)]
    assert [kind for kind, _ in loop.got(C)] == ["pong"]
