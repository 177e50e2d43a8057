"""The slash commands every chat front end knows: their names and aliases, usage,
one-line help and what their first argument is, and the text of ``/help`` made from
them.

:mod:`~zmqchat.client.chat.commands` parses a line against this table and
:mod:`~zmqchat.client.chat.completion` completes a command's name and argument from it;
the ``zmqchat`` command's help lists it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final, Literal

HISTORY_DEFAULT: Final = 20

ArgKind = Literal["room", "user", "text", "count", None]


@dataclasses.dataclass(frozen=True, slots=True)
class CommandSpec:
    """One slash command: its name, usage, one-line help and what its first argument
    is (for completion)."""

    name: str
    usage: str
    summary: str
    arg: ArgKind
    aliases: tuple[str, ...] = ()


COMMANDS: Final = (
    CommandSpec("join", "/join ROOM", "join a room (created if new) and talk there", "room"),
    CommandSpec(
        "create", "/create ROOM", "create a private room: only those you /invite may join", None
    ),
    CommandSpec(
        "invite",
        "/invite USER [ROOM]",
        "let USER join your private room (default: the current one)",
        "user",
    ),
    CommandSpec(
        "leave", "/leave [ROOM]", "leave a room (default: the current one)", "room", ("part",)
    ),
    CommandSpec(
        "topic", "/topic [TEXT]", "show the room's topic, or set it (-delete clears)", None
    ),
    CommandSpec("op", "/op USER", "operators only: make USER an operator of the room", "user"),
    CommandSpec("deop", "/deop USER", "operators only: take operator from USER", "user"),
    CommandSpec("kick", "/kick USER [REASON]", "operators only: remove USER from the room", "user"),
    CommandSpec(
        "ban",
        "/ban USER [DURATION] [REASON]",
        "operators only: keep USER out (e.g. 10m, 2h, 1d; none: for good)",
        "user",
    ),
    CommandSpec("unban", "/unban USER", "operators only: let USER in again", "user"),
    CommandSpec("lock", "/lock", "operators only: only operators may set the topic", None),
    CommandSpec("unlock", "/unlock", "operators only: anyone here may set the topic", None),
    CommandSpec("room", "/room ROOM", "switch the room your lines go to", "room"),
    CommandSpec("msg", "/msg USER TEXT", "private message (also: @USER TEXT)", "user"),
    CommandSpec(
        "query", "/query [USER]", "talk privately with USER (alone: back to the room)", "user"
    ),
    CommandSpec(
        "who",
        "/who [ROOM|*]",
        "who is in a room (default: current; * = online; in a private one: that person)",
        "room",
        ("names",),
    ),
    CommandSpec("rooms", "/rooms", "list the rooms and how many are in each", None, ("list",)),
    CommandSpec(
        "history", "/history [N]", f"last N messages here (default {HISTORY_DEFAULT})", "count"
    ),
    CommandSpec(
        "edit",
        "/edit [SEQ] TEXT",
        "change your last message here (or message SEQ) to TEXT",
        "text",
    ),
    CommandSpec("delete", "/delete [SEQ]", "delete your last message here (or SEQ)", "count"),
    CommandSpec(
        "search",
        "/search WORDS",
        "the messages of your rooms holding every word (in a private conversation: its own)",
        "text",
    ),
    CommandSpec("send", "/send PATH", "send a file to the room (or to whom you /query)", "text"),
    CommandSpec("get", "/get ID [PATH]", "fetch file ID (shown as `file ID`) to PATH", None),
    CommandSpec("me", "/me ACTION", "say what you do: /me waves → * alice waves", "text"),
    CommandSpec("help", "/help", "this list", None),
    CommandSpec("quit", "/quit", "leave the chat", None, ("exit",)),
)

BY_NAME: Final = {alias: spec for spec in COMMANDS for alias in (spec.name, *spec.aliases)}


def help_lines(keys: Sequence[str] = ()) -> list[str]:
    """The text of ``/help``: the commands, which every front end shares, then
    ``keys``, what its own keys do (the console's Ctrl-D means nothing in a window)."""
    width = max(len(spec.usage) for spec in COMMANDS)
    lines = [f"{spec.usage:<{width}}  {spec.summary}" for spec in COMMANDS]
    lines.append(f"{'@USER TEXT':<{width}}  private message to USER")
    lines.append(f"{'//text':<{width}}  send a line that starts with /")
    lines += keys
    return lines


__all__ = ["BY_NAME", "COMMANDS", "HISTORY_DEFAULT", "ArgKind", "CommandSpec", "help_lines"]
