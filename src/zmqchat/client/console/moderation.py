"""The one-shot commands of a room's topic and its moderation, for scripts:
``zmqchat topic``, ``kick``, ``ban``, ``unban``, ``op``, ``deop``, ``lock``,
``unlock``.

Each connects as ``--user`` (an operator of the room, for all but reading a
topic), makes one request from outside the room (no join, no leave) and returns
an exit status; :func:`~.runner.run` turns failures into one stderr line, as for
the other one-shot commands. Nothing is printed on success but what was asked for
(a topic) or, with ``--json``, the broker's answer.
"""

from __future__ import annotations

import sys
from typing import TextIO

from zmqchat.client.chat.failures import ExitCode
from zmqchat.client.chat.formatting import safe_text, to_json
from zmqchat.client.chat.moderating import UNCHANGED
from zmqchat.client.chat.timestamps import format_time
from zmqchat.client.console.arguments import room_arg
from zmqchat.client.console.runner import connected, note, write_line
from zmqchat.common.config import ClientConfig
from zmqchat.common.moderation import Moderated, TopicInfo


def _answer(reply: TopicInfo | Moderated) -> str:
    """The broker's answer as one JSON object, without its type and ref."""
    wire = reply.to_wire()
    wire.pop("ref", None)
    wire.pop("type", None)
    return to_json(wire)


def topic(
    config: ClientConfig,
    *,
    room: str,
    text: str | None = None,
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``zmqchat topic ROOM [TEXT]``: print the topic, or set it to ``text`` ("" clears
    it). Reading it, and setting one that is not locked, needs no operator."""
    out = out or sys.stdout
    room = room_arg(room)
    with connected(config, user, (), "topic") as (client, _):
        info = client.topic(room, text)
    if as_json:
        write_line(out, _answer(info))
    elif text is None and info.text:
        write_line(out, safe_text(info.text))
        if info.sender is not None and info.ts is not None:
            locked = "; locked" if info.locked else ""
            note("topic", f"set by {info.sender}, {format_time(info.ts)}{locked}", err)
    elif text is None:
        note("topic", f"#{room} has no topic", err)
    return ExitCode.OK


def moderate(
    config: ClientConfig,
    *,
    action: str,
    room: str,
    target: str | None = None,
    duration: float | None = None,
    reason: str | None = None,
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``zmqchat kick|ban|unban|op|deop|lock|unlock ROOM [USER]``, as operator ``user``."""
    out = out or sys.stdout
    room = room_arg(room)
    who = target or ""
    with connected(config, user, (), action) as (client, _):
        if action == "kick":
            done = client.kick(room, who, reason)
        elif action == "ban":
            done = client.ban(room, who, duration, reason)
        elif action == "lock":
            done = client.lock(room)
        elif action == "unlock":
            done = client.unlock(room)
        else:
            done = {"op": client.op, "deop": client.deop, "unban": client.unban}[action](room, who)
    if as_json:
        write_line(out, _answer(done))
    elif done.seq is None:  # said on stderr; it still exits 0
        note(action, UNCHANGED.get(action, "nothing changed").format(user=who, room=room), err)
    return ExitCode.OK


__all__ = ["moderate", "topic"]
