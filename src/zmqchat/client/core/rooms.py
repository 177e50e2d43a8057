"""The rooms a client follows: a sequencer each, and the SUB topics they need.

A room is followed from the moment a join is asked for (so no event after our join
is missed) until we leave it, the join fails, or a welcome no longer lists it. Its
topic is subscribed once the SUB socket is connected, and again whenever a welcome
names another PUB port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from zmqchat.client.core.sequencer import RoomSequencer
from zmqchat.common.messages import RoomEvent
from zmqchat.common.protocol import SYSTEM_TOPIC, room_topic

# What this asks the driver to do with the SUB socket.
SubAction = tuple[Literal["sub_connect", "subscribe", "unsubscribe"], Any]


class FollowedRooms:
    """Room name -> its sequencer, with the subscriptions kept in step."""

    def __init__(self, act: Callable[[SubAction], None]) -> None:
        self._act = act
        self._rooms: dict[str, RoomSequencer] = {}
        self._subscribed: set[bytes] = set()
        self.pub_port: int | None = None  # None: the SUB socket is not connected

    def __iter__(self) -> Iterator[str]:
        return iter(self._rooms)

    def __contains__(self, name: str) -> bool:
        return name in self._rooms

    def get(self, name: str) -> RoomSequencer | None:
        return self._rooms.get(name)

    def sequencers(self) -> list[RoomSequencer]:
        return list(self._rooms.values())

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
