"""What a line typed in a chat UI means: ``/join dev``, ``@bob hi``, plain text, ...

:func:`parse_input` turns a line into one command record, against the table of
:mod:`~zmqchat.client.chat.slash_commands`. Pure (no client, no UI), so the console
and a GUI share it and the tests need no screen.
"""

from __future__ import annotations

import dataclasses
import getpass
import re
from collections.abc import Callable
from typing import Final

from zmqchat.client.chat.message_commands import (
    DeleteMessage,
    EditMessage,
    SearchMessages,
    parse_delete,
    parse_edit,
)
from zmqchat.client.chat.slash_commands import BY_NAME, HISTORY_DEFAULT, CommandSpec
from zmqchat.common.durations import parse_duration
from zmqchat.common.protocol import HISTORY_MAX_LIMIT, MAX_NAME_CHARS, is_valid_name

_NOT_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9_-]")


def suggested_name() -> str:
    """The login name, made valid: what a chat UI offers when asking for a name."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment
        return ""
    return _NOT_NAME_CHARS.sub("", login)[:MAX_NAME_CHARS]


@dataclasses.dataclass(frozen=True, slots=True)
class Say:
    """Plain text for the current room."""

    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Emote:
    """``/me waves``: an action in the current room."""

    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class JoinRoom:
    room: str
    private: bool = False  # `/create ROOM`: a new room, members-only


@dataclasses.dataclass(frozen=True, slots=True)
class InviteUser:
    """``/invite bob [ROOM]``: let ``user`` join a private room we operate."""

    user: str
    room: str | None  # None: the current room


@dataclasses.dataclass(frozen=True, slots=True)
class SetTopic:
    """``/topic [text]``: show the topic, or set it ("" clears it)."""

    text: str | None
    room: str | None = None  # None: the current room


@dataclasses.dataclass(frozen=True, slots=True)
class ModerateRoom:
    """``/kick bob spam``, ``/ban bob 1h``, ``/op bob``, ``/lock``, …: an operator's
    ``action`` (the request's type) in ``room``."""

    action: str
    user: str | None = None
    room: str | None = None  # None: the current room
    duration: float | None = None  # a ban's, in seconds; None: without end
    reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LeaveRoom:
    room: str | None  # None: the current room


@dataclasses.dataclass(frozen=True, slots=True)
class SwitchRoom:
    room: str


@dataclasses.dataclass(frozen=True, slots=True)
class SendPm:
    user: str
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """``/query bob``: plain lines go privately to ``user`` from now on; ``/query``
    alone goes back to the current room."""

    user: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ShowWho:
    room: str | None  # None: the current room
    everyone: bool = False  # `/who *`: everyone online


@dataclasses.dataclass(frozen=True, slots=True)
class ShowRooms:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class ShowHistory:
    count: int = HISTORY_DEFAULT


@dataclasses.dataclass(frozen=True, slots=True)
class SendFile:
    """``/send PATH``: a file to the current room, or to the person of ``/query``."""

    path: str


@dataclasses.dataclass(frozen=True, slots=True)
class GetFile:
    """``/get ID [PATH]``: fetch file ``file_id`` into ``path`` (None: the current
    folder, under the name it was sent with)."""

    file_id: int
    path: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Invalid:
    """A line that cannot be run; ``message`` says why and how to write it."""

    message: str


Command = (
    Say
    | Emote
    | JoinRoom
    | InviteUser
    | SetTopic
    | ModerateRoom
    | LeaveRoom
    | SwitchRoom
    | SendPm
    | Query
    | ShowWho
    | ShowRooms
    | ShowHistory
    | ShowHelp
    | Quit
    | Invalid
    | EditMessage
    | DeleteMessage
    | SearchMessages
    | SendFile
    | GetFile
)


def room_name(raw: str) -> str | None:
    """A room as typed (``#Dev`` or ``dev``) in canonical form, or None if invalid."""
    name = raw.removeprefix("#")
    return name.lower() if is_valid_name(name) else None


def _bad_room(raw: str) -> Invalid:
    return Invalid(f"{raw!r} is not a room name: use 1-32 letters, digits, '_' or '-'")


def parse_input(line: str) -> Command | None:
    """The command a line stands for; None for a blank line."""
    if not line.strip():
        return None
    if line.startswith("//"):
        return Say(line[1:])  # IRC's escape for a line that starts with a slash
    if line.startswith("@"):
        user, _, text = line[1:].partition(" ")
        return _pm(user, text, "@USER TEXT")
    if not line.startswith("/"):
        return Say(line)
    word, _, rest = line[1:].partition(" ")
    spec = BY_NAME.get(word.lower())
    if spec is None:
        return Invalid(f"unknown command /{word}; /help lists them (// sends a line with /)")
    rest = rest.strip()
    args = rest.split()
    name = spec.name
    if name == "join":
        return _one_room(args, spec, JoinRoom)
    if name == "create":
        return _one_room(args, spec, lambda room: JoinRoom(room, private=True))
    if name == "invite":
        return _invite(args, spec)
    if name in _MODERATION:
        return _moderation(name, rest, spec)
    if name == "room":
        return _one_room(args, spec, SwitchRoom)
    if name == "leave":
        if not args:
            return LeaveRoom(None)
        return _one_room(args, spec, LeaveRoom)
    if name == "msg":
        user, _, text = rest.partition(" ")
        return _pm(user, text, spec.usage)
    if name == "query":
        if not args:
            return Query(None)
        if len(args) != 1:
            return Invalid(f"usage: {spec.usage}")
        if not is_valid_name(args[0]):
            return _bad_user(args[0])
        return Query(args[0])
    if name == "who":
        if not args:
            return ShowWho(None)
        if args == ["*"]:
            return ShowWho(None, everyone=True)
        return _one_room(args, spec, ShowWho)
    if name == "history":
        return _history(args, spec)
    if name == "me":
        return Emote(rest) if rest else Invalid(f"usage: {spec.usage}")
    if name == "edit":
        return parse_edit(rest) or Invalid(f"usage: {spec.usage}")
    if name == "delete":
        return parse_delete(args) or Invalid(f"usage: {spec.usage}")
    if name == "search":
        return SearchMessages(rest.strip()) if rest.strip() else Invalid(f"usage: {spec.usage}")
    if name == "send":
        return SendFile(rest) if rest else Invalid(f"usage: {spec.usage}")
    if name == "get":
        number, _, path = rest.partition(" ")
        if not number.isdigit():
            return Invalid(f"usage: {spec.usage} (ID: the number after `file` in its line)")
        return GetFile(int(number), path.strip() or None)
    if args:
        return Invalid(f"usage: {spec.usage}")
    if name == "rooms":
        return ShowRooms()
    if name == "help":
        return ShowHelp()
    return Quit()


def _one_room(args: list[str], spec: CommandSpec, make: Callable[[str], Command]) -> Command:
    if len(args) != 1:
        return Invalid(f"usage: {spec.usage}")
    room = room_name(args[0])
    return make(room) if room is not None else _bad_room(args[0])


def _bad_user(raw: str) -> Invalid:
    return Invalid(f"{raw!r} is not a user name: use 1-32 letters, digits, '_' or '-'")


def _invite(args: list[str], spec: CommandSpec) -> Command:
    if not 1 <= len(args) <= 2:
        return Invalid(f"usage: {spec.usage}")
    if not is_valid_name(args[0]):
        return _bad_user(args[0])
    if len(args) == 1:
        return InviteUser(args[0], None)
    room = room_name(args[1])
    return InviteUser(args[0], room) if room is not None else _bad_room(args[1])


# Commands of a room's topic and moderation; each takes a `#ROOM` first, else it is
# about the current room.
_MODERATION: Final = frozenset({"topic", "op", "deop", "kick", "ban", "unban", "lock", "unlock"})
_CLEAR_TOPIC: Final = ("-delete", "-clear")  # irssi's word, and the obvious one


def _moderation(name: str, rest: str, spec: CommandSpec) -> Command:
    room = None
    if rest.startswith("#"):
        word, _, rest = rest.partition(" ")
        room = room_name(word)
        if room is None:
            return _bad_room(word)
        rest = rest.strip()
    if name == "topic":
        return SetTopic("" if rest in _CLEAR_TOPIC else rest or None, room)
    if name in ("lock", "unlock"):
        return ModerateRoom(name, room=room) if not rest else Invalid(f"usage: {spec.usage}")
    user, _, rest = rest.partition(" ")
    if not user or (name in ("op", "deop", "unban") and rest.strip()):
        return Invalid(f"usage: {spec.usage}")
    if not is_valid_name(user):
        return _bad_user(user)
    duration = None
    if name == "ban":
        first, _, after = rest.strip().partition(" ")
        duration = parse_duration(first) if first else None
        rest = after if duration is not None else rest
    return ModerateRoom(name, user, room, duration, rest.strip() or None)


def _pm(user: str, text: str, usage: str) -> Command:
    if not user or not text.strip():
        return Invalid(f"usage: {usage}")
    if not is_valid_name(user):
        return _bad_user(user)
    return SendPm(user, text.strip())


def _history(args: list[str], spec: CommandSpec) -> Command:
    if not args:
        return ShowHistory()
    if len(args) == 1 and args[0].isdigit() and 1 <= int(args[0]) <= HISTORY_MAX_LIMIT:
        return ShowHistory(int(args[0]))
    return Invalid(f"usage: {spec.usage}, N from 1 to {HISTORY_MAX_LIMIT}")


__all__ = [
    "Command",
    "DeleteMessage",
    "EditMessage",
    "Emote",
    "GetFile",
    "Invalid",
    "InviteUser",
    "JoinRoom",
    "LeaveRoom",
    "ModerateRoom",
    "Query",
    "Quit",
    "Say",
    "SearchMessages",
    "SendFile",
    "SendPm",
    "SetTopic",
    "ShowHelp",
    "ShowHistory",
    "ShowRooms",
    "ShowWho",
    "SwitchRoom",
    "parse_input",
    "room_name",
]
