"""Message records of protocol v1: request parsing (DESIGN.md §4-5) and broker
messages on the wire (§5-6)."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import pytest

from zmqchat.common.codec import decode, decode_message, decode_request, encode
from zmqchat.common.messages import (
    ByeReply,
    ChatAck,
    ChatEvent,
    Closed,
    ErrorReply,
    HistoryPage,
    Joined,
    Left,
    PmAck,
    PmEvent,
    Pong,
    PresenceEvent,
    Record,
    RoomInfo,
    RoomList,
    SystemEvent,
    Users,
    Welcome,
)
from zmqchat.common.parsing import REQUEST_TYPES, parse_message, parse_request, request_ref
from zmqchat.common.protocol import ErrorCode
from zmqchat.common.requests import (
    Bye,
    Chat,
    History,
    Join,
    Leave,
    ListRooms,
    Ping,
    Pm,
    Register,
    Who,
)
from zmqchat.errors import ProtocolError

TS = 1_700_000_000.25

# ============================================================ requests: valid input


def test_request_types_are_the_ten_of_the_design_and_the_additive_ones() -> None:
    # `invite` is additive to v1 (protocol.md §7, private rooms), and so are `topic`
    # and the moderation requests (room topics and moderation), and `edit` and
    # `delete`, and `search` (issue 15), and the file ones (issue 16).
    assert sorted(REQUEST_TYPES) == [
        "ban",
        "bye",
        "chat",
        "delete",
        "deop",
        "edit",
        "file_chunk",
        "file_get",
        "file_offer",
        "history",
        "invite",
        "join",
        "kick",
        "leave",
        "lock",
        "op",
        "ping",
        "pm",
        "register",
        "rooms",
        "search",
        "topic",
        "unban",
        "unlock",
        "who",
    ]


def test_register_minimal_gets_the_defaults() -> None:
    req = parse_request({"type": "register", "user": "Alice", "proto": 1})
    assert req == Register(user="Alice", proto=1, rooms=("general",), ref=None)
    assert req.rooms == ("general",)
    assert req.password is None
    assert req.resume is None
    assert req.client is None


def test_register_keeps_user_case_and_canonicalises_rooms() -> None:
    req = parse_request(
        {
            "type": "register",
            "user": "Alice",
            "proto": 1,
            "rooms": ["Dev", "general", "DEV", "Ops_2"],
            "password": "s3cret",
            "resume": "a" * 32,
            "client": "zmqchat-tests/1.0",
            "ref": 1,
        }
    )
    assert req == Register(
        user="Alice",
        proto=1,
        rooms=("dev", "general", "ops_2"),
        password="s3cret",
        resume="a" * 32,
        client="zmqchat-tests/1.0",
        ref=1,
    )


def test_register_with_an_empty_room_list_joins_nothing() -> None:
    req = parse_request({"type": "register", "user": "bot", "proto": 1, "rooms": []})
    assert isinstance(req, Register)
    assert req.rooms == ()


def test_register_takes_at_most_100_rooms() -> None:
    rooms = [f"r{i}" for i in range(100)]
    req = parse_request({"type": "register", "user": "bot", "proto": 1, "rooms": rooms})
    assert isinstance(req, Register)
    assert len(req.rooms) == 100
    too_many = {"type": "register", "user": "bot", "proto": 1, "rooms": [*rooms, "r100"]}
    assert _code(too_many) == "bad_request"


@pytest.mark.parametrize(("kind", "cls"), [("join", Join), ("leave", Leave)])
def test_join_and_leave_canonicalise_the_room(kind: str, cls: type[Record]) -> None:
    req = parse_request({"type": kind, "room": "DevOps", "ref": "r1"})
    assert req == cls(room="devops", ref="r1")  # type: ignore[call-arg]


def test_chat_canonicalises_room_and_keeps_text() -> None:
    req = parse_request({"type": "chat", "room": "General", "text": " hi there ", "ref": 7})
    assert req == Chat(room="general", text=" hi there ", ref=7)
    assert isinstance(req, Chat)
    assert req.data is None
    assert req.data_packed is None


def test_chat_with_data_keeps_its_packed_form() -> None:
    data = {"kind": "dice", "values": [3, 6]}
    req = parse_request({"type": "chat", "room": "g", "text": "rolled", "data": data})
    assert isinstance(req, Chat)
    assert req.data == data
    assert req.data_packed == msgpack.packb(data, use_bin_type=True)


def test_pm_keeps_the_recipient_case() -> None:
    req = parse_request({"type": "pm", "to": "Bob", "text": "psst", "data": {"a": 1}, "ref": 2})
    assert req == Pm(to="Bob", text="psst", data={"a": 1}, ref=2)
    assert isinstance(req, Pm)
    assert req.data_packed == msgpack.packb({"a": 1}, use_bin_type=True)


def test_who_without_and_with_room() -> None:
    assert parse_request({"type": "who"}) == Who(room=None, ref=None)
    assert parse_request({"type": "who", "room": "DEV", "ref": 3}) == Who(room="dev", ref=3)


def test_rooms_ping_and_bye() -> None:
    assert parse_request({"type": "rooms", "ref": 4}) == ListRooms(ref=4)
    assert parse_request({"type": "ping"}) == Ping(ref=None)
    assert parse_request({"type": "ping", "ref": "p"}) == Ping(ref="p")
    assert parse_request({"type": "bye", "ref": 5}) == Bye(ref=5)


def test_history_of_a_room_defaults_to_the_latest_50() -> None:
    req = parse_request({"type": "history", "room": "General"})
    assert req == History(room="general", with_user=None, after=None, before=None, limit=50)
    assert isinstance(req, History)
    assert req.limit == 50


def test_history_with_a_user_and_bounds() -> None:
    req = parse_request({"type": "history", "with": "Bob", "after": 0, "limit": 500, "ref": "h"})
    assert req == History(with_user="Bob", after=0, limit=500, ref="h")
    req = parse_request({"type": "history", "room": "dev", "before": 120, "limit": 1})
    assert req == History(room="dev", before=120, limit=1)


def test_history_with_explicit_nil_for_the_other_target() -> None:
    req = parse_request({"type": "history", "room": "dev", "with": None})
    assert req == History(room="dev")


# ========================================================= requests: refused input


def _code(msg: dict[str, Any]) -> str:
    with pytest.raises(ProtocolError) as info:
        parse_request(msg)
    return info.value.code


REG = {"type": "register", "user": "alice", "proto": 1}
CHAT = {"type": "chat", "room": "general", "text": "hi"}
PM = {"type": "pm", "to": "bob", "text": "hi"}
HIST = {"type": "history", "room": "general"}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not _DROP}


_DROP: Any = object()

BAD_REQUESTS = {
    # the type itself
    "no type": {"room": "general"},
    "nil type": {"type": None},
    "unknown type": {"type": "shout", "text": "hi"},
    "reply type": {"type": "welcome"},
    "int type": {"type": 5},
    "list type": {"type": ["chat"]},
    # register
    "register without user": _with(REG, user=_DROP),
    "register without proto": _with(REG, proto=_DROP),
    "register user int": _with(REG, user=5),
    "register proto str": _with(REG, proto="1"),
    "register proto bool": _with(REG, proto=True),
    "register proto float": _with(REG, proto=1.0),
    "register rooms str": _with(REG, rooms="general"),
    "register rooms map": _with(REG, rooms={"general": 1}),
    "register room int": _with(REG, rooms=["general", 5]),
    "register password int": _with(REG, password=1234),
    "register resume bytes": _with(REG, resume=b"token"),
    "register client int": _with(REG, client=3),
    "register client too long": _with(REG, client="c" * 129),
    # join / leave
    "join without room": {"type": "join"},
    "join nil room": {"type": "join", "room": None},
    "join room int": {"type": "join", "room": 1},
    "leave without room": {"type": "leave"},
    "leave room list": {"type": "leave", "room": ["dev"]},
    # chat
    "chat without room": _with(CHAT, room=_DROP),
    "chat without text": _with(CHAT, text=_DROP),
    "chat text int": _with(CHAT, text=42),
    "chat text bytes": _with(CHAT, text=b"hi"),
    "chat data list": _with(CHAT, data=[1, 2]),
    "chat data str": _with(CHAT, data="x"),
    # pm
    "pm without to": _with(PM, to=_DROP),
    "pm without text": _with(PM, text=_DROP),
    "pm to list": _with(PM, to=["bob"]),
    "pm data int": _with(PM, data=1),
    # who
    "who room int": {"type": "who", "room": 7},
    # history
    "history both room and with": _with(HIST, **{"with": "bob"}),
    "history neither room nor with": {"type": "history"},
    "history limit 0": _with(HIST, limit=0),
    "history limit 501": _with(HIST, limit=501),
    "history limit negative": _with(HIST, limit=-1),
    "history limit str": _with(HIST, limit="50"),
    "history limit bool": _with(HIST, limit=True),
    "history limit float": _with(HIST, limit=50.0),
    "history negative after": _with(HIST, after=-1),
    "history negative before": _with(HIST, before=-1),
    "history after str": _with(HIST, after="3"),
    "history with int": {"type": "history", "with": 5},
    # ref of another type
    "ref float": _with(CHAT, ref=1.5),
    "ref bool": _with(CHAT, ref=True),
    "ref list": _with(CHAT, ref=[1]),
    "ref too long": _with(CHAT, ref="r" * 65),
}


@pytest.mark.parametrize("msg", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_requests_are_bad_request(msg: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match=r"^bad_request: ") as info:
        parse_request(msg)
    assert info.value.code == ErrorCode.BAD_REQUEST


def test_missing_field_message_names_the_field() -> None:
    with pytest.raises(ProtocolError, match="bad_request: missing field 'text'"):
        parse_request(_with(CHAT, text=_DROP))
    with pytest.raises(ProtocolError, match="bad_request: missing field 'user'"):
        parse_request(_with(REG, user=_DROP))


def test_unknown_type_message_names_the_type() -> None:
    with pytest.raises(ProtocolError, match="bad_request: unknown request type 'shout'"):
        parse_request({"type": "shout"})


INVALID_NAMES = {
    "register user": _with(REG, user="bad name"),
    "register user 33": _with(REG, user="u" * 33),
    "register user empty": _with(REG, user=""),
    "register room": _with(REG, rooms=["general", "no way"]),
    "join room": {"type": "join", "room": "a b"},
    "join room 33": {"type": "join", "room": "r" * 33},
    "leave room": {"type": "leave", "room": "dev!"},
    "chat room": _with(CHAT, room="#general"),
    "chat room empty": _with(CHAT, room=""),
    "pm to": _with(PM, to="bob smith"),
    "who room": {"type": "who", "room": "a.b"},
    "history room": {"type": "history", "room": "a/b"},
    "history with": {"type": "history", "with": "b@b"},
}


@pytest.mark.parametrize("msg", INVALID_NAMES.values(), ids=INVALID_NAMES.keys())
def test_invalid_names_are_invalid_name(msg: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match=r"^invalid_name: ") as info:
        parse_request(msg)
    assert info.value.code == ErrorCode.INVALID_NAME


@pytest.mark.parametrize("proto", [0, 2, 99, -1])
def test_other_protocol_versions_are_unsupported(proto: int) -> None:
    with pytest.raises(ProtocolError, match=r"^unsupported_proto: ") as info:
        parse_request(_with(REG, proto=proto))
    assert info.value.code == ErrorCode.UNSUPPORTED_PROTO
    assert str(proto) in info.value.message


@pytest.mark.parametrize("base", [CHAT, PM], ids=["chat", "pm"])
def test_text_over_4096_bytes_is_too_long(base: dict[str, Any]) -> None:
    assert _code(_with(base, text="a" * 4097)) == ErrorCode.TOO_LONG
    assert _code(_with(base, text="\N{GRINNING FACE}" * 1025)) == ErrorCode.TOO_LONG
    assert isinstance(parse_request(_with(base, text="a" * 4096)), Chat | Pm)


@pytest.mark.parametrize("base", [CHAT, PM], ids=["chat", "pm"])
def test_data_over_16_kib_is_too_long(base: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match=r"^too_long: "):
        parse_request(_with(base, data={"blob": b"\x00" * (16 * 1024)}))


@pytest.mark.parametrize("base", [CHAT, PM], ids=["chat", "pm"])
@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_blank_text_is_empty(base: dict[str, Any], text: str) -> None:
    with pytest.raises(ProtocolError, match=r"^empty: ") as info:
        parse_request(_with(base, text=text))
    assert info.value.code == ErrorCode.EMPTY


# ================================================= unknown fields, stamps and ref


def test_unknown_fields_are_ignored() -> None:
    msg = {**CHAT, "colour": "red", "nested": {"x": [1, 2]}, "priority": 9}
    assert parse_request(msg) == Chat(room="general", text="hi")
    msg = {"type": "ping", "unexpected": True}
    assert parse_request(msg) == Ping()


def test_from_seq_and_ts_in_a_request_are_not_used() -> None:
    msg = {**CHAT, "from": "mallory", "seq": 999, "ts": 1.0, "id": 5, "session": "x" * 16}
    req = parse_request(msg)
    assert req == Chat(room="general", text="hi")
    wire = req.to_wire()
    assert wire == {"type": "chat", "room": "general", "text": "hi", "ref": None}
    for key in ("from", "seq", "ts", "id", "session"):
        assert key not in wire
    pm = parse_request({**PM, "from": "mallory", "ts": 2.0})
    assert "from" not in pm.to_wire()
    assert "ts" not in pm.to_wire()


def test_request_ref_echoes_a_valid_ref() -> None:
    assert request_ref({"type": "chat", "ref": 5}) == 5
    assert request_ref({"type": "chat", "ref": -1}) == -1
    assert request_ref({"type": "chat", "ref": "abc"}) == "abc"
    assert request_ref({"type": "chat", "ref": "r" * 64}) == "r" * 64


def test_request_ref_of_an_otherwise_broken_request() -> None:
    # the error reply to an unknown type or a missing field still carries the ref
    assert request_ref({"type": "shout", "ref": 11}) == 11
    assert request_ref({"ref": "x"}) == "x"


@pytest.mark.parametrize("msg", [{}, {"ref": None}, {"ref": 1.5}, {"ref": True}, {"ref": [1]}])
def test_request_ref_is_nil_when_missing_or_invalid(msg: dict[str, Any]) -> None:
    assert request_ref(msg) is None


def test_request_ref_is_nil_for_a_too_long_string() -> None:
    assert request_ref({"ref": "r" * 65}) is None


def test_parsed_request_carries_the_ref() -> None:
    for ref in (0, 17, "", "corr-1"):
        req = parse_request({**CHAT, "ref": ref})
        assert req.ref == ref  # type: ignore[union-attr]
        assert req.to_wire()["ref"] == ref


REQUESTS = [
    Register(user="Alice"),
    Register(
        user="bot_7",
        rooms=("dev", "general"),
        password="pw",
        resume="t" * 32,
        client="bot/2",
        ref=9,
    ),
    Join(room="dev", ref=1),
    Leave(room="dev"),
    Chat(room="general", text="hello"),
    Chat(room="general", text="with data", data={"k": [1, "two"], "b": b"\x01"}, ref="c1"),
    Pm(to="Bob", text="hi"),
    Pm(to="Bob", text="hi", data={"x": None}, ref=3),
    Who(),
    Who(room="dev", ref=2),
    ListRooms(),
    History(room="general"),
    History(with_user="Bob", after=3, limit=10, ref="h1"),
    History(room="dev", before=100, limit=500),
    Ping(ref=4),
    Bye(),
]


@pytest.mark.parametrize("req", REQUESTS, ids=repr)
def test_request_records_round_trip_through_the_codec(req: Record) -> None:
    frame = encode(req)
    assert decode_request(frame) == req
    assert decode(frame)["type"] == req.TYPE


def test_history_request_wire_uses_with() -> None:
    wire = History(with_user="Bob").to_wire()
    assert wire == {"type": "history", "with": "Bob", "limit": 50, "ref": None}


# ==================================================================== broker messages


def _chat(seq: int, data: dict[str, Any] | None = None) -> ChatEvent:
    return ChatEvent(
        room="general", seq=seq, sender="Alice", text=f"message {seq}", ts=TS + seq, data=data
    )


BROKER_MESSAGES: dict[str, Record] = {
    "welcome": Welcome(
        user="Alice",
        session="0123456789abcdef0123456789abcdef",
        pub_port=5556,
        rooms={"general": 3, "dev": 0},
        heartbeat=5.0,
        timeout=15.0,
        limits={"text": 4096, "data": 16384, "frame": 65536, "rate": 200.0, "burst": 1000},
        server="zmqchat 0.1.0",
        proto=1,
        ref=1,
    ),
    "welcome nil ref": Welcome(
        user="b",
        session="s" * 16,
        pub_port=0,
        rooms={},
        heartbeat=0.5,
        timeout=2.0,
        limits={},
        server="x",
    ),
    "joined": Joined(room="dev", seq=4, members=("Alice", "bob"), ref="j1"),
    "joined nil ref": Joined(room="dev", seq=1, members=("Alice",)),
    "left": Left(room="dev", ref=None),
    "chat ack": ChatAck(room="general", seq=12, ts=TS, ref=3),
    "pm ack delivered": PmAck(to="Bob", id=9, status="delivered", ts=TS, ref="pm-1"),
    "pm ack queued": PmAck(to="carol", id=10, status="queued", ts=TS),
    "users of room": Users(users=("Alice", "bob"), room="general", ref=2),
    "users online": Users(users=("Alice",)),
    "users none": Users(users=()),
    "rooms": RoomList(
        rooms=(RoomInfo(name="dev", members=2, seq=10), RoomInfo(name="general", members=5, seq=0)),
        ref=6,
    ),
    "rooms empty": RoomList(rooms=()),
    "history room": HistoryPage(
        messages=(
            PresenceEvent(room="general", seq=1, user="Alice", event="join", ts=TS),
            _chat(2),
            _chat(3, data={"kind": "dice", "values": [1, 6], "blob": b"\x00\xff"}),
            PresenceEvent(
                room="general", seq=4, user="bob", event="leave", ts=TS + 4, reason="timeout"
            ),
        ),
        more=True,
        room="general",
        ref=8,
    ),
    "history pm": HistoryPage(
        messages=(
            PmEvent(id=1, sender="Alice", to="Bob", text="hi", ts=TS),
            PmEvent(id=2, sender="Bob", to="Alice", text="yo", ts=TS + 1, data={"a": 1}),
        ),
        more=False,
        with_user="Bob",
    ),
    "history empty": HistoryPage(messages=(), more=False, room="dev", ref="e"),
    "pong": Pong(heads={"general": 12, "dev": 4}, ref=5),
    "pong no rooms": Pong(heads={}),
    "bye": ByeReply(),
    "bye ref": ByeReply(ref="last"),
    "error": ErrorReply(code="not_in_room", message="you are not in room 'dev'", ref=5),
    "error nil ref": ErrorReply(code="bad_request", message="not valid msgpack"),
    "chat": _chat(7),
    "chat data": _chat(8, data={"nested": {"list": [1, 2.5, None, True]}, "s": "سلام"}),
    "presence join": PresenceEvent(room="dev", seq=1, user="bob", event="join", ts=TS),
    "presence leave reason": PresenceEvent(
        room="dev", seq=2, user="bob", event="leave", ts=TS, reason="timeout"
    ),
    "system": SystemEvent(text="broker shutting down", ts=TS),
    "pm": PmEvent(id=3, sender="Alice", to="Bob", text="psst", ts=TS),
    "pm data": PmEvent(id=4, sender="Alice", to="Bob", text="x", ts=TS, data={"k": "v"}),
    "closed timeout": Closed(reason="timeout"),
    "closed replaced": Closed(reason="replaced"),
    "closed shutdown": Closed(reason="shutdown"),
}

REPLY_CLASSES = (
    Welcome,
    Joined,
    Left,
    ChatAck,
    PmAck,
    Users,
    RoomList,
    HistoryPage,
    Pong,
    ByeReply,
    ErrorReply,
)
EVENT_CLASSES = (ChatEvent, PresenceEvent, SystemEvent, PmEvent, Closed)


def test_every_broker_message_class_is_covered() -> None:
    covered = {type(msg) for msg in BROKER_MESSAGES.values()}
    assert covered == set(REPLY_CLASSES) | set(EVENT_CLASSES)


@pytest.mark.parametrize("msg", BROKER_MESSAGES.values(), ids=BROKER_MESSAGES.keys())
def test_broker_message_round_trips(msg: Record) -> None:
    frame = encode(msg)
    assert frame == msgpack.packb(msg.to_wire(), use_bin_type=True)
    parsed = parse_message(decode(frame))
    assert type(parsed) is type(msg)
    assert parsed == msg
    assert decode_message(frame) == msg


@pytest.mark.parametrize("msg", BROKER_MESSAGES.values(), ids=BROKER_MESSAGES.keys())
def test_type_is_the_first_wire_key(msg: Record) -> None:
    wire = msg.to_wire()
    assert next(iter(wire)) == "type"
    assert wire["type"] == msg.TYPE
    assert next(iter(decode(encode(msg)))) == "type"


@pytest.mark.parametrize("msg", BROKER_MESSAGES.values(), ids=BROKER_MESSAGES.keys())
def test_ref_is_on_every_reply_and_no_event(msg: Record) -> None:
    wire = decode(encode(msg))
    if isinstance(msg, REPLY_CLASSES):
        assert "ref" in wire
        assert wire["ref"] == msg.ref
    else:
        assert "ref" not in wire


@pytest.mark.parametrize("msg", BROKER_MESSAGES.values(), ids=BROKER_MESSAGES.keys())
def test_none_fields_are_omitted_except_ref(msg: Record) -> None:
    wire = msg.to_wire()
    for key, value in wire.items():
        if value is None:
            assert key == "ref"


def test_sender_goes_on_the_wire_as_from() -> None:
    wire = decode(encode(_chat(1)))
    assert wire["from"] == "Alice"
    assert "sender" not in wire
    wire = decode(encode(PmEvent(id=1, sender="Alice", to="Bob", text="t", ts=TS)))
    assert wire["from"] == "Alice"
    assert wire["to"] == "Bob"
    assert "sender" not in wire


def test_with_user_goes_on_the_wire_as_with() -> None:
    page = HistoryPage(messages=(), more=False, with_user="Bob", ref=1)
    assert page.to_wire() == {
        "type": "history",
        "messages": [],
        "more": False,
        "with": "Bob",
        "ref": 1,
    }
    assert decode(encode(page)) == {
        "type": "history",
        "messages": [],
        "more": False,
        "with": "Bob",
        "ref": 1,
    }


def test_room_info_entries_carry_no_type() -> None:
    wire = decode(encode(BROKER_MESSAGES["rooms"]))
    assert wire == {
        "type": "rooms",
        "rooms": [
            {"name": "dev", "members": 2, "seq": 10},
            {"name": "general", "members": 5, "seq": 0},
        ],
        "ref": 6,
    }
    assert RoomInfo(name="a", members=1, seq=2).to_wire() == {"name": "a", "members": 1, "seq": 2}


def test_history_events_are_full_messages_on_the_wire() -> None:
    wire = decode(encode(BROKER_MESSAGES["history room"]))
    assert [m["type"] for m in wire["messages"]] == ["presence", "chat", "chat", "presence"]
    assert [m["seq"] for m in wire["messages"]] == [1, 2, 3, 4]
    assert wire["messages"][0] == {
        "type": "presence",
        "room": "general",
        "seq": 1,
        "user": "Alice",
        "event": "join",
        "ts": TS,
    }
    assert wire["messages"][3]["reason"] == "timeout"
    assert wire["messages"][2]["data"]["blob"] == b"\x00\xff"
    assert "data" not in wire["messages"][1]
    assert wire["more"] is True
    assert "with" not in wire


def test_optional_none_fields_are_left_out() -> None:
    assert "data" not in _chat(1).to_wire()
    assert "data" not in PmEvent(id=1, sender="a", to="b", text="t", ts=TS).to_wire()
    presence = PresenceEvent(room="dev", seq=1, user="bob", event="join", ts=TS)
    assert "reason" not in presence.to_wire()
    assert Users(users=("a",)).to_wire() == {"type": "users", "users": ("a",), "ref": None}
    page = HistoryPage(messages=(), more=False, room="dev")
    assert "with" not in page.to_wire()
    assert "room" in page.to_wire()
    register = Register(user="alice").to_wire()
    assert register == {
        "type": "register",
        "user": "alice",
        "proto": 1,
        "rooms": ("general",),
        "ref": None,
    }


def test_exact_wire_maps_of_small_replies() -> None:
    assert decode(encode(ChatAck(room="general", seq=5, ts=TS, ref=1))) == {
        "type": "ack",
        "room": "general",
        "seq": 5,
        "ts": TS,
        "ref": 1,
    }
    assert decode(encode(PmAck(to="Bob", id=2, status="queued", ts=TS))) == {
        "type": "ack",
        "to": "Bob",
        "id": 2,
        "status": "queued",
        "ts": TS,
        "ref": None,
    }
    assert decode(encode(ErrorReply(code="empty", message="text is empty", ref="r"))) == {
        "type": "error",
        "ref": "r",
        "code": "empty",
        "message": "text is empty",
    }
    assert decode(encode(ByeReply())) == {"type": "bye", "ref": None}
    assert decode(encode(Closed(reason="shutdown"))) == {"type": "closed", "reason": "shutdown"}
    assert decode(encode(SystemEvent(text="bye all", ts=TS))) == {
        "type": "system",
        "text": "bye all",
        "ts": TS,
    }
    assert decode(encode(Left(room="dev"))) == {"type": "left", "room": "dev", "ref": None}


def test_ack_is_told_apart_by_its_fields() -> None:
    assert isinstance(parse_message({"type": "ack", "room": "g", "seq": 1, "ts": TS}), ChatAck)
    pm = {"type": "ack", "to": "b", "id": 1, "status": "delivered", "ts": TS}
    assert isinstance(parse_message(pm), PmAck)


# ----------------------------------------------------------------------- byte-exact


def test_chat_event_bytes_match_the_design_map() -> None:
    # DESIGN.md §6: `chat` {room, seq, from, text, data?, ts}, `type` first.
    event = ChatEvent(
        room="general",
        seq=42,
        sender="Alice",
        text="hello, سلام",
        ts=1700000000.5,
        data={"kind": "greeting", "n": 1},
    )
    expected = msgpack.packb(
        {
            "type": "chat",
            "room": "general",
            "seq": 42,
            "from": "Alice",
            "text": "hello, سلام",
            "data": {"kind": "greeting", "n": 1},
            "ts": 1700000000.5,
        },
        use_bin_type=True,
    )
    assert encode(event) == expected


def test_chat_event_without_data_bytes() -> None:
    event = ChatEvent(room="dev", seq=1, sender="b", text="x", ts=0.5)
    expected = (
        b"\x86"  # map of 6
        b"\xa4type\xa4chat"
        b"\xa4room\xa3dev"
        b"\xa3seq\x01"
        b"\xa4from\xa1b"
        b"\xa4text\xa1x"
        b"\xa2ts\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00"  # float64 0.5
    )
    assert encode(event) == expected


def test_closed_bytes() -> None:
    assert encode(Closed(reason="shutdown")) == b"\x82\xa4type\xa6closed\xa6reason\xa8shutdown"


def test_ref_nil_is_encoded_as_msgpack_nil() -> None:
    assert encode(ByeReply()) == b"\x82\xa4type\xa3bye\xa3ref\xc0"


# ------------------------------------------------------------ parse_message errors


@pytest.mark.parametrize(
    "msg",
    [{}, {"type": None}, {"type": "nope"}, {"type": 3}, {"type": "register"}, {"type": "join"}],
    ids=["no type", "nil type", "unknown", "int", "request type register", "request join"],
)
def test_parse_message_unknown_type(msg: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match=r"^bad_request: unknown message type") as info:
        parse_message(msg)
    assert info.value.code == ErrorCode.BAD_REQUEST


_RENAMED = {"sender": "from", "with_user": "with"}


def _missing_field_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for name, msg in BROKER_MESSAGES.items():
        wire = decode(encode(msg))
        for field in dataclasses.fields(msg):  # type: ignore[arg-type]
            required = (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            )
            if required:
                key = _RENAMED.get(field.name, field.name)
                cases.append((f"{name} without {key}", {k: v for k, v in wire.items() if k != key}))
    return cases


MISSING_FIELD_CASES = _missing_field_cases()


@pytest.mark.parametrize(
    "msg", [c[1] for c in MISSING_FIELD_CASES], ids=[c[0] for c in MISSING_FIELD_CASES]
)
def test_parse_message_missing_required_field(msg: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match=r"^bad_request: ") as info:
        parse_message(msg)
    assert info.value.code == ErrorCode.BAD_REQUEST


def test_missing_field_cases_cover_renamed_keys() -> None:
    ids = [c[0] for c in MISSING_FIELD_CASES]
    assert "chat without from" in ids
    assert "pm without from" in ids
    assert "rooms without rooms" in ids
    assert "history room without messages" in ids


@pytest.mark.parametrize(
    "msg",
    [
        {"type": "rooms", "rooms": "dev"},
        {"type": "rooms", "rooms": [5]},
        {"type": "rooms", "rooms": [{"name": "dev", "seq": 1}]},
        {"type": "history", "messages": {}, "more": False},
        {"type": "history", "messages": [{"type": "chat", "room": "g"}], "more": False},
    ],
    ids=[
        "rooms not a list",
        "room entry not a map",
        "room entry without members",
        "messages not a list",
        "history event without fields",
    ],
)
def test_parse_message_malformed_nested(msg: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match=r"^bad_request: "):
        parse_message(msg)


def test_history_items_of_an_unknown_type_are_skipped() -> None:
    # A newer broker may add kinds of events; this client keeps the ones it knows.
    msg = {
        "type": "history",
        "messages": [{"type": "reaction", "emoji": "+1"}, _chat(1).to_wire()],
        "more": False,
        "room": "general",
        "ref": 1,
    }
    page = parse_message(msg)
    assert isinstance(page, HistoryPage)
    assert page.messages == (_chat(1),)


def test_parse_message_ignores_extra_fields() -> None:
    msg = {"type": "left", "room": "dev", "ref": 3, "since": 12, "note": "new in v1.1"}
    assert parse_message(msg) == Left(room="dev", ref=3)
    chat = {**_chat(1).to_wire(), "reactions": False}
    assert parse_message(chat) == _chat(1)


@pytest.mark.parametrize("item", [5, "chat", ["chat"], None])
def test_parse_message_history_item_that_is_not_a_map(item: object) -> None:
    msg = {"type": "history", "messages": [item], "more": False, "room": "g", "ref": None}
    with pytest.raises(ProtocolError, match=r"^bad_request: "):
        parse_message(msg)


def test_parse_message_deeply_nested_history_pages() -> None:
    msg: dict[str, Any] = {"type": "history", "messages": [], "more": False}
    for _ in range(400):
        msg = {"type": "history", "messages": [msg], "more": False}
    frame = msgpack.packb(msg, use_bin_type=True)
    assert len(frame) < 64 * 1024
    # A page is not an event: nested pages are skipped like any unknown item type,
    # so a hostile frame can't recurse the client into a RecursionError.
    page = decode_message(frame)
    assert isinstance(page, HistoryPage)
    assert page.messages == ()
