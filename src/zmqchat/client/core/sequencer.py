"""Per-room ordering: deliver every room event once, in sequence order, with gaps
filled from ``history``.

Pure logic. The connection feeds it live events, heads (from ``welcome``, ``joined``
and ``pong``) and history pages; it answers with the events now deliverable and
whether a history fetch is needed (and from which seq).
"""

from __future__ import annotations

import logging

from zmqchat.common.messages import RoomEvent
from zmqchat.common.moderation import UnknownEvent

log = logging.getLogger(__name__)

# What takes a seq: the events a program gets, and those of a type this client does
# not know (a newer broker's), which only fill their place.
Sequenced = RoomEvent | UnknownEvent

# Live events kept while a gap is being filled; past this, new ones are not kept,
# since the gap fill brings them back from history anyway.
MAX_BUFFER = 100_000


class RoomSequencer:
    """Tracks one room: the last delivered seq, the head, and out-of-order events."""

    __slots__ = ("asked", "buffer", "epoch", "fetching", "head", "last", "room")

    def __init__(self, room: str, last: int | None = None) -> None:
        self.room = room
        # None until the broker told us where we start (the `joined` seq); live
        # events that arrive earlier are buffered.
        self.last = last
        self.head = last or 0
        self.buffer: dict[int, Sequenced] = {}
        self.fetching = False
        # The epoch of the numbering `last` belongs to (None: not told): seqs of
        # another epoch are another history's (docs/protocol.md, epochs).
        self.epoch: str | None = None
        # `last` when we last asked for the room's head (a register): a head from
        # that reply may be behind what we delivered since, by events the broker
        # published after it answered, without being another history.
        self.asked: int | None = None

    def start(self, seq: int) -> list[Sequenced]:
        """Set the starting point (our own join's seq); returns deliverable events."""
        self.last = seq
        self.head = max(self.head, seq)
        for stale in [s for s in self.buffer if s <= seq]:
            del self.buffer[stale]
        return self._drain()

    def rebase(self, seq: int) -> None:
        """Start over at ``seq`` (below :attr:`last`, or in another epoch): the
        room's events come from another history now, and nothing buffered or
        fetched belongs to it."""
        self.last = self.head = seq
        self.buffer.clear()
        self.fetching = False

    def on_event(self, event: Sequenced) -> list[Sequenced]:
        """A live event from PUB; returns the events that can now be delivered."""
        seq = event.seq
        self.head = max(self.head, seq)
        if self.last is not None and seq <= self.last:
            return []  # already delivered (e.g. through history)
        if len(self.buffer) >= MAX_BUFFER:
            return []  # the gap fill brings it back from history
        self.buffer[seq] = event
        return self._drain() if self.last is not None else []

    def on_head(self, head: int) -> None:
        """The broker says the room has reached ``head``."""
        self.head = max(self.head, head)

    def fetch_from(self) -> int | None:
        """If events are missing and no fetch is under way, the seq to fetch after."""
        if self.fetching or self.last is None:
            return None
        if self.head > self.last:
            self.fetching = True
            return self.last
        return None

    def on_history(self, events: list[Sequenced], more: bool) -> list[Sequenced]:
        """A page of ``history`` after :meth:`fetch_from`; returns deliverable events."""
        self.fetching = False
        if self.last is None:
            return []
        if events and events[0].seq > self.last + 1:
            # History (asked for everything after `last`) starts later: the store does
            # not have the events in between, so waiting for them would loop forever.
            log.warning(
                "room %s: events %d..%d are not in history",
                self.room,
                self.last + 1,
                events[0].seq - 1,
            )
            for stale in [s for s in self.buffer if s < events[0].seq]:
                del self.buffer[stale]
            self.last = events[0].seq - 1
        for event in events:
            if event.seq > self.last:
                self.buffer[event.seq] = event
                self.head = max(self.head, event.seq)
        out = self._drain()
        if not events and not more and self.buffer:
            # The store has nothing in the hole (it was edited, or the room reset):
            # skip it rather than wait forever.
            first = min(self.buffer)
            log.warning(
                "room %s: events %d..%d are not in history", self.room, self.last + 1, first - 1
            )
            self.last = first - 1
            out += self._drain()
        if not events and not more and self.head > self.last:
            self.head = self.last  # the head we heard of is not in the store
        return out

    def fetch_failed(self) -> None:
        self.fetching = False

    def _drain(self) -> list[Sequenced]:
        out = []
        buffer = self.buffer
        last = self.last
        assert last is not None
        while buffer:
            event = buffer.pop(last + 1, None)
            if event is None:
                break
            out.append(event)
            last += 1
        self.last = last
        return out
