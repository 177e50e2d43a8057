"""What ``/join``, ``/create``, ``/room``, ``/invite`` and ``/leave`` do, for the chat
controller: entering a room (its past shown by the :class:`~.backlog.Backlog`),
switching the room plain lines go to, letting someone into a private room, and
leaving one. Each state change is made under the controller's lock with the line it
emits; requests are made outside it."""

from __future__ import annotations

import threading

from zmqchat.client.chat.backlog import Backlog, Emit
from zmqchat.client.chat.formatting import error, notice
from zmqchat.client.chat.state import ChatState, room_key
from zmqchat.client.io.sync import Client
from zmqchat.errors import ZmqchatError


def join_room(
    client: Client,
    state: ChatState,
    lock: threading.RLock,
    backlog: Backlog,
    emit: Emit,
    room: str,
    private: bool = False,
) -> None:
    with lock:
        view = state.rooms.get(room)
        joined = view is not None and view.joined
        if not joined:
            state.begin_join(room)
    if joined:
        if private:  # `/create` of a room we are in: the broker says if it is private
            client.join(room, private=True)
        with lock:
            state.switch(room)
            emit(notice(f"talking in #{room}"), room_key(room))
        return
    try:
        reply = client.join(room, private=private)
    except ZmqchatError:
        with lock:
            state.abort_join(room)
        raise
    backlog.enter(
        client, reply.room, reply.seq, reply.members, switch=True, topic=reply.topic or ""
    )
    if reply.private:
        text = f"#{reply.room} is private: only those its operator invites may join"
        emit(notice(text), room_key(reply.room))


def switch_room(
    state: ChatState, lock: threading.RLock, emit: Emit, room: str, where: str | None
) -> None:
    with lock:
        switched = state.switch(room)
    if switched:
        emit(notice(f"talking in #{room}"), room_key(room))
    else:
        emit(error(f"you are not in #{room}; /join {room}"), where)


def invite_user(client: Client, emit: Emit, user: str, room: str | None, where: str | None) -> None:
    if room is None:
        emit(error("you are in no room; /invite USER ROOM"), where)
        return
    reply = client.invite(room, user)
    text = f"{reply.user} may now join #{reply.room}; tell them to /join {reply.room}"
    emit(notice(text), where)


def leave_room(
    client: Client,
    state: ChatState,
    lock: threading.RLock,
    emit: Emit,
    room: str | None,
    where: str | None,
) -> None:
    if room is None:
        emit(error("you are in no room"), where)
        return
    if room not in state.joined_rooms():
        emit(error(f"you are not in #{room}"), where)
        return
    client.leave(room)
    with lock:
        state.left(room)
        now = state.current
        then = f"; talking in #{now}" if now else "; /join a room to talk"
        emit(notice(f"you left #{room}{then}"), state.viewing())


__all__ = ["invite_user", "join_room", "leave_room", "switch_room"]
