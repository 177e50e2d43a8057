"""What ``/edit``, ``/delete`` and ``/search`` do, for the chat controller: the
requests they make and the lines they emit. The edit and delete events come back
from the room like any other event and are shown there; the matches of a search
are shown where it was typed."""

from __future__ import annotations

import threading

from zmqchat.client.chat.backlog import Emit
from zmqchat.client.chat.formatting import banner, error, format_event, notice, safe_text
from zmqchat.client.chat.message_commands import DeleteMessage, EditMessage, SearchMessages
from zmqchat.client.chat.state import ChatState
from zmqchat.client.io.sync import Client


def change_message(
    client: Client,
    state: ChatState,
    lock: threading.RLock,
    command: EditMessage | DeleteMessage,
    emit: Emit,
    where: str | None,
) -> None:
    """Edit or delete one of our messages in the current room: the one named, or
    our last one there."""
    verb = "edit" if isinstance(command, EditMessage) else "delete"
    named = command.room if isinstance(command, DeleteMessage) else None
    with lock:
        room = named or state.current
        seq = command.seq if command.seq is not None or room is None else state.last_own(room)
    if room is None or (named is None and state.query is not None):
        emit(error(f"/{verb} works in a room: /room ROOM first"), where)
        return
    if seq is None:
        emit(error(f"you have said nothing in #{room} to {verb}; /{verb} SEQ names one"), where)
        return
    if isinstance(command, EditMessage):
        client.edit(room, seq, command.text)
    else:
        client.delete(room, seq)


def search_messages(
    client: Client,
    state: ChatState,
    lock: threading.RLock,
    command: SearchMessages,
    emit: Emit,
    where: str | None,
) -> None:
    """The messages of our rooms holding every word (or, typed in a private
    conversation, those of that conversation), oldest of them first so the newest
    is nearest the input; each with its room, dimmed as history is."""
    with lock:
        me, query = state.user, state.query
        peer = state.privates[query].name if query in state.privates else query
    found = client.search(command.words, with_user=peer)
    words = safe_text(command.words)
    if not found.matches:
        scope = "your rooms" if peer is None else f"your conversation with {peer}"
        emit(notice(f"no message in {scope} holds {words!r}"), where)
        return
    more = ", and older ones" if found.more else ""
    count = len(found.matches)
    held = "1 message holds" if count == 1 else f"{count} messages hold"
    emit(banner(f"{held} {words!r}{more}"), where)
    for event in reversed(found.matches):
        emit(format_event(event, me=me, history=True), where)
    emit(banner("end of the search"), where)
