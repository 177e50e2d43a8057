"""Decoded maps back into message records.

Requests (client -> broker) are parsed strictly by :func:`parse_request`: the broker
trusts nothing a client sends. Broker messages (replies and events) are parsed by
:func:`parse_message` on the client side, leniently about extra fields so a newer
broker can add some.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, TypeVar, get_args

from zmqchat.common import files
from zmqchat.common import moderation as mod
from zmqchat.common.messages import (
    BrokerMessage,
    ChatAck,
    ChatEvent,
    DeleteEvent,
    EditEvent,
    HistoryPage,
    PmAck,
    PmEvent,
    PresenceEvent,
    Ref,
    RoomEvent,
    RoomInfo,
    RoomList,
    SearchResults,
)
from zmqchat.common.protocol import (
    DEFAULT_ROOMS,
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    LIST_MAX_LIMIT,
    MAX_CLIENT_CHARS,
    MAX_INT,
    MAX_PASSWORD_CHARS,
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
from zmqchat.common.requests import (
    Bye,
    Chat,
    Delete,
    Edit,
    History,
    Invite,
    Join,
    Leave,
    ListRooms,
    Ping,
    Pm,
    Register,
    Request,
    Who,
)
from zmqchat.common.search import parse_search
from zmqchat.errors import ProtocolError

_T = TypeVar("_T")

# ------------------------------------------------------------------------- requests


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
    password = optional(msg, "password", str, "a string")
    if password is not None and len(password) > MAX_PASSWORD_CHARS:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"'password' is longer than {MAX_PASSWORD_CHARS} characters"
        )
    return Register(
        user=user,
        proto=proto,
        rooms=rooms,
        password=password,
        resume=optional(msg, "resume", str, "a string"),
        client=client,
        ref=ref,
    )


def _unique(names: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _room_field(msg: dict[str, Any]) -> str:
    return canonical_room(_field(msg, "room"))


def _flag(msg: dict[str, Any], key: str) -> bool | None:
    """An optional boolean field: True, or None (left off the wire) for false."""
    return True if optional(msg, key, bool, "a boolean") else None


def _parse_join(msg: dict[str, Any], ref: Ref) -> Join:
    return Join(room=_room_field(msg), private=_flag(msg, "private"), ref=ref)


def _parse_invite(msg: dict[str, Any], ref: Ref) -> Invite:
    room = _room_field(msg)
    return Invite(room=room, user=check_name(_field(msg, "user"), "user name"), ref=ref)


def _parse_edit(msg: dict[str, Any], ref: Ref) -> Edit:
    room = _room_field(msg)
    of = _message_field(msg)
    return Edit(room=room, of=of, text=check_text(_field(msg, "text")), ref=ref)


def _parse_delete(msg: dict[str, Any], ref: Ref) -> Delete:
    return Delete(room=_room_field(msg), of=_message_field(msg), ref=ref)


def _message_field(msg: dict[str, Any]) -> int:
    """The ``of`` of an edit or delete: the seq of a message (1 or more)."""
    of = require(msg, "of", int, "a message's seq (integer >= 1)")
    if not 1 <= of <= MAX_INT:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'of' must be between 1 and {MAX_INT}")
    return of  # type: ignore[no-any-return]


def _parse_leave(msg: dict[str, Any], ref: Ref) -> Leave:
    return Leave(room=_room_field(msg), ref=ref)


def _parse_chat(msg: dict[str, Any], ref: Ref) -> Chat:
    room = _room_field(msg)
    text = check_text(_field(msg, "text"))
    data = msg.get("data")
    packed = check_data(data)
    external = _flag(msg, "external")
    return Chat(room=room, text=text, data=data, external=external, ref=ref, data_packed=packed)


def _parse_pm(msg: dict[str, Any], ref: Ref) -> Pm:
    to = check_name(_field(msg, "to"), "user name")
    text = check_text(_field(msg, "text"))
    data = msg.get("data")
    return Pm(to=to, text=text, data=data, ref=ref, data_packed=check_data(data))


def _page(msg: dict[str, Any], what: str) -> tuple[str | None, int | None]:
    """A list request's ``after`` (a name) and ``limit`` (1..LIST_MAX_LIMIT)."""
    after = msg.get("after")
    if after is not None:
        after = check_name(after, "after")
    limit = optional(msg, "limit", int, "an integer")
    if limit is not None and not 1 <= limit <= LIST_MAX_LIMIT:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"'limit' must be 1..{LIST_MAX_LIMIT} {what}")
    return after, limit


def _parse_who(msg: dict[str, Any], ref: Ref) -> Who:
    room = msg.get("room")
    after, limit = _page(msg, "names")
    return Who(
        room=None if room is None else canonical_room(room), after=after, limit=limit, ref=ref
    )


def _parse_rooms(msg: dict[str, Any], ref: Ref) -> ListRooms:
    after, limit = _page(msg, "rooms")
    return ListRooms(after=None if after is None else after.lower(), limit=limit, ref=ref)


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
        external=_flag(msg, "external"),
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
    "invite": _parse_invite,
    "edit": _parse_edit,
    "delete": _parse_delete,
    **mod.REQUEST_PARSERS,
    **files.REQUEST_PARSERS,
    "who": _parse_who,
    "rooms": _parse_rooms,
    "history": _parse_history,
    "search": parse_search,
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


_HISTORY_ITEMS: Final[dict[str, type[RoomEvent | PmEvent]]] = {
    "chat": ChatEvent,
    "presence": PresenceEvent,
    "topic": mod.TopicEvent,
    "moderation": mod.ModerationEvent,
    "edit": EditEvent,
    "delete": DeleteEvent,
    "file": files.FileEvent,
    "pm": PmEvent,
}


def unknown_room_event(msg: dict[str, Any]) -> mod.UnknownEvent | None:
    """A room event of a type this client does not know (a newer broker's), if
    ``msg`` is one: it names a room and a seq, which a client counts as seen so
    that filling gaps never waits for it."""
    kind, room, seq = msg.get("type"), msg.get("room"), msg.get("seq")
    if not isinstance(kind, str) or kind in _HISTORY_ITEMS or kind in _MESSAGE_PARSERS:
        return None  # not a type, or a known one (then malformed, not unknown)
    if isinstance(room, str) and type(seq) is int:
        return mod.UnknownEvent(type=kind, room=room, seq=seq)
    return None


def _parse_history_page(msg: dict[str, Any]) -> HistoryPage:
    raw = msg.get("messages")
    if not isinstance(raw, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "history message without 'messages'")
    events: list[RoomEvent | PmEvent | mod.UnknownEvent] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a history item is not a map")
        kind = _HISTORY_ITEMS.get(item.get("type"))  # type: ignore[arg-type]
        if kind is not None:
            events.append(_build(kind, item))
            continue
        unknown = unknown_room_event(item)
        if unknown is not None:  # a newer broker's event: only its seq is kept
            events.append(unknown)
    return _build(HistoryPage, msg, messages=tuple(events))


def _parse_search_results(msg: dict[str, Any]) -> SearchResults:
    raw = msg.get("matches")
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "search message without 'matches'")
    kinds: dict[object, type[ChatEvent | PmEvent]] = {"chat": ChatEvent, "pm": PmEvent}
    matches = tuple(_build(kinds.get(m.get("type"), ChatEvent), m) for m in raw)
    return _build(SearchResults, msg, matches=matches)


def _parse_room_list(msg: dict[str, Any]) -> RoomList:
    raw = msg.get("rooms")
    if not isinstance(raw, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "rooms message without 'rooms'")
    return _build(RoomList, msg, rooms=tuple(_build(RoomInfo, r) for r in raw))


def _parse_ack(msg: dict[str, Any]) -> ChatAck | PmAck:
    return _build(PmAck, msg) if "to" in msg else _build(ChatAck, msg)


def _parse_topic_message(msg: dict[str, Any]) -> mod.TopicInfo | mod.TopicEvent:
    # The reply to `topic` and the event share the type; every reply carries `ref`
    # (nil included), no event does.
    return _build(mod.TopicInfo, msg) if "ref" in msg else _build(mod.TopicEvent, msg)


def _parse_file_event(msg: dict[str, Any]) -> files.FileEvent | files.PrivateFileEvent:
    # A room's file names its room; a private one, its recipient.
    if "room" in msg:
        return _build(files.FileEvent, msg)
    return _build(files.PrivateFileEvent, msg)


# Every broker message is built field by field from its map, under its ``TYPE``; only
# these hold records of their own or share a type with another.
_MESSAGE_PARSERS: Final[dict[str, Callable[[dict[str, Any]], BrokerMessage]]] = {
    **{cls.TYPE: functools.partial(_build, cls) for cls in get_args(BrokerMessage)},
    "ack": _parse_ack,
    "topic": _parse_topic_message,
    "rooms": _parse_room_list,
    "history": _parse_history_page,
    "search": _parse_search_results,
    "file": _parse_file_event,
}


MESSAGE_TYPES: Final = frozenset(_MESSAGE_PARSERS)


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
