"""Room events: the one place where a room's next seq is taken, and its event
stored and published.

Every event of a room (chat, edit, delete, topic, moderation, file, join and leave)
goes through :meth:`RoomEvents.append`: the handler says what the event is for a
given seq (``make``), what the store keeps beside it (:class:`Extra`), and what to
do once it is numbered (``then``: the ack that reports the seq). This is the seam
of the engine (issue 17): with the SQLite store, as here, the seq is the room's next
one at once and ``then`` runs before ``append`` returns; an engine shared by several
nodes numbers a batch's events when the batch is flushed and runs ``then`` then, so
handlers never read a seq except in ``then``.

What is stored for an event is derived from the event itself (plus :class:`Extra`),
in :meth:`RoomEvents.store`, so that a node that only receives an event can store
it the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Final, TypeVar

import msgpack

from zmqchat.broker.outbox import Outbox
from zmqchat.broker.schema import KIND_FILE, KIND_MODERATION, KIND_TOPIC
from zmqchat.broker.state import Room
from zmqchat.broker.store import Store
from zmqchat.common.files import FileEvent
from zmqchat.common.messages import (
    ChatEvent,
    DeleteEvent,
    EditEvent,
    PresenceEvent,
    Ref,
)
from zmqchat.common.moderation import ModerationEvent, TopicEvent
from zmqchat.common.protocol import room_topic

# The events a room's seq numbers.
SequencedEvent = (
    ChatEvent | EditEvent | DeleteEvent | PresenceEvent | TopicEvent | ModerationEvent | FileEvent
)
E = TypeVar("E", bound=SequencedEvent)

_INSERT_EVENT: Final = (
    "INSERT INTO events (room, seq, ts, kind, user, text, data, reason)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# A room_meta row for a room that has none yet (a room older than schema 6).
ENSURE_META: Final = "INSERT OR IGNORE INTO room_meta (room) VALUES (?)"


@dataclasses.dataclass(slots=True, frozen=True)
class Extra:
    """What the store keeps with an event beyond what its subscribers see."""

    sid: int | None = None  # the sending session, with ``ref``: a retry is acked again
    ref: Ref = None
    data: bytes | None = None  # a chat's data, as its sender packed it
    blank: bool = True  # a delete: its chat's text and data go (a file event stays)
    # The session's ticket (derived from its token, so the same on every node): with
    # ``ref``, what an engine shared by nodes recognises a retry by.
    ticket: str | None = None


NO_EXTRA: Final = Extra()


class RoomEvents:
    """Numbers, stores and publishes room events, in the order they are appended."""

    def __init__(self, store: Store, out: Outbox) -> None:
        self.store = store
        self.out = out
        # The request being handled (routing id, ref): an engine that numbers events
        # later refuses it if they can't be stored.
        self.request: tuple[bytes, Ref] | None = None
        # Called with each event but chats an engine shared by nodes applies, other
        # nodes' too (a kick of a member whose session is here); never with one broker.
        self.watchers: list[Callable[[SequencedEvent], object]] = []

    def head(self, room: str) -> int:
        """The last seq ``room`` took (0 for a room without events)."""
        return self.store.room_head(room)

    def read(self, room: str, then: Callable[[], object]) -> None:
        """Call ``then`` once this broker's store holds ``room``'s events up to its
        head (at once here: the store is where they are numbered)."""
        then()

    def append(
        self,
        room: Room,
        make: Callable[[int], E],
        extra: Extra = NO_EXTRA,
        then: Callable[[E], object] | None = None,
    ) -> None:
        """Make ``make(seq)`` the room's next event: store it, then take its seq
        and publish it, then call ``then`` with it.

        The store comes first, so a write that fails changes nothing in memory. In
        a savepoint (:meth:`Store.atomic`), append last, after the request's other
        writes: a write failing after it would leave the room's seq ahead of the
        store."""
        seq = room.seq + 1
        event = make(seq)
        if isinstance(event, ChatEvent | PresenceEvent):
            self.store_event(event, extra)  # one row
        else:
            with self.store.atomic():  # the event's row and what it changes
                self.store_event(event, extra)
        room.seq = seq
        self.out.publish(room_topic(room.name), event)
        if then is not None:
            then(event)

    @property
    def pending(self) -> bool:
        """Whether appended events wait for :meth:`sequence`."""
        return False

    def sequence(self) -> list[tuple[bytes, Ref]]:
        """Number what waits to be numbered (nothing here: every append is numbered at
        once); returns the requests that were refused instead."""
        return []

    def forget(self, room: str) -> bool:
        """Whether ``room`` may be forgotten beyond this broker's store (one broker:
        its store is all there is)."""
        return True

    def after(self, then: Callable[[], object]) -> None:
        """Call ``then`` once every event appended so far is numbered (a reply that
        reports rooms' heads)."""
        then()

    def store_event(self, event: SequencedEvent, extra: Extra = NO_EXTRA) -> None:
        """Keep ``event`` in the store, with what it changes there."""
        store = self.store
        if isinstance(event, ChatEvent):
            data = extra.data
            if data is None and event.data is not None:  # another node's: as it came
                data = msgpack.packb(event.data)
            store.add_chat(event.room, event.seq, event.ts, event.sender, event.text,
                           data, extra.sid or 0, extra.ref)  # fmt: skip
        elif isinstance(event, PresenceEvent):
            store.add_presence(event.room, event.seq, event.ts, event.user, event.event,
                               event.reason)  # fmt: skip
        elif isinstance(event, EditEvent):
            store.add_edit(event.room, event.seq, event.ts, event.sender, event.of, event.text)
        elif isinstance(event, DeleteEvent):
            store.add_delete(event.room, event.seq, event.ts, event.sender, event.of,
                             blank=extra.blank)  # fmt: skip
        elif isinstance(event, TopicEvent):
            db = store.writer()
            db.execute(ENSURE_META, (event.room,))
            db.execute(
                "UPDATE room_meta SET topic = ?, topic_by = ?, topic_ts = ? WHERE room = ?",
                (event.text, event.sender, event.ts, event.room),
            )
            db.execute(_INSERT_EVENT, (event.room, event.seq, event.ts, KIND_TOPIC,
                                       event.sender, event.text, None, None))  # fmt: skip
        elif isinstance(event, ModerationEvent):
            details = {"action": event.action, "user": event.user, "until": event.until}
            data = msgpack.packb({k: v for k, v in details.items() if v is not None})
            store.writer().execute(_INSERT_EVENT, (event.room, event.seq, event.ts,
                                                   KIND_MODERATION, event.sender, None, data,
                                                   event.reason))  # fmt: skip
        else:
            data = msgpack.packb({"id": event.id, "size": event.size, "sha256": event.sha256})
            db = store.writer()
            db.execute(_INSERT_EVENT, (event.room, event.seq, event.ts, KIND_FILE,
                                       event.sender, event.name, data, None))  # fmt: skip
            db.execute(
                "UPDATE files SET done = ?, seq = ? WHERE id = ?", (event.ts, event.seq, event.id)
            )
