"""Every request of protocol v1 and every error code, against a real broker, spoken
byte for byte through a bare DEALER (as a bot in another language would)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from tests.helpers import RawPeer, RawSub

from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def peers(broker: BrokerProcess) -> Iterator[list[RawPeer]]:
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()


def connect(
    broker: BrokerProcess, peers: list[RawPeer], user: str | None = None, **fields: object
) -> RawPeer:
    peer = RawPeer(broker.endpoint)
    peers.append(peer)
    if user is not None:
        peer.register(user, **fields)
    return peer


def error(reply: dict[str, object], code: str) -> dict[str, object]:
    assert reply["type"] == "error", reply
    assert reply["code"] == code, reply
    assert isinstance(reply["message"], str)
    assert reply["message"]
    return reply


# ------------------------------------------------------------------------ register


def test_welcome_carries_session_ports_heads_and_limits(broker, peers):
    peer = connect(broker, peers)
    reply = peer.request(
        {
            "type": "register",
            "user": "Alice",
            "proto": 1,
            "rooms": ["General", "dev"],
            "client": "test/1",
        }
    )
    assert reply["type"] == "welcome"
    assert reply["user"] == "Alice"
    assert isinstance(reply["session"], str)
    assert len(reply["session"]) >= 16
    assert reply["pub_port"] == broker.pub_port
    # Canonical lower-case rooms; the heads count Alice's own join.
    assert reply["rooms"] == {"general": 1, "dev": 1}
    assert reply["heartbeat"] == 5.0
    assert reply["timeout"] == 15.0
    assert reply["proto"] == 1
    assert reply["server"].startswith("zmqchat/")
    assert reply["limits"]["text"] == 4096
    assert reply["limits"]["frame"] == 65536


def test_epochs_name_the_numbering_and_outlive_a_restart(broker, peers):
    """welcome.epoch is the engine's and joined.epoch the room's: with SQLite both
    the store's id, with Redis the engine's and the room stream's (docs/protocol.md,
    epochs); a restarted broker on the same store or Redis keeps them."""
    alice = connect(broker, peers, "alice")
    epoch = alice.welcome["epoch"]
    assert isinstance(epoch, str)
    assert epoch
    room = alice.request({"type": "join", "room": "dev"})["epoch"]
    assert isinstance(room, str)
    redis_engine = os.environ.get("ZMQCHAT_TEST_ENGINE") == "redis"
    if redis_engine:
        assert room != epoch  # each room's stream has its own life in Redis
        assert alice.welcome["epochs"] == {"general": alice.welcome["epochs"]["general"]}
        assert alice.welcome["nodes"] == [broker.endpoint]
    else:
        assert room == epoch  # one store numbers every room
        assert "epochs" not in alice.welcome
        assert "nodes" not in alice.welcome  # one broker names no nodes
    broker.restart()
    bob = connect(broker, peers, "bob", rooms=["dev"])
    assert bob.welcome["epoch"] == epoch
    assert bob.welcome.get("epochs", {}).get("dev", epoch) == room
    assert bob.request({"type": "join", "room": "dev"})["epoch"] == room


def test_register_defaults_to_general(broker, peers):
    assert connect(broker, peers, "bob").welcome["rooms"] == {"general": 1}


def test_register_errors(broker, peers):
    connect(broker, peers, "Alice")
    peer = connect(broker, peers)
    error(peer.request({"type": "register", "user": "alice", "proto": 1}), "name_taken")
    error(peer.request({"type": "register", "user": "ALICE", "proto": 1}), "name_taken")
    error(peer.request({"type": "register", "user": "al ice", "proto": 1}), "invalid_name")
    error(peer.request({"type": "register", "user": "a" * 33, "proto": 1}), "invalid_name")
    error(peer.request({"type": "register", "user": "", "proto": 1}), "invalid_name")
    error(peer.request({"type": "register", "user": "bob", "proto": 2}), "unsupported_proto")
    error(
        peer.request({"type": "register", "user": "bob", "proto": 1, "rooms": ["a b"]}),
        "invalid_name",
    )
    error(peer.request({"type": "register", "proto": 1}), "bad_request")
    error(peer.request({"type": "register", "user": "bob"}), "bad_request")
    error(peer.request({"type": "register", "user": 7, "proto": 1}), "bad_request")
    error(
        peer.request({"type": "register", "user": "bob", "proto": 1, "rooms": "general"}),
        "bad_request",
    )
    # None of that registered anything: bob is free, and the peer can still register.
    peer.register("bob")
    error(peer.request({"type": "register", "user": "carol", "proto": 1}), "already_registered")


def test_every_other_request_needs_registering(broker, peers):
    peer = connect(broker, peers)
    for kind in ("join", "leave", "chat", "pm", "who", "rooms", "history", "ping", "bye"):
        reply = peer.request({"type": kind, "room": "general", "text": "x", "to": "x"})
        error(reply, "not_registered")


def test_server_busy_past_max_sessions(make_broker, peers):
    broker = make_broker(max_sessions=2)
    connect(broker, peers, "a1")
    connect(broker, peers, "a2")
    error(
        connect(broker, peers).request({"type": "register", "user": "a3", "proto": 1}),
        "server_busy",
    )


def test_resume_takes_over_the_session(broker, peers):
    first = connect(broker, peers, "alice", rooms=["general", "dev"])
    watcher = connect(broker, peers, "watcher")
    token = first.welcome["session"]
    second = connect(broker, peers)
    welcome = second.request(
        {"type": "register", "user": "alice", "proto": 1, "resume": token, "rooms": ["other"]}
    )
    assert welcome["type"] == "welcome"
    assert welcome["session"] == token
    # Same rooms as the session (not those asked for), and no leave/join churn: the
    # heads are unchanged.
    assert welcome["rooms"] == {"general": 2, "dev": 1}
    assert first.recv_type("closed") == {"type": "closed", "reason": "replaced"}
    error(first.request({"type": "ping"}), "not_registered")
    assert second.request({"type": "ping"})["heads"] == {"general": 2, "dev": 1}
    assert watcher.request({"type": "who", "room": "general"})["users"] == ["alice", "watcher"]


def test_unknown_resume_token_is_a_plain_register(broker, peers):
    peer = connect(broker, peers)
    welcome = peer.request(
        {"type": "register", "user": "alice", "proto": 1, "resume": "not-a-session-token-at-all"}
    )
    assert welcome["type"] == "welcome"
    # Long enough, it is taken as the new session's token (protocol.md 6.3).
    assert welcome["session"] == "not-a-session-token-at-all"


def test_resume_token_of_another_user_does_not_take_it(broker, peers):
    alice = connect(broker, peers, "alice")
    peer = connect(broker, peers)
    reply = peer.request(
        {"type": "register", "user": "mallory", "proto": 1, "resume": alice.welcome["session"]}
    )
    assert reply["type"] == "welcome"
    assert reply["user"] == "mallory"
    assert reply["session"] != alice.welcome["session"]
    assert alice.request({"type": "ping"})["type"] == "pong"


# --------------------------------------------------------------------- join, leave


def test_join_and_leave(broker, peers):
    alice = connect(broker, peers, "alice")
    bob = connect(broker, peers, "Bob")
    joined = alice.request({"type": "join", "room": "DevOps"})
    assert joined["type"] == "joined"
    assert joined["room"] == "devops"
    assert joined["seq"] == 1
    assert joined["members"] == ["alice"]
    joined = bob.request({"type": "join", "room": "devops"})
    assert (joined["seq"], joined["members"]) == (2, ["alice", "Bob"])
    # Joining again changes nothing.
    again = bob.request({"type": "join", "room": "devops"})
    assert (again["seq"], again["members"]) == (2, ["alice", "Bob"])
    error(bob.request({"type": "join", "room": "dev ops"}), "invalid_name")
    error(bob.request({"type": "join"}), "bad_request")
    left = bob.request({"type": "leave", "room": "DEVOPS"})
    assert left["type"] == "left"
    assert left["room"] == "devops"
    error(bob.request({"type": "leave", "room": "devops"}), "not_in_room")
    page = alice.request({"type": "history", "room": "devops"})
    assert [(m["type"], m["user"], m["event"]) for m in page["messages"]] == [
        ("presence", "alice", "join"),
        ("presence", "Bob", "join"),
        ("presence", "Bob", "leave"),
    ]


# ------------------------------------------------------------------------------ chat


def test_chat_is_acked_stored_and_published(broker, peers):
    alice = connect(broker, peers, "alice")
    bob = connect(broker, peers, "bob")
    sub = RawSub(broker.endpoint, broker.pub_port, b"general\x00")
    sub.sync(alice, "general")
    try:
        ack = alice.request(
            {
                "type": "chat",
                "room": "GENERAL",
                "text": "hello",
                "data": {"ci": {"ok": True}},
                "from": "mallory",
                "seq": 1,
                "ts": 0.0,
                "extra": "ignored",
            }
        )
        assert ack["type"] == "ack"
        assert ack["room"] == "general"
        assert ack["ts"] > 1e9
        topic, event = sub.recv()
        assert topic == b"general\x00"
        assert event == {
            "type": "chat",
            "room": "general",
            "seq": ack["seq"],
            "from": "alice",
            "text": "hello",
            "ts": ack["ts"],
            "data": {"ci": {"ok": True}},
        }
        history = bob.request({"type": "history", "room": "general", "limit": 1})
        assert history["messages"] == [event]
    finally:
        sub.close()


def test_chat_errors(make_broker, peers):
    broker = make_broker(rate_limit=1, rate_burst=3)
    alice = connect(broker, peers, "alice")
    error(alice.request({"type": "chat", "room": "dev", "text": "x"}), "not_in_room")
    error(alice.request({"type": "chat", "room": "general", "text": "x" * 4097}), "too_long")
    # Bytes, not characters: 1366 three-byte characters are 4098 bytes.
    error(alice.request({"type": "chat", "room": "general", "text": "€" * 1366}), "too_long")
    error(alice.request({"type": "chat", "room": "general", "text": ""}), "empty")
    error(alice.request({"type": "chat", "room": "general", "text": " \n\t"}), "empty")
    error(
        alice.request(
            {"type": "chat", "room": "general", "text": "x", "data": {"blob": "y" * 17000}}
        ),
        "too_long",
    )
    error(
        alice.request({"type": "chat", "room": "general", "text": "x", "data": [1]}), "bad_request"
    )
    error(alice.request({"type": "chat", "room": "general"}), "bad_request")
    error(alice.request({"type": "chat", "room": "general", "text": 5}), "bad_request")
    # Refused messages cost no tokens: the whole burst is still there.
    assert alice.request({"type": "chat", "room": "general", "text": "€" * 1365})["type"] == "ack"
    assert alice.request({"type": "chat", "room": "general", "text": "x" * 4096})["type"] == "ack"
    assert alice.request({"type": "chat", "room": "general", "text": "سلام 👋"})["type"] == "ack"
    error(
        alice.request({"type": "chat", "room": "general", "text": "one too many"}), "rate_limited"
    )
    # Nothing refused was stored.
    texts = [
        m.get("text") for m in alice.request({"type": "history", "room": "general"})["messages"]
    ]
    assert texts == [None, "€" * 1365, "x" * 4096, "سلام 👋"]


def test_rate_limit_zero_disables_it(make_broker, peers):
    alice = connect(make_broker(rate_limit=0, rate_burst=1), peers, "alice")
    for n in range(50):
        assert alice.request({"type": "chat", "room": "general", "text": f"m{n}"})["type"] == "ack"


def test_retried_chat_is_acked_again_and_not_published_twice(broker, peers):
    alice = connect(broker, peers, "alice")
    alice.send({"type": "chat", "room": "general", "text": "once", "ref": "r-1"})
    first = alice.recv()
    assert first["type"] == "ack"
    assert first["ref"] == "r-1"
    alice.send({"type": "chat", "room": "general", "text": "once", "ref": "r-1"})
    assert alice.recv() == first
    alice.send({"type": "chat", "room": "general", "text": "once", "ref": "r-1"})
    assert alice.recv() == first
    texts = [
        m.get("text") for m in alice.request({"type": "history", "room": "general"})["messages"]
    ]
    assert texts.count("once") == 1


def test_ref_is_echoed_on_every_reply(broker, peers):
    alice = connect(broker, peers)
    for ref in (0, -5, 2**40, "abc", "x" * 64):
        alice.send({"type": "ping", "ref": ref})
        assert alice.recv() == {
            "type": "error",
            "code": "not_registered",
            "message": "register first",
            "ref": ref,
        }
    for bad in (1.5, True, [1], "x" * 65):
        alice.send({"type": "ping", "ref": bad})
        reply = alice.recv()
        assert reply["code"] == "bad_request"
        assert reply["ref"] is None


# ------------------------------------------------------------------ private messages


def test_private_message(broker, peers):
    alice = connect(broker, peers, "alice")
    bob = connect(broker, peers, "Bob")
    ack = alice.request({"type": "pm", "to": "BOB", "text": "psst", "data": {"k": 1}})
    assert ack["type"] == "ack"
    assert ack["to"] == "Bob"
    assert ack["status"] == "delivered"
    assert isinstance(ack["id"], int)
    pm = bob.recv_type("pm")
    assert isinstance(pm["key"], str)
    assert pm == {
        "type": "pm",
        "id": ack["id"],
        "from": "alice",
        "to": "Bob",
        "text": "psst",
        "data": {"k": 1},
        "key": pm["key"],  # opaque: the same for every copy of this message
        "ts": ack["ts"],
    }
    page = alice.request({"type": "history", "with": "bob"})
    assert page["with"] == "bob"
    assert [m["text"] for m in page["messages"]] == ["psst"]
    assert [m["text"] for m in bob.request({"type": "history", "with": "alice"})["messages"]] == [
        "psst"
    ]


def test_private_message_errors(make_broker, peers):
    broker = make_broker(rate_limit=1, rate_burst=1, address_rate_limit=0)
    alice = connect(broker, peers, "alice")
    bob = connect(broker, peers, "bob")
    error(alice.request({"type": "pm", "to": "nobody", "text": "x"}), "no_such_user")
    error(alice.request({"type": "pm", "to": "bad name", "text": "x"}), "invalid_name")
    error(alice.request({"type": "pm", "to": "bob", "text": "x" * 5000}), "too_long")
    error(alice.request({"type": "pm", "to": "bob", "text": "  "}), "empty")
    error(alice.request({"type": "pm", "text": "x"}), "bad_request")
    assert alice.request({"type": "pm", "to": "bob", "text": "1"})["type"] == "ack"
    error(alice.request({"type": "pm", "to": "bob", "text": "2"}), "rate_limited")
    assert bob.request({"type": "bye"})["type"] == "bye"
    # Open mode: bob is known but offline, and nothing is queued for a stranger who
    # might register his name.
    error(alice.request({"type": "pm", "to": "bob", "text": "3"}), "user_offline")


# --------------------------------------------------------------- who, rooms, history


def test_who_and_rooms(broker, peers):
    connect(broker, peers, "alice", rooms=["general", "dev"])
    bob = connect(broker, peers, "Bob")
    everyone = bob.request({"type": "who"})
    assert everyone["type"] == "users"
    assert everyone["users"] == ["alice", "Bob"]
    assert "room" not in everyone
    assert bob.request({"type": "who", "room": "DEV"})["users"] == ["alice"]
    assert bob.request({"type": "who", "room": "dev"})["room"] == "dev"
    assert bob.request({"type": "who", "room": "empty-room"})["users"] == []
    error(bob.request({"type": "who", "room": "no way"}), "invalid_name")
    rooms = bob.request({"type": "rooms"})["rooms"]
    assert rooms == [
        {"name": "dev", "members": 1, "seq": 1},
        {"name": "general", "members": 2, "seq": 2},
    ]


def test_history_paging(broker, peers):
    alice = connect(broker, peers, "alice", rate_limit=0)
    for n in range(1, 11):
        alice.request({"type": "chat", "room": "general", "text": f"m{n}"})
    # seq 1 is alice's join; m1..m10 are seqs 2..11.

    def page(**q: object) -> tuple[list[int], bool]:
        reply = alice.request({"type": "history", "room": "general", **q})
        assert reply["type"] == "history"
        assert reply["room"] == "general"
        return [m["seq"] for m in reply["messages"]], reply["more"]

    assert page(limit=3) == ([9, 10, 11], True)
    assert page() == (list(range(1, 12)), False)
    assert page(after=8) == ([9, 10, 11], False)
    assert page(after=2, limit=3) == ([3, 4, 5], True)
    assert page(before=4) == ([1, 2, 3], False)
    assert page(before=9, limit=2) == ([7, 8], True)
    assert page(after=2, before=6) == ([3, 4, 5], False)
    assert page(after=11) == ([], False)
    assert page(limit=500)[0] == list(range(1, 12))
    error(alice.request({"type": "history", "room": "general", "limit": 0}), "bad_request")
    error(alice.request({"type": "history", "room": "general", "limit": 501}), "bad_request")
    error(alice.request({"type": "history", "room": "general", "after": -1}), "bad_request")
    error(alice.request({"type": "history"}), "bad_request")
    error(alice.request({"type": "history", "room": "general", "with": "bob"}), "bad_request")
    error(alice.request({"type": "history", "room": "dev"}), "not_in_room")


def test_history_pages_fit_in_a_frame(make_broker, peers):
    alice = connect(make_broker(rate_limit=0), peers, "alice")
    for n in range(40):
        alice.request({"type": "chat", "room": "general", "text": f"{n:04d}" + "x" * 4000})
    reply = alice.request({"type": "history", "room": "general", "limit": 500})
    messages = reply["messages"]
    assert reply["more"] is True  # cut to the frame limit, and it says so
    assert 10 < len(messages) < 16
    assert messages[-1]["text"].startswith("0039")  # the newest kept
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    older = alice.request({"type": "history", "room": "general", "before": seqs[0], "limit": 500})
    assert older["messages"][-1]["seq"] == seqs[0] - 1


def test_ping_reports_heads_of_my_rooms(broker, peers):
    alice = connect(broker, peers, "alice", rooms=["general", "dev"])
    connect(broker, peers, "bob", rooms=["dev", "other"])
    pong = alice.request({"type": "ping"})
    assert pong["type"] == "pong"
    assert pong["heads"] == {"general": 1, "dev": 2}


def test_bye_frees_the_name_and_says_quit(broker, peers):
    alice = connect(broker, peers, "alice")
    bob = connect(broker, peers, "bob")
    assert alice.request({"type": "bye"})["type"] == "bye"
    page = bob.request({"type": "history", "room": "general", "limit": 1})
    assert page["messages"][0] | {"ts": 0} == {
        "type": "presence",
        "room": "general",
        "seq": 3,
        "user": "alice",
        "event": "leave",
        "reason": "quit",
        "ts": 0,
    }
    error(alice.request({"type": "ping"}), "not_registered")
    connect(broker, peers, "alice")
    assert wait_until(lambda: "alice" in bob.request({"type": "who"})["users"])


def test_a_pm_to_a_vanished_connection_is_refused_not_acked(broker, peers):
    ann = connect(broker, peers, "ann", rooms=[])
    bob = connect(broker, peers, "bob", rooms=[])
    token = bob.welcome["session"]
    bob.close()  # bob's link drops without a bye; his session lives on until expiry
    # Once the broker's ROUTER has seen the link go (a moment later), a pm to bob
    # can't be handed over, and ann must hear so, not "delivered".
    replies: list[dict[str, Any]] = []

    def refused() -> dict[str, Any] | None:
        replies.append(ann.request({"type": "pm", "to": "bob", "text": "there?"}))
        return replies[-1] if replies[-1]["type"] == "error" else None

    reply = wait_until(refused, 5, "a pm refused, not acked as delivered", interval=0)
    acked = len(replies) - 1
    assert reply["code"] == "user_offline"
    again = connect(broker, peers)
    again.register("bob", resume=token)
    assert ann.request({"type": "pm", "to": "bob", "text": "back?"})["status"] == "delivered"
    assert again.recv_type("pm")["text"] == "back?"
    # The refused one is not in the history; only what was acked is.
    history = again.request({"type": "history", "with": "ann"})
    assert [m["text"] for m in history["messages"]] == ["there?"] * acked + ["back?"]
