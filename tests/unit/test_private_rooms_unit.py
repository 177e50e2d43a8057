"""Private rooms without sockets: the wire records and their strict parsing, the chat
commands, the schema upgrade from version 4, and the broker core on a real SQLite
store (a failed commit, the PUB side's recheck hooks)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_handlers import Broker

from zmqchat.broker.schema import SCHEMA_VERSION, open_database
from zmqchat.broker.store import Store
from zmqchat.client.chat.commands import Invalid, InviteUser, JoinRoom, parse_input
from zmqchat.client.chat.completion import completions
from zmqchat.client.chat.slash_commands import COMMANDS, help_lines
from zmqchat.common.codec import decode, encode
from zmqchat.common.messages import Invited, Joined, RoomInfo, RoomList
from zmqchat.common.parsing import parse_message, parse_request
from zmqchat.common.requests import Invite, Join
from zmqchat.errors import ProtocolError

# ------------------------------------------------------------------------ the wire


def _code(msg: dict[str, Any]) -> str:
    with pytest.raises(ProtocolError) as refused:
        parse_request(msg)
    return refused.value.code


def test_join_takes_an_optional_private_flag() -> None:
    assert parse_request({"type": "join", "room": "Lab", "private": True}) == Join(
        room="lab", private=True
    )
    # false and nil are the same as leaving it out, and stay off the wire.
    for value in (False, None):
        req = parse_request({"type": "join", "room": "lab", "private": value, "ref": 1})
        assert req == Join(room="lab", ref=1)
        assert "private" not in req.to_wire()
    assert Join(room="lab", private=True).to_wire() == {
        "type": "join",
        "room": "lab",
        "private": True,
        "ref": None,
    }


@pytest.mark.parametrize("value", [1, 0, "yes", [True], {"x": 1}])
def test_join_private_must_be_a_boolean(value: object) -> None:
    assert _code({"type": "join", "room": "lab", "private": value}) == "bad_request"


def test_invite_parses_strictly() -> None:
    req = parse_request({"type": "invite", "room": "Lab", "user": "Bob", "ref": "i"})
    assert req == Invite(room="lab", user="Bob", ref="i")
    assert _code({"type": "invite", "room": "lab"}) == "bad_request"
    assert _code({"type": "invite", "user": "bob"}) == "bad_request"
    assert _code({"type": "invite", "room": "lab", "user": 7}) == "bad_request"
    assert _code({"type": "invite", "room": "lab", "user": "no one"}) == "invalid_name"
    assert _code({"type": "invite", "room": "a room", "user": "bob"}) == "invalid_name"


def test_the_new_replies_round_trip_and_an_old_joined_still_parses() -> None:
    for record in (
        Invited(room="lab", user="Bob", ref=3),
        Joined(room="lab", seq=2, members=("a", "b"), private=True, ref=4),
        RoomList(rooms=(RoomInfo("lab", 2, 9, private=True), RoomInfo("pub", 1, 1)), ref=5),
    ):
        assert parse_message(decode(encode(record))) == record
    old = {"type": "joined", "room": "g", "seq": 1, "members": ["a"], "ref": 1}
    parsed = parse_message(old)
    assert isinstance(parsed, Joined)
    assert parsed.private is None
    assert list(Joined(room="g", seq=1, members=("a",), private=True).to_wire()) == [
        "type",
        "room",
        "seq",
        "members",
        "private",
        "ref",
    ]


# -------------------------------------------------------------------- the commands


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("/create Lab", JoinRoom("lab", private=True)),
        ("/create #lab", JoinRoom("lab", private=True)),
        ("/invite Bob", InviteUser("Bob", None)),
        ("/invite bob #Lab", InviteUser("bob", "lab")),
        ("/join lab", JoinRoom("lab")),
    ],
)
def test_create_and_invite_parse(line: str, command: object) -> None:
    assert parse_input(line) == command


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/create", "usage: /create ROOM"),
        ("/create a b", "usage: /create ROOM"),
        ("/create bad.room", "not a room name"),
        ("/invite", "usage: /invite USER [ROOM]"),
        ("/invite a b c", "usage: /invite USER [ROOM]"),
        ("/invite bad!name", "not a user name"),
        ("/invite bob bad.room", "not a room name"),
    ],
)
def test_create_and_invite_say_what_is_wrong(line: str, says: str) -> None:
    command = parse_input(line)
    assert isinstance(command, Invalid)
    assert says in command.message


def test_help_lists_create_and_invite_and_tab_completes_invitees() -> None:
    text = "\n".join(help_lines())
    assert "/create ROOM" in text
    assert "/invite USER [ROOM]" in text
    assert {"create", "invite"} <= {spec.name for spec in COMMANDS}
    assert completions("/inv", rooms=[], users=[]) == ("/inv", ["/invite"])
    assert completions("/invite Bo", rooms=["lab"], users=["bob", "Bonnie", "al"]) == (
        "Bo",
        ["bob", "Bonnie"],
    )


# ---------------------------------------------------------------------- the store


def test_a_version_4_store_gets_the_private_room_tables_as_it_opens(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    conn = open_database(path, fsync=False)
    # What a store written by the release before private rooms looks like.
    conn.executescript("DROP TABLE private_rooms; DROP TABLE invites; PRAGMA user_version=4;")
    conn.execute(
        "INSERT INTO pms (id, ts, sender, sender_key, recipient, recipient_key, text, convo)"
        " VALUES (1, 1.0, 'Zed', 'zed', 'Amy', 'amy', 'hi', 'amy zed')"
    )
    conn.close()
    with contextlib.closing(open_database(path, fsync=False)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        assert db.execute("SELECT COUNT(*) FROM private_rooms").fetchone()[0] == 0
        assert db.execute("SELECT id, convo FROM pms").fetchall() == [(1, "amy zed")]
        db.execute("INSERT INTO invites (room, user, inviter, ts) VALUES ('r', 'b', 'a', 1)")
        with pytest.raises(sqlite3.IntegrityError):  # one invitation per user and room
            db.execute("INSERT INTO invites (room, user, inviter, ts) VALUES ('r', 'b', 'c', 2)")
    Store(path).close()  # and the store opens it


# --------------------------------------------------------------- the broker core


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    b = Broker(str(tmp_path / "broker.db"))
    yield b
    b.close()


def test_a_private_room_that_failed_to_commit_is_not_private(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    core = broker.core
    core.handle(b"A", encode({"type": "join", "room": "lab", "private": True}), broker.now)
    assert "lab" in core.state.private_rooms  # in memory, ahead of the store
    assert core.out.recheck.rooms == {"lab"}
    broker.store.rollback()
    core.out.clear()
    core.store_failed(broker.now)
    core.store_recovered()
    assert "lab" not in core.state.private_rooms
    # Nobody made it: so a public room anyone joins.
    joined = broker.reply(b"B", {"type": "join", "room": "lab", "ref": 1})
    assert joined["type"] == "joined"
    assert "private" not in joined


def test_leaving_or_ending_a_session_asks_the_pub_side_to_check_again(broker: Broker) -> None:
    broker.register(b"A", "alice")
    broker.register(b"B", "bob")
    core = broker.core
    private_rooms = core.state.private_rooms  # the set the PUB side holds
    assert broker.reply(b"A", {"type": "join", "room": "lab", "private": True})["private"]
    assert private_rooms == {"lab"}
    sid = {s.user: s.sid for s in core.state.by_key.values()}
    core.handle(b"A", encode({"type": "leave", "room": "general"}), broker.now)
    assert core.out.recheck.sessions == {sid["alice"]}
    broker.flush()
    assert not core.out.recheck
    core.handle(b"B", encode({"type": "bye"}), broker.now)
    assert core.out.recheck.sessions == {sid["bob"]}
    broker.flush()
    # A restart reads the tables into the same kind of set.
    broker.restart()
    assert broker.core.state.private_rooms == {"lab"}
    assert broker.core.access.creators == {"lab": "alice"}
