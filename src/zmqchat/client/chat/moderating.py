"""What ``/topic`` and the moderation commands (``/op``, ``/deop``, ``/kick``,
``/ban``, ``/unban``, ``/lock``, ``/unlock``) do: the request on the client, and the
line that answers it. Part of
:class:`~zmqchat.client.chat.controller.ChatController`.

A change shows as the room's own event (its line comes with the room's other
events, in order), so only a read, a change that changed nothing, or a change to
a room we are not in gets a line of its own here.
"""

from __future__ import annotations

from typing import Final

from zmqchat.client.chat.backlog import Emit
from zmqchat.client.chat.commands import ModerateRoom, SetTopic
from zmqchat.client.chat.formatting import error, notice, safe_text
from zmqchat.client.chat.state import ChatState
from zmqchat.client.chat.timestamps import format_time
from zmqchat.client.io.sync import Client
from zmqchat.common.moderation import Moderated

# What a moderation command that changed nothing says.
UNCHANGED: Final = {
    "op": "{user} is an operator of #{room} already",
    "deop": "{user} is not an operator of #{room} (an admin of the broker stays one)",
    "unban": "{user} is not banned from #{room}",
    "lock": "the topic of #{room} is locked already",
    "unlock": "the topic of #{room} is not locked",
}


def moderate(
    client: Client,
    state: ChatState,
    emit: Emit,
    command: SetTopic | ModerateRoom,
    where: str | None,
) -> None:
    """Run ``command`` in its room (the current one unless it names one)."""
    room = command.room or state.current
    if room is None:
        name = "topic" if isinstance(command, SetTopic) else command.action
        emit(error(f"you are in no room; /{name} #ROOM …"), where)
    elif isinstance(command, SetTopic):
        _topic(client, room, command.text, emit, where)
    else:
        done = _request(client, room, command)
        if done.seq is None:
            text = UNCHANGED.get(command.action, "nothing changed")
            emit(notice(text.format(user=command.user, room=room)), where)
        elif room not in state.joined_rooms():
            # Done from outside: no room of ours shows its event.
            until = "" if done.until is None else f" until {format_time(done.until)}"
            emit(notice(f"#{room}: {command.action} {command.user or ''}".rstrip() + until), where)


def _request(client: Client, room: str, command: ModerateRoom) -> Moderated:
    action, user = command.action, command.user or ""
    if action == "ban":
        return client.ban(room, user, command.duration, command.reason)
    if action == "kick":
        return client.kick(room, user, command.reason)
    if action == "lock":
        return client.lock(room)
    if action == "unlock":
        return client.unlock(room)
    return {"op": client.op, "deop": client.deop, "unban": client.unban}[action](room, user)


def _topic(client: Client, room: str, text: str | None, emit: Emit, where: str | None) -> None:
    info = client.topic(room, text)
    if info.seq is not None:
        return  # the room's topic event shows the change, in its place
    if not info.text:
        emit(notice(f"#{room} has no topic"), where)
        return
    line = f"#{room} topic: {safe_text(info.text)}"
    if info.sender is not None and info.ts is not None:
        line += f" (set by {info.sender}, {format_time(info.ts)})"
    emit(notice(line + (" [locked]" if info.locked else "")), where)


__all__ = ["UNCHANGED", "moderate"]
