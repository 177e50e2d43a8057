"""Two broker servers (real sockets, each on its own store) sharing rooms through a
real Redis, with the library's clients on each: a room conversation across the
nodes, in one order for everyone (issue 17)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cluster.nodes import Node, peer, two_nodes
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.common.messages import PresenceEvent
from zmqchat.testing import expect, wait_until
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[Node, Node]]:
    with two_nodes(tmp_path, redis_server.url) as pair:
        yield pair


def test_a_room_conversation_across_two_nodes(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    with Client("alice", a.endpoint) as alice, Client("bob", b.endpoint) as bob:
        expect(alice, "presence", user="bob", event="join")  # bob's join, from node b
        seqs = {}
        for n in range(10):
            sender, text = (alice, f"a{n}") if n % 2 == 0 else (bob, f"b{n}")
            seqs[text] = sender.send("general", text).seq
        for client in (alice, bob):
            heard = [expect(client, "chat", text=text) for text in seqs]
            # Each client hears every chat, its own too, with the seq its ack gave.
            assert [(e.text, e.seq) for e in heard] == list(seqs.items())
        assert sorted(seqs.values()) == list(range(min(seqs.values()), min(seqs.values()) + 10))
        # Each node's history holds the whole conversation.
        for client in (alice, bob):
            page = client.history("general", limit=50)
            texts = [m.text for m in page.messages if getattr(m, "text", None) in seqs]
            assert texts == list(seqs)


def test_a_chats_data_is_in_every_nodes_history(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    with Client("alice", a.endpoint) as alice, Client("bob", b.endpoint) as bob:
        data = {"kind": "greeting", "n": [1, 2.5, "three"]}
        seq = alice.send("general", "with data", data=data).seq
        alice.send("general", "without")
        for client in (alice, bob):
            expect(client, "chat", text="without")
            page = client.history("general", limit=50)
            stored = {m.seq: getattr(m, "data", None) for m in page.messages}
            assert stored[seq] == data, client.user
            assert stored[seq + 1] is None


def test_a_name_is_held_across_nodes_until_its_session_ends(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    alice = peer(a.endpoint)
    alice.register("alice", rooms=["general"])
    taken = peer(b.endpoint).request({"type": "register", "user": "Alice", "proto": 1})
    assert (taken["type"], taken["code"]) == ("error", "name_taken")
    assert alice.request({"type": "bye"})["type"] == "bye"
    # Ended on node a: free on node b.
    peer(b.endpoint).register("alice")


def test_a_session_resumes_on_another_node_and_the_first_lets_go(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    first = peer(a.endpoint)
    welcome = first.register("alice", rooms=["general", "dev"])
    # The same client, now on node b (as after losing node a): the same session,
    # in the same rooms, nobody told it left or joined.
    second = peer(b.endpoint)
    again = second.register("alice", resume=welcome["session"])
    assert again["session"] == welcome["session"]
    assert set(again["rooms"]) == {"general", "dev"}
    # Node a hears the session moved: its connection is told it was replaced.
    closed = first.recv_type("closed", timeout=10)
    assert closed["reason"] == "replaced"
    who = second.request({"type": "who", "room": "general"})
    assert [m.lower() for m in who["users"]] == ["alice"]
    # Node b holds it now: a bye there ends it and frees the name everywhere.
    assert second.request({"type": "bye"})["type"] == "bye"
    peer(a.endpoint).register("alice")


def test_a_client_with_two_endpoints_carries_on_when_its_node_stops(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    with Client("alice", [a.endpoint, b.endpoint], shuffle_seed=0) as alice:
        mine, other = (a, b) if alice.endpoint == a.endpoint else (b, a)
        with Client("bob", other.endpoint) as bob:
            bob.send("general", "before")
            expect(alice, "chat", text="before")
            session = alice.session
            mine.stop()
            wait_until(lambda: alice.endpoint == other.endpoint and alice.state == "connected",
                       20, "alice on the other node")  # fmt: skip
            bob.send("general", "after")
            expect(alice, "chat", text="after", timeout=20)
            assert alice.session == session  # resumed, not a new session
            # Nobody heard alice leave or come back: she never left the room.
            seen = []
            for event in bob.events(timeout=10):
                seen.append(event)
                if getattr(event, "text", None) == "after":
                    break
            assert [getattr(e, "text", None) for e in seen][-1] == "after"
            assert not [e for e in seen if isinstance(e, PresenceEvent) and e.user == "alice"]


def test_who_lists_everyone_on_every_node(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    alice, bob, carol = peer(a.endpoint), peer(b.endpoint), peer(b.endpoint)
    alice.register("alice", rooms=["general"])
    bob.register("Bob", rooms=["general", "dev"])
    carol.register("carol", rooms=["dev"])
    for asker in (alice, bob):
        assert asker.request({"type": "who"})["users"] == ["alice", "Bob", "carol"]
        assert asker.request({"type": "who", "room": "general"})["users"] == ["alice", "Bob"]
    assert bob.request({"type": "leave", "room": "general"})["type"] == "left"
    joined = alice.request({"type": "join", "room": "dev"})
    assert joined["members"] == ["alice", "Bob", "carol"]
    assert carol.request({"type": "bye"})["type"] == "bye"
    for asker in (alice, bob):
        assert asker.request({"type": "who", "room": "general"})["users"] == ["alice"]
        assert asker.request({"type": "who", "room": "dev"})["users"] == ["alice", "Bob"]
        assert asker.request({"type": "who"})["users"] == ["alice", "Bob"]


def test_private_messages_across_nodes_are_acked_once_handed_over(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    alice, bob = peer(a.endpoint), peer(b.endpoint)
    alice.register("alice")
    bob.register("Bob")
    ack = alice.request({"type": "pm", "to": "bob", "text": "psst"})
    assert (ack["type"], ack["status"], ack["to"]) == ("ack", "delivered", "Bob")
    got = bob.recv_type("pm")
    assert (got["from"], got["text"], got["id"]) == ("alice", "psst", ack["id"])
    back = bob.request({"type": "pm", "to": "alice", "text": "hi"})
    assert back["id"] != ack["id"]  # ids are the cluster's, not each node's
    assert alice.recv_type("pm")["text"] == "hi"
    # Bob's session ends on node b: a pm to him is refused, not acked.
    assert bob.request({"type": "bye"})["type"] == "bye"
    refused = alice.request({"type": "pm", "to": "bob", "text": "gone?"})
    assert refused["type"] == "error"
    assert refused["code"] in ("user_offline", "no_such_user")


def test_a_pm_to_a_node_that_cannot_hand_it_over_is_not_acked_delivered(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    alice, bob = peer(a.endpoint), peer(b.endpoint)
    alice.register("alice")
    bob.register("bob")
    bob.sock.close(0)  # bob's connection is gone; his session waits on node b
    reply = alice.request({"type": "pm", "to": "bob", "text": "anyone?"}, timeout=10)
    assert (reply["type"], reply["code"]) == ("error", "user_offline")


def test_a_gone_nodes_sessions_end_once_unless_resumed_elsewhere(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    stays, moves = peer(a.endpoint), peer(a.endpoint)
    stays.register("alice", rooms=["general"])
    moving = moves.register("carol", rooms=["general"])
    with Client("bob", b.endpoint) as bob:
        a.stop()  # its lease is no longer renewed
        # carol's client resumes on node b before the lease runs out: hers goes on.
        again = peer(b.endpoint).register("carol", resume=moving["session"])
        assert again["session"] == moving["session"]
        # Node b ends alice's: one leave, reason timeout, and her name is free.
        leave = expect(bob, "presence", user="alice", event="leave", timeout=10)
        assert leave.reason == "timeout"
        assert [u.lower() for u in bob.who("general")] == ["bob", "carol"]
        peer(b.endpoint).register("alice")
        seen = list(bob.events(timeout=0.5))
        assert not [e for e in seen if isinstance(e, PresenceEvent) and e.user == "carol"]


def leaves_seen(watcher: Client, count: int) -> list[PresenceEvent]:
    """The first ``count`` leaves ``watcher`` hears, in any order."""
    leaves: list[PresenceEvent] = []

    def enough() -> bool:
        leaves.extend(e for e in watcher.events(timeout=0.2)
                      if isinstance(e, PresenceEvent) and e.event == "leave")  # fmt: skip
        return len(leaves) >= count

    wait_until(enough, 10, f"{count} leaves")
    return leaves


def test_of_two_surviving_nodes_exactly_one_ends_a_gone_nodes_sessions(
    nodes: tuple[Node, Node], tmp_path: Path, redis_server: RedisProcess
) -> None:
    a, b = nodes
    c = Node(tmp_path / "c.db", redis_server.url, "c")
    try:
        gone = [peer(a.endpoint) for _ in range(3)]
        for n, client in enumerate(gone):
            client.register(f"user{n}", rooms=["general"])
        with Client("bob", b.endpoint) as bob, Client("carol", c.endpoint) as carol:
            a.stop()
            # Both survivors race for the dead node's sessions: one wins the reap's
            # lock, and each session ends with one leave, seen alike on both nodes.
            for watcher in (bob, carol):
                leaves = leaves_seen(watcher, 3)
                assert sorted((e.user, e.reason) for e in leaves) == [
                    (f"user{n}", "timeout") for n in range(3)
                ]
            for watcher in (bob, carol):
                later = [e for e in watcher.events(timeout=1.0) if isinstance(e, PresenceEvent)]
                assert [(e.user, e.event) for e in later] == []
            page = bob.history("general", limit=100)
            stored = [
                m.user for m in page.messages if isinstance(m, PresenceEvent) and m.event == "leave"
            ]
            assert sorted(stored) == ["user0", "user1", "user2"]
    finally:
        c.stop()


def test_without_redis_requests_that_need_it_are_refused_and_the_node_serves_on(
    nodes: tuple[Node, Node], redis_server: RedisProcess
) -> None:
    a, _ = nodes
    alice = peer(a.endpoint)
    alice.register("alice", rooms=["general"])
    redis_server.close()  # Redis is gone
    for request in (
        {"type": "chat", "room": "general", "text": "lost?"},
        {"type": "who"},
        {"type": "pm", "to": "nobody", "text": "x"},
    ):
        reply = alice.request(request, timeout=10)
        assert (reply["type"], reply["code"]) == ("error", "store_unavailable"), reply
    refused = peer(a.endpoint).request({"type": "register", "user": "bob", "proto": 1})
    assert (refused["type"], refused["code"]) == ("error", "store_unavailable")
    assert alice.request({"type": "ping"})["type"] == "pong"


def holding(reader: RawPeer, acked: dict[str, int]) -> dict[str, int] | None:
    """The chats (text -> seq) the reader's node holds, once it holds as many as
    ``acked``: a node holds its own acked events at once, another node's reach it
    through the feed a moment later (docs/scaling.md)."""
    asked = {"type": "history", "room": "general", "limit": 100, "ref": "h"}
    page = answered(reader, asked)
    if page is None:
        return None
    held = {m["text"]: m["seq"] for m in page["messages"] if m["type"] == "chat"}
    return held if len(held) >= len(acked) else None


def answered(sender: RawPeer, request: dict[str, Any]) -> dict[str, Any] | None:
    """The reply to ``request`` (with its ``ref``) unless it is an error, or the
    session is gone: a Redis that restarted empty lost every session, and a node
    whose lease lapsed meanwhile drops its copies (``closed``, cluster/lease.py).
    Then the peer registers again under the same token, so that the retry of a chat
    that was stored is recognised (its ticket is the same), and None: try again."""
    sender.send(request)

    def answer() -> dict[str, Any] | None:
        frame = sender.poll()
        if frame is None or (frame["type"] != "closed" and frame.get("ref") != request["ref"]):
            return None
        return frame

    frame = wait_until(answer, 10, f"the reply to {request}")
    if frame["type"] != "closed" and frame.get("code") != "not_registered":
        return frame if frame["type"] != "error" else None  # store_unavailable: again
    welcome = sender.welcome
    sender.request({"type": "register", "user": welcome["user"], "proto": 1,
                    "rooms": ["general"], "resume": welcome["session"]})  # fmt: skip
    return None


@pytest.mark.parametrize("appendfsync", ["always", "everysec", None])
def test_redis_killed_and_restarted_loses_nothing_acknowledged_and_reuses_no_seq(
    tmp_path: Path, appendfsync: str | None
) -> None:
    """With ``appendfsync always`` Redis keeps everything. With ``everysec`` too when
    only the process dies: Redis writes its AOF before it replies, and the machine's
    page cache outlives the process (the second it may lose is a machine crash's,
    docs/scaling.md). With no persistence at all it restarts empty, and the nodes'
    own stores keep the seqs from being reused."""
    redis_server = RedisProcess(tmp_path / "redis", appendfsync=appendfsync).start()
    a = Node(tmp_path / "a.db", redis_server.url, "a")
    b = Node(tmp_path / "b.db", redis_server.url, "b")
    try:
        alice, bob = peer(a.endpoint), peer(b.endpoint)
        alice.register("alice", rooms=["general"])
        bob.register("bob", rooms=["general"])
        acked = {}
        for n in range(20):
            ack = (alice if n % 2 else bob).request(
                {"type": "chat", "room": "general", "text": f"before {n}"}
            )
            acked[f"before {n}"] = ack["seq"]
        epoch = alice.welcome["epoch"]
        # What the seq floor covers: a Redis that restarts empty numbers on from the
        # last seq the appending node holds. A chat that reached no other node before
        # the kill may have its seq given again, in the new epoch that tells clients
        # the numbering started over (docs/scaling.md): not what this test is about.
        for reader in (alice, bob):
            wait_until(functools.partial(holding, reader, acked), 10, "both nodes hold every chat")
        redis_server.restart()  # SIGKILL, then the same files
        for n in range(10):
            sender = alice if n % 2 else bob
            chat = {"type": "chat", "room": "general", "text": f"after {n}", "ref": f"after-{n}"}
            ack = wait_until(functools.partial(answered, sender, chat), 20, "Redis back")
            acked[f"after {n}"] = ack["seq"]
        assert len(set(acked.values())) == 30  # no seq given twice
        assert min(acked[f"after {n}"] for n in range(10)) > max(
            acked[f"before {n}"] for n in range(20)
        )
        for reader in (alice, bob):
            assert (
                wait_until(
                    functools.partial(holding, reader, acked),
                    10,
                    "every acked chat in the reader's node",
                )
                == acked
            )
        # The engine's epoch is Redis's: kept with its files, new when it lost them.
        probe = peer(b.endpoint)
        probe.register("probe")
        assert (probe.welcome["epoch"] == epoch) == (appendfsync is not None)
    finally:
        b.stop()
        a.stop()
        redis_server.close()


def test_operators_kicks_and_bans_hold_on_every_node(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    alice, bob, carol = peer(a.endpoint), peer(b.endpoint), peer(b.endpoint)
    alice.register("alice")
    bob.register("bob")
    carol.register("carol")
    assert alice.request({"type": "join", "room": "ops"})["type"] == "joined"  # creator
    for member in (bob, carol):
        assert member.request({"type": "join", "room": "ops"})["type"] == "joined"
    # Node a's operator gives carol, on node b, the op: node b knows it.
    assert alice.request({"type": "op", "room": "ops", "user": "carol"})["type"] == "moderated"
    done = wait_until(
        lambda: (r := carol.request({"type": "kick", "room": "ops", "user": "bob"}))["type"]
        != "error" and r,
        10, "carol an operator on node b",
    )  # fmt: skip
    assert done["type"] == "moderated"
    assert bob.recv_type("moderation")["action"] == "kick"
    # A ban from node a keeps bob, on node b, out.
    assert bob.request({"type": "join", "room": "ops"})["type"] == "joined"
    assert alice.request({"type": "ban", "room": "ops", "user": "bob"})["type"] == "moderated"
    assert bob.recv_type("moderation", timeout=10)["action"] == "ban"
    wait_until(lambda: "bob" not in alice.request({"type": "who", "room": "ops"})["users"],
               10, "bob out of #ops")  # fmt: skip
    refused = bob.request({"type": "join", "room": "ops"})
    assert (refused["type"], refused["code"]) == ("error", "banned")
    # A kick from node a of a member on node b.
    kicked = alice.request({"type": "kick", "room": "ops", "user": "carol"})
    assert kicked["type"] == "moderated"
    assert carol.recv_type("moderation", timeout=10)["action"] == "kick"
    wait_until(lambda: alice.request({"type": "who", "room": "ops"})["users"] == ["alice"],
               10, "carol out of #ops")  # fmt: skip


def test_an_empty_room_without_chat_is_forgotten_on_every_node(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    alice, bob = peer(a.endpoint), peer(b.endpoint)
    alice.register("alice")
    bob.register("bob")
    for member in (alice, bob):
        assert member.request({"type": "join", "room": "tmp"})["type"] == "joined"
    assert alice.request({"type": "leave", "room": "tmp"})["type"] == "left"
    assert bob.request({"type": "leave", "room": "tmp"})["type"] == "left"

    def listed(reader: RawPeer) -> bool:
        rooms = reader.request({"type": "rooms"})["rooms"]
        return any(room["name"] == "tmp" for room in rooms)

    # Forgotten in Redis and on both nodes: joined again, it is a new room.
    wait_until(lambda: not listed(alice) and not listed(bob), 10, "#tmp forgotten")
    assert alice.request({"type": "join", "room": "tmp"})["seq"] == 1
    assert bob.request({"type": "join", "room": "tmp"})["seq"] == 2

    def history(reader: RawPeer) -> list[tuple[int, str, str]]:
        page = reader.request({"type": "history", "room": "tmp", "limit": 50})
        return [(m["seq"], m["user"], m["event"]) for m in page["messages"]]

    wait_until(lambda: history(alice) == history(bob) == [(1, "alice", "join"), (2, "bob", "join")],
               10, "both nodes' copies of the new #tmp")  # fmt: skip


@pytest.mark.parametrize("how", ["outside", "joined"])
def test_a_node_new_to_a_room_answers_with_every_event_already_acked(
    nodes: tuple[Node, Node], how: str
) -> None:
    """Node B has never followed the room: reading it from outside, or joining it
    and reading, gives everything node A acknowledged before, not an empty page
    that fills in a moment later (the feed's catch-up comes first)."""
    a, b = nodes
    alice = peer(a.endpoint)
    alice.register("alice", rooms=["lobby"])
    texts = [f"line {n}" for n in range(40)]
    for text in texts:
        assert alice.request({"type": "chat", "room": "lobby", "text": text})["type"] == "ack"
    bob = peer(b.endpoint)
    bob.register("bob", rooms=[])
    if how == "joined":
        assert bob.request({"type": "join", "room": "lobby"})["type"] == "joined"
    page = bob.request(
        {"type": "history", "room": "lobby", "limit": 100, "external": how == "outside"}
    )
    assert [m["text"] for m in page["messages"] if m["type"] == "chat"] == texts


def test_rooms_counts_the_members_on_every_node(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    alice, carol, bob = peer(a.endpoint), peer(a.endpoint), peer(b.endpoint)
    alice.register("alice", rooms=["general"])
    carol.register("carol", rooms=["general"])
    bob.register("bob", rooms=["general"])
    for reader in (alice, bob):
        listed = {r["name"]: r["members"] for r in reader.request({"type": "rooms"})["rooms"]}
        assert listed["general"] == 3, listed
