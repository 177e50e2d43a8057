"""The rooms a client follows: a sequencer each, the history requests that fill
their gaps, and the SUB topics they need.

A room is followed from the moment a join is asked for (so no event after our join
is missed) until we leave it, the join fails, or a welcome no longer lists it. Its
topic is subscribed once the SUB socket is connected, and again whenever a welcome
names another PUB port. Whenever a room learns of events it is missing (from a live
event, a head, a history page), it asks for them with a ``history`` request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from zmqchat.client.core.sequencer import RoomSequencer
from zmqchat.common.messages import ChatEvent, History, HistoryPage, PresenceEvent, RoomEvent
from zmqchat.common.protocol import HISTORY_MAX_LIMIT, SYSTEM_TOPIC, room_topic, topic_room

# What this asks the driver to do with the SUB socket.
SubAction = tuple[Literal["sub_connect", "subscribe", "unsubscribe"], Any]


class FollowedRooms:
    """Room name -> its sequencer, with its gaps asked for and its subscription kept
    in step."""

    def __init__(
        self, act: Callable[[SubAction], None], ask: Callable[[History, float], None]
    ) -> None:
        """``act``: hand an action to the driver; ``ask(request, now)``: send one of
        our own history requests (its page comes back to :meth:`on_history`)."""
        self._act = act
        self._ask = ask
        self._rooms: dict[str, RoomSequencer] = {}
        self._subscribed: set[bytes] = set()
        self.pub_port: int | None = None  # None: the SUB socket is not connected

    def __iter__(self) -> Iterator[str]:
        return iter(self._rooms)

    def __contains__(self, name: str) -> bool:
        return name in self._rooms

    def get(self, name: str) -> RoomSequencer | None:
        return self._rooms.get(name)

    @property
    def joined(self) -> tuple[str, ...]:
        """The rooms the broker has put us in (joins still waiting excluded)."""
        return tuple(name for name, seq in self._rooms.items() if seq.last is not None)

    def follow(self, name: str) -> RoomSequencer:
        """Start following ``name``, whose events wait for its starting point."""
        seq = self._rooms[name] = RoomSequencer(name)
        self._subscribe(room_topic(name))
        return seq

    def unfollow(self, name: str) -> None:
        self._rooms.pop(name, None)
        self._unsubscribe(room_topic(name))

    def at_head(self, name: str, head: int) -> list[RoomEvent]:
        """The broker says ``name``'s last event is ``head`` (a ``joined`` or a
        welcome): a room new or waiting for its join starts there; the events now
        deliverable are returned."""
        seq = self._rooms.get(name) or self.follow(name)
        if seq.last is None:
            return seq.start(head)
        seq.on_head(head)
        return []

    def on_event(
        self, topic: bytes, event: ChatEvent | PresenceEvent, now: float
    ) -> list[RoomEvent]:
        """A live event; returns the events now deliverable."""
        seq = self._rooms.get(event.room)
        if seq is None or topic_room(topic) != event.room:
            return []
        events = seq.on_event(event)
        self.fill_gap(seq, now)
        return events

    def on_heads(self, heads: dict[str, int], now: float) -> None:
        """A ``pong``: where each of our rooms is now."""
        for room, head in heads.items():
            seq = self._rooms.get(room)
            if seq is not None:
                seq.on_head(head)
                self.fill_gap(seq, now)

    def on_history(self, page: HistoryPage, now: float) -> list[RoomEvent]:
        """A page one of our own history requests asked for."""
        seq = self._rooms.get(page.room) if page.room is not None else None
        if seq is None:
            return []
        events = [e for e in page.messages if isinstance(e, ChatEvent | PresenceEvent)]
        delivered = seq.on_history(events, page.more)
        self.fill_gap(seq, now)
        return delivered

    def history_failed(self, room: str) -> None:
        """One of our own history requests got no page: the room may ask again."""
        seq = self._rooms.get(room)
        if seq is not None:
            seq.fetch_failed()

    def fill_gap(self, seq: RoomSequencer, now: float) -> None:
        after = seq.fetch_from()
        if after is not None:
            self._ask(History(room=seq.room, after=after, limit=HISTORY_MAX_LIMIT), now)

    def fill_gaps(self, now: float) -> None:
        for seq in list(self._rooms.values()):
            self.fill_gap(seq, now)

    def connect(self, pub_port: int) -> None:
        """The broker publishes on ``pub_port``: (re)connect the SUB socket there and
        subscribe every topic again, broker notices included."""
        if pub_port == self.pub_port:
            return
        self.pub_port = pub_port
        self._act(("sub_connect", pub_port))
        topics = self._subscribed | {SYSTEM_TOPIC}
        self._subscribed = set()
        for topic in sorted(topics):
            self._subscribe(topic)

    def _subscribe(self, topic: bytes) -> None:
        if topic not in self._subscribed:
            self._subscribed.add(topic)
            if self.pub_port is not None:
                self._act(("subscribe", topic))

    def _unsubscribe(self, topic: bytes) -> None:
        if topic in self._subscribed:
            self._subscribed.discard(topic)
            if self.pub_port is not None:
                self._act(("unsubscribe", topic))
