"""Private rooms and invitations across nodes (cluster/access.py): members-only on
every node, an invitation good on any node as soon as it is answered, a room made
private on one node while another lets it in as public ending one way only, and a
node started later knowing them (issue 17). Two or three BrokerServers on threads,
each on its own store, one real Redis."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.cluster.nodes import Node, Relay, peer, two_nodes
from tests.helpers import RawPeer

from zmqchat.broker.cluster.access import RedisAccess
from zmqchat.broker.cluster.records import RecordLog
from zmqchat.broker.cluster.roomlog import Event, RoomLog, key
from zmqchat.broker.store import Store
from zmqchat.testing import wait_until
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[Node, Node]]:
    with two_nodes(tmp_path, redis_server.url) as pair:
        yield pair


def refused(reply: dict[str, Any], code: str) -> bool:
    return (reply["type"], reply.get("code")) == ("error", code)


def read_only(node: Node) -> sqlite3.Connection:
    """A node's store, read beside it (never created here)."""
    return sqlite3.connect(f"file:{node.server.config.db}?mode=ro", uri=True)


def listed(reader: RawPeer, room: str) -> bool:
    return any(r["name"] == room for r in reader.request({"type": "rooms"})["rooms"])


def test_a_private_room_is_members_only_on_every_node(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    alice, bob, carol = peer(a.endpoint), peer(b.endpoint), peer(b.endpoint)
    alice.register("alice")
    bob.register("bob")
    carol.register("carol")
    made = alice.request({"type": "join", "room": "secret", "private": True})
    assert (made["type"], made.get("private")) == ("joined", True), made
    assert alice.request({"type": "chat", "room": "secret", "text": "hush"})["type"] == "ack"
    # Node b has not heard of it through its records yet, or has: Redis decides.
    for request in (
        {"type": "join", "room": "secret"},
        {"type": "history", "room": "secret", "external": True},
        {"type": "chat", "room": "secret", "text": "let me in", "external": True},
        {"type": "search", "words": "hush", "room": "secret", "external": True},
    ):
        reply = carol.request(request)
        assert refused(reply, "not_invited"), (request, reply)
    # A public join of it on node b, as its first: refused, not made public.
    assert refused(bob.request({"type": "join", "room": "secret"}), "not_invited")

    invited = alice.request({"type": "invite", "room": "secret", "user": "bob"})
    assert invited["type"] == "invited", invited
    # At once on the other node: the invitation is in Redis before its reply.
    joined = bob.request({"type": "join", "room": "secret"})
    assert (joined["type"], joined.get("private")) == ("joined", True), joined
    assert joined["members"] == ["alice", "bob"]
    page = bob.request({"type": "history", "room": "secret", "limit": 10})
    assert [m.get("text") for m in page["messages"] if m["type"] == "chat"] == ["hush"]
    # Still nobody else's, on either node.
    assert refused(carol.request({"type": "join", "room": "secret"}), "not_invited")
    dave = peer(a.endpoint)
    dave.register("dave")
    assert refused(dave.request({"type": "join", "room": "secret"}), "not_invited")
    # A register naming it lets in only whoever may enter.
    eve = peer(b.endpoint)
    assert "secret" not in eve.register("eve", rooms=["secret", "lobby"])["rooms"]
    # The listings: node b's copy of the private rooms comes with the records.
    wait_until(lambda: listed(bob, "secret") and not listed(carol, "secret"), 10,
               "#secret listed to bob only on node b")  # fmt: skip
    assert not listed(dave, "secret")
    # And node b's store holds the room and its invitation, from alice's node.
    with contextlib.closing(read_only(b)) as db:
        assert db.execute("SELECT room, creator FROM private_rooms").fetchall() == [
            ("secret", "alice")
        ]
        assert db.execute("SELECT room, user, inviter FROM invites").fetchall() == [
            ("secret", "bob", "alice")
        ]


def test_a_room_made_private_on_one_node_and_joined_on_another_ends_one_way(
    nodes: tuple[Node, Node],
) -> None:
    """The race: a join with ``private`` of a new room on node a and a plain join of
    the same room on node b, sent together. Either the room is private and b's user
    was refused, or it is public and the private join was refused; never a private
    room with a member nobody invited."""
    a, b = nodes
    alice, carol = peer(a.endpoint), peer(b.endpoint)
    alice.register("alice")
    carol.register("carol")
    outcomes = {"private": 0, "public": 0}
    for n in range(40):
        room = f"race{n}"
        alice.send({"type": "join", "room": room, "private": True, "ref": 1000 + n})
        carol.send({"type": "join", "room": room, "ref": 2000 + n})
        made = reply_to(alice, 1000 + n)
        other = reply_to(carol, 2000 + n)
        if made["type"] == "joined":
            assert made.get("private") is True, made
            assert refused(other, "not_invited"), (room, made, other)
            outcomes["private"] += 1
        else:
            assert refused(made, "bad_request"), made
            assert "is public" in made["message"], made
            assert (other["type"], other.get("private")) == ("joined", None), other
            outcomes["public"] += 1
        members = alice.request({"type": "who", "room": room})["users"]
        assert members == (["alice"] if made["type"] == "joined" else ["carol"]), (room, members)
    assert sum(outcomes.values()) == 40, outcomes


def reply_to(asker: RawPeer, ref: int) -> dict[str, Any]:
    def reply() -> dict[str, Any] | None:
        frame = asker.poll()
        return frame if frame is not None and frame.get("ref") == ref else None

    return wait_until(reply, 10, f"the reply to ref {ref}", interval=0)


def test_a_node_started_later_knows_the_private_rooms(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    with two_nodes(tmp_path, redis_server.url) as (a, _):
        alice = peer(a.endpoint)
        alice.register("alice")
        for room in ("secret", "hideout"):
            assert alice.request({"type": "join", "room": room, "private": True})["private"]
        alice.request({"type": "invite", "room": "secret", "user": "bob"})
        c = Node(tmp_path / "c.db", redis_server.url, "c")  # a new store
        try:
            bob, carol = peer(c.endpoint), peer(c.endpoint)
            bob.register("bob")
            carol.register("carol")

            def stored() -> tuple[list[Any], list[Any]]:
                with contextlib.closing(read_only(c)) as db:
                    rooms = db.execute("SELECT room FROM private_rooms ORDER BY room").fetchall()
                    invites = db.execute("SELECT room, user FROM invites").fetchall()
                return rooms, invites

            want = ([("hideout",), ("secret",)], [("secret", "bob")])
            wait_until(lambda: stored() == want, 10, "node c's copy of the private rooms")
            # Node c's memory too: `who` of a private room is for its members only.
            assert refused(carol.request({"type": "who", "room": "hideout"}), "not_in_room")
            assert bob.request({"type": "join", "room": "secret"})["private"] is True
            assert refused(carol.request({"type": "join", "room": "secret"}), "not_invited")
        finally:
            c.stop()


def test_an_invitation_redis_does_not_take_is_refused(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    relay = Relay(redis_server.socket)
    a = Node(tmp_path / "a.db", relay.url, "a")
    b = Node(tmp_path / "b.db", redis_server.url, "b")
    try:
        alice = peer(a.endpoint)
        alice.register("alice")
        assert alice.request({"type": "join", "room": "secret", "private": True})["private"]
        relay.cut()
        invite = {"type": "invite", "room": "secret", "user": "bob"}
        assert refused(alice.request(invite), "store_unavailable")
        relay.mend()
        wait_until(lambda: alice.request(invite)["type"] == "invited", 10, "the invitation")
        bob = peer(b.endpoint)
        bob.register("bob")
        assert bob.request({"type": "join", "room": "secret"})["private"] is True
    finally:
        b.stop()
        a.stop()
        relay.close()


def test_a_new_store_gets_the_private_rooms_from_redis(tmp_path: Path, engine: redis.Redis) -> None:
    """Records trimmed away: a node on a new store reads them from Redis's keys."""
    access = RedisAccess(RecordLog(engine, "a"))
    assert access.create("secret", "alice", 1.0, exists=False) == "alice"
    assert access.create("secret", "carol", 2.0, exists=False) == "alice"
    access.invite("secret", "bob", "alice", 3.0)
    store = Store(str(tmp_path / "new.db"))
    try:
        assert access.load(store.writer()) == 1
        db = store.reader()
        assert db.execute("SELECT room, creator FROM private_rooms").fetchall() == [
            ("secret", "alice")
        ]
        assert db.execute("SELECT room, user FROM invites").fetchall() == [("secret", "bob")]
    finally:
        store.close()


def test_a_private_room_or_one_being_joined_is_not_forgotten(engine: redis.Redis) -> None:
    access = RedisAccess(RecordLog(engine, "a"))
    roomlog = RoomLog(engine)
    frame = b"\x81\xa3seq\xcf" + b"\xff" * 8
    for room in ("secret", "open"):
        roomlog.append(room, [Event(frame, kept=False)])
    access.create("fresh", "alice", 1.0, exists=False)
    assert not roomlog.forget("fresh")  # private: never
    assert access.create("secret", "alice", 1.0, exists=False) is None  # public already
    # A join let in but not appended yet keeps the room; its append ends that.
    assert access.admit("carol", ["open"], creates=True) == [(None, True)]
    assert engine.exists(key("open", "public"))
    assert not roomlog.forget("open")
    roomlog.append("open", [Event(frame, kept=False)])
    assert not engine.exists(key("open", "public"))
    assert roomlog.forget("open")
    # A read sets nothing: it creates no room.
    assert access.admit("carol", ["unheard"], creates=False) == [(None, True)]
    assert not engine.exists(key("unheard", "public"))
    assert access.create("unheard", "alice", 1.0, exists=False) == "alice"
