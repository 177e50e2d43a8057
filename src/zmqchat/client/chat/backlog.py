"""What a conversation shows of its past: a room's last messages and who is there
when it is entered (with the live events that arrived meanwhile after them), the
last messages again on ``/history``, and older pages as the user scrolls back.

Part of :class:`~zmqchat.client.chat.controller.ChatController`, and run under its
lock: each state change goes out together with the lines it emits.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable

from zmqchat.client.chat.formatting import (
    Line,
    banner,
    format_event,
    message_mark,
    notice,
    safe_text,
)
from zmqchat.client.chat.paging import earlier_events
from zmqchat.client.chat.shown import ShownMessages
from zmqchat.client.chat.state import ChatState, private_key, room_key
from zmqchat.client.chat.timestamps import DayMarks, day_separator
from zmqchat.client.core.events import Event
from zmqchat.client.io.sync import Client
from zmqchat.common.messages import ChatEvent, DeleteEvent, EditEvent, PmEvent, RoomEvent
from zmqchat.errors import ZmqchatError

# emit(line, where): where is a conversation key, EVERYWHERE, or None (no
# conversation in particular: where the user is looking).
Emit = Callable[[Line, str | None], None]
# replace(line, instead, key, seq): the line showing room message ``seq`` in
# conversation ``key`` now reads ``line`` (an edit or delete came); a UI that no
# longer shows that line shows ``instead``, the line saying what changed.
Replace = Callable[[Line, Line, str, int], None]
# Messages of its history a room shows when joined.
BACKLOG = 20
# The one stream of lines of a UI without a pane per conversation (the console),
# for its day separators.
ONE_STREAM = ""


@dataclasses.dataclass(frozen=True, slots=True)
class OlderPage:
    """Lines from further back in a conversation, oldest first, to show above what
    is shown; ``more`` says whether paging back again may find anything."""

    key: str
    lines: list[Line]
    more: bool


class Backlog:
    """The past of each conversation, as lines."""

    def __init__(
        self,
        state: ChatState,
        emit: Emit,
        lock: threading.RLock,
        *,
        size: int = BACKLOG,
        compact: bool = False,
        multiline: bool = False,
        on_opened: Callable[[str], None] | None = None,
        replace: Replace | None = None,
    ) -> None:
        self.state = state
        self._emit = emit
        self._lock = lock
        self._size = size
        self._compact = compact
        self._multiline = multiline
        self._on_opened = on_opened
        self._replace = replace
        self._days = DayMarks()
        self._shown = ShownMessages()

    def line(self, event: Event, *, history: bool = False) -> Line:
        sent: float | None = None
        if isinstance(event, ChatEvent):
            self._shown.remember(event, history=history)
        elif isinstance(event, EditEvent | DeleteEvent):
            original = self._shown.original(event)
            sent = original.ts if original is not None else None
        line = format_event(
            event,
            me=self.state.user,
            history=history,
            compact=self._compact,
            multiline=self._multiline,
            sent=sent,
        )
        mark = message_mark(event)
        if mark is None:
            return line
        style, text = mark
        return [(f"class:history {style}" if history else style, text), *line]

    def show(self, event: Event, key: str | None, *, history: bool = False) -> None:
        """Emit ``event``'s line in conversation ``key``, after a line naming the day
        when it is of another day than the event shown before it there. An edit or
        delete of a message shown changes its line instead, where the UI can."""
        if isinstance(event, EditEvent | DeleteEvent) and key is not None:
            instead = self.line(event, history=history)  # names the message's time
            changed = self._shown.change(event)
            if changed is not None and self._replace is not None:
                self._replace(self.line(changed.event, history=changed.history), instead,
                              key, event.of)  # fmt: skip
                return
            self._emit_dated(event, key, instead)
            return
        self._emit_dated(event, key, self.line(event, history=history))

    def _emit_dated(self, event: Event, key: str | None, line: Line) -> None:
        if isinstance(event, RoomEvent | PmEvent) and key is not None:
            mark = self._days.below(self._stream(key), event.ts)
            if mark is not None:
                self._emit(mark, key)
        self._emit(line, key)

    def _stream(self, key: str) -> str:
        """Where lines follow each other: a pane per conversation, or one stream."""
        return key if self._compact else ONE_STREAM

    def enter(
        self,
        client: Client,
        room: str,
        head: int,
        members: Iterable[str] | None,
        *,
        switch: bool,
        topic: str | None = None,
    ) -> None:
        """Show a room we are now in: its last events, who is there, then the live
        events that arrived meanwhile. ``head`` is our own join, left out of the
        history since it is announced here; ``topic``, the room's then."""
        key = room_key(room)
        with self._lock:
            self.state.begin_join(room)
        try:
            names = list(members) if members is not None else client.who(room)
            page = earlier_events(client, room, self._size, before=head, chat_only=True)
        except ZmqchatError:
            with self._lock:
                self.state.joined(room, head, (), switch=switch, topic=topic)
                self._opened(key)
                self._show_live(room)
            raise
        with self._lock:
            self.state.joined(room, head, names, switch=switch, topic=topic)
            view = self.state.rooms[room]
            view.older_than, view.more_history = page.next_before or head, page.more
            self._opened(key)
            # A pane of its own pages back further above the backlog: no title on top.
            title = None if self._compact else f"#{room}: the last {_count(page.events)}"
            self._show_history(room, page.events, title)
            who = f"you are in #{room} with {names_text(names, self.state.user)}"
            self._emit(notice(who), key)
            if topic:
                self._emit(notice(f"topic: {safe_text(topic)}"), key)
            self._show_live(room)

    def show_last(self, client: Client, room: str, count: int) -> None:
        """``/history``: the last ``count`` messages of ``room`` again."""
        page = earlier_events(client, room, count, before=None, chat_only=True)
        with self._lock:
            events = page.events
            self._show_history(room, events, f"#{room}: the last {_count(events)}")
            if not events:
                self._emit(notice(f"#{room} has no messages yet"), room_key(room))

    def older(self, client: Client, key: str, count: int) -> OlderPage:
        """The page of a room's history before the oldest line shown."""
        room = key[1:] if key.startswith("#") else None
        with self._lock:
            view = self.state.rooms.get(room) if room is not None else None
            if room is None or view is None or not view.joined or not view.more_history:
                return OlderPage(key, [], more=False)
            before = view.older_than
        page = earlier_events(client, room, count, before=before, chat_only=True)
        with self._lock:
            view = self.state.rooms.get(room)
            if view is None or view.older_than != before:
                return OlderPage(key, [], more=False)  # left, or paged meanwhile
            view.older_than, view.more_history = page.next_before, page.more
            lines: list[Line] = []
            prev: float | None = None
            for event in page.events:
                if isinstance(event, ChatEvent):
                    self.state.seen_message(event)
                mark = day_separator(prev, event.ts)
                if mark is not None:
                    lines.append(mark)
                lines.append(self.line(event, history=True))
                prev = event.ts
            if page.events:
                first, last = page.events[0].ts, page.events[-1].ts
                mark = self._days.above(self._stream(key), first, last)
                if mark is not None:
                    lines.append(mark)
            if not page.more:
                lines.insert(0, banner(f"#{room}: the beginning"))
            return OlderPage(key, lines, page.more)

    def open_private(self, client: Client, user: str) -> None:
        """Show the last messages of the private conversation with ``user`` the first
        time it is opened (for an account, from every session: `history with`),
        those before any it already shows live."""
        key = private_key(user)
        with self._lock:
            view = self.state.privates.get(user.lower())
            if view is None or view.loaded:
                return
            view.loaded = True
        try:
            page = client.history(with_user=user, limit=self._size)
        except ZmqchatError:
            with self._lock:
                view.loaded = False  # try again when it is opened next
            raise
        with self._lock:
            events = [
                event
                for event in page.messages
                if isinstance(event, PmEvent)
                and (view.first_live is None or event.id < view.first_live)
            ]
            if not events:
                return
            if not self._compact:
                self._emit(banner(f"{key}: the last {_count(events)}"), key)
            for event in events:
                self.show(event, key, history=True)
            self._emit(banner(f"{key}: end of history"), key)

    def _opened(self, key: str) -> None:
        if self._compact:
            self._days.forget(key)  # its pane starts again from nothing
        if self._on_opened is not None:
            self._on_opened(key)

    def _show_live(self, room: str) -> None:
        for event in self.state.finish_loading(room):
            self.show(event, room_key(room))

    def _show_history(self, room: str, events: list[RoomEvent], title: str | None) -> None:
        if not events:
            return
        key = room_key(room)
        if title is not None:
            self._emit(banner(title), key)
        for event in events:
            if isinstance(event, ChatEvent):
                self.state.seen_message(event)
            self.show(event, key, history=True)
        self._emit(banner(f"#{room}: end of history"), key)


def _count(events: list[RoomEvent] | list[PmEvent]) -> str:
    return "message" if len(events) == 1 else f"{len(events)} messages"


def names_text(names: Iterable[str], me: str | None) -> str:
    """``alice, bob and you (3)``-style list of who is somewhere."""
    listed = [n for n in names if me is None or n.lower() != me.lower()]
    count = len(listed) + (1 if me is not None else 0)
    if me is not None:
        return "nobody else" if not listed else f"{', '.join(listed)} ({count} here)"
    return f"{', '.join(listed)} ({count})" if listed else "nobody"
