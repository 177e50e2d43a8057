"""One immutable record per message of protocol v1: requests (client -> broker),
replies and events (broker -> client).

Every record serialises itself with ``to_wire()`` into the map that
:mod:`zmqchat.common.codec` turns into bytes; :mod:`zmqchat.common.parsing` turns
such a map back into its record, strictly for requests, leniently for the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

from zmqchat.common.protocol import DEFAULT_ROOMS, HISTORY_DEFAULT_LIMIT, PROTOCOL_VERSION

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
    _FIELDS_WIRE: ClassVar[Callable[[Record], dict[str, Any]]]  # to_wire of its fields

    def to_wire(self) -> dict[str, Any]:
        """The msgpack-ready map of this message, ``type`` first.

        None values are left out, except ``ref``: every reply echoes it, nil included.
        Records holding other records (``rooms``, ``history``) extend this. Each
        record class gets its own compiled copy (see :func:`_compile_to_wire`).
        """
        return type(self)._FIELDS_WIRE(self)


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(type_: str, **renames: str) -> Callable[[type[_T]], type[_T]]:
    """Make a frozen, slotted dataclass tagged ``type_``; ``renames`` maps attributes
    whose wire key is a Python keyword (``sender`` -> ``from``)."""

    def wrap(cls: type[_T]) -> type[_T]:
        # Frozen for the type checker (dataclass_transform's frozen_default) but not
        # at run time: a frozen dataclass's __init__ sets each field through
        # object.__setattr__, which doubled the cost of the two records every chat
        # builds on the broker's hot path. unsafe_hash keeps them hashable as before.
        dc = dataclasses.dataclass(slots=True, unsafe_hash=True)(cls)
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
        dc._KEYS = ("type",) * bool(type_) + tuple(k for _, k, _ in dc._WIRE)  # type: ignore[attr-defined]
        fields_wire = _compile_to_wire(type_, dc._WIRE)  # type: ignore[attr-defined]
        dc._FIELDS_WIRE = fields_wire  # type: ignore[attr-defined]
        if "to_wire" not in cls.__dict__:
            dc.to_wire = fields_wire  # type: ignore[attr-defined]
        return dc

    return wrap


def _compile_to_wire(
    type_: str, wire: tuple[tuple[str, str, bool], ...]
) -> Callable[[Any], dict[str, Any]]:
    """A ``to_wire`` written out for one record class, compiled as dataclasses
    compiles ``__init__``: the broker builds two maps per chat, and the generic loop
    over the fields took 2.2 us a map against 0.8 for straight-line code. The source
    holds only the class's own attribute and key names, never data from a peer."""
    lines = ["def to_wire(self):", f"    out = {{'type': {type_!r}}}" if type_ else "    out = {}"]
    for attr, key, _ in wire:
        if key == "ref":  # every reply echoes ref, nil included
            lines.append(f"    out['ref'] = self.{attr}")
        else:
            lines += [f"    v = self.{attr}", f"    if v is not None: out[{key!r}] = v"]
    lines.append("    return out")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), {}, namespace)
    function: Callable[[Any], dict[str, Any]] = namespace["to_wire"]
    return function


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
    # Kept out of repr(): a record logged or shown in a traceback never shows it.
    password: str | None = dataclasses.field(default=None, repr=False)
    resume: str | None = None
    client: str | None = None
    ref: Ref = None


@record("join")
class Join(Record):
    room: str
    # Additive to v1: create the room members-only (only when it does not exist yet;
    # see protocol.md 2.2). None on the wire when false.
    private: bool | None = None
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
    # Additive to v1: post without being a member, where a join would be allowed
    # (protocol.md 2.4, "Posting from outside"). None on the wire when false.
    external: bool | None = None
    ref: Ref = None
    data_packed: bytes | None = _internal()


@record("pm")
class Pm(Record):
    to: str
    text: str
    data: dict[str, Any] | None = None
    ref: Ref = None
    data_packed: bytes | None = _internal()


@record("invite")
class Invite(Record):
    """Additive to v1: let ``user`` join private room ``room`` (its operator asks)."""

    room: str
    user: str
    ref: Ref = None


@record("edit")
class Edit(Record):
    """Additive to v1: replace the text of our own chat ``of`` in ``room``."""

    room: str
    of: int
    text: str
    ref: Ref = None


@record("delete")
class Delete(Record):
    """Additive to v1: withdraw our own chat ``of`` in ``room``."""

    room: str
    of: int
    ref: Ref = None


@record("who")
class Who(Record):
    room: str | None = None
    # Additive to v1: a page of names, those after `after` (case-insensitively).
    after: str | None = None
    limit: int | None = None
    ref: Ref = None


@record("rooms")
class ListRooms(Record):
    after: str | None = None  # additive to v1: rooms named after it
    limit: int | None = None
    ref: Ref = None


@record("history", with_user="with")
class History(Record):
    room: str | None = None
    with_user: str | None = None
    after: int | None = None
    before: int | None = None
    limit: int = HISTORY_DEFAULT_LIMIT
    # Additive to v1: read a room without being a member, as `Chat.external` posts.
    external: bool | None = None
    ref: Ref = None


@record("ping")
class Ping(Record):
    ref: Ref = None


@record("bye")
class Bye(Record):
    ref: Ref = None


Request = (
    Register
    | Join
    | Leave
    | Chat
    | Pm
    | Invite
    | Edit
    | Delete
    | Who
    | ListRooms
    | History
    | Ping
    | Bye
)


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
    # Additive to v1: what the session's subscriptions carry to prove they are its
    # own (common.protocol.subscription); None from a broker that predates it.
    ticket: str | None = None
    ref: Ref = None


@record("joined")
class Joined(Record):
    room: str
    seq: int
    members: tuple[str, ...]
    private: bool | None = None  # additive to v1: true for a members-only room
    ref: Ref = None


@record("left")
class Left(Record):
    room: str
    ref: Ref = None


@record("invited")
class Invited(Record):
    room: str
    user: str
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
    more: bool | None = None  # additive: True when a page is not the last
    ref: Ref = None


@record("")
class RoomInfo(Record):
    """One entry of a ``rooms`` reply (not a message of its own)."""

    name: str
    members: int
    seq: int
    private: bool | None = None  # additive to v1: listed to its members only
    # Room topics (issue 15's /topic) are not stored yet; when they are, an optional
    # `topic` goes here, after `private`, and `zmqchat rooms` prints it last.


@record("rooms")
class RoomList(Record):
    rooms: tuple[RoomInfo, ...]
    more: bool | None = None  # additive: True when a page is not the last
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
    # Additive to v1, in history replies only: the time of the message's last edit
    # (``text`` is then the latest), and ``deleted`` true for a withdrawn one (its
    # ``text`` is then empty and its ``data`` gone). See protocol.md 2.12.
    edited: float | None = None
    deleted: bool | None = None


@record("edit", sender="from")
class EditEvent(Record):
    """Additive to v1: ``sender`` replaced the text of their chat ``of``."""

    room: str
    seq: int
    sender: str
    of: int
    text: str
    ts: float


@record("delete", sender="from")
class DeleteEvent(Record):
    """Additive to v1: ``sender`` withdrew their chat ``of``."""

    room: str
    seq: int
    sender: str
    of: int
    ts: float


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


# Every event that carries a room's seq (gap filling covers them all).
RoomEvent = ChatEvent | PresenceEvent | EditEvent | DeleteEvent


@record("history", with_user="with")
class HistoryPage(Record):
    room: str | None = None
    with_user: str | None = None
    messages: tuple[RoomEvent | PmEvent, ...] = _kw()
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
    # Seconds until trying again can succeed (`rate_limited` of a login; additive to
    # v1, see protocol.md 3.5).
    retry_after: float | None = None


@record("closed")
class Closed(Record):
    reason: str


Reply = (
    Welcome
    | Joined
    | Left
    | Invited
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
Push = ChatEvent | PresenceEvent | EditEvent | DeleteEvent | SystemEvent | PmEvent | Closed
BrokerMessage = Reply | Push
