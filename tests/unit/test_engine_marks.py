"""Schema 13: a store keeps where it is in the Redis engine's records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zmqchat.broker.schema import SCHEMA_VERSION
from zmqchat.broker.store import Store


def test_an_older_store_gets_engine_marks_empty(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.executescript("DROP TABLE engine_marks; PRAGMA user_version = 12;")
    Store(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 13
        assert db.execute("SELECT COUNT(*) FROM engine_marks").fetchone()[0] == 0


def test_a_session_can_be_given_the_engines_sid(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    try:
        mine = store.add_session("t1", "alice", ["general"], None, 1.0)
        given = store.add_session("t2", "bob", [], None, 1.0, sid=mine + 100)
        assert given == mine + 100
        assert store.last_sid() == mine + 100
        # The same sid given again (the session came back to this node): one row.
        again = store.add_session("t3", "bob", ["dev"], None, 2.0, sid=given)
        assert again == given
        assert {(s.sid, s.token) for s in store.sessions()} == {(mine, "t1"), (given, "t3")}
    finally:
        store.close()
