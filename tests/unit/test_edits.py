"""Editing and deleting one's own message: the wire records, and the broker core on a
real SQLite store without sockets (events stored with the room's next seq, the
original's latest text in history, who may and until when)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import WALL, Broker, chat

from zmqchat.broker.schema import SCHEMA_VERSION, open_database
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig
from zmqchat.common.parsing import parse_request
from zmqchat.common.requests import Delete, Edit
from zmqchat.errors import ProtocolError

Msg = dict[str, Any]
A, B = b"alice", b"bob"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(str(tmp_path / "broker.db"))
    b.register(A, "alice", ["general"])
    b.register(B, "bob", ["general"])
    yield b
    b.close()


def edit(room: str, of: Any, text: Any, **fields: Any) -> Msg:
    return {"type": "edit", "room": room, "of": of, "text": text, **fields}


def delete(room: str, of: Any, **fields: Any) -> Msg:
    return {"type": "delete", "room": room, "of": of, **fields}


def said(broker: Broker, rid: bytes, text: str) -> int:
    ack = broker.reply(rid, chat("general", text))
    assert ack["type"] == "ack", ack
    return int(ack["seq"])


def history(broker: Broker, rid: bytes, **fields: Any) -> list[Msg]:
    page = broker.reply(rid, {"type": "history", "room": "general", **fields})
    assert page["type"] == "history", page
    return list(page["messages"])


# ------------------------------------------------------------------------ the wire


def test_edit_and_delete_parse_strictly() -> None:
    assert parse_request(edit("General", 3, "fixed", ref=1)) == Edit(
        room="general", of=3, text="fixed", ref=1
    )
    assert parse_request(delete("general", 3)) == Delete(room="general", of=3)
    for bad in (0, -1, "3", 2**63, True, None):
        with pytest.raises(ProtocolError) as caught:
            parse_request(delete("general", bad))
        assert caught.value.code == "bad_request"
    with pytest.raises(ProtocolError) as caught:
        parse_request(edit("general", 3, "   "))
    assert caught.value.code == "empty"
    with pytest.raises(ProtocolError) as caught:
        parse_request(edit("general", 3, "x" * 4097))
    assert caught.value.code == "too_long"


# -------------------------------------------------------------------------- edit


def test_an_edit_is_an_event_with_the_next_seq_and_history_shows_the_latest(
    broker: Broker,
) -> None:
    seq = said(broker, A, "helo")
    broker.wall = WALL + 60
    replies, publishes = broker.handle(A, edit("general", seq, "hello", ref=7))
    (ack,) = replies[A]
    assert ack == {"type": "ack", "room": "general", "seq": seq + 1, "ts": WALL + 60, "ref": 7}
    ((topic, event),) = publishes
    assert topic == b"general\x00"
    assert event == {
        "type": "edit",
        "room": "general",
        "seq": seq + 1,
        "from": "alice",
        "of": seq,
        "text": "hello",
        "ts": WALL + 60,
    }
    messages = history(broker, B)
    original = next(m for m in messages if m["seq"] == seq)
    assert original["text"] == "hello"
    assert original["edited"] == WALL + 60
    # The edit itself stays in history: a client that missed it fills the gap with it.
    assert messages[-1] == event
    # Gap fill from just before the edit brings it.
    assert history(broker, B, after=seq) == [event]


def test_only_the_sender_may_edit_or_delete(broker: Broker) -> None:
    seq = said(broker, A, "mine")
    for request in (edit("general", seq, "hijacked"), delete("general", seq)):
        reply = broker.reply(B, request)
        assert reply["code"] == "not_yours", reply
    # Case does not make another user.
    broker.reply(A, {"type": "bye"})
    broker.register(b"alice2", "ALICE", ["general"])
    assert broker.reply(b"alice2", edit("general", seq, "same key"))["type"] == "ack"


def test_past_the_edit_window_is_too_late(tmp_path: Path) -> None:
    b = Broker(str(tmp_path / "w.db"), BrokerConfig(edit_window=60))
    try:
        b.register(A, "alice", ["general"])
        seq = said(b, A, "typo")
        b.wall = WALL + 61
        for request in (edit("general", seq, "fixed"), delete("general", seq)):
            assert b.reply(A, request)["code"] == "too_late"
        b.wall = WALL + 59
        assert b.reply(A, edit("general", seq, "fixed"))["type"] == "ack"
    finally:
        b.close()


def test_an_edit_window_of_0_turns_editing_off(tmp_path: Path) -> None:
    b = Broker(str(tmp_path / "w.db"), BrokerConfig(edit_window=0))
    try:
        b.register(A, "alice", ["general"])
        seq = said(b, A, "typo")
        assert b.reply(A, edit("general", seq, "fixed"))["code"] == "too_late"
        assert b.reply(A, delete("general", seq))["code"] == "too_late"
    finally:
        b.close()


def test_topic_and_moderation_events_are_not_messages_to_change(broker: Broker) -> None:
    # alice created general (she joined first): she operates it.
    mine = said(broker, A, "mine")
    topic = broker.reply(A, {"type": "topic", "room": "general", "text": "rules"})["seq"]
    locked = broker.reply(A, {"type": "lock", "room": "general"})["seq"]
    for of in (topic, locked):
        assert broker.reply(A, edit("general", of, "x"))["code"] == "no_such_message"
        assert broker.reply(A, delete("general", of))["code"] == "no_such_message"
    fixed = broker.reply(A, edit("general", mine, "mine, fixed"))["seq"]
    assert fixed == locked + 1
    kinds = [(m["type"], m["seq"]) for m in history(broker, B)]
    assert kinds[-4:] == [("chat", mine), ("topic", topic), ("moderation", locked), ("edit", fixed)]
    assert history(broker, B)[-4]["text"] == "mine, fixed"


def test_only_chats_can_be_changed(broker: Broker) -> None:
    # seq 1 and 2 are the joins; 99 does not exist; another room has no message 1.
    for of in (1, 2, 99):
        assert broker.reply(A, edit("general", of, "x"))["code"] == "no_such_message"
    seq = said(broker, A, "a")
    edited = broker.reply(A, edit("general", seq, "b"))["seq"]
    # An edit event is not a message to edit.
    assert broker.reply(A, edit("general", edited, "c"))["code"] == "no_such_message"
    assert broker.reply(A, edit("random", seq, "x"))["code"] == "no_such_message"


def test_edits_count_against_the_rate_limit(tmp_path: Path) -> None:
    b = Broker(str(tmp_path / "r.db"), BrokerConfig(rate_limit=1, rate_burst=2))
    try:
        b.register(A, "alice", ["general"])
        seq = said(b, A, "one")
        assert b.reply(A, edit("general", seq, "two"))["type"] == "ack"
        assert b.reply(A, edit("general", seq, "three"))["code"] == "rate_limited"
    finally:
        b.close()


# ------------------------------------------------------------------------ delete


def test_a_delete_removes_the_text_and_a_retry_gets_the_same_ack(broker: Broker) -> None:
    seq = said(broker, A, "oops, my password is hunter2")
    replies, publishes = broker.handle(A, delete("general", seq, ref=3))
    (ack,) = replies[A]
    ((_, event),) = publishes
    assert event == {
        "type": "delete",
        "room": "general",
        "seq": seq + 1,
        "from": "alice",
        "of": seq,
        "ts": WALL,
    }
    assert ack["seq"] == seq + 1
    original = next(m for m in history(broker, B) if m["seq"] == seq)
    assert original == {
        "type": "chat",
        "room": "general",
        "seq": seq,
        "from": "alice",
        "text": "",
        "ts": WALL,
        "deleted": True,
    }
    # Gone from the store's row itself, not only from what history shows.
    row = broker.store.reader().execute(
        "SELECT text, data FROM events WHERE room = 'general' AND seq = ?", (seq,)
    )
    assert row.fetchone() == (None, None)
    again, published = broker.handle(A, delete("general", seq, ref=4))
    assert again[A][0]["seq"] == seq + 1
    assert published == []
    assert broker.reply(B, delete("general", seq))["code"] == "no_such_message"
    assert broker.reply(A, edit("general", seq, "back"))["code"] == "no_such_message"


def test_edits_and_deletes_survive_a_restart(broker: Broker) -> None:
    seq = said(broker, A, "first")
    other = said(broker, A, "second")
    broker.reply(A, edit("general", seq, "first, fixed"))
    broker.reply(A, delete("general", other))
    head = history(broker, A)[-1]["seq"]
    broker.restart()
    broker.register(b"carol", "carol", ["general"])
    messages = {m["seq"]: m for m in history(broker, b"carol")}
    assert messages[seq]["text"] == "first, fixed"
    assert messages[other]["deleted"] is True
    # Numbering goes on after the edit and delete events.
    assert max(messages) == head + 1  # carol's join


def test_a_session_outside_the_room_may_change_what_it_posted_from_outside(
    broker: Broker,
) -> None:
    broker.register(b"bot", "ci-bot", [])
    ack = broker.reply(b"bot", chat("ci", "build 1 failed", external=True))
    reply = broker.reply(b"bot", edit("ci", ack["seq"], "build 1 passed"))
    assert reply["type"] == "ack", reply
    page = broker.reply(b"bot", {"type": "history", "room": "ci", "external": True})
    assert [m["type"] for m in page["messages"]] == ["chat", "edit"]
    assert page["messages"][0]["text"] == "build 1 passed"


# ---------------------------------------------------------------- schema version 7


def test_a_version_6_store_gets_the_edit_columns_and_keeps_its_operators(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "v6.db")
    conn = open_database(path, fsync=False)
    # Version 6: moderation's tables, not yet the edit columns; amy created lab and
    # was deopped since (bob operates it), which the upgrade must not undo.
    conn.executescript(
        "DROP INDEX events_of; DROP TABLE search_index;"
        "ALTER TABLE events DROP COLUMN of; ALTER TABLE events DROP COLUMN edited;"
        "PRAGMA user_version=6;"
        "INSERT INTO private_rooms (room, creator, created) VALUES ('lab', 'amy', 1.0);"
        "INSERT INTO room_meta (room, creator, created) VALUES ('lab', 'amy', 1.0);"
        "INSERT INTO room_ops (room, user) VALUES ('lab', 'bob');"
        "INSERT INTO events (room, seq, ts, kind, user, text)"
        f" VALUES ('general', 1, {WALL}, 0, 'amy', 'helo');"
    )
    conn.close()
    with contextlib.closing(open_database(path, fsync=False)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 7
        columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
        assert {"of", "edited"} <= columns
        indexes = {row[1] for row in db.execute("PRAGMA index_list(events)")}
        assert "events_of" in indexes
        assert db.execute("SELECT room, user FROM room_ops").fetchall() == [("lab", "bob")]
    Store(path).close()
    b = Broker(path)
    try:
        b.register(A, "amy", ["general"])
        assert b.reply(A, edit("general", 1, "hello"))["seq"] == 3  # after amy's join
        page = b.reply(A, {"type": "history", "room": "general"})["messages"]
        assert page[0]["text"] == "hello"
        assert page[0]["edited"] == WALL
    finally:
        b.close()
