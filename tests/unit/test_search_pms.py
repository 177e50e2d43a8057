"""``search`` with ``with`` in the broker core, on a real SQLite store: a session finds
its own private messages with one user, newest first, and nobody else's (a third
user, or a later session of a name without an account); the pm index catches up
before a search and is filled for a version 9 store as it opens."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import WALL, Broker, pm

from zmqchat.broker import search_index
from zmqchat.broker.schema import SCHEMA_VERSION, open_database
from zmqchat.broker.store import Store
from zmqchat.common.parsing import parse_message, parse_request
from zmqchat.common.search import Search
from zmqchat.errors import ProtocolError

Msg = dict[str, Any]
A, B, C = b"alice", b"bob", b"carol"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(str(tmp_path / "broker.db"))
    b.register(A, "alice", ["general"])
    b.register(B, "bob", ["general"])
    b.register(C, "carol", ["general"])
    yield b
    b.close()


def send(broker: Broker, rid: bytes, to: str, text: str) -> None:
    broker.wall += 1
    ack = broker.own(rid, pm(to, text))
    assert ack["type"] == "ack", ack


def found(broker: Broker, rid: bytes, words: str, **fields: Any) -> list[str]:
    reply = broker.reply(rid, {"type": "search", "words": words, **fields})
    assert reply["type"] == "search", reply
    assert all(m["type"] == "pm" for m in reply["matches"]), reply
    return [m["text"] for m in reply["matches"]]


def test_with_parses_as_a_name_and_not_with_room() -> None:
    req = parse_request({"type": "search", "words": "x", "with": "Bob", "ref": 1})
    assert req == Search(words="x", with_user="Bob", ref=1)
    for bad, code in (
        ({"with": "bob", "room": "general"}, "bad_request"),
        ({"with": "no spaces"}, "invalid_name"),
        ({"with": 7}, "bad_request"),
    ):
        with pytest.raises(ProtocolError) as caught:
            parse_request({"type": "search", "words": "x", **bad})
        assert caught.value.code == code, bad


def test_a_session_finds_its_own_pms_with_one_user_newest_first(broker: Broker) -> None:
    send(broker, A, "bob", "the deploy key is in the vault")
    send(broker, B, "alice", "which deploy? the Friday one")
    send(broker, A, "carol", "deploy notes for carol only")
    broker.reply(A, {"type": "chat", "room": "general", "text": "deploy in the room"})
    assert found(broker, A, "deploy", **{"with": "BOB"}) == [
        "which deploy? the Friday one",
        "the deploy key is in the vault",
    ]  # not the pm to carol, not the room's chat
    assert found(broker, B, "deploy", **{"with": "alice"}) == [
        "which deploy? the Friday one",
        "the deploy key is in the vault",
    ]
    assert found(broker, A, "friday deploy", **{"with": "bob"}) == ["which deploy? the Friday one"]
    reply = broker.reply(A, {"type": "search", "words": "vault", "with": "Bob", "ref": 4})
    assert reply["with"] == "Bob"  # echoed as sent, as history does
    (match,) = reply["matches"]
    assert (match["from"], match["to"], match["id"]) == ("alice", "bob", 1)
    assert "key" not in match  # as in a history page
    parsed = parse_message(reply)
    assert parsed.matches[0].sender == "alice"  # type: ignore[attr-defined]


def test_nobody_finds_another_users_pms(broker: Broker) -> None:
    send(broker, A, "bob", "a secret between alice and bob")
    # Carol asks about either side of a conversation she is not in.
    assert found(broker, C, "secret", **{"with": "bob"}) == []
    assert found(broker, C, "secret", **{"with": "alice"}) == []
    # Nor does the room search give pms away.
    assert broker.reply(C, {"type": "search", "words": "secret"})["matches"] == []
    assert broker.reply(A, {"type": "search", "words": "secret"})["matches"] == []
    # A name without an account: a new session of it is not the one that talked.
    broker.reply(A, {"type": "bye"})
    broker.register(b"alice2", "alice", ["general"])
    assert found(broker, b"alice2", "secret", **{"with": "bob"}) == []
    assert found(broker, B, "secret", **{"with": "alice"}) == ["a secret between alice and bob"]


def test_pm_search_pages_back_with_before(broker: Broker) -> None:
    for n in range(5):
        send(broker, A, "bob", f"note {n}")
    reply = broker.reply(A, {"type": "search", "words": "note", "with": "bob", "limit": 2})
    assert [m["text"] for m in reply["matches"]] == ["note 4", "note 3"]
    assert reply["more"] is True
    last = reply["matches"][-1]["ts"]
    rest = broker.reply(
        A, {"type": "search", "words": "note", "with": "bob", "limit": 5, "before": last}
    )
    assert [m["text"] for m in rest["matches"]] == ["note 2", "note 1", "note 0"]
    assert rest["more"] is False


def test_a_version_9_store_gets_the_pm_index_filled_as_it_opens(tmp_path: Path) -> None:
    path = str(tmp_path / "v9.db")
    broker = Broker(path)
    broker.register(A, "alice")
    broker.register(B, "bob")
    send(broker, A, "bob", "from before the pm index")
    broker.close()
    conn = open_database(path, fsync=False)
    conn.executescript(
        "DROP TABLE pm_search_index; DELETE FROM counters WHERE name = 'pm_search_indexed';"
        " PRAGMA user_version=9;"
    )
    conn.close()
    with contextlib.closing(open_database(path, fsync=False)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 10
    again = Store(path)
    try:
        every_pm: tuple[str, list[object]] = ("1", [])
        pms, more = search_index.find_pms(again.reader(), '"before"', every_pm, None, 5)
        assert [p.text for p in pms] == ["from before the pm index"]
        assert (pms[0].ts, more) == (WALL + 1, False)
    finally:
        again.close()
