"""Two broker cores sharing rooms through a real Redis (issue 17's room events):
each core handles its own clients' requests; Redis numbers every room event; each
node keeps and publishes every event, its own too, from its feed, so both nodes'
subscribers see the same events in the same order, and an ack reports a seq only
once its node holds the event."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from zmqchat.broker.cluster.engine import RedisRoomEvents
from zmqchat.broker.cluster.feed import Feed
from zmqchat.broker.cluster.roomlog import RoomLog
from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import BrokerState
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(60)

Msg = dict[str, Any]
_refs = itertools.count(1)


class Node:
    """A BrokerCore on its own store with the Redis engine, flushed as the loop does:
    sequence the turn's events, apply what the feed brings, commit, collect."""

    def __init__(self, name: str, path: Path, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.store = Store(str(path))
        self.engine: RedisRoomEvents | None = None

        def make(store: Store, out: Outbox, state: BrokerState) -> RedisRoomEvents:
            self.engine = RedisRoomEvents(store, out, state, RoomLog(self.client), name)
            return self.engine

        self.core = BrokerCore(BrokerConfig(rate_limit=0), self.store, pub_port=1, engine=make)
        assert self.engine is not None
        self.feed = Feed(self.client)
        self.replies: dict[bytes, list[Msg]] = {}
        self.published: list[Msg] = []

    def follow(self, room: str) -> None:
        for batch in self.feed.subscribe(room, after=0):
            assert self.engine is not None
            self.engine.apply(batch)

    def send(self, rid: bytes, msg: Msg) -> None:
        self.core.handle(rid, encode(msg), 1.0)

    def turn(self, feed_timeout: float = 0.0) -> list[tuple[bytes, object]]:
        assert self.engine is not None
        failed = self.engine.sequence()
        for batch in self.feed.poll(feed_timeout):
            self.engine.apply(batch)
        self.store.commit()
        out = self.core.out
        for rid, body in out.replies:
            self.replies.setdefault(rid, []).append(decode(body, None))
        self.published += [decode(body, None) for _, body in out.publishes]
        out.clear()
        return failed

    def close(self) -> None:
        self.feed.close()
        self.store.close()
        self.client.close()


def settle(*nodes: Node, until: Any, what: str) -> None:
    for _ in range(200):
        for node in nodes:
            node.turn(0.01)
        if until():
            return
    raise AssertionError(f"never: {what}")


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[Node, Node]]:
    a = Node("a", tmp_path / "a.db", redis_server.url)
    b = Node("b", tmp_path / "b.db", redis_server.url)
    for node in (a, b):
        node.follow("general")
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def register(node: Node, rid: bytes, user: str) -> Msg:
    node.send(rid, {"type": "register", "user": user, "proto": 1, "rooms": ["general"]})
    settle(node, until=lambda: node.replies.get(rid), what=f"{user}'s welcome")
    (welcome,) = node.replies.pop(rid)
    assert welcome["type"] == "welcome", welcome
    return welcome


def chats(node: Node) -> list[tuple[int, str, str]]:
    return [(m["seq"], m["from"], m["text"]) for m in node.published if m["type"] == "chat"]


def test_two_nodes_share_a_rooms_numbering_order_and_history(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    register(a, b"alice", "alice")
    welcome = register(b, b"bob", "bob")
    assert welcome["rooms"]["general"] >= 2  # its own join came after alice's

    for n in range(5):  # both nodes' clients talk in the same turns
        a.send(b"alice", {"type": "chat", "room": "general", "text": f"a{n}", "ref": next(_refs)})
        b.send(b"bob", {"type": "chat", "room": "general", "text": f"b{n}", "ref": next(_refs)})
    settle(a, b, until=lambda: len(chats(a)) == len(chats(b)) == 10, what="10 chats on both")

    # One order for everyone, with no seq twice and none missing.
    assert chats(a) == chats(b)
    seqs = [seq for seq, _, _ in chats(a)]
    assert seqs == list(range(seqs[0], seqs[0] + 10))
    # Each ack reports the seq its chat has in that order.
    by_text = {text: seq for seq, _, text in chats(a)}
    for node, rid in ((a, b"alice"), (b, b"bob")):
        acks = [m for m in node.replies[rid] if m["type"] == "ack"]
        assert len(acks) == 5
        for ack in acks:
            assert ack["seq"] in by_text.values()
    # Both nodes hold the whole history, each from its own store.
    for node in (a, b):
        node.send(b"alice" if node is a else b"bob",
                  {"type": "history", "room": "general", "limit": 50, "ref": 999})  # fmt: skip
        node.turn()
    for node, rid in ((a, b"alice"), (b, b"bob")):
        (page,) = [m for m in node.replies[rid] if m["type"] == "history"]
        texts = [m["text"] for m in page["messages"] if m["type"] == "chat"]
        assert sorted(texts) == sorted(by_text)
        assert [m["text"] for m in page["messages"] if m["type"] == "chat"] == [
            text for _, _, text in chats(a)
        ]


def test_an_ack_comes_once_its_node_holds_the_event(nodes: tuple[Node, Node]) -> None:
    a, _ = nodes
    register(a, b"alice", "alice")
    a.send(b"alice", {"type": "chat", "room": "general", "text": "hello", "ref": 1})
    a.engine.sequence()  # type: ignore[union-attr]
    assert a.core.out.replies == []  # numbered in Redis, not yet back from the feed
    settle(a, until=lambda: a.replies.get(b"alice"), what="the ack")
    (ack,) = a.replies[b"alice"]
    assert ack["type"] == "ack"
    assert a.store.room_history("general", ack["seq"] - 1, None, 5)[0][0].seq == ack["seq"]


def test_a_retried_chat_is_acked_with_its_first_seq_and_published_once(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    register(a, b"alice", "alice")
    chat = {"type": "chat", "room": "general", "text": "once", "ref": 7}
    a.send(b"alice", chat)
    settle(a, b, until=lambda: "once" in [t for _, _, t in chats(b)], what="the chat")
    (first,) = [m["seq"] for m in a.replies.pop(b"alice") if m["type"] == "ack"]
    # The node forgets what it acked (as after a restart): Redis recognises the
    # retry by its node, session and ref.
    a.core.state.by_rid[b"alice"].acks.clear()
    a.send(b"alice", chat)
    settle(a, until=lambda: a.replies.get(b"alice"), what="the retry's ack")
    (ack,) = a.replies[b"alice"]
    assert ack["seq"] == first
    assert [t for _, _, t in chats(b)].count("once") == 1


def test_events_redis_did_not_take_are_refused_not_acked(
    nodes: tuple[Node, Node], redis_server: RedisProcess
) -> None:
    a, _ = nodes
    register(a, b"alice", "alice")
    redis_server.close()  # Redis is gone
    a.send(b"alice", {"type": "chat", "room": "general", "text": "lost?", "ref": 3})
    failed = a.engine.sequence()  # type: ignore[union-attr]
    assert failed == [(b"alice", 3)]
    (refusal,) = [decode(body, None) for _, body in a.core.out.replies]
    assert (refusal["type"], refusal["code"], refusal["ref"]) == ("error", "store_unavailable", 3)
