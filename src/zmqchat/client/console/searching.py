"""``zmqchat search``: the messages that hold every word asked for, for scripts and
people at a shell, as grep answers: each match on a line of its own (newest
first), exit status 0 when something matched and 1 when nothing did.

It reads from outside the rooms (no join, no leave): every room a join would be
allowed to, or the one ``--room`` names; a private room needs an invitation.
"""

from __future__ import annotations

import sys
from typing import TextIO

from zmqchat.client.chat.failures import ExitCode
from zmqchat.client.chat.formatting import event_json, format_event, plain
from zmqchat.client.console.arguments import room_arg
from zmqchat.client.console.runner import connected, write_line
from zmqchat.common.config import ClientConfig


def search(
    config: ClientConfig,
    *,
    words: list[str],
    room: str | None = None,
    limit: int = 20,
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
) -> int:
    """``zmqchat search [--room ROOM] WORDS``: print up to ``limit`` matches, newest
    first; 0 when there was one, 1 when there was none."""
    out = out or sys.stdout
    wanted = None if room is None else room_arg(room)
    with connected(config, user, (), "search") as (client, _):
        found = client.search(" ".join(words), room=wanted, limit=limit, external=True)
        me = client.user
    for event in found.matches:
        write_line(out, event_json(event) if as_json else plain(format_event(event, me=me)))
    # As grep: the status says whether anything matched.
    return ExitCode.OK if found.matches else ExitCode.REFUSED


__all__ = ["search"]
