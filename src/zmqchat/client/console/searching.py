"""``zmqchat search``: the messages that hold every word asked for, for scripts and
people at a shell, as grep answers: each match on a line of its own (newest
first), exit status 0 when something matched and 1 when nothing did.

It reads from outside the rooms (no join, no leave): every room a join would be
allowed to, or the one ``--room`` names; a private room needs an invitation. With
``--with USER``, it reads the private messages of ``--user`` with USER instead: an
account's whole conversation (so it logs in, with the password configured), since a
name without an account owns only what its own session exchanged, which for a
command's fresh session is nothing.
"""

from __future__ import annotations

import sys
from typing import TextIO

from zmqchat.client.chat.failures import ExitCode, ScriptError
from zmqchat.client.chat.formatting import event_json, format_event, plain
from zmqchat.client.chat.passwords import configured_password
from zmqchat.client.console.arguments import room_arg
from zmqchat.client.console.runner import connected, note, write_line
from zmqchat.common.config import ClientConfig
from zmqchat.common.protocol import is_valid_name


def search(
    config: ClientConfig,
    *,
    words: list[str],
    room: str | None = None,
    with_user: str | None = None,
    limit: int = 20,
    as_json: bool = False,
    user: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``zmqchat search [--room ROOM | --with USER] WORDS``: print up to ``limit``
    matches, newest first; 0 when there was one, 1 when there was none."""
    out = out or sys.stdout
    wanted = None if room is None else room_arg(room)
    if with_user is not None:
        _check_with(with_user, user)
    with connected(config, user, (), "search") as (client, _):
        if with_user is None:
            found = client.search(" ".join(words), room=wanted, limit=limit, external=True)
        else:
            found = client.search(" ".join(words), with_user=with_user, limit=limit)
        me = client.user
    for event in found.matches:
        write_line(out, event_json(event) if as_json else plain(format_event(event, me=me)))
    if with_user is not None and not found.matches and configured_password(config) is None:
        # Silence would read as "you never said it"; it may be "not yours to read".
        note(
            "search",
            f"no match; without its account's password (--password-file FILE or "
            f"ZMQCHAT_PASSWORD) {me} searches only this command's own private messages",
            err,
        )
    # As grep: the status says whether anything matched.
    return ExitCode.OK if found.matches else ExitCode.REFUSED


def _check_with(with_user: str, user: str | None) -> None:
    if not is_valid_name(with_user):
        raise ScriptError(
            ExitCode.USAGE,
            f"{with_user!r} is not a user name: use 1-32 letters, digits, '_' or '-'",
        )
    if user is None:
        # A made-up name has no private messages at all: say so, not "no match".
        raise ScriptError(
            ExitCode.USAGE,
            "--with searches your private messages: name yourself with --user NAME "
            "(and your account's password)",
        )


__all__ = ["search"]
