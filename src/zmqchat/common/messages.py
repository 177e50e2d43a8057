"""One immutable record per message the broker sends in protocol v1: replies and
events (broker -> client). The requests (client -> broker) are
:mod:`~zmqchat.common.requests`'.

Every record serialises itself with ``to_wire()`` into the map that
:mod:`zmqchat.common.codec` turns into bytes; :mod:`zmqchat.common.parsing` turns
such a map back into its record, strictly for requests, leniently for the rest.
"""

from __future__ import annotations

from typing import Any

from zmqchat.common.files import (
    FileAccept,
    FileAck,
    FileData,
    FileDone,
    FileEvent,
    PrivateFileEvent,
)
from zmqchat.common.moderation import (
    Moderated,
    ModerationEvent,
    TopicEvent,
    TopicInfo,
    UnknownEvent,
)
from zmqchat.common.protocol import PROTOCOL_VERSION
from zmqchat.common.records import Record as Record  # noqa: PLC0414 (re-exported)
from zmqchat.common.records import Ref as Ref  # noqa: PLC0414 (re-exported)
from zmqchat.common.records import keyword_only as _kw
from zmqchat.common.records import record

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
    # Additive to v1: the topic of each room of `rooms` that has one.
    topics: dict[str, str] | None = None
    # Additive to v1 (docs/protocol.md, nodes and epochs): the ROUTER endpoints of
    # the live nodes of a shared engine; the engine's epoch; with a shared engine,
    # the epoch of each room of `rooms` (without one, a room's is `epoch`).
    nodes: tuple[str, ...] | None = None
    epoch: str | None = None
    epochs: dict[str, str] | None = None
    ref: Ref = None


@record("joined")
class Joined(Record):
    room: str
    seq: int
    members: tuple[str, ...]
    private: bool | None = None  # additive to v1: true for a members-only room
    topic: str | None = None  # additive to v1: the room's topic, if it has one
    epoch: str | None = None  # additive to v1: the room's epoch (its numbering's life)
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
    topic: str | None = None  # additive to v1: the room's topic, if it has one


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
    # ``text`` is then empty and its ``data`` gone). See protocol.md §2.14.
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


# What a room's topic carries, each with the room's next seq (docs/protocol.md §3.3);
# gap filling covers them all.
RoomEvent = (
    ChatEvent | PresenceEvent | TopicEvent | ModerationEvent | EditEvent | DeleteEvent | FileEvent
)


@record("history", with_user="with")
class HistoryPage(Record):
    room: str | None = None
    with_user: str | None = None
    # UnknownEvent: a room event of a type this client does not know (a newer
    # broker's), kept so its seq counts as seen.
    messages: tuple[RoomEvent | PmEvent | UnknownEvent, ...] = _kw()
    more: bool = _kw()
    ref: Ref = None

    def to_wire(self) -> dict[str, Any]:
        out = Record.to_wire(self)
        out["messages"] = [event.to_wire() for event in self.messages]
        return out


@record("search", with_user="with")
class SearchResults(Record):
    """The answer to ``search``: matching messages, newest first, each a ``chat``
    event as ``history`` gives it (its latest text; ``edited`` if it was), and
    whether older matches are left (``more``). A search ``with`` a user (echoed as
    sent, additive to v1) has ``pm`` events instead, as ``history with`` does."""

    matches: tuple[ChatEvent | PmEvent, ...] = _kw()
    more: bool = _kw()
    with_user: str | None = None
    ref: Ref = None

    def to_wire(self) -> dict[str, Any]:
        out = Record.to_wire(self)
        out["matches"] = [event.to_wire() for event in self.matches]
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
    | TopicInfo
    | Moderated
    | ChatAck
    | PmAck
    | Users
    | RoomList
    | HistoryPage
    | SearchResults
    | Pong
    | ByeReply
    | ErrorReply
    | FileAccept
    | FileAck
    | FileDone
    | FileData
)
# What the broker sends without being asked (the client's own ``Event`` adds its
# connection status and leaves ``Closed`` to the connection logic).
Push = (
    ChatEvent
    | PresenceEvent
    | TopicEvent
    | ModerationEvent
    | EditEvent
    | DeleteEvent
    | SystemEvent
    | PmEvent
    | Closed
    | FileEvent
    | PrivateFileEvent
)
BrokerMessage = Reply | Push
