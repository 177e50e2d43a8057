"""What a chat UI knows: its rooms, the current one, who is in each, its private
conversations, unread counts, the connection state. Fed with client events and
replies; no I/O, no UI toolkit, so the console and a GUI share it and tests drive
it without a screen.

A conversation is a room or a private exchange with one user. Each has a key
(``#general``, ``@bob``) that UIs use to route lines; the one the user is looking
at (:meth:`ChatState.viewing`) is where plain lines go and gathers no unread count.

It also decides what to show. A room being joined holds its live events until the
UI has shown the room's history (so history comes first and nothing is shown
twice), and an event at or below the last seq shown in its room is dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Literal

from zmqchat.client.chat.mentions import is_mention
from zmqchat.client.core.events import ConnectionState, Event, StatusEvent
from zmqchat.common.messages import (
    ChatEvent,
    DeleteEvent,
    EditEvent,
    PmEvent,
    PresenceEvent,
    RoomEvent,
)
from zmqchat.common.moderation import ModerationEvent, TopicEvent

ConversationKind = Literal["room", "private"]
# Our own messages remembered per room, for `/edit` and `/delete` without a seq and
# for a UI's menu on a message line.
OWN_KEPT = 50


def room_key(room: str) -> str:
    """The conversation key of a room (``#general``)."""
    return f"#{room}"


def private_key(user: str) -> str:
    """The conversation key of a private exchange (``@bob``; names are
    case-insensitive, so the key is lower case)."""
    return f"@{user.lower()}"


@dataclasses.dataclass(slots=True)
class RoomView:
    """One room as the UI sees it."""

    name: str
    members: dict[str, str] = dataclasses.field(default_factory=dict)  # key -> display
    unread: int = 0
    mentions: int = 0  # of the unread messages, those that name the user
    last_seq: int = 0  # the newest event shown (or covered by the history shown)
    joined: bool = False  # the broker confirmed the join
    loading: bool = True  # live events are held until finish_loading()
    held: dict[int, RoomEvent] = dataclasses.field(default_factory=dict)
    # Paging back through history: older events are those with a seq below
    # `older_than` (None: not known yet), and `more_history` says if any are left.
    older_than: int | None = None
    more_history: bool = True
    # Our own messages seen here, by seq, each with its latest text (`/edit`
    # without a seq takes the newest; a UI edits the text it offers).
    own: dict[int, str] = dataclasses.field(default_factory=dict)
    topic: str = ""  # "" for none; kept by the `joined` reply and topic events


@dataclasses.dataclass(slots=True)
class PrivateView:
    """A private conversation: the other user's name as they registered it."""

    name: str
    unread: int = 0
    mentions: int = 0  # every private message to the user is one (see .mentions)
    # Its past was asked for (`history with`), once per conversation opened.
    loaded: bool = False
    # The id of the first pm shown live: the past shown is what came before it.
    first_live: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationInfo:
    """One entry of a conversation list, as a sidebar shows it."""

    key: str
    kind: ConversationKind
    name: str
    unread: int
    mentions: int = 0  # how many of the unread name the user


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """What a UI draws around the conversation, copied at one instant (so another
    thread can read it while events keep changing the state)."""

    user: str
    connection: ConnectionState
    viewing: str | None
    conversations: tuple[ConversationInfo, ...]  # rooms in join order, then privates
    members: tuple[str, ...]  # of the room being viewed; both of us in a private one
    topic: str = ""  # of the room being viewed ("" for none, and in a private one)
    endpoint: str = ""  # the node of the last connection state heard ("" before any)


class ChatState:
    """The state of one chat session, for any UI."""

    def __init__(self, user: str = "") -> None:
        self.user = user
        self.rooms: dict[str, RoomView] = {}
        self.current: str | None = None  # the room plain lines go to, unless a query
        self.query: str | None = None  # lower-case name: plain lines go privately there
        self.connection: ConnectionState = "connecting"
        # Said with every state: after a failover, the node connected to now.
        self.endpoint = ""
        self.known_rooms: set[str] = set()  # seen in /rooms, for completion
        self.pm_peers: dict[str, str] = {}  # key -> display, for completion
        self.privates: dict[str, PrivateView] = {}  # lower-case name -> conversation

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

    def joined(
        self,
        room: str,
        head: int,
        members: Iterable[str],
        *,
        switch: bool = True,
        topic: str | None = None,
    ) -> None:
        """The broker put us in ``room``, whose last event so far is ``head``, and
        whose topic then was ``topic`` (None: not said)."""
        view = self.rooms.setdefault(room, RoomView(room))
        view.joined = True
        if topic is not None:
            view.topic = topic
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
        """Make ``room`` the one plain lines go to (ending a query); False if we are
        not in it."""
        view = self.rooms.get(room)
        if view is None or not view.joined:
            return False
        self.current = room
        self.query = None
        view.unread = view.mentions = 0
        return True

    # ------------------------------------------------------ private conversations

    def open_private(self, user: str) -> PrivateView:
        """The private conversation with ``user``, opened if it was not."""
        view = self.privates.get(user.lower())
        if view is None:
            view = self.privates[user.lower()] = PrivateView(user)
        self.pm_peers[user.lower()] = view.name
        return view

    def talk_to(self, user: str) -> None:
        """Plain lines go privately to ``user`` from now on (IRC's ``/query``)."""
        view = self.open_private(user)
        view.unread = view.mentions = 0
        self.query = user.lower()

    def end_query(self) -> None:
        """Plain lines go to the current room again."""
        self.query = None
        if self.current in self.rooms:
            view = self.rooms[self.current]
            view.unread = view.mentions = 0

    def close_private(self, user: str) -> None:
        """Forget the conversation with ``user`` (a new message opens it again)."""
        self.privates.pop(user.lower(), None)
        if self.query == user.lower():
            self.end_query()

    def viewing(self) -> str | None:
        """The key of the conversation the user looks at: the query, else the
        current room."""
        if self.query is not None:
            return private_key(self.query)
        return room_key(self.current) if self.current is not None else None

    def view(self, key: str) -> bool:
        """Look at the conversation ``key`` (from :meth:`snapshot`); False if there
        is no such conversation."""
        if key.startswith("#"):
            return self.switch(key[1:])
        if key.startswith("@") and key[1:] in self.privates:
            self.talk_to(self.privates[key[1:]].name)
            return True
        return False

    def set_members(self, room: str, names: Iterable[str]) -> None:
        view = self.rooms.get(room)
        if view is not None:
            view.members = {name.lower(): name for name in names}

    # --------------------------------------------------------------- events

    def apply(self, event: Event) -> list[Event]:
        """Take in an event; returns what to show now (possibly nothing)."""
        if isinstance(event, ModerationEvent) and self._removes_me(event):
            # An operator took us out: the room goes, whatever its loading state.
            view = self.rooms.get(event.room)
            if view is None or event.seq <= view.last_seq:
                return []
            self.left(event.room)
            return [event]
        if isinstance(event, RoomEvent):
            view = self.rooms.get(event.room)
            if view is not None and view.loading:
                view.held[event.seq] = event
                return []
            return list(self._room_event(event))
        if isinstance(event, PmEvent):
            incoming = event.sender.lower() != self.user.lower()
            peer = event.sender if incoming else event.to
            private = self.open_private(peer)
            if private.first_live is None:
                private.first_live = event.id
            if incoming and self.query != peer.lower():
                private.unread += 1
                private.mentions += is_mention(event, self.user)
            return [event]
        if isinstance(event, StatusEvent):
            previous, self.connection = self.connection, event.state
            self.endpoint = event.endpoint or self.endpoint
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
        elif isinstance(event, TopicEvent):
            view.topic = event.text
        elif isinstance(event, ChatEvent):
            self.seen_message(event)
            if self.viewing() != room_key(event.room):
                view.unread += 1
                view.mentions += is_mention(event, self.user)
        elif isinstance(event, EditEvent) and event.of in view.own:
            view.own[event.of] = event.text
        elif isinstance(event, DeleteEvent):
            view.own.pop(event.of, None)
        return [event]

    def _removes_me(self, event: ModerationEvent) -> bool:
        removed = event.removes
        return removed is not None and removed.lower() == self.user.lower()

    def seen_message(self, event: ChatEvent) -> None:
        """A message of a room was shown (live or from history): if it is ours,
        ``/edit`` without a seq may mean it."""
        view = self.rooms.get(event.room)
        if view is None or event.sender.lower() != self.user.lower() or event.deleted:
            return
        view.own[event.seq] = event.text
        if len(view.own) > OWN_KEPT:
            del view.own[min(view.own)]

    def last_own(self, room: str) -> int | None:
        """The seq of our newest message seen in ``room``, if any."""
        view = self.rooms.get(room)
        return max(view.own) if view is not None and view.own else None

    def own_text(self, room: str, seq: int) -> str | None:
        """The latest text of our message ``seq`` of ``room``; None if it is not
        one of ours seen here (or not any more: deleted, or long ago)."""
        view = self.rooms.get(room)
        return view.own.get(seq) if view is not None else None

    # -------------------------------------------------------------- queries

    def joined_rooms(self) -> list[str]:
        return [r for r, v in self.rooms.items() if v.joined]

    def unread(self) -> dict[str, int]:
        """Rooms other than the one looked at with unseen messages, and how many."""
        viewing = self.viewing()
        return {r: v.unread for r, v in self.rooms.items() if v.unread and room_key(r) != viewing}

    def unread_in(self, key: str) -> int:
        """The unread count of conversation ``key`` (0 for one there is not)."""
        view: RoomView | PrivateView | None = None
        if key.startswith("#"):
            view = self.rooms.get(key[1:])
        elif key.startswith("@"):
            view = self.privates.get(key[1:])
        return view.unread if view is not None else 0

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

    def snapshot(self) -> Snapshot:
        """The conversation list, unread counts, members and connection, copied."""
        conversations = [
            ConversationInfo(room_key(name), "room", name, view.unread, view.mentions)
            for name, view in self.rooms.items()
            if view.joined
        ]
        conversations += [
            ConversationInfo(private_key(key), "private", view.name, view.unread, view.mentions)
            for key, view in self.privates.items()
        ]
        topic = ""
        if self.query is not None:
            peer = self.privates[self.query].name if self.query in self.privates else self.query
            members = tuple(sorted({self.user, peer}, key=str.lower))
        else:
            members = tuple(self.members(self.current)) if self.current else ()
            view = self.rooms.get(self.current) if self.current else None
            topic = view.topic if view is not None else ""
        return Snapshot(
            self.user,
            self.connection,
            self.viewing(),
            tuple(conversations),
            members,
            topic,
            self.endpoint,
        )

    def topic(self, room: str | None) -> str:
        """The topic of ``room`` as last heard ("" for none, or not a room of ours)."""
        view = self.rooms.get(room) if room is not None else None
        return view.topic if view is not None else ""


__all__ = [
    "ChatState",
    "ConversationInfo",
    "ConversationKind",
    "PrivateView",
    "RoomEvent",
    "RoomView",
    "Snapshot",
    "private_key",
    "room_key",
]
