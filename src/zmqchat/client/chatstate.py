"""What a chat UI knows: its rooms, the current one, who is in each, unread counts,
the connection state. Fed with client events and replies; no I/O, no UI toolkit,
so the console and a GUI share it and tests drive it without a screen.

It also decides what to show. A room being joined holds its live events until the
UI has shown the room's history (so history comes first and nothing is shown
twice), and an event at or below the last seq shown in its room is dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from zmqchat.client.events import ConnectionState, Event, StatusEvent
from zmqchat.common.messages import ChatEvent, PmEvent, PresenceEvent

RoomEvent = ChatEvent | PresenceEvent


@dataclasses.dataclass(slots=True)
class RoomView:
    """One room as the UI sees it."""

    name: str
    members: dict[str, str] = dataclasses.field(default_factory=dict)  # key -> display
    unread: int = 0
    last_seq: int = 0  # the newest event shown (or covered by the history shown)
    joined: bool = False  # the broker confirmed the join
    loading: bool = True  # live events are held until finish_loading()
    held: dict[int, RoomEvent] = dataclasses.field(default_factory=dict)


class ChatState:
    """The state of one chat session, for any UI."""

    def __init__(self, user: str = "") -> None:
        self.user = user
        self.rooms: dict[str, RoomView] = {}
        self.current: str | None = None
        self.connection: ConnectionState = "connecting"
        self.known_rooms: set[str] = set()  # seen in /rooms, for completion
        self.pm_peers: dict[str, str] = {}  # key -> display, for completion

    # ---------------------------------------------------------------- rooms

    def begin_join(self, room: str) -> None:
        """A join is under way: hold the room's live events until it is shown."""
        view = self.rooms.get(room)
        if view is None:
            self.rooms[room] = RoomView(room)
        elif view.joined:
            return
        self.known_rooms.add(room)

    def abort_join(self, room: str) -> None:
        """The join failed (or the broker did not put us in that room)."""
        view = self.rooms.get(room)
        if view is not None and not view.joined:
            del self.rooms[room]

    def joined(self, room: str, head: int, members: Iterable[str], *, switch: bool = True) -> None:
        """The broker put us in ``room``, whose last event so far is ``head``."""
        view = self.rooms.setdefault(room, RoomView(room))
        view.joined = True
        view.last_seq = max(view.last_seq, head)
        self.set_members(room, members)
        self.known_rooms.add(room)
        if switch or self.current is None:
            self.switch(room)

    def finish_loading(self, room: str) -> list[RoomEvent]:
        """The room's history is shown; returns the live events held meanwhile that
        come after it, in order."""
        view = self.rooms.get(room)
        if view is None:
            return []
        view.loading = False
        held, view.held = view.held, {}
        shown: list[RoomEvent] = []
        for seq in sorted(held):
            shown += self._room_event(held[seq])
        return shown

    def left(self, room: str) -> None:
        self.rooms.pop(room, None)
        if self.current == room:
            self.current = next((r for r, v in self.rooms.items() if v.joined), None)

    def switch(self, room: str) -> bool:
        """Make ``room`` the one plain lines go to; False if we are not in it."""
        view = self.rooms.get(room)
        if view is None or not view.joined:
            return False
        self.current = room
        view.unread = 0
        return True

    def set_members(self, room: str, names: Iterable[str]) -> None:
        view = self.rooms.get(room)
        if view is not None:
            view.members = {name.lower(): name for name in names}

    # --------------------------------------------------------------- events

    def apply(self, event: Event) -> list[Event]:
        """Take in an event; returns what to show now (possibly nothing)."""
        if isinstance(event, ChatEvent | PresenceEvent):
            view = self.rooms.get(event.room)
            if view is not None and view.loading:
                view.held[event.seq] = event
                return []
            return list(self._room_event(event))
        if isinstance(event, PmEvent):
            for name in (event.sender, event.to):
                if name.lower() != self.user.lower():
                    self.pm_peers[name.lower()] = name
            return [event]
        if isinstance(event, StatusEvent):
            previous, self.connection = self.connection, event.state
            # The first `connected` is the connect the UI asked for, not news.
            if event.state == "connected" and previous == "connecting":
                return []
            return [event]
        return [event]

    def _room_event(self, event: RoomEvent) -> list[RoomEvent]:
        view = self.rooms.get(event.room)
        if view is None:
            return [event]  # not a room we track (left meanwhile): show, keep nothing
        if event.seq <= view.last_seq:
            return []  # already shown, or covered by history shown
        view.last_seq = event.seq
        if isinstance(event, PresenceEvent):
            if event.event == "join":
                view.members[event.user.lower()] = event.user
            else:
                view.members.pop(event.user.lower(), None)
        elif event.room != self.current:
            view.unread += 1
        return [event]

    # -------------------------------------------------------------- queries

    def joined_rooms(self) -> list[str]:
        return [r for r, v in self.rooms.items() if v.joined]

    def unread(self) -> dict[str, int]:
        """Rooms other than the current one with unseen messages, and how many."""
        return {r: v.unread for r, v in self.rooms.items() if v.unread and r != self.current}

    def users(self) -> list[str]:
        """Every name we know of (room members, private correspondents), for Tab."""
        names = dict(self.pm_peers)
        for view in self.rooms.values():
            names.update(view.members)
        names.pop(self.user.lower(), None)
        return sorted(names.values(), key=str.lower)

    def members(self, room: str) -> list[str]:
        view = self.rooms.get(room)
        return sorted(view.members.values(), key=str.lower) if view else []


__all__ = ["ChatState", "RoomView"]
