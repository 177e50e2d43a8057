"""The part of a chat UI that is not about the screen: it runs typed commands
against a :class:`zmqchat.Client`, feeds replies and events into a
:class:`~zmqchat.client.chat.state.ChatState`, and hands the lines to show to an
``emit`` callback, each with the conversation it belongs to (``#room``, ``@user``,
:data:`EVERYWHERE`, or None for wherever the user is looking). The console is a
thin prompt_toolkit shell around it that prints every line in one stream; the Tk
GUI is another, with a pane per conversation. What a room shows of its past (on
entering it, on ``/history``, scrolling back) is :mod:`.backlog`'s part; joining,
switching, inviting and leaving are :mod:`.joining`'s.

Threads: :meth:`ChatController.on_event` runs on the client's event thread and
:meth:`ChatController.execute` on the UI's worker thread (requests block). A lock
keeps each state change together with the lines it emits, so lines come out in
the order the state changed. Requests are made outside the lock, so events keep
flowing while one waits.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from zmqchat.client.chat import filing
from zmqchat.client.chat.backlog import BACKLOG, Backlog, Emit, OlderPage, Replace
from zmqchat.client.chat.commands import (
    Command,
    Emote,
    GetFile,
    Invalid,
    InviteUser,
    JoinRoom,
    LeaveRoom,
    ModerateRoom,
    Query,
    Quit,
    Say,
    SendFile,
    SendPm,
    SetTopic,
    ShowHelp,
    ShowHistory,
    ShowRooms,
    ShowWho,
    SwitchRoom,
)
from zmqchat.client.chat.failures import classify
from zmqchat.client.chat.formatting import EMOTE_DATA, Line, error, notice
from zmqchat.client.chat.joining import invite_user, join_room, leave_room, switch_room
from zmqchat.client.chat.listing import show_rooms, show_who
from zmqchat.client.chat.mentions import is_mention
from zmqchat.client.chat.message_actions import change_message, search_messages
from zmqchat.client.chat.message_commands import DeleteMessage, EditMessage, SearchMessages
from zmqchat.client.chat.moderating import moderate
from zmqchat.client.chat.slash_commands import help_lines
from zmqchat.client.chat.state import ChatState, Snapshot, private_key, room_key
from zmqchat.client.chat.toolbar import state_toolbar
from zmqchat.client.core.events import Event, StatusEvent
from zmqchat.client.io.sync import Client
from zmqchat.common.files import PrivateFileEvent
from zmqchat.common.messages import PmEvent, RoomEvent, Welcome
from zmqchat.common.moderation import ModerationEvent

log = logging.getLogger("zmqchat.console")

# A line for every open conversation (connection changes, broker notices).
EVERYWHERE: Final = "*"


class ChatController:
    """Commands in, lines out, for one chat session."""

    def __init__(
        self,
        state: ChatState,
        emit: Emit,
        *,
        backlog: int = BACKLOG,
        on_closed: Callable[[], None] | None = None,
        on_opened: Callable[[str], None] | None = None,
        compact: bool = False,
        multiline: bool = False,
        keys: Sequence[str] = (),
        on_mention: Callable[[Event, str], None] | None = None,
        on_replace: Replace | None = None,
    ) -> None:
        """``on_opened(key)``: a room is being shown from scratch (joined again), so
        what a UI kept of it is stale. ``compact``: lines for a pane per
        conversation; ``multiline``: a message's lines each under the first, not
        joined by ``↵`` (see :func:`~zmqchat.client.chat.formatting.format_event`).
        ``keys``: what the front end's keys do, for ``/help``. ``on_mention(event,
        key)``: a live event that is for the user's attention came in conversation
        ``key`` (see :func:`~zmqchat.client.chat.mentions.is_mention`), called
        after its line was emitted, outside the lock. ``on_replace``: a UI that can
        change a line it shows gets edits and deletes so (see ``Replace``)."""
        self.state = state
        self._on_mention = on_mention
        self._emit = emit
        self._on_closed = on_closed
        self._keys = tuple(keys)
        self._lock = threading.RLock()
        self._backlog = Backlog(
            state,
            emit,
            self._lock,
            size=backlog,
            compact=compact,
            multiline=multiline,
            on_opened=on_opened,
            replace=on_replace,
        )
        self._client: Client | None = None
        self._quitting = False

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("attach() a connected client first")
        return self._client

    # ------------------------------------------------------------- lifecycle

    def prepare(self, user: str, rooms: Iterable[str]) -> None:
        """Before connecting as ``user``: hold the live events of ``rooms`` (the
        client's event callback may fire before :meth:`attach` has shown them)."""
        with self._lock:
            self.state.user = user
            for room in rooms:
                self.state.begin_join(room.lower())

    def attach(self, client: Client, welcome: Welcome) -> None:
        """The client is connected: show each room of the welcome with its history."""
        self._client = client
        with self._lock:
            self.state.user = welcome.user
            # Where connect() got its welcome, unless a status event said so already.
            self.state.endpoint = self.state.endpoint or client.endpoint
            for room in [r for r, v in self.state.rooms.items() if not v.joined]:
                if room not in welcome.rooms:
                    self.state.abort_join(room)
        topics = welcome.topics or {}
        for n, (room, head) in enumerate(welcome.rooms.items()):
            action = functools.partial(
                self._backlog.enter, client, room, head, None, switch=n == 0,
                topic=topics.get(room, ""),
            )  # fmt: skip
            self._guarded(action, room_key(room))

    def quitting(self) -> None:
        """The user is leaving: the client's own `closed` is no news to show."""
        self._quitting = True

    # ---------------------------------------------------------------- events

    def on_event(self, event: Event) -> None:
        """An event from the client (on its event thread)."""
        if self._quitting and isinstance(event, StatusEvent) and event.state == "closed":
            return
        mentioned: list[tuple[Event, str]] = []
        with self._lock:
            was = self.state.connection
            for shown in self.state.apply(event):
                where = self._where(shown)
                self._backlog.show(shown, where)
                if where is not None and is_mention(shown, self.state.user):
                    mentioned.append((shown, where))
        if self._on_mention is not None:
            for shown, where in mentioned:
                self._on_mention(shown, where)
        if isinstance(event, StatusEvent):
            if event.state == "connected" and was == "reconnecting":
                # Who left while we were away: the broker may have expired people.
                self._guarded(self._refresh_members, None)
            elif event.state == "closed" and self._on_closed is not None:
                self._on_closed()

    def _where(self, event: Event) -> str | None:
        """The conversation an event belongs to."""
        if isinstance(event, ModerationEvent) and event.room not in self.state.rooms:
            return None  # it took us out of the room: say so where we look now
        if isinstance(event, RoomEvent):
            return room_key(event.room)
        if isinstance(event, PmEvent | PrivateFileEvent):
            mine = event.sender.lower() == self.state.user.lower()
            return private_key(event.to if mine else event.sender)
        return EVERYWHERE

    def _refresh_members(self) -> None:
        for room in self.state.joined_rooms():
            names = self.client.who(room)
            with self._lock:
                self.state.set_members(room, names)

    # -------------------------------------------------------------- commands

    def execute(self, command: Command) -> bool:
        """Run one command; failures become error lines, never exceptions. Returns
        False when it failed (a UI may then give the typed line back)."""
        with self._lock:
            where = self.state.viewing()
        ok = self._guarded(lambda: self._run(command, where), where)
        return ok and not isinstance(command, Invalid)

    def _guarded(self, action: Callable[[], object], where: str | None) -> bool:
        try:
            action()
        except Exception as exc:  # a UI must survive even a bug of ours: say it, go on
            failure = classify(exc)
            if failure.kind == "internal":
                log.debug("command failed", exc_info=True)
            self._emit(error(failure.message, failure.code), where)
            return False
        return True

    def _run(self, command: Command, where: str | None) -> None:
        client = self.client
        state = self.state
        if isinstance(command, Say | Emote):
            data = dict(EMOTE_DATA) if isinstance(command, Emote) else None
            if state.query is not None:
                self._pm(state.query, command.text, data)
            elif state.current is None:
                self._emit(error("you are in no room; /join ROOM first"), where)
            else:
                client.send(state.current, command.text, data=data)
            # Our own line comes back as a room event, in its place in the room.
        elif isinstance(command, JoinRoom):
            join_room(
                client, state, self._lock, self._backlog, self._emit, command.room, command.private
            )
        elif isinstance(command, InviteUser):
            invite_user(client, self._emit, command.user, command.room or state.current, where)
        elif isinstance(command, SetTopic | ModerateRoom):
            moderate(client, state, self._emit, command, where)
        elif isinstance(command, LeaveRoom):
            leave_room(client, state, self._lock, self._emit, command.room or state.current, where)
        elif isinstance(command, SwitchRoom):
            switch_room(state, self._lock, self._emit, command.room, where)
        elif isinstance(command, SendPm):
            self._pm(command.user, command.text, None)
        elif isinstance(command, Query):
            self._query(command.user)
        elif isinstance(command, ShowWho):
            show_who(client, state, self._lock, command, self._emit, where)
        elif isinstance(command, ShowRooms):
            show_rooms(client, state, self._lock, self._emit, where)
        elif isinstance(command, ShowHistory):
            if state.current is None:
                self._emit(error("you are in no room; /join ROOM first"), where)
            else:
                self._backlog.show_last(client, state.current, command.count)
        elif isinstance(command, ShowHelp):
            for text in help_lines(self._keys):
                self._emit(notice(text), where)
        elif isinstance(command, EditMessage | DeleteMessage):
            change_message(client, state, self._lock, command, self._emit, where)
        elif isinstance(command, SearchMessages):
            search_messages(client, state, self._lock, command, self._emit, where)
        elif isinstance(command, Invalid):
            self._emit(error(command.message), where)
        elif isinstance(command, SendFile | GetFile):
            self._file(command, where)
        elif isinstance(command, Quit):
            pass  # the UI ends the session

    def _file(self, command: SendFile | GetFile, where: str | None) -> None:
        """Start a transfer on a thread of its own (see :mod:`.filing`)."""
        state = self.state
        if isinstance(command, GetFile):
            filing.get_file(self.client, command.file_id, command.path, self._emit, where)
        elif state.query is None and state.current is None:
            self._emit(error("you are in no room; /join ROOM first"), where)
        else:
            room = state.current if state.query is None else None
            filing.send_file(self.client, command.path, room, state.query, self._emit, where)

    def _pm(self, user: str, text: str, data: dict[str, object] | None) -> None:
        ack = self.client.pm(user, text, data=data)
        state = self.state
        sent = PmEvent(id=ack.id, sender=state.user, to=ack.to, text=text, data=data, ts=ack.ts)
        with self._lock:
            state.apply(sent)
            key = private_key(ack.to)
            self._backlog.show(sent, key)
            if ack.status == "queued":
                self._emit(notice(f"{ack.to} is offline; delivered when they log in"), key)

    def _query(self, user: str | None) -> None:
        with self._lock:
            if user is None:
                self.state.end_query()
                room = self.state.current
                where = f"talking in #{room}" if room else "in no room; /join a room to talk"
                self._emit(notice(f"back to the room: {where}"), self.state.viewing())
                return
            self.state.talk_to(user)
            name = self.state.privates[user.lower()].name
            text = f"talking privately with {name}; /query alone goes back to the room"
            self._emit(notice(text), private_key(user))
        self._backlog.open_private(self.client, user)

    # ------------------------------------------------------------- for the UI

    def load_older(self, key: str, count: int) -> OlderPage:
        """Page back through a room's history from the oldest line shown (``history``
        with ``before``). Errors become an error line in that conversation."""
        result: list[OlderPage] = []

        def fetch() -> None:
            result.append(self._backlog.older(self.client, key, count))

        if not self._guarded(fetch, key):
            return OlderPage(key, [], more=True)
        return result[0]

    def view(self, key: str) -> bool:
        """Look at conversation ``key`` (plain lines go there); False if none."""
        with self._lock:
            return self.state.view(key)

    def talk_to(self, user: str) -> None:
        """Open the private conversation with ``user`` and look at it."""
        with self._lock:
            self.state.talk_to(user)

    def load_private(self, user: str) -> None:
        """Show the recent past of the private conversation with ``user`` (once;
        run it where requests may block). Errors become an error line there."""
        self._guarded(lambda: self._backlog.open_private(self.client, user), private_key(user))

    def close_private(self, key: str) -> None:
        """Forget a private conversation (a message from them opens it again)."""
        with self._lock:
            self.state.close_private(key.removeprefix("@"))

    def own_message(self, room: str, seq: int) -> str | None:
        """The latest text of our message ``seq`` of ``room``, if it is ours and
        still there (what a menu on its line may edit or delete)."""
        with self._lock:
            return self.state.own_text(room, seq)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self.state.snapshot()

    def toolbar(self) -> Line:
        with self._lock:
            return state_toolbar(self.state)

    def completion_words(self) -> tuple[list[str], list[str]]:
        """``(rooms, users)`` that Tab may complete."""
        with self._lock:
            rooms = sorted(set(self.state.joined_rooms()) | self.state.known_rooms)
            return rooms, self.state.users()

    def current_room(self) -> str | None:
        return self.state.current


__all__ = ["EVERYWHERE", "ChatController"]
