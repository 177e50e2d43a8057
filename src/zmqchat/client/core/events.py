"""What a client hands to the program using it: room events, private messages,
broker notices, and changes of its own connection state; and the bounded buffer
they wait in until the program takes them."""

from __future__ import annotations

import collections
import dataclasses
import logging
from typing import Literal

from zmqchat.common.files import FileEvent, PrivateFileEvent
from zmqchat.common.messages import (
    ChatEvent,
    DeleteEvent,
    EditEvent,
    PmEvent,
    PresenceEvent,
    SystemEvent,
)
from zmqchat.common.moderation import ModerationEvent, TopicEvent
from zmqchat.errors import BrokerError

ConnectionState = Literal["connecting", "connected", "reconnecting", "closed"]


@dataclasses.dataclass(frozen=True, slots=True)
class StatusEvent:
    """The client's connection changed state.

    ``resumed`` is True when a reconnection took over the same session (no rejoin);
    ``reason`` says why it reconnected or closed; ``error`` is the broker's refusal
    when it closed because registering again failed. ``endpoint`` is the ROUTER
    endpoint of the broker node concerned: the one it is connected to, the one it
    lost, or the one it was on when it closed (so a failover shows where it went).
    It is left out of comparisons: two events of the same change are equal
    wherever the client was.
    """

    state: ConnectionState
    reason: str | None = None
    resumed: bool = False
    error: BrokerError | None = None
    endpoint: str | None = dataclasses.field(default=None, compare=False)


Event = (
    ChatEvent
    | PresenceEvent
    | TopicEvent
    | ModerationEvent
    | EditEvent
    | DeleteEvent
    | PmEvent
    | SystemEvent
    | StatusEvent
    | FileEvent
    | PrivateFileEvent
)

log = logging.getLogger("zmqchat.client")


class EventBuffer:
    """The events a client received and its program has not taken yet.

    Bounded by ``maxsize`` (0 or less: unbounded). When full it keeps the newest: the
    oldest undelivered event is dropped and counted in :attr:`dropped`, and the
    first drop and every 1000th are logged, so a program that stops reading loses
    old events instead of memory, and can tell.

    It never waits and is not thread-safe: each client face guards it and adds the
    waiting (a condition for threads, an event on the asyncio loop).
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.dropped = 0
        self.ended = False  # no event will follow the ones buffered
        self._items: collections.deque[Event] = collections.deque()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ready(self) -> bool:
        """True when :meth:`take` has something to say: an event, or the end."""
        return bool(self._items) or self.ended

    def put(self, event: Event) -> None:
        """Add ``event``, dropping the oldest one if the buffer is full."""
        if 0 < self.maxsize <= len(self._items):
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event queue full: %d event(s) dropped", self.dropped)
        self._items.append(event)

    def end(self) -> None:
        """The client has stopped: once the buffered events are taken, the end."""
        self.ended = True

    def take(self) -> Event | None:
        """The oldest event; None when there is none now (see :attr:`ready`)."""
        return self._items.popleft() if self._items else None


__all__ = [
    "ChatEvent",
    "ConnectionState",
    "DeleteEvent",
    "EditEvent",
    "Event",
    "EventBuffer",
    "ModerationEvent",
    "PmEvent",
    "PresenceEvent",
    "StatusEvent",
    "SystemEvent",
    "TopicEvent",
]
