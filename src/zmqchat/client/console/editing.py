"""``zmqchat edit`` and ``zmqchat delete``: change or withdraw one of ``--user``'s
messages of a room from a script (a bot correcting its status line), as ``/edit``
and ``/delete`` do in a chat.

The message is the one SEQ names, or the user's newest one among the room's last
:data:`LOOK_BACK` events. The command posts from outside the room, as ``send``
does (no join, no leave), so it works where a post from outside would; only the
message's sender (the same name, or with accounts the same account) may change
it, within the broker's ``edit_window``.
"""

from __future__ import annotations

import sys
from typing import Final, TextIO

from zmqchat.client.chat.failures import ExitCode, ScriptError
from zmqchat.client.chat.formatting import to_json
from zmqchat.client.console.arguments import room_arg
from zmqchat.client.console.runner import connected, write_line
from zmqchat.client.io.sync import Client
from zmqchat.common.config import ClientConfig
from zmqchat.common.messages import ChatEvent

# How far back "your last message" is looked for: the last page of events.
LOOK_BACK: Final = 200


def change(
    config: ClientConfig,
    *,
    room: str,
    seq: int | None,
    text: str | None,
    user: str,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Edit message ``seq`` (None: ``user``'s newest) of ``room`` to read ``text``,
    or delete it when ``text`` is None. Prints nothing but, with ``as_json``, the
    ack of the edit or delete event."""
    out = out or sys.stdout
    room = room_arg(room)
    command = "delete" if text is None else "edit"
    with connected(config, user, (), command) as (client, _):
        of = seq if seq is not None else _last_own(client, room)
        ack = client.delete(room, of) if text is None else client.edit(room, of, text)
    if as_json:
        write_line(out, to_json({"room": ack.room, "seq": ack.seq, "of": of, "ts": ack.ts}))
    return ExitCode.OK


def _last_own(client: Client, room: str) -> int:
    page = client.history(room, limit=LOOK_BACK, external=True)
    me = client.user.lower()
    for event in reversed(page.messages):
        if isinstance(event, ChatEvent) and event.sender.lower() == me and not event.deleted:
            return event.seq
    raise ScriptError(
        ExitCode.REFUSED,
        f"{client.user} has no message among the last {LOOK_BACK} events of #{room}; "
        "give its SEQ (zmqchat history --json shows them)",
    )


__all__ = ["LOOK_BACK", "change"]
