"""Room topics and moderation in the broker core, on a real SQLite store: who is an
operator, what each request does and refuses, the events they leave in history
(stored with the room's next seq before they are published), bans by name and by
account, and the schema upgrade from version 5."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import Broker, Msg, chat, history
from tests.unit.test_logins import CHEAP as LOGIN_CHEAP
from tests.unit.test_logins import PASSWORD, Logins

from zmqchat.broker.schema import SCHEMA_VERSION, open_database
from zmqchat.broker.store import Store
from zmqchat.common.codec import encode
from zmqchat.common.config import BrokerConfig


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(str(tmp_path / "broker.db"))
    yield b
    b.close()


def mod(action: str, room: str = "general", **fields: Any) -> Msg:
    return {"type": action, "room": room, **fields}


def topic(room: str = "general", **fields: Any) -> Msg:
    return {"type": "topic", "room": room, **fields}


def room_events(broker: Broker, rid: bytes, room: str = "general") -> list[Msg]:
    reply = broker.own(rid, history(room=room, limit=500, external=True))
    assert reply["type"] == "history", reply
    messages: list[Msg] = reply["messages"]
    return messages


def three(broker: Broker) -> None:
    """alice creates general (its operator); bob and carol join it."""
    broker.register(b"A", "alice", ["general"])
    broker.register(b"B", "bob", ["general"])
    broker.register(b"C", "carol", ["general"])


# -------------------------------------------------------------------- operators


def test_the_creator_of_a_room_is_its_operator_and_others_are_not(broker: Broker) -> None:
    three(broker)
    refused = broker.reply(b"B", mod("lock", ref=1))
    assert (refused["code"], refused["ref"]) == ("not_operator", 1)
    assert "operator of room general" in refused["message"]
    assert broker.reply(b"A", mod("lock", ref=2))["seq"] == 4
    # A room created by a join (not by a register) too.
    assert broker.reply(b"B", {"type": "join", "room": "Dev"})["type"] == "joined"
    assert broker.reply(b"B", mod("lock", "dev"))["type"] == "moderated"
    assert broker.reply(b"A", mod("lock", "dev"))["code"] == "not_operator"


def test_op_makes_an_operator_who_may_then_moderate_and_deop_takes_it(broker: Broker) -> None:
    three(broker)
    replies, published = broker.handle(b"A", mod("op", user="BOB", ref="o"))
    reply = replies[b"A"][0]
    assert reply == {"type": "moderated", "room": "general", "action": "op", "user": "bob",
                     "seq": 4, "ref": "o"}  # fmt: skip
    ((topic_, event),) = published
    assert topic_ == b"general\x00"
    assert {k: event[k] for k in ("type", "seq", "from", "action", "user")} == {
        "type": "moderation", "seq": 4, "from": "alice", "action": "op", "user": "bob",
    }  # fmt: skip
    # Again: nothing changes, no event, no seq.
    replies, published = broker.handle(b"A", mod("op", user="bob"))
    assert "seq" not in replies[b"A"][0]
    assert published == []
    assert broker.own(b"B", mod("kick", user="carol"))["seq"] == 5
    assert broker.reply(b"B", mod("deop", user="alice"))["seq"] == 7  # 6: carol's leave
    assert broker.reply(b"A", mod("lock"))["code"] == "not_operator"
    assert "seq" not in broker.reply(b"B", mod("deop", user="alice"))


def test_moderation_needs_a_room_that_exists_but_not_membership(broker: Broker) -> None:
    three(broker)
    assert broker.reply(b"A", mod("lock", "nowhere"))["code"] == "no_such_room"
    assert broker.reply(b"A", {"type": "leave", "room": "general"})["type"] == "left"
    # From outside, as a script would: still alice's room.
    assert broker.own(b"A", mod("kick", user="bob", reason="spam"))["seq"] == 5
    assert "nowhere" not in [r["name"] for r in broker.reply(b"A", {"type": "rooms"})["rooms"]]


def test_admins_moderate_every_room_and_can_not_be_banned(tmp_path: Path) -> None:
    b = Broker(str(tmp_path / "b.db"), config=BrokerConfig(admins=("Root",)))
    try:
        three(b)
        b.register(b"R", "root", [])
        assert b.reply(b"R", mod("op", user="carol"))["seq"] == 4
        # An admin is an operator already: op changes nothing; deop can't undo config.
        assert "seq" not in b.reply(b"A", mod("op", user="root"))
        assert "seq" not in b.reply(b"A", mod("deop", user="root"))
        refused = b.reply(b"A", mod("ban", user="ROOT"))
        assert refused["code"] == "bad_request"
        assert "admin" in refused["message"]
    finally:
        b.close()


# ------------------------------------------------------------------------ kick


def test_kick_removes_the_member_with_an_event_and_a_leave(broker: Broker) -> None:
    three(broker)
    bob = next(s for s in broker.core.state.by_key.values() if s.user == "bob")
    replies, published = broker.handle(b"A", mod("kick", user="Bob", reason="flooding"))
    assert replies[b"A"][0]["seq"] == 4
    # bob hears it over ROUTER too: his subscription may be cut before the event.
    (told,) = replies[b"B"]
    assert told["type"] == "moderation"
    assert (told["action"], told["user"], told["reason"]) == ("kick", "bob", "flooding")
    events = [e for _, e in published]
    assert [(e["type"], e["seq"]) for e in events] == [("moderation", 4), ("presence", 5)]
    assert (events[1]["user"], events[1]["event"], events[1]["reason"]) == (
        "bob",
        "leave",
        "kicked",
    )
    assert broker.core.out.recheck.sessions == set()  # flushed with the batch
    assert "general" not in bob.rooms
    assert broker.reply(b"A", {"type": "who", "room": "general"})["users"] == ["alice", "carol"]
    assert broker.reply(b"B", chat("general", "still here?"))["code"] == "not_in_room"
    # Stored before published: history has both, with their seqs.
    stored = room_events(broker, b"A")[-2:]
    assert stored == events
    # A kick is not a ban: bob may come back.
    assert broker.reply(b"B", {"type": "join", "room": "general"})["type"] == "joined"
    # Someone not in the room can't be kicked from it.
    assert broker.reply(b"A", mod("kick", user="dave"))["code"] == "not_in_room"


def test_kick_asks_the_pub_side_to_check_the_kicked_session_again(broker: Broker) -> None:
    three(broker)
    bob = next(s for s in broker.core.state.by_key.values() if s.user == "bob")
    broker.core.handle(b"A", encode(mod("kick", user="bob")), broker.now)
    assert broker.core.out.recheck.sessions == {bob.sid}
    broker.flush()


def test_a_kicked_member_is_not_in_the_room_after_a_restart(broker: Broker) -> None:
    three(broker)
    broker.own(b"A", mod("kick", user="bob"))
    broker.restart()
    bob = broker.core.state.by_key["bob"]
    assert "general" not in bob.rooms


# ------------------------------------------------------------------------- ban


def test_ban_removes_a_member_and_keeps_them_out_until_unbanned(broker: Broker) -> None:
    three(broker)
    replies, published = broker.handle(b"A", mod("ban", user="bob", reason="troll"))
    reply = replies[b"A"][0]
    assert (reply["action"], reply["seq"]) == ("ban", 4)
    assert "until" not in reply
    assert [e.get("reason") for _, e in published] == ["troll", "banned"]
    assert replies[b"B"][0]["action"] == "ban"
    refused = broker.reply(b"B", {"type": "join", "room": "general", "ref": 9})
    assert (refused["code"], refused["ref"]) == ("banned", 9)
    assert "bob is banned from room general" in refused["message"]
    # Nor from outside: posting, reading, the topic.
    assert broker.reply(b"B", chat("general", "hi", external=True))["code"] == "banned"
    assert broker.reply(b"B", history(room="general", external=True))["code"] == "banned"
    assert broker.reply(b"B", topic())["code"] == "banned"
    # Nor by registering again with the room: it is skipped, not refused.
    broker.reply(b"B", {"type": "bye"})
    assert broker.register(b"B2", "bob", ["general", "dev"])["rooms"] == {"dev": 1}
    assert broker.reply(b"A", mod("unban", user="bob"))["action"] == "unban"
    assert broker.reply(b"B2", {"type": "join", "room": "general"})["type"] == "joined"
    # Unbanning again changes nothing.
    assert "seq" not in broker.reply(b"A", mod("unban", user="bob"))


def test_a_ban_with_a_duration_ends_by_itself(broker: Broker) -> None:
    three(broker)
    reply = broker.own(b"A", mod("ban", user="carol", duration=60))
    assert reply["until"] == broker.wall + 60.0
    refused = broker.reply(b"C", {"type": "join", "room": "general"})
    assert refused["code"] == "banned"
    assert "1m more" in refused["message"]
    assert refused["retry_after"] == 60.0
    broker.wall += 61
    assert broker.reply(b"C", {"type": "join", "room": "general"})["type"] == "joined"


def test_a_ban_of_someone_absent_holds_when_they_come(broker: Broker) -> None:
    three(broker)
    assert broker.reply(b"A", mod("ban", user="Mallory"))["user"] == "Mallory"
    broker.register(b"M", "mallory", [])
    assert broker.reply(b"M", {"type": "join", "room": "general"})["code"] == "banned"


def test_a_banned_operator_loses_operator_and_nobody_bans_themselves(broker: Broker) -> None:
    three(broker)
    broker.reply(b"A", mod("op", user="bob"))
    refused = broker.reply(b"A", mod("ban", user="alice"))
    assert (refused["code"], refused["message"]) == ("bad_request", "you can't ban yourself")
    broker.own(b"A", mod("ban", user="bob"))
    assert broker.reply(b"B", mod("unban", user="bob"))["code"] == "not_operator"


def test_bans_by_account_hold_for_that_account_only(tmp_path: Path) -> None:
    settings = {**LOGIN_CHEAP, "auth": "accounts"}
    b = Logins(str(tmp_path / "acc.db"), BrokerConfig(**settings))  # type: ignore[arg-type]
    try:
        b.register(b"A", "alice", ["general"])
        b.add_account("bob")
        assert b.reply(b"A", mod("ban", user="bob"))["seq"] == 2
        assert b.login(b"B", "bob", PASSWORD, peer="127.0.0.1")["type"] == "welcome"
        assert b.reply(b"B", {"type": "join", "room": "general"})["code"] == "banned"
        b.reply(b"B", {"type": "bye"})
        # The account is deleted and the name made again: someone else, not banned.
        with sqlite3.connect(b.path) as db:
            db.execute("DELETE FROM accounts WHERE key = 'bob'")
        b.add_account("bob", "another password")
        assert b.login(b"B2", "bob", "another password", peer="127.0.0.1")["type"] == "welcome"
        assert b.reply(b"B2", {"type": "join", "room": "general"})["type"] == "joined"
    finally:
        b.core.close()
        b.close()


# ----------------------------------------------------------------------- topic


def test_topic_is_read_set_and_cleared_as_events(broker: Broker) -> None:
    three(broker)
    assert broker.reply(b"B", topic(ref=1)) == {
        "type": "topic",
        "room": "general",
        "text": "",
        "ref": 1,
    }
    replies, published = broker.handle(b"B", topic(text="Release day", ref=2))
    reply = replies[b"B"][0]
    assert reply == {"type": "topic", "room": "general", "text": "Release day", "from": "bob",
                     "ts": broker.wall, "seq": 4, "ref": 2}  # fmt: skip
    event = {"type": "topic", "room": "general", "seq": 4, "from": "bob", "text": "Release day"}
    assert published == [(b"general\x00", {**event, "ts": broker.wall})]
    assert broker.reply(b"C", topic())["text"] == "Release day"
    assert broker.reply(b"C", topic(text="", ref=3))["seq"] == 5
    assert broker.reply(b"A", topic())["text"] == ""
    assert [e["type"] for e in room_events(broker, b"A")[-2:]] == ["topic", "topic"]


def test_a_locked_topic_is_set_by_operators_only(broker: Broker) -> None:
    three(broker)
    broker.reply(b"A", mod("lock"))
    refused = broker.reply(b"B", topic(text="mine now"))
    assert refused["code"] == "not_operator"
    assert "locked" in refused["message"]
    assert broker.reply(b"B", topic())["locked"] is True
    assert broker.reply(b"A", topic(text="by the operator"))["locked"] is True
    assert "seq" not in broker.reply(b"A", mod("lock"))  # already locked
    broker.reply(b"A", mod("unlock"))
    assert broker.reply(b"B", topic(text="anyone again"))["seq"] == 7
    assert "locked" not in broker.reply(b"B", topic())


def test_the_topic_from_outside_follows_the_rules_of_posting(broker: Broker) -> None:
    three(broker)
    broker.register(b"D", "dave", [])
    assert broker.reply(b"D", topic("nowhere"))["code"] == "no_such_room"
    assert broker.reply(b"D", topic("nowhere", text="x"))["code"] == "no_such_room"
    assert broker.reply(b"D", topic(text="from outside"))["from"] == "dave"
    broker.reply(b"A", {"type": "join", "room": "lab", "private": True})
    assert broker.reply(b"D", topic("lab"))["code"] == "not_invited"
    assert "nowhere" not in [r["name"] for r in broker.reply(b"D", {"type": "rooms"})["rooms"]]


def test_the_topic_is_in_rooms_joined_and_welcome(broker: Broker) -> None:
    three(broker)
    broker.reply(b"A", topic(text="Welcome all"))
    listing = broker.reply(b"B", {"type": "rooms"})["rooms"]
    assert listing == [{"name": "general", "members": 3, "seq": 4, "topic": "Welcome all"}]
    broker.reply(b"B", {"type": "leave", "room": "general"})
    joined = broker.reply(b"B", {"type": "join", "room": "general"})
    assert list(joined) == ["type", "room", "seq", "members", "topic", "epoch", "ref"]
    assert joined["topic"] == "Welcome all"
    welcome = broker.register(b"D", "dave", ["general", "other"])
    assert welcome["topics"] == {"general": "Welcome all"}
    assert "topics" not in broker.register(b"E", "erin", ["other"])
    # A room nobody is in keeps its topic.
    for rid in (b"A", b"B", b"C", b"D"):
        broker.reply(rid, {"type": "leave", "room": "general"})
    assert broker.reply(b"E", {"type": "rooms"})["rooms"][0]["topic"] == "Welcome all"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"text": "x" * 513}, "too_long"),
        ({"text": "   "}, "empty"),
        ({"text": 5}, "bad_request"),
    ],
)
def test_a_bad_topic_is_refused(broker: Broker, fields: Msg, code: str) -> None:
    three(broker)
    assert broker.reply(b"A", topic(**fields))["code"] == code


# -------------------------------------------------------------- private rooms


def test_an_operator_made_by_op_may_invite_to_a_private_room(broker: Broker) -> None:
    three(broker)
    broker.reply(b"A", {"type": "join", "room": "lab", "private": True})
    broker.reply(b"A", {"type": "invite", "room": "lab", "user": "bob"})
    broker.reply(b"B", {"type": "join", "room": "lab"})
    assert broker.reply(b"B", {"type": "invite", "room": "lab", "user": "carol"})["code"] == (
        "not_operator"
    )
    broker.reply(b"A", mod("op", "lab", user="bob"))
    assert broker.reply(b"B", {"type": "invite", "room": "lab", "user": "carol"})["type"] == (
        "invited"
    )
    # Outsiders learn nothing of a private room by trying to moderate it.
    assert broker.reply(b"C", mod("lock", "lab"))["code"] == "not_in_room"


# ------------------------------------------------------------------- the store


def test_a_failed_commit_leaves_no_operator_ban_or_topic(broker: Broker) -> None:
    three(broker)
    core = broker.core
    core.handle(b"A", encode(mod("ban", user="bob")), broker.now)
    core.handle(b"A", encode(topic(text="lost")), broker.now)
    broker.store.rollback()
    core.out.clear()
    core.store_failed(broker.now)
    core.store_recovered()
    assert "general" in core.state.by_key["bob"].rooms
    assert broker.reply(b"B", topic())["text"] == ""
    assert broker.reply(b"B", {"type": "who", "room": "general"})["users"] == [
        "alice", "bob", "carol",
    ]  # fmt: skip


def test_a_store_that_cant_be_written_refuses_moderation_but_reads_the_topic(
    broker: Broker,
) -> None:
    three(broker)
    broker.core.writable = False
    assert broker.reply(b"A", mod("lock"))["code"] == "store_unavailable"
    assert broker.reply(b"A", topic(text="x"))["code"] == "store_unavailable"
    assert broker.reply(b"A", topic())["type"] == "topic"


def test_a_room_with_a_topic_or_moderation_is_never_forgotten(broker: Broker) -> None:
    broker.register(b"A", "alice", ["quiet", "topical"])
    broker.reply(b"A", topic("topical", text="kept"))
    for room in ("quiet", "topical"):
        broker.reply(b"A", {"type": "leave", "room": room})
    assert broker.store.forget_room("quiet") is True
    assert broker.store.forget_room("topical") is False
    broker.store.commit()
    # Forgotten, quiet is a new room: its next joiner creates it and operates it.
    broker.register(b"B", "bob", ["quiet"])
    assert broker.reply(b"B", mod("lock", "quiet"))["seq"] == 2


def test_a_version_5_store_gets_room_meta_and_its_private_rooms_keep_operators(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "v5.db")
    conn = open_database(path, fsync=False)
    conn.executescript(
        "DROP TABLE room_meta; DROP TABLE room_ops; DROP TABLE bans; DROP INDEX events_of;"
        "DROP TABLE search_index;"
        "ALTER TABLE events DROP COLUMN of; ALTER TABLE events DROP COLUMN edited;"
        "PRAGMA user_version=5;"
        "INSERT INTO private_rooms (room, creator, created) VALUES ('lab', 'amy', 1.0);"
        "INSERT INTO events (room, seq, ts, kind, user) VALUES ('general', 1, 1.0, 1, 'amy');"
    )
    conn.close()
    with contextlib.closing(open_database(path, fsync=False)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 7
        columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
        assert {"of", "edited"} <= columns  # and version 7's, for edits
        assert db.execute("SELECT room, user FROM room_ops").fetchall() == [("lab", "amy")]
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO room_ops (room, user) VALUES ('lab', 'amy')")
    Store(path).close()
    b = Broker(path)
    try:
        b.register(b"A", "amy", ["general", "lab"])
        assert b.reply(b"A", mod("lock", "lab"))["type"] == "moderated"
        # general existed before operators: nobody operates it.
        assert b.reply(b"A", mod("lock", "general"))["code"] == "not_operator"
    finally:
        b.close()


def test_a_room_created_by_a_post_from_outside_has_no_operator(broker: Broker) -> None:
    broker.register(b"A", "alice", [])
    assert broker.reply(b"A", chat("ci", "build 1 ok", external=True))["seq"] == 1
    broker.register(b"B", "bob", ["ci"])
    assert broker.reply(b"A", mod("lock", "ci"))["code"] == "not_operator"
    assert broker.reply(b"B", mod("lock", "ci"))["code"] == "not_operator"


def test_topic_changes_spend_the_sessions_rate_limit(tmp_path: Path) -> None:
    b = Broker(str(tmp_path / "rl.db"), config=BrokerConfig(rate_limit=0.001, rate_burst=1))
    try:
        three(b)
        assert b.reply(b"B", topic(text="one"))["seq"] == 4
        refused = b.reply(b"B", topic(text="two"))
        assert refused["code"] == "rate_limited"
        assert b.reply(b"B", topic())["text"] == "one"  # reading costs nothing
    finally:
        b.close()
