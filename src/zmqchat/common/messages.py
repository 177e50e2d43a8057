"""One immutable record per message of protocol v1, and the functions that parse them.

Requests (client -> broker) are parsed strictly by :func:`parse_request`: the broker
trusts nothing a client sends. Broker messages (replies and events) are parsed by
:func:`parse_message` on the client side, leniently about extra fields so a newer
broker can add some. Every record serialises itself with ``to_wire()`` into the map
that :mod:`zmqchat.common.codec` turns into bytes.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar, dataclass_transform

from zmqchat.common.protocol import (
    DEFAULT_ROOMS,
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    MAX_CLIENT_CHARS,
    MAX_INT,
    MAX_REGISTER_ROOMS,
    PROTOCOL_VERSION,
    ErrorCode,
    canonical_room,
    check_data,
    check_name,
    check_ref,
    check_text,
    optional,
    require,
)
from zmqchat.errors import ProtocolError

Ref = int | str | None

_T = TypeVar("_T")


class Record:
    """Base of every message record: a ``TYPE`` tag and a map form."""

    __slots__ = ()
    TYPE: ClassVar[str]
    # (attribute, wire key, required) triples, filled in by @record; fields marked
    # wire=False are broker-internal and never serialised.
    _WIRE: ClassVar[tuple[tuple[str, str, bool], ...]]
    _KEYS: ClassVar[tuple[str, ...]]  # "type" (if tagged) and the keys of _WIRE, in order
    _VALUES: ClassVar[Callable[[Record], tuple[Any, ...]]]  # their values

    def to_wire(self) -> dict[str, Any]:
        """The msgpack-ready map of this message, ``type`` first.

        None values are left out, except ``ref``: every reply echoes it, nil included.
        Records holding other records (``rooms``, ``history``) extend this.
        """
        # On the broker's hot path (two per chat), hence the attrgetter.
        out: dict[str, Any] = {}
        for key, value in zip(self._KEYS, type(self)._VALUES(self), strict=True):
            if value is not None or key == "ref":
                out[key] = value
        return out


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(type_: str, **renames: str) -> Callable[[type[_T]], type[_T]]:
    """Make a frozen, slotted dataclass tagged ``type_``; ``renames`` maps attributes
    whose wire key is a Python keyword (``sender`` -> ``from``)."""

    def wrap(cls: type[_T]) -> type[_T]:
        dc = dataclasses.dataclass(frozen=True, slots=True)(cls)
        dc.TYPE = type_  # type: ignore[attr-defined]
        dc._WIRE = tuple(  # type: ignore[attr-defined]
            (
                f.name,
                renames.get(f.name, f.name),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(dc)  # type: ignore[arg-type]
            if f.metadata.get("wire", True)
        )
        # One attrgetter fetches the tag and every wire field in a single C call; with
        # at least two names it always returns a tuple.
        tagged = bool(type_)
        names = ["TYPE"] * tagged + [attr for attr, _, _ in dc._WIRE]  # type: ignore[attr-defined]
        assert len(names) >= 2, f"{cls.__name__}: too few fields for a record"
        dc._KEYS = ("type",) * tagged + tuple(k for _, k, _ in dc._WIRE)  # type: ignore[attr-defined]
        dc._VALUES = operator.attrgetter(*names)  # type: ignore[attr-defined]
        return dc

    return wrap


def _kw() -> Any:
    """A required keyword-only field (it may follow optional ones)."""
    return dataclasses.field(kw_only=True)


def _internal(default: Any = None) -> Any:
    """A field the broker keeps on a record but never puts on the wire."""
    return dataclasses.field(default=default, compare=False, repr=False, metadata={"wire": False})


# --------------------------------------------------------------------------- requests


@record("register")
class Register(Record):
    user: str
    proto: int = PROTOCOL_VERSION
    rooms: tuple[str, ...] = DEFAULT_ROOMS
    password: str | None = None
    resume: str | None = None
    client: str | None = None
    ref: Ref = None


@record("join")
class Join(Record):
    room: str
    ref: Ref = None


@record("leave")
class Leave(Record):
    room: str
    ref: Ref = None


@record("chat")
class Chat(Record):
    room: str
    text: str
    data: dict[str, Any] | None = None
    ref: Ref = None
    data_packed: bytes | None = _internal()


@record("pm")
class Pm(Record):
    to: str
    text: str
    data: dict[str, Any] | None = None
    ref: Ref = None
    data_packed: bytes | None = _internal()


@record("who")
class Who(Record):
    room: str | None = None
    ref: Ref = None


@record("rooms")
class ListRooms(Record):
    ref: Ref = None


@record("history", with_user="with")
class History(Record):
    room: str | None = None
    with_user: str | None = None
    after: int | None = None
    before: int | None = None
    limit: int = HISTORY_DEFAULT_LIMIT
    ref: Ref = None


@record("ping")
class Ping(Record):
    ref: Ref = None


@record("bye")
class Bye(Record):
    ref: Ref = None


Request = Register | Join | Leave | Chat | Pm | Who | ListRooms | History | Ping | Bye


def request_ref(msg: dict[str, Any]) -> Ref:
    """The ``ref`` to echo in a reply to ``msg``: its own if valid, else nil."""
    try:
        return check_ref(msg.get("ref"))
    except ProtocolError:
        return None


def _field(msg: dict[str, Any], key: str) -> Any:
    """A required field of any type (its own validator checks the type)."""
    value = msg.get(key)
    if value is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"missing field '{key}'")
    return value


def _parse_register(msg: dict[str, Any], ref: Ref) -> Register:
    proto = require(msg, "proto", int, "an integer")
    if proto != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_PROTO,
            f"protocol {proto} is not supported; this broker speaks {PROTOCOL_VERSION}",
        )
    user = check_name(_field(msg, "user"), "user name")
    raw_rooms = optional(msg, "rooms", list, "a list of room names")
    if raw_rooms is not None and len(raw_rooms) > MAX_REGISTER_ROOMS:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST,
            f"'rooms' lists {len(raw_rooms)} rooms; at most {MAX_REGISTER_ROOMS} (join more later)",
        )
    rooms = DEFAULT_ROOMS if raw_rooms is None else _unique(canonical_room(r) for r in raw_rooms)
    client = optional(msg, "client", str, "a string")
    if client is not None and len(client) > MAX_CLIENT_CHARS:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"'client' is longer than {MAX_CLIENT_CHARS} characters"
        )
    return Register(
        user=user,
        proto=proto,
        rooms=rooms,
        password=optional(msg, "password", str, "a string"),
        resume=optional(msg, "resume", str, "a string"),
        client=client,
        ref=ref,
    )


def _unique(names: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _room_field(msg: dict[str, Any]) -> str:
    return canonical_room(_field(msg, "room"))


def _parse_join(msg: dict[str, Any], ref: Ref) -> Join:
    return Join(room=_room_field(msg), ref=ref)


def _parse_leave(msg: dict[str, Any], ref: Ref) -> Leave:
    return Leave(room=_room_field(msg), ref=ref)


def _parse_chat(msg: dict[str, Any], ref: Ref) -> Chat:
    room = _room_field(msg)
    text = check_text(_field(msg, "text"))
    data = msg.get("data")
    return Chat(room=room, text=text, data=data, ref=ref, data_packed=check_data(data))


def _parse_pm(msg: dict[str, Any], ref: Ref) -> Pm:
    to = check_name(_field(msg, "to"), "user name")
    text = check_text(_field(msg, "text"))
    data = msg.get("data")
    return Pm(to=to, text=text, data=data, ref=ref, data_packed=check_data(data))


def _parse_who(msg: dict[str, Any], ref: Ref) -> Who:
    room = msg.get("room")
    return Who(room=None if room is None else canonical_room(room), ref=ref)


def _parse_rooms(msg: dict[str, Any], ref: Ref) -> ListRooms:
    return ListRooms(ref=ref)


def _seq_field(msg: dict[str, Any], key: str) -> int | None:
    value = optional(msg, key, int, "a sequence number (integer >= 0)")
    if value is not None and not 0 <= value <= MAX_INT:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'{key}' must be between 0 and {MAX_INT}")
    return value  # type: ignore[no-any-return]


def _parse_history(msg: dict[str, Any], ref: Ref) -> History:
    room = msg.get("room")
    with_user = msg.get("with")
    if (room is None) == (with_user is None):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "history needs exactly one of 'room' or 'with'")
    limit = optional(msg, "limit", int, "an integer")
    if limit is None:
        limit = HISTORY_DEFAULT_LIMIT
    elif not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"'limit' must be between 1 and {HISTORY_MAX_LIMIT}"
        )
    return History(
        room=None if room is None else canonical_room(room),
        with_user=None if with_user is None else check_name(with_user, "user name"),
        after=_seq_field(msg, "after"),
        before=_seq_field(msg, "before"),
        limit=limit,
        ref=ref,
    )


def _parse_ping(msg: dict[str, Any], ref: Ref) -> Ping:
    return Ping(ref=ref)


def _parse_bye(msg: dict[str, Any], ref: Ref) -> Bye:
    return Bye(ref=ref)


_REQUEST_PARSERS: Final[dict[str, Callable[[dict[str, Any], Ref], Request]]] = {
    "register": _parse_register,
    "join": _parse_join,
    "leave": _parse_leave,
    "chat": _parse_chat,
    "pm": _parse_pm,
    "who": _parse_who,
    "rooms": _parse_rooms,
    "history": _parse_history,
    "ping": _parse_ping,
    "bye": _parse_bye,
}

REQUEST_TYPES: Final = frozenset(_REQUEST_PARSERS)


def parse_request(msg: dict[str, Any]) -> Request:
    """Validate a decoded client frame and return its record.

    Raises :class:`ProtocolError` with the code the broker must answer with. Unknown
    fields are ignored; ``from``, ``seq`` and ``ts`` are never read.
    """
    ref = check_ref(msg.get("ref"))
    kind = msg.get("type")
    parser = _REQUEST_PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        shown = repr(kind)[:40] if kind is not None else "none"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown request type {shown}")
    return parser(msg, ref)


# ------------------------------------------------------------------ broker messages


@record("welcome")
class Welcome(Record):
    user: str
    session: str
    pub_port: int
    rooms: dict[str, int]
    heartbeat: float
    timeout: float
    limits: dict[str, Any]
    server: str
    proto: int = PROTOCOL_VERSION
    ref: Ref = None


@record("joined")
class Joined(Record):
    room: str
    seq: int
    members: tuple[str, ...]
    ref: Ref = None


@record("left")
class Left(Record):
    room: str
    ref: Ref = None


@record("ack")
class ChatAck(Record):
    room: str
    seq: int
    ts: float
    ref: Ref = None


@record("ack")
class PmAck(Record):
    to: str
    id: int
    status: str
    ts: float
    ref: Ref = None


@record("users")
class Users(Record):
    room: str | None = None
    users: tuple[str, ...] = _kw()
    ref: Ref = None


@record("")
class RoomInfo(Record):
    """One entry of a ``rooms`` reply (not a message of its own)."""

    name: str
    members: int
    seq: int


@record("rooms")
class RoomList(Record):
    rooms: tuple[RoomInfo, ...]
    ref: Ref = None

    def to_wire(self) -> dict[str, Any]:
        out = Record.to_wire(self)
        out["rooms"] = [room.to_wire() for room in self.rooms]
        return out


# Fields are declared in the order DESIGN.md lists them, which is the order of the
# keys on the wire; `ts` is keyword-only so it can follow an optional field.


@record("chat", sender="from")
class ChatEvent(Record):
    room: str
    seq: int
    sender: str
    text: str
    data: dict[str, Any] | None = None
    ts: float = _kw()


@record("presence")
class PresenceEvent(Record):
    room: str
    seq: int
    user: str
    event: str
    reason: str | None = None
    ts: float = _kw()


@record("system")
class SystemEvent(Record):
    text: str
    ts: float


@record("pm", sender="from")
class PmEvent(Record):
    id: int
    sender: str
    to: str
    text: str
    data: dict[str, Any] | None = None
    # The same for every copy of one message, a retry stored under a new id after a
    # crash included (additive to v1; see protocol.md 5.5).
    key: str | None = None
    ts: float = _kw()


RoomEvent = ChatEvent | PresenceEvent


@record("history", with_user="with")
class HistoryPage(Record):
    room: str | None = None
    with_user: str | None = None
    messages: tuple[ChatEvent | PresenceEvent | PmEvent, ...] = _kw()
    more: bool = _kw()
    ref: Ref = None

    def to_wire(self) -> dict[str, Any]:
        out = Record.to_wire(self)
        out["messages"] = [event.to_wire() for event in self.messages]
        return out


@record("pong")
class Pong(Record):
    heads: dict[str, int]
    ref: Ref = None


@record("bye")
class ByeReply(Record):
    ref: Ref = None


@record("error")
class ErrorReply(Record):
    ref: Ref = None
    code: str = _kw()
    message: str = _kw()


@record("closed")
class Closed(Record):
    reason: str


Reply = (
    Welcome
    | Joined
    | Left
    | ChatAck
    | PmAck
    | Users
    | RoomList
    | HistoryPage
    | Pong
    | ByeReply
    | ErrorReply
)
# What the broker sends without being asked (the client's own ``Event`` adds its
# connection status and leaves ``Closed`` to the connection logic).
Push = ChatEvent | PresenceEvent | SystemEvent | PmEvent | Closed
BrokerMessage = Reply | Push


def _build(cls: type[_T], msg: dict[str, Any], **override: Any) -> _T:
    """Instantiate ``cls`` from a wire map; a missing required field is ``bad_request``."""
    kwargs: dict[str, Any] = {}
    for attr, key, required in cls._WIRE:  # type: ignore[attr-defined]
        if attr in override:
            kwargs[attr] = override[attr]
        elif key in msg:
            value = msg[key]
            kwargs[attr] = tuple(value) if isinstance(value, list) else value
        elif required:
            kind = cls.TYPE or cls.__name__  # type: ignore[attr-defined]
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{kind} message without '{key}'")
    return cls(**kwargs)


_HISTORY_ITEMS: Final[dict[str, type[ChatEvent | PresenceEvent | PmEvent]]] = {
    "chat": ChatEvent,
    "presence": PresenceEvent,
    "pm": PmEvent,
}


def _parse_history_page(msg: dict[str, Any]) -> HistoryPage:
    raw = msg.get("messages")
    if not isinstance(raw, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "history message without 'messages'")
    events = []
    for item in raw:
        if not isinstance(item, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a history item is not a map")
        kind = _HISTORY_ITEMS.get(item.get("type"))  # type: ignore[arg-type]
        if kind is not None:  # a kind of event this client does not know is skipped
            events.append(_build(kind, item))
    return _build(HistoryPage, msg, messages=tuple(events))


def _parse_room_list(msg: dict[str, Any]) -> RoomList:
    raw = msg.get("rooms")
    if not isinstance(raw, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "rooms message without 'rooms'")
    return _build(RoomList, msg, rooms=tuple(_build(RoomInfo, r) for r in raw))


def _parse_ack(msg: dict[str, Any]) -> ChatAck | PmAck:
    return _build(PmAck, msg) if "to" in msg else _build(ChatAck, msg)


_MESSAGE_PARSERS: Final[dict[str, Callable[[dict[str, Any]], BrokerMessage]]] = {
    "welcome": lambda m: _build(Welcome, m),
    "joined": lambda m: _build(Joined, m),
    "left": lambda m: _build(Left, m),
    "ack": _parse_ack,
    "users": lambda m: _build(Users, m),
    "rooms": _parse_room_list,
    "history": _parse_history_page,
    "pong": lambda m: _build(Pong, m),
    "bye": lambda m: _build(ByeReply, m),
    "error": lambda m: _build(ErrorReply, m),
    "chat": lambda m: _build(ChatEvent, m),
    "presence": lambda m: _build(PresenceEvent, m),
    "system": lambda m: _build(SystemEvent, m),
    "pm": lambda m: _build(PmEvent, m),
    "closed": lambda m: _build(Closed, m),
}


def parse_message(msg: dict[str, Any]) -> BrokerMessage:
    """Turn a decoded broker frame into its record (client side).

    Extra fields are ignored; a missing field or an unknown type raises
    :class:`ProtocolError`, which the client logs and skips.
    """
    kind = msg.get("type")
    parser = _MESSAGE_PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown message type {kind!r:.40}")
    try:
        return parser(msg)
    except TypeError as exc:  # a field of the wrong shape (e.g. a list for a map)
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"malformed {kind} message: {exc}") from None
