"""The part of a chat UI that is not about the screen: it runs typed commands
against a :class:`zmqchat.Client`, feeds replies and events into a
:class:`~zmqchat.client.chatstate.ChatState`, and hands the lines to show to an
``emit`` callback. The console is a thin prompt_toolkit shell around it; a GUI
would be another.

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
from collections.abc import Callable, Iterable

from zmqchat.client.api import Client
from zmqchat.client.chatstate import ChatState
from zmqchat.client.commands import (
    Command,
    Emote,
    Invalid,
    JoinRoom,
    LeaveRoom,
    Quit,
    Say,
    SendPm,
    ShowHelp,
    ShowHistory,
    ShowRooms,
    ShowWho,
    SwitchRoom,
    help_lines,
)
from zmqchat.client.events import Event, StatusEvent
from zmqchat.client.formatting import (
    EMOTE_DATA,
    Line,
    banner,
    error,
    format_event,
    format_toolbar,
    notice,
)
from zmqchat.client.paging import RoomEvent, last_events
from zmqchat.common.messages import PmEvent, Welcome
from zmqchat.errors import BrokerError, ConnectionClosed, Timeout, ZmqchatError

log = logging.getLogger("zmqchat.console")

Emit = Callable[[Line], None]
# Messages of its history a room shows when joined.
BACKLOG = 20


class ChatController:
    """Commands in, lines out, for one chat session."""

    def __init__(
        self,
        state: ChatState,
        emit: Emit,
        *,
        backlog: int = BACKLOG,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self._emit = emit
        self._backlog = backlog
        self._on_closed = on_closed
        self._lock = threading.RLock()
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
            for room in [r for r, v in self.state.rooms.items() if not v.joined]:
                if room not in welcome.rooms:
                    self.state.abort_join(room)
        for n, (room, head) in enumerate(welcome.rooms.items()):
            self._guarded(functools.partial(self._enter, room, head, None, switch=n == 0))

    def quitting(self) -> None:
        """The user is leaving: the client's own `closed` is no news to show."""
        self._quitting = True

    def _enter(self, room: str, head: int, members: Iterable[str] | None, *, switch: bool) -> None:
        """Show a room we are now in: its last events, who is there, then the live
        events that arrived meanwhile. ``head`` is our own join, left out of the
        history since it is announced here."""
        client = self.client
        with self._lock:
            self.state.begin_join(room)
        try:
            names = list(members) if members is not None else client.who(room)
            backlog = last_events(client, room, self._backlog, before=head, chat_only=True)
        except ZmqchatError:
            with self._lock:
                self.state.joined(room, head, (), switch=switch)
                self._show_live(room)
            raise
        with self._lock:
            self.state.joined(room, head, names, switch=switch)
            self._show_history(room, backlog, f"#{room}: the last {_count(backlog)}")
            self._emit(notice(f"you are in #{room} with {_names(names, self.state.user)}"))
            self._show_live(room)

    def _show_live(self, room: str) -> None:
        for event in self.state.finish_loading(room):
            self._emit(format_event(event, me=self.state.user))

    def _show_history(self, room: str, events: list[RoomEvent], title: str) -> None:
        if not events:
            return
        self._emit(banner(title))
        for event in events:
            self._emit(format_event(event, me=self.state.user, history=True))
        self._emit(banner(f"#{room}: end of history"))

    # ---------------------------------------------------------------- events

    def on_event(self, event: Event) -> None:
        """An event from the client (on its event thread)."""
        if self._quitting and isinstance(event, StatusEvent) and event.state == "closed":
            return
        with self._lock:
            was = self.state.connection
            for shown in self.state.apply(event):
                self._emit(format_event(shown, me=self.state.user))
        if isinstance(event, StatusEvent):
            if event.state == "connected" and was == "reconnecting":
                # Who left while we were away: the broker may have expired people.
                self._guarded(self._refresh_members)
            elif event.state == "closed" and self._on_closed is not None:
                self._on_closed()

    def _refresh_members(self) -> None:
        for room in self.state.joined_rooms():
            names = self.client.who(room)
            with self._lock:
                self.state.set_members(room, names)

    # -------------------------------------------------------------- commands

    def execute(self, command: Command) -> None:
        """Run one command; failures become error lines, never exceptions."""
        self._guarded(lambda: self._run(command))

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except BrokerError as exc:
            self._emit(error(exc.message, exc.code))
        except Timeout:
            self._emit(error("no reply from the broker in time; is it down? (try again)"))
        except ConnectionClosed as exc:
            self._emit(error(f"not connected: {exc.reason}"))
        except ZmqchatError as exc:
            self._emit(error(str(exc)))
        except Exception as exc:  # a UI must survive a bug of ours: say it, keep going
            log.debug("command failed", exc_info=True)
            self._emit(error(f"internal error: {type(exc).__name__}: {exc}"))

    def _run(self, command: Command) -> None:
        client = self.client
        state = self.state
        if isinstance(command, Say | Emote):
            room = state.current
            if room is None:
                self._emit(error("you are in no room; /join ROOM first"))
            elif isinstance(command, Emote):
                client.send(room, command.text, data=dict(EMOTE_DATA))
            else:
                client.send(room, command.text)
            # Our own line comes back as a room event, in its place in the room.
        elif isinstance(command, JoinRoom):
            self._join(command.room)
        elif isinstance(command, LeaveRoom):
            self._leave(command.room or state.current)
        elif isinstance(command, SwitchRoom):
            with self._lock:
                switched = state.switch(command.room)
            if switched:
                self._emit(notice(f"talking in #{command.room}"))
            else:
                self._emit(error(f"you are not in #{command.room}; /join {command.room}"))
        elif isinstance(command, SendPm):
            ack = client.pm(command.user, command.text)
            sent = PmEvent(id=ack.id, sender=state.user, to=ack.to, text=command.text, ts=ack.ts)
            with self._lock:
                state.apply(sent)
                self._emit(format_event(sent, me=state.user))
                if ack.status == "queued":
                    self._emit(notice(f"{ack.to} is offline; delivered when they log in"))
        elif isinstance(command, ShowWho):
            self._who(command)
        elif isinstance(command, ShowRooms):
            self._rooms()
        elif isinstance(command, ShowHistory):
            room = state.current
            if room is None:
                self._emit(error("you are in no room; /join ROOM first"))
                return
            events = last_events(client, room, command.count, before=None, chat_only=True)
            with self._lock:
                self._show_history(room, events, f"#{room}: the last {_count(events)}")
                if not events:
                    self._emit(notice(f"#{room} has no messages yet"))
        elif isinstance(command, ShowHelp):
            for text in help_lines():
                self._emit(notice(text))
        elif isinstance(command, Invalid):
            self._emit(error(command.message))
        elif isinstance(command, Quit):
            pass  # the UI ends the session

    def _join(self, room: str) -> None:
        with self._lock:
            view = self.state.rooms.get(room)
            if view is not None and view.joined:
                self.state.switch(room)
                self._emit(notice(f"talking in #{room}"))
                return
            self.state.begin_join(room)
        try:
            reply = self.client.join(room)
        except ZmqchatError:
            with self._lock:
                self.state.abort_join(room)
            raise
        self._enter(reply.room, reply.seq, reply.members, switch=True)

    def _leave(self, room: str | None) -> None:
        if room is None:
            self._emit(error("you are in no room"))
            return
        if room not in self.state.joined_rooms():
            self._emit(error(f"you are not in #{room}"))
            return
        self.client.leave(room)
        with self._lock:
            self.state.left(room)
            now = self.state.current
            where = f"; talking in #{now}" if now else "; /join a room to talk"
            self._emit(notice(f"you left #{room}{where}"))

    def _who(self, command: ShowWho) -> None:
        if command.everyone:
            names = self.client.who()
            self._emit(notice(f"online: {_names(names, None)}"))
            return
        room = command.room or self.state.current
        if room is None:
            self._emit(error("you are in no room; /who ROOM or /who *"))
            return
        names = self.client.who(room)
        with self._lock:
            self.state.set_members(room, names)
            self._emit(notice(f"#{room}: {_names(names, None)}"))

    def _rooms(self) -> None:
        listing = self.client.list_rooms()
        with self._lock:
            self.state.known_rooms.update(info.name for info in listing)
            joined = set(self.state.joined_rooms())
            if not listing:
                self._emit(notice("no room has members"))
            for info in listing:
                mark = " (you are in it)" if info.name in joined else ""
                people = f"{info.members} member{'s' if info.members != 1 else ''}"
                self._emit(notice(f"#{info.name}: {people}{mark}"))

    # ------------------------------------------------------------- for the UI

    def toolbar(self) -> Line:
        with self._lock:
            state = self.state
            return format_toolbar(state.user, state.current, state.unread(), state.connection)

    def completion_words(self) -> tuple[list[str], list[str]]:
        """``(rooms, users)`` that Tab may complete."""
        with self._lock:
            rooms = sorted(set(self.state.joined_rooms()) | self.state.known_rooms)
            return rooms, self.state.users()

    def current_room(self) -> str | None:
        return self.state.current


def _count(events: list[RoomEvent]) -> str:
    return "message" if len(events) == 1 else f"{len(events)} messages"


def _names(names: Iterable[str], me: str | None) -> str:
    """``alice, bob and you (3)``-style list of who is somewhere."""
    listed = [n for n in names if me is None or n.lower() != me.lower()]
    count = len(listed) + (1 if me is not None else 0)
    if me is not None:
        return "nobody else" if not listed else f"{', '.join(listed)} ({count} here)"
    return f"{', '.join(listed)} ({count})" if listed else "nobody"


__all__ = ["BACKLOG", "ChatController", "Emit"]
