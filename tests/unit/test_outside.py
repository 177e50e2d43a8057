"""Posting and reading a room from outside it (``external``), and ``rooms`` listing
every room with members or history: the wire records and the broker core on a real
SQLite store, without sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import Broker, chat

from zmqchat.common.parsing import parse_request
from zmqchat.common.requests import Chat, History
from zmqchat.errors import ProtocolError

Msg = dict[str, Any]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(str(tmp_path / "broker.db"))
    yield b
    b.close()


def history(room: str, **fields: Any) -> Msg:
    return {"type": "history", "room": room, **fields}


def rooms(broker: Broker, rid: bytes, **fields: Any) -> Msg:
    reply = broker.reply(rid, {"type": "rooms", **fields})
    assert reply["type"] == "rooms", reply
    return reply


# ------------------------------------------------------------------------ the wire


def test_chat_and_history_take_an_optional_external_flag() -> None:
    assert parse_request(chat("CI", "hi", external=True)) == Chat(
        room="ci", text="hi", external=True
    )
    assert parse_request(history("ci", external=True)) == History(room="ci", external=True)
    # false and nil are the same as leaving it out, and stay off the wire.
    for value in (False, None):
        req = parse_request(chat("ci", "hi", external=value))
        assert req == Chat(room="ci", text="hi")
        assert "external" not in req.to_wire()
    assert Chat(room="ci", text="hi", external=True).to_wire() == {
        "type": "chat",
        "room": "ci",
        "text": "hi",
        "external": True,
        "ref": None,
    }


@pytest.mark.parametrize("value", [1, "yes", [True]])
def test_external_must_be_a_boolean(value: object) -> None:
    for msg in (chat("ci", "hi", external=value), history("ci", external=value)):
        with pytest.raises(ProtocolError) as refused:
            parse_request(msg)
        assert refused.value.code == "bad_request"


# ------------------------------------------------------------------ posting outside


def test_an_external_chat_is_stored_and_published_without_presence(broker: Broker) -> None:
    broker.register(b"A", "alice", ["ci"])  # seq 1: her join
    broker.register(b"B", "bot", [])
    replies, publishes = broker.handle(b"B", chat("CI", "build 42 passed", 7, external=True))
    (ack,) = replies[b"B"]
    assert (ack["type"], ack["room"], ack["seq"], ack["ref"]) == ("ack", "ci", 2, 7)
    # The message, and nothing else: no join, no leave.
    assert [(topic, event["type"], event["seq"]) for topic, event in publishes] == [
        (b"ci\x00", "chat", 2)
    ]
    assert publishes[0][1]["from"] == "bot"
    # The bot is not a member: nobody sees it in the room.
    assert broker.reply(b"A", {"type": "who", "room": "ci"})["users"] == ["alice"]
    assert broker.reply(b"B", {"type": "ping"})["heads"] == {}
    events = broker.reply(b"A", history("ci"))["messages"]
    assert [(e["type"], e["seq"]) for e in events] == [("presence", 1), ("chat", 2)]
    # A retry (same ref, same text) is acked again, not stored twice.
    replies, publishes = broker.handle(b"B", chat("ci", "build 42 passed", 7, external=True))
    assert (replies[b"B"][0]["seq"], publishes) == (2, [])


def test_without_external_a_non_member_is_refused_as_in_v1(broker: Broker) -> None:
    broker.register(b"A", "alice", ["ci"])
    broker.register(b"B", "bot", [])
    assert broker.reply(b"B", chat("ci", "hi"))["code"] == "not_in_room"
    assert broker.reply(b"B", history("ci"))["code"] == "not_in_room"


def test_an_external_chat_to_a_room_nobody_is_in_numbers_on_from_its_history(
    broker: Broker,
) -> None:
    broker.register(b"B", "bot", [])
    # A new room: created by the post, as a join would create it.
    assert broker.reply(b"B", chat("ops", "one", external=True))["seq"] == 1
    assert broker.reply(b"B", chat("ops", "two", external=True))["seq"] == 2
    broker.register(b"A", "alice", ["ops"])
    events = broker.reply(b"A", history("ops"))["messages"]
    assert [(e["type"], e["seq"]) for e in events] == [("chat", 1), ("chat", 2), ("presence", 3)]
    # A member posting from outside is simply a member posting.
    replies, publishes = broker.handle(b"A", chat("ops", "three", external=True))
    assert replies[b"A"][0]["seq"] == 4
    assert [e["type"] for _, e in publishes] == ["chat"]


def test_external_posts_and_reads_respect_private_rooms(broker: Broker) -> None:
    broker.register(b"A", "alice", [])
    broker.reply(b"A", {"type": "join", "room": "secret", "private": True})
    broker.register(b"M", "mallory", [])
    broker.register(b"B", "bob", [])
    broker.reply(b"A", {"type": "invite", "room": "secret", "user": "bob"})

    refused = broker.reply(b"M", chat("secret", "hi", external=True))
    assert refused["code"] == "not_invited"
    assert broker.reply(b"M", history("secret", external=True))["code"] == "not_invited"
    # Invited: may post and read without joining, as a join would be allowed.
    assert broker.reply(b"B", chat("secret", "hello", external=True))["type"] == "ack"
    page = broker.reply(b"B", history("secret", external=True))
    assert [e.get("text") for e in page["messages"]] == [None, "hello"]
    assert broker.reply(b"A", {"type": "who", "room": "secret"})["users"] == ["alice"]


def test_external_chat_is_rate_limited_like_any_chat(tmp_path: Path) -> None:
    from zmqchat.common.config import BrokerConfig

    broker = Broker(str(tmp_path / "b.db"), BrokerConfig(rate_limit=1, rate_burst=2))
    try:
        broker.register(b"B", "bot", [])
        codes = [
            broker.reply(b"B", chat("ci", f"m{n}", external=True)).get("code") for n in range(3)
        ]
        assert codes == [None, None, "rate_limited"]
    finally:
        broker.close()


# ------------------------------------------------------------------ reading outside


def test_reading_a_room_from_outside_never_creates_it(broker: Broker) -> None:
    broker.register(b"R", "reader", [])
    refused = broker.reply(b"R", history("typo", external=True, ref=3))
    assert refused == {
        "type": "error",
        "ref": 3,
        "code": "no_such_room",
        "message": "there is no room typo",
    }
    assert rooms(broker, b"R")["rooms"] == []
    # Nothing was stored either: the first join of it is its seq 1.
    broker.register(b"A", "alice", ["typo"])
    assert broker.reply(b"A", {"type": "ping"})["heads"] == {"typo": 1}


def test_reading_from_outside_shows_history_and_leaves_no_trace(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general"])
    broker.handle(b"A", chat("general", "hi"))
    broker.handle(b"A", {"type": "leave", "room": "general"})  # nobody in it now
    broker.register(b"R", "reader", [])
    replies, publishes = broker.handle(b"R", history("general", external=True, limit=2))
    page = replies[b"R"][0]
    assert [(e["type"], e["seq"]) for e in page["messages"]] == [("chat", 2), ("presence", 3)]
    assert page["more"] is True
    assert publishes == []


# -------------------------------------------------------------------------- rooms


def test_rooms_lists_rooms_with_history_and_no_members(broker: Broker) -> None:
    broker.register(b"A", "alice", ["general", "dev"])
    broker.handle(b"A", chat("dev", "said something"))
    broker.handle(b"A", {"type": "leave", "room": "dev"})
    broker.register(b"B", "bot", [])
    broker.handle(b"B", chat("ci", "posted from outside", external=True))
    listed = rooms(broker, b"B", ref="r")
    assert listed == {
        "type": "rooms",
        "rooms": [
            {"name": "ci", "members": 0, "seq": 1},
            {"name": "dev", "members": 0, "seq": 3},
            {"name": "general", "members": 1, "seq": 1},
        ],
        "ref": "r",
    }


def test_rooms_pages_over_rooms_with_and_without_members(broker: Broker) -> None:
    broker.register(b"A", "alice", ["r1", "r3", "r5"])
    broker.register(b"B", "bot", [])
    for name in ("r0", "r2", "r4", "r6"):
        broker.handle(b"B", chat(name, "x", external=True))
    seen: list[tuple[str, int]] = []
    after = None
    while True:
        fields: Msg = {"limit": 3} if after is None else {"limit": 3, "after": after}
        page = rooms(broker, b"B", **fields)
        seen += [(r["name"], r["members"]) for r in page["rooms"]]
        if not page.get("more"):
            break
        after = page["rooms"][-1]["name"]
    assert seen == [(f"r{n}", n % 2) for n in range(7)]


def test_private_rooms_are_listed_to_their_members_only(broker: Broker) -> None:
    broker.register(b"A", "alice", [])
    broker.reply(b"A", {"type": "join", "room": "secret", "private": True})
    broker.reply(b"A", {"type": "join", "room": "attic", "private": True})
    broker.handle(b"A", chat("attic", "nobody hears"))
    broker.handle(b"A", {"type": "leave", "room": "attic"})  # no member, but history
    broker.register(b"M", "mallory", ["general"])
    assert [r["name"] for r in rooms(broker, b"M")["rooms"]] == ["general"]
    # One hidden room after another still fills a page with what may be shown.
    assert rooms(broker, b"M", limit=1) == {
        "type": "rooms",
        "rooms": [{"name": "general", "members": 1, "seq": 1}],
        "ref": None,
    }
    assert rooms(broker, b"A")["rooms"] == [
        {"name": "general", "members": 1, "seq": 1},
        {"name": "secret", "members": 1, "seq": 1, "private": True},
    ]
