"""One immutable record per request of protocol v1 (client -> broker), and
``Request``, their union.

The requests of room topics and moderation, of search and of files are defined with
their replies in :mod:`~zmqchat.common.moderation`, :mod:`~zmqchat.common.search` and
:mod:`~zmqchat.common.files`; the replies and events of the rest are
:mod:`~zmqchat.common.messages`'. :mod:`zmqchat.common.parsing` turns a request's
wire map back into its record, strictly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from zmqchat.common.files import FileRequest
from zmqchat.common.moderation import Moderate, Topic
from zmqchat.common.protocol import DEFAULT_ROOMS, HISTORY_DEFAULT_LIMIT, PROTOCOL_VERSION
from zmqchat.common.records import Record, Ref, record
from zmqchat.common.records import internal as _internal
from zmqchat.common.search import Search


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
    | Search
    | Topic
    | Moderate
    | Who
    | ListRooms
    | History
    | Ping
    | Bye
    | FileRequest
)
