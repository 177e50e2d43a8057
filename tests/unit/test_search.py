"""``search`` in the broker core, on a real SQLite store with its FTS5 index: what a
session finds (its rooms only, every word, newest first, pages), edits re-indexed
and deletes gone, the index catching up before a search and at commits, a store
reopened after a crash, and the upgrade of a version 7 store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import WALL, Broker, chat

from zmqchat.broker import search_index
from zmqchat.broker.schema import SCHEMA_VERSION, open_database
from zmqchat.broker.store import Store
from zmqchat.common.parsing import parse_request
from zmqchat.common.search import Search, match_query, words_of
from zmqchat.errors import ProtocolError

Msg = dict[str, Any]
A, B = b"alice", b"bob"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(str(tmp_path / "broker.db"))
    b.register(A, "alice", ["general", "dev"])
    b.register(B, "bob", ["general", "secret"])
    yield b
    b.close()


def search(broker: Broker, rid: bytes, words: str, **fields: Any) -> Msg:
    return broker.reply(rid, {"type": "search", "words": words, **fields})


def found(broker: Broker, rid: bytes, words: str, **fields: Any) -> list[tuple[str, str]]:
    reply = search(broker, rid, words, **fields)
    assert reply["type"] == "search", reply
    return [(m["room"], m["text"]) for m in reply["matches"]]


def say(broker: Broker, rid: bytes, room: str, text: str) -> int:
    ack = broker.reply(rid, chat(room, text))
    assert ack["type"] == "ack", ack
    return int(ack["seq"])


def indexed(store: Store) -> int:
    row = store.reader().execute("SELECT value FROM counters WHERE name = 'search_indexed'")
    return int((row.fetchone() or (0,))[0])


# ------------------------------------------------------------------------ the wire


def test_search_parses_strictly_and_words_are_only_words() -> None:
    req = parse_request({"type": "search", "words": "Build GREEN?", "room": "Dev", "ref": 1})
    assert req == Search(words="Build GREEN?", room="dev", ref=1)
    assert words_of('the "build" is green, the build') == ["the", "build", "is", "green"]
    # Quoted: FTS5's own syntax in what was typed is only text.
    assert match_query(["near", 'a"b']) == '"near" AND "a""b"'
    for bad, code in (
        ({"words": "   "}, "empty"),
        ({"words": "?!"}, "empty"),
        ({"words": " ".join(f"w{n}" for n in range(17))}, "bad_request"),
        ({"words": "x", "limit": 0}, "bad_request"),
        ({"words": "x", "limit": 101}, "bad_request"),
        ({"words": "x", "before": True}, "bad_request"),
        ({"words": "x" * 600}, "too_long"),
        ({}, "bad_request"),
    ):
        with pytest.raises(ProtocolError) as caught:
            parse_request({"type": "search", **bad})
        assert caught.value.code == code, bad


# ------------------------------------------------------------------------ finding


def test_search_finds_every_word_in_the_sessions_rooms_newest_first(broker: Broker) -> None:
    say(broker, A, "general", "the build is green")
    say(broker, A, "dev", "Build RED again")
    say(broker, B, "secret", "the build of the secret project")
    say(broker, B, "general", "lunch?")
    broker.wall = WALL + 5
    say(broker, B, "general", "green build, ship it")
    assert found(broker, A, "build") == [
        ("general", "green build, ship it"),
        ("dev", "Build RED again"),
        ("general", "the build is green"),
    ]
    assert found(broker, A, "GREEN build") == [
        ("general", "green build, ship it"),
        ("general", "the build is green"),
    ]
    assert found(broker, A, "build", room="dev") == [("dev", "Build RED again")]
    assert found(broker, A, "nothing here") == []
    # bob is in secret, alice is not: neither its messages nor the room for her.
    assert ("secret", "the build of the secret project") in found(broker, B, "build")
    assert search(broker, A, "build", room="secret")["code"] == "not_in_room"
    reply = search(broker, A, "ship")
    (match,) = reply["matches"]
    assert match == {
        "type": "chat", "room": "general", "seq": match["seq"], "from": "bob",
        "text": "green build, ship it", "ts": WALL + 5,
    }  # fmt: skip
    assert reply["more"] is False


def test_search_pages_back_with_before(broker: Broker) -> None:
    for n in range(5):
        broker.wall = WALL + n
        say(broker, A, "general", f"note {n}")
    first = search(broker, A, "note", limit=2)
    assert [m["text"] for m in first["matches"]] == ["note 4", "note 3"]
    assert first["more"] is True
    last = first["matches"][-1]["ts"]
    second = search(broker, A, "note", limit=3, before=last)
    assert [m["text"] for m in second["matches"]] == ["note 2", "note 1", "note 0"]
    assert second["more"] is False


def test_an_edit_is_found_by_its_new_words_and_a_delete_not_at_all(broker: Broker) -> None:
    seq = say(broker, A, "general", "teh deploy is done")
    say(broker, A, "general", "deploy notes follow")
    assert len(found(broker, A, "deploy")) == 2  # both indexed before the edit
    broker.wall = WALL + 30
    broker.reply(A, {"type": "edit", "room": "general", "of": seq, "text": "the release is done"})
    assert found(broker, A, "teh") == []
    assert found(broker, A, "deploy") == [("general", "deploy notes follow")]
    (match,) = search(broker, A, "release")["matches"]
    assert (match["seq"], match["text"], match["edited"]) == (seq, "the release is done", WALL + 30)
    broker.wall = WALL + 40
    broker.reply(A, {"type": "edit", "room": "general", "of": seq, "text": "the rollout is done"})
    assert found(broker, A, "release") == []  # an earlier edit's words no more
    assert found(broker, A, "rollout") == [("general", "the rollout is done")]
    broker.reply(A, {"type": "delete", "room": "general", "of": seq})
    assert found(broker, A, "rollout") == []
    assert found(broker, A, "done") == []


# ---------------------------------------------------------------------- the index


def test_the_index_catches_up_before_a_search_and_at_a_commit_far_behind(broker: Broker) -> None:
    store = broker.store
    start = indexed(store)
    say(broker, A, "general", "just said")
    assert indexed(store) == start  # a chat alone does not touch the index
    assert found(broker, A, "said") == [("general", "just said")]
    assert indexed(store) > start
    mark = indexed(store)
    for n in range(search_index.CATCH_UP_ROWS):
        store.add_chat("general", 1000 + n, WALL, "alice", f"bulk {n}", None, 1, None)
    store.commit()
    assert indexed(store) > mark  # a slice of them
    while store.dirty:
        store.commit()  # as the loop does while the index is behind
    assert indexed(store) == mark + search_index.CATCH_UP_ROWS


def test_a_store_reopened_indexes_what_its_last_run_left_behind(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    store = Store(path)
    store.add_chat("general", 1, WALL, "alice", "left behind", None, 1, None)
    store.close()  # committed, not indexed: the commit was far from catching up
    db = open_database(path, fsync=False)
    assert db.execute("SELECT value FROM counters WHERE name = 'search_indexed'").fetchone() in (
        None,
        (0,),
    )
    db.close()
    again = Store(path)
    try:
        assert indexed(again) == 1
        events, more = search_index.find(again.reader(), '"behind"', ["general"], None, 5)
        assert [e.text for e in events] == ["left behind"]
        assert not more
    finally:
        again.close()


def test_a_version_7_store_gets_the_index_filled_as_it_opens(tmp_path: Path) -> None:
    path = str(tmp_path / "v7.db")
    conn = open_database(path, fsync=False)
    conn.executescript(
        "DROP TABLE search_index; PRAGMA user_version=7;"
        "INSERT INTO events (room, seq, ts, kind, user, text)"
        f" VALUES ('general', 1, {WALL}, 0, 'amy', 'from before the index');"
    )
    conn.close()
    with contextlib.closing(open_database(path, fsync=False)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 8
    b = Broker(path)
    try:
        b.register(A, "amy", ["general"])
        assert found(b, A, "before index") == [("general", "from before the index")]
    finally:
        b.close()


def test_external_searches_every_room_it_could_read_from_outside(broker: Broker) -> None:
    say(broker, B, "secret", "the build of the public secret room")
    assert broker.reply(B, {"type": "join", "room": "vault", "private": True})["type"] == "joined"
    say(broker, B, "vault", "the build in the vault")
    say(broker, A, "dev", "build in dev")
    assert found(broker, A, "build") == [("dev", "build in dev")]
    assert found(broker, A, "build", external=True) == [
        ("dev", "build in dev"),
        ("secret", "the build of the public secret room"),
    ]  # not the private vault
    assert found(broker, A, "build", room="secret", external=True) == [
        ("secret", "the build of the public secret room")
    ]
    assert search(broker, A, "build", room="vault", external=True)["code"] == "not_invited"
    assert search(broker, A, "build", room="nowhere", external=True)["code"] == "no_such_room"


def test_a_commit_indexes_a_slice_and_lazy_commits_the_rest(tmp_path: Path) -> None:
    # 4,096 chats of 16 KiB took 0.4 s to index in one commit, a stall of the loop.
    store = Store(str(tmp_path / "s.db"))
    try:
        text = " ".join(f"word{n % 97}" for n in range(2300))[: 16 * 1024]
        count = search_index.FIRST_SLICE_ROWS + 100  # 9.6 MiB of text: past CATCH_UP_BYTES
        for n in range(count):
            store.add_chat("general", 1 + n, WALL, "alice", f"{text} n{n}", None, 1, None)
        store.commit()
        assert indexed(store) == search_index.FIRST_SLICE_ROWS  # one slice, not all
        assert store.dirty  # behind by a slice or more: the loop commits again
        slices = 1
        while store.dirty:
            store.commit()
            slices += 1
            assert slices < count
        assert indexed(store) == count
        # Sized from the first slice's time: smaller, for messages this long.
        assert slices > 2
        events, _ = search_index.find(store.reader(), '"n7"', ["general"], None, 5)
        assert [e.seq for e in events] == [8]
        store.add_chat("general", count + 1, WALL, "alice", "the newest", None, 1, None)
        store.commit()
        events, _ = search_index.find(store.searchable(), '"newest"', ["general"], None, 5)
        assert [e.text for e in events] == ["the newest"]
    finally:
        store.close()
