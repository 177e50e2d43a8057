"""A node's view of rooms' events from Redis: the batches the append script
publishes, turned into each room's events in seq order, with nothing missing and
nothing twice.

Redis pub/sub delivers at most once: a batch published while a node was
subscribing, or while its connection was down, never arrives. So every room's
next seq is tracked, and a batch that starts past it is preceded by the missing
events, read from the room's stream; a batch (or part) already seen is skipped.
A new epoch means Redis lost the room: its seqs start again, and the node is told
(:attr:`Batch.epoch_changed`) so that it can say so to its clients.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Final

import msgpack
import redis

from zmqchat.broker.cluster.roomlog import RoomLog, key, with_seq

REFILL_PAGE: Final = 1000
SUBSCRIBE_TIMEOUT: Final = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Batch:
    """Events of one room, in seq order, starting right after the last one given."""

    room: str
    epoch: str
    first: int
    frames: tuple[bytes, ...]
    epoch_changed: bool = False


@dataclasses.dataclass(slots=True)
class _Room:
    epoch: str | None
    next: int  # the seq of the next event this node gives out for the room


class Feed:
    """Rooms' events for one node: ``subscribe`` to the rooms it serves, then
    ``poll`` for batches."""

    def __init__(self, client: redis.Redis) -> None:
        self.log = RoomLog(client)
        self._client = client
        self._pubsub = client.pubsub()
        self._rooms: dict[str, _Room] = {}
        self._channels: dict[bytes, str] = {}
        self._early: list[Batch] = []  # other rooms' batches, read while subscribing
        self._broken = False  # the subscription was lost and is not back yet
        self.poked = False  # something came on a channel of wake_on's

    def subscribe(self, room: str, after: int | None = None) -> list[Batch]:
        """Start following ``room`` after seq ``after`` (None: from its current head);
        returns the events after ``after`` that are already stored."""
        channel = key(room, "ev")
        self._channels[channel.encode()] = room
        # Subscribed first (Redis confirmed it), then read what is stored: an event
        # published in between arrives both ways, and the second is skipped.
        self._pubsub.subscribe(channel)
        self._until_subscribed(channel.encode())
        epoch, head = self.log.head(room)
        state = _Room(epoch, head + 1 if after is None else after + 1)
        self._rooms[room] = state
        return self._refill(room, state, head + 1)

    def wake_on(self, channel: str) -> None:
        """Return from :meth:`poll` when something is published on ``channel`` too
        (what is published there is not a room's, and is dropped)."""
        self._channels[channel.encode()] = ""  # no room: _on_message gives nothing
        self._pubsub.subscribe(channel)
        self._until_subscribed(channel.encode())

    def lost(self) -> None:
        """Redis failed a call of another connection: this one may have lost
        messages too, though redis-py's pub/sub reconnects (and subscribes again)
        without a word. The next :meth:`poll` subscribes afresh and refills."""
        self._broken = True

    def _reconnect(self) -> list[Batch]:
        """A new subscription to every room, then what each missed meanwhile: all
        that was published while the connection was down is lost to pub/sub."""
        self._broken = True
        self._pubsub.close()
        self._pubsub = self._client.pubsub()
        out: list[Batch] = []
        for channel in self._channels:
            self._pubsub.subscribe(channel)
            self._until_subscribed(channel)
        self._broken = False
        for room, state in self._rooms.items():
            epoch, head = self.log.head(room)
            changed = epoch != state.epoch
            if changed:
                state.epoch, state.next = epoch, 1
            out += self._refill(room, state, head + 1, changed=changed)
        return out

    def unsubscribe(self, room: str) -> None:
        if self._rooms.pop(room, None) is not None:
            channel = key(room, "ev")
            self._channels.pop(channel.encode(), None)
            self._pubsub.unsubscribe(channel)  # type: ignore[no-untyped-call]

    def poll(self, timeout: float = 0.0) -> list[Batch]:
        """The batches that arrived within ``timeout`` seconds, gaps filled. Raises
        :class:`redis.ConnectionError` while Redis can't be reached; the next poll
        tries again."""
        if self._broken:
            return self._reconnect()
        out, self._early = self._early, []
        try:
            message = self._pubsub.get_message(timeout=0.0 if out else timeout)
            while message is not None:
                if message["type"] == "message":
                    out += self._on_message(message)
                message = self._pubsub.get_message(timeout=0.0)
        except redis.ConnectionError:
            out += self._reconnect()  # a Redis that is down raises from here
        return out

    def _until_subscribed(self, channel: bytes) -> None:
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            message = self._pubsub.get_message(timeout=left)
            if message is None:
                continue
            if message["type"] == "message":
                self._early += self._on_message(message)
            elif message["type"] == "subscribe" and message["channel"] == channel:
                return
        raise TimeoutError(f"Redis did not confirm the subscription to {channel!r}")

    def close(self) -> None:
        self._pubsub.close()

    def _on_message(self, message: dict[str, Any]) -> list[Batch]:
        room = self._channels.get(message["channel"])
        if room == "":
            self.poked = True  # a channel of wake_on's
            return []
        state = None if room is None else self._rooms.get(room)
        if room is None or state is None:
            return []  # unsubscribed meanwhile
        raw_epoch, first, frames = msgpack.unpackb(message["data"], raw=True)
        epoch = raw_epoch.decode()
        out: list[Batch] = []
        changed = state.epoch is not None and epoch != state.epoch
        if changed or state.epoch is None:
            state.epoch, state.next = epoch, 1
        if first > state.next:
            out += self._refill(room, state, first, changed=changed)
            changed = False
            state.next = max(state.next, first)  # what the stream no longer has is gone
        skip = state.next - first
        if skip < len(frames):
            fresh = tuple(with_seq(frame, first + i) for i, frame in enumerate(frames) if i >= skip)
            out.append(Batch(room, epoch, state.next, fresh, changed))
            state.next = first + len(frames)
        return out

    def _refill(self, room: str, state: _Room, until: int, *, changed: bool = False) -> list[Batch]:
        """The stored events of ``room`` from ``state.next`` up to (not including)
        ``until``, in pages."""
        out: list[Batch] = []
        while state.next < until:
            page = self.log.read(room, state.next - 1, min(REFILL_PAGE, until - state.next))
            if not page:
                break
            # Past a part the stream no longer has (lost with a Redis that restarted
            # empty, whose new epoch numbers on from a node's floor): what is gone
            # can't be given, what follows can.
            state.next = page[0][0]
            frames = tuple(frame for _, frame in page)
            out.append(Batch(room, state.epoch or "", state.next, frames, changed))
            changed = False
            state.next = page[-1][0] + 1
        return out
