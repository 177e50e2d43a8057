"""The SQLite store: room events and their sequence numbers, private messages,
sessions, acks for retries, known users, durability and the schema version."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from zmqchat.broker.schema import SCHEMA_VERSION
from zmqchat.broker.store import PM_ID_BLOCK, Store, StoreError
from zmqchat.common.codec import encode
from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "sub" / "chat.db")


@pytest.fixture
def store(db_path: str) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()


def on_disk(store: Store) -> contextlib.closing[sqlite3.Connection]:
    """The store's file through a connection of the test's own, after a commit: what
    another process (or the next start) finds there."""
    store.commit()
    return contextlib.closing(sqlite3.connect(store.path))


def fill(store: Store, room: str, n: int, start: int = 1) -> None:
    """Chats ``start``..``n`` in ``room``, text ``m<seq>``, ts = seq."""
    for seq in range(start, n + 1):
        store.add_chat(room, seq, float(seq), "alice", f"m{seq}", None, 1, None)


def seqs(events: list[ChatEvent | PresenceEvent]) -> list[int]:
    return [e.seq for e in events]


# ------------------------------------------------------------------------ room events


def test_room_head_is_zero_for_an_unknown_room(store: Store) -> None:
    assert store.room_head("general") == 0


def test_room_head_follows_chats_and_presence_per_room(store: Store) -> None:
    store.add_presence("general", 1, 1.0, "alice", "join", None)
    store.add_chat("general", 2, 2.0, "alice", "hi", None, 1, 7)
    store.add_presence("dev", 1, 3.0, "bob", "join", None)
    assert store.room_head("general") == 2
    assert store.room_head("dev") == 1
    assert store.room_head("devops") == 0


def test_room_history_returns_chat_and_presence_records(store: Store) -> None:
    store.add_presence("general", 1, 1.5, "alice", "join", None)
    store.add_chat("general", 2, 2.5, "alice", "hello", None, 1, "r1")
    store.add_presence("general", 3, 3.5, "alice", "leave", "timeout")
    events, more = store.room_history("general", None, None, 50)
    assert more is False
    assert events == [
        PresenceEvent(room="general", seq=1, user="alice", event="join", ts=1.5, reason=None),
        ChatEvent(room="general", seq=2, sender="alice", text="hello", ts=2.5, data=None),
        PresenceEvent(room="general", seq=3, user="alice", event="leave", ts=3.5, reason="timeout"),
    ]


def test_room_history_latest_when_no_cursor(store: Store) -> None:
    fill(store, "general", 10)
    events, more = store.room_history("general", None, None, 3)
    assert seqs(events) == [8, 9, 10]
    assert more is True  # older events exist
    events, more = store.room_history("general", None, None, 10)
    assert seqs(events) == list(range(1, 11))
    assert more is False


def test_room_history_after_is_ascending_and_more_means_newer(store: Store) -> None:
    fill(store, "general", 10)
    events, more = store.room_history("general", 2, None, 3)
    assert seqs(events) == [3, 4, 5]
    assert more is True
    events, more = store.room_history("general", 7, None, 3)
    assert seqs(events) == [8, 9, 10]
    assert more is False
    events, more = store.room_history("general", 10, None, 3)
    assert events == []
    assert more is False


def test_room_history_before_is_ascending_and_more_means_older(store: Store) -> None:
    fill(store, "general", 10)
    events, more = store.room_history("general", None, 8, 3)
    assert seqs(events) == [5, 6, 7]
    assert more is True
    events, more = store.room_history("general", None, 4, 3)
    assert seqs(events) == [1, 2, 3]
    assert more is False
    events, more = store.room_history("general", None, 1, 3)
    assert events == []
    assert more is False


def test_room_history_between_after_and_before(store: Store) -> None:
    fill(store, "general", 10)
    events, more = store.room_history("general", 2, 9, 50)
    assert seqs(events) == [3, 4, 5, 6, 7, 8]
    assert more is False
    events, more = store.room_history("general", 2, 9, 4)
    assert seqs(events) == [3, 4, 5, 6]
    assert more is True


def test_room_history_keeps_rooms_apart(store: Store) -> None:
    fill(store, "general", 3)
    fill(store, "dev", 2)
    events, _ = store.room_history("dev", None, None, 50)
    assert [(e.room, e.seq) for e in events] == [("dev", 1), ("dev", 2)]


def test_duplicate_room_seq_is_refused(store: Store) -> None:
    # Chats reach SQLite with their batch's commit: the whole batch is refused.
    fill(store, "general", 1)
    store.commit()
    store.add_chat("general", 1, 2.0, "bob", "again", None, 2, None)
    with pytest.raises(sqlite3.IntegrityError):
        store.commit()
    store.rollback()  # as the server does when a commit fails
    assert not store.dirty
    events, _ = store.room_history("general", None, None, 50)
    assert [e.text for e in events] == [events[0].text]


def test_data_blob_round_trips(store: Store) -> None:
    data = {"kind": "result", "values": [1, 2.5, "x", None], "nested": {"ok": True}}
    packed = encode(data)
    store.add_chat("general", 1, 1.0, "bot", "see data", packed, 1, None)
    (event,), _ = store.room_history("general", None, None, 1)
    assert isinstance(event, ChatEvent)
    assert event.data == data
    store.add_pm(2.0, "bot", "alice", "pm data", packed, 1, 2, None)
    (pm,), _ = store.session_pm_history(2, "bot", None, None, 10)
    assert pm.data == data


# -------------------------------------------------------------------- private messages


def test_add_pm_returns_increasing_ids(store: Store) -> None:
    first = store.add_pm(1.0, "alice", "bob", "one", None, 1, 2, 1)
    second = store.add_pm(2.0, "bob", "alice", "two", None, 2, 1, 1)
    assert 0 < first < second


def test_session_pm_history_is_one_sessions_conversation_with_one_user(store: Store) -> None:
    a, b, c = 1, 2, 3  # session ids of alice, bob, carol
    ids = [
        store.add_pm(1.0, "alice", "Bob", "a->b", None, a, b, None),
        store.add_pm(2.0, "Bob", "alice", "b->a", None, b, a, None),
        store.add_pm(3.0, "alice", "carol", "a->c", None, a, c, None),
        store.add_pm(4.0, "carol", "Bob", "c->b", None, c, b, None),
        # an earlier "bob" talking to a different alice session: not this session's
        store.add_pm(5.0, "bob", "alice", "old b->a", None, 9, 8, None),
        store.add_pm(6.0, "alice", "bob", "a->b again", None, a, b, None),
    ]
    events, more = store.session_pm_history(a, "bob", None, None, 50)
    assert more is False
    assert [e.text for e in events] == ["a->b", "b->a", "a->b again"]
    assert [e.id for e in events] == [ids[0], ids[1], ids[5]]
    assert events[0] == PmEvent(id=ids[0], sender="alice", to="Bob", text="a->b", ts=1.0)
    # Bob's side of the same conversation, seen from Bob's session.
    events, _ = store.session_pm_history(b, "alice", None, None, 50)
    assert [e.text for e in events] == ["a->b", "b->a", "a->b again"]
    events, _ = store.session_pm_history(b, "carol", None, None, 50)
    assert [e.text for e in events] == ["c->b"]


def test_session_pm_history_paging(store: Store) -> None:
    ids = [store.add_pm(float(i), "alice", "bob", f"p{i}", None, 1, 2, None) for i in range(6)]
    events, more = store.session_pm_history(1, "bob", None, None, 2)
    assert [e.id for e in events] == ids[4:]
    assert more is True
    events, more = store.session_pm_history(1, "bob", ids[1], None, 2)
    assert [e.id for e in events] == ids[2:4]
    assert more is True
    events, more = store.session_pm_history(1, "bob", None, ids[2], 5)
    assert [e.id for e in events] == ids[:2]
    assert more is False


# ----------------------------------------------------------------------------- sessions


def test_sessions_add_set_rooms_delete_list(store: Store) -> None:
    assert store.sessions() == []
    s1 = store.add_session("token-one-0123456789", "Alice", ["general", "dev"], "cli", 1.0)
    s2 = store.add_session("token-two-0123456789", "bob", [], None, 2.0)
    assert s1 != s2
    listed = {s.sid: s for s in store.sessions()}
    assert listed[s1].token == "token-one-0123456789"
    assert listed[s1].user == "Alice"
    assert listed[s1].rooms == ("general", "dev")
    assert listed[s1].client == "cli"
    assert listed[s2].rooms == ()
    assert listed[s2].client is None

    store.leave_session_room(s1, "general")
    store.join_session_room(s1, "ops")
    store.join_session_room(s1, "dev")  # already in: nothing changes
    assert {s.sid: s.rooms for s in store.sessions()}[s1] == ("dev", "ops")  # joined order

    store.delete_session(s1)
    assert [s.sid for s in store.sessions()] == [s2]


def test_a_version_10_stores_session_rooms_are_copied_over(tmp_path: Path) -> None:
    # Before version 11 a session's rooms were a JSON list in `sessions`.
    path = str(tmp_path / "v10.db")
    old = Store(path)
    a = old.add_session("token-three-0123456789", "carol", [], None, 1.0)
    b = old.add_session("token-four-01234567890", "dave", [], None, 1.0)
    old.commit()
    old.close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE session_rooms; PRAGMA user_version=10;"
        f'UPDATE sessions SET rooms = \'["ops", "general"]\' WHERE sid = {a};'
        f"UPDATE sessions SET rooms = 'not json' WHERE sid = {b};"
    )
    db.close()
    store = Store(path)
    try:
        rooms = {s.sid: s.rooms for s in store.sessions()}
        assert rooms == {a: ("ops", "general"), b: ()}  # unreadable: restored in none
    finally:
        store.close()


def test_user_known_is_case_insensitive_by_key(store: Store) -> None:
    assert not store.user_known("alice")
    sid = store.add_session("token-four-0123456789", "Alice", ["general"], None, 1.0)
    assert store.user_known("alice")
    assert not store.user_known("Alice")  # callers pass the key (lower case)
    store.delete_session(sid)
    assert store.user_known("alice")  # users outlive their sessions


def test_recent_acks_chats_and_pms_oldest_first(store: Store) -> None:
    sid = 5
    store.add_chat("general", 1, 1.0, "alice", "a", None, sid, 1)
    store.add_presence("general", 2, 1.5, "bob", "join", None)
    store.add_chat("general", 3, 2.0, "alice", "no ref", None, sid, None)
    pm_id = store.add_pm(3.0, "alice", "bob", "pm", None, sid, 6, "pm-ref")
    store.add_chat("dev", 1, 4.0, "alice", "b", None, sid, 3)
    store.add_chat("dev", 2, 5.0, "bob", "other session", None, 6, 3)
    acks = store.recent_acks(sid, 100)
    assert [a.ref for a in acks] == [1, "pm-ref", 3]
    chat, pm, chat2 = acks
    assert (chat.room, chat.seq, chat.to, chat.id, chat.ts) == ("general", 1, None, None, 1.0)
    assert (pm.room, pm.seq, pm.to, pm.id, pm.ts) == (None, None, "bob", pm_id, 3.0)
    assert (chat2.room, chat2.seq) == ("dev", 1)
    assert [a.ref for a in store.recent_acks(sid, 2)] == ["pm-ref", 3]


def test_refs_keep_their_type(store: Store) -> None:
    store.add_chat("general", 1, 1.0, "alice", "a", None, 1, 7)
    store.add_chat("general", 2, 2.0, "alice", "b", None, 1, "7")
    assert [a.ref for a in store.recent_acks(1, 10)] == [7, "7"]


# ------------------------------------------------------------------ durability, schema


def test_wal_mode_is_on(store: Store) -> None:
    with on_disk(store) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_in_memory_store_works() -> None:
    s = Store(":memory:")
    try:
        fill(s, "general", 2)
        assert s.room_head("general") == 2
    finally:
        s.close()


def test_second_store_sees_rows_only_after_commit(db_path: str, store: Store) -> None:
    other = Store(db_path)
    try:
        fill(store, "general", 2)
        assert store.dirty
        assert other.room_head("general") == 0
        assert other.room_history("general", None, None, 10) == ([], False)
        store.commit()
        assert not store.dirty
        assert other.room_head("general") == 2
        assert seqs(other.room_history("general", None, None, 10)[0]) == [1, 2]
    finally:
        other.close()


def test_rows_survive_reopening(db_path: str) -> None:
    s = Store(db_path)
    fill(s, "general", 3)
    sid = s.add_session("token-five-0123456789", "alice", ["general"], None, 1.0)
    s.close()
    s = Store(db_path)
    try:
        assert s.room_head("general") == 3
        assert [x.sid for x in s.sessions()] == [sid]
    finally:
        s.close()


def test_schema_version_is_recorded(store: Store) -> None:
    with on_disk(store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_schema_version_mismatch_raises_store_error(db_path: str) -> None:
    Store(db_path).close()
    con = sqlite3.connect(db_path)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="written by a newer zmqchat"):
        Store(db_path)


def test_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an sqlite file at all" * 100)
    with pytest.raises(StoreError):
        Store(str(path))


def test_session_ids_are_not_reused_after_delete(store: Store) -> None:
    first = store.add_session("token-six-0123456789x", "alice", ["general"], None, 1.0)
    store.delete_session(first)
    second = store.add_session("token-seven-012345678", "mallory", ["general"], None, 2.0)
    assert second != first


# The sessions table of schema version 1, as the first release wrote it: without
# AUTOINCREMENT, SQLite hands out the sid of a deleted row again.
V1_SESSIONS = """
CREATE TABLE sessions (
    sid INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, user TEXT NOT NULL,
    rooms TEXT NOT NULL, client TEXT, created REAL NOT NULL
);
"""


def test_a_version_1_store_is_upgraded_and_never_reuses_a_sid(db_path: str) -> None:
    s = Store(db_path)
    keeper = s.add_session("token-keeper-0123456789", "keeper", [], None, 1.0)
    ann = s.add_session("token-ann-01234567890123", "ann", [], None, 1.0)
    s.add_pm(2.0, "ann", "bob", "secret for bob", None, ann, None, None)
    s.delete_session(ann)  # ann said bye; her pms stay, keyed by her sid
    s.close()
    # Turn it into a version 1 store: the old `sessions` table, same rows.
    con = sqlite3.connect(db_path)
    rows = con.execute("SELECT * FROM sessions").fetchall()
    con.executescript("DROP TABLE sessions;" + V1_SESSIONS)
    con.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.execute("DELETE FROM sqlite_sequence WHERE name = 'sessions'")
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()

    s = Store(db_path)
    try:
        with on_disk(s) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [x.sid for x in s.sessions()] == [keeper]
        mallory = s.add_session("token-mallory-012345678", "mallory", [], None, 3.0)
        assert mallory > ann
        assert s.session_pm_history(mallory, "bob", None, None, 50) == ([], False)
    finally:
        s.close()


def test_a_history_page_stops_reading_at_what_a_reply_can_hold(store: Store) -> None:
    big = "x" * 4000
    for seq in range(1, 101):
        store.add_chat("general", seq, float(seq), "alice", big, None, 1, None)
    store.commit()
    latest, more = store.room_history("general", None, None, 500)
    assert more
    assert 10 <= len(latest) <= 17  # about 64 KiB of text, not 400 KB
    assert latest[-1].seq == 100  # the newest, as for any page without `after`
    first, more = store.room_history("general", 0, None, 500)
    assert more
    assert first[0].seq == 1
    assert len(first) == len(latest)
    small, more = store.room_history("general", 95, None, 500)
    assert ([e.seq for e in small], more) == ([96, 97, 98, 99, 100], False)


def test_a_pm_id_handed_out_but_never_committed_is_not_handed_out_again(db_path: str) -> None:
    # A pm leaves before its commit: after a crash, the next broker must number on
    # past every id the dead one may have shown to a peer.
    crashed = Store(db_path)
    seen = crashed.add_pm(1.0, "alice", "bob", "lost in the crash", None, 1, 2, 1)
    # (no commit: the process dies here; its kept row never reached SQLite)
    restarted = Store(db_path)
    assert restarted.add_pm(2.0, "alice", "bob", "after", None, 1, 2, 2) > seen
    restarted.close()


def test_the_pm_id_ceiling_moves_ahead_with_the_commits(db_path: str) -> None:
    store = Store(db_path)
    ids = [store.add_pm(1.0, "a", "b", "x", None, 1, 2, None) for _ in range(PM_ID_BLOCK)]
    store.commit()
    ceiling = (
        sqlite3.connect(db_path)
        .execute("SELECT value FROM counters WHERE name = 'pm_id'")
        .fetchone()[0]
    )
    assert ceiling >= ids[-1] + PM_ID_BLOCK // 2
    store.close()
    assert Store(db_path).add_pm(2.0, "a", "b", "y", None, 1, 2, None) > ceiling


def test_a_store_keeps_its_epoch_and_a_new_one_has_another(tmp_path: Path) -> None:
    path = str(tmp_path / "z.db")
    first = Store(path)
    epoch = first.epoch
    first.close()
    again = Store(path)
    assert again.epoch == epoch  # made once, when the store was made
    again.close()
    other = Store(str(tmp_path / "other.db"))
    assert other.epoch != epoch  # a store made anew: another numbering
    other.close()
