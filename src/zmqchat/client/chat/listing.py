"""What ``/who`` and ``/rooms`` show, for the chat controller: who is in a room (or
online, or, in a private conversation, whether the other person is), and every
room with its member count."""

from __future__ import annotations

import threading

from zmqchat.client.chat.backlog import Emit, names_text
from zmqchat.client.chat.commands import ShowWho
from zmqchat.client.chat.formatting import error, notice
from zmqchat.client.chat.state import ChatState
from zmqchat.client.io.sync import Client


def show_who(
    client: Client,
    state: ChatState,
    lock: threading.RLock,
    command: ShowWho,
    emit: Emit,
    where: str | None,
) -> None:
    if command.everyone:
        names = client.who()
        emit(notice(f"online: {names_text(names, None)}"), where)
        return
    with lock:
        peer = state.query if command.room is None else None
        room = command.room or state.current
    if peer is not None:
        # Talking privately, the room behind is not what "who" is about: the
        # other person is, and whether a line sent now reaches them.
        _peer_presence(client, state, lock, peer, emit, where)
        return
    if room is None:
        emit(error("you are in no room; /who ROOM or /who *"), where)
        return
    names = client.who(room)
    with lock:
        state.set_members(room, names)
        emit(notice(f"#{room}: {names_text(names, None)}"), where)


def _peer_presence(
    client: Client,
    state: ChatState,
    lock: threading.RLock,
    peer: str,
    emit: Emit,
    where: str | None,
) -> None:
    online = {name.lower() for name in client.who()}
    with lock:
        view = state.privates.get(peer)
        name = view.name if view is not None else peer
    presence = "online" if peer in online else "offline"
    emit(notice(f"{name} is {presence} (/who ROOM for a room, /who * for everyone)"), where)


def show_rooms(
    client: Client, state: ChatState, lock: threading.RLock, emit: Emit, where: str | None
) -> None:
    listing = client.list_rooms()
    with lock:
        state.known_rooms.update(info.name for info in listing)
        joined = set(state.joined_rooms())
        if not listing:
            emit(notice("no rooms yet"), where)
        for info in listing:
            mark = " (you are in it)" if info.name in joined else ""
            people = f"{info.members} member{'s' if info.members != 1 else ''}"
            emit(notice(f"#{info.name}: {people}{mark}"), where)


__all__ = ["show_rooms", "show_who"]
