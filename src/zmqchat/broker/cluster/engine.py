"""Room events with the Redis engine (issue 17): numbered by Redis, a batch per room
per turn, and applied by every node from its Redis subscription.

Handlers append events exactly as with the SQLite store (:class:`RoomEvents`); here
an append only stages the event, encoded once with a placeholder seq.
:meth:`RedisRoomEvents.sequence`, called when the loop flushes a turn, hands each
room's staged events to one :meth:`RoomLog.append` call, which numbers, stores and
publishes them atomically. A node never publishes its own events directly: it
publishes every event, its own included, when :meth:`RedisRoomEvents.apply` gets it
from its feed, in seq order, after keeping it in the node's own store (its copy of
the history, for ``history`` and ``search``). So every node's subscribers see a
room's events in the same order, whichever node took them.

An event's ``then`` (its ack) runs once this node has applied the event: an ack means
stored in Redis, and a ``history`` or ``edit`` that follows it on the same node
finds the event.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, Final

import msgpack
import redis

from zmqchat.broker.cluster.feed import Batch
from zmqchat.broker.cluster.names import engine_call
from zmqchat.broker.cluster.roomlog import MAX_BATCH, Event, RoomLog
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.room_events import (
    ENSURE_META,
    NO_EXTRA,
    E,
    Extra,
    RoomEvents,
    SequencedEvent,
)
from zmqchat.broker.state import BrokerState, Room
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode_message, encode
from zmqchat.common.messages import ErrorReply, PresenceEvent, Ref
from zmqchat.common.moderation import ModerationEvent
from zmqchat.common.protocol import ErrorCode, room_topic, user_key

log = logging.getLogger("zmqchat.broker")

PLACEHOLDER_SEQ: Final = 2**64 - 1  # see roomlog.seq_slot
# A chat event's keys as nodes encode it (ChatEvent.to_wire): one with others (a
# history's edited or deleted) is decoded as a record.
_CHAT_KEYS: Final = frozenset({"type", "room", "seq", "from", "text", "data", "ts"})
unpackb = functools.partial(msgpack.unpackb, raw=False)
packb = msgpack.packb


@dataclasses.dataclass(slots=True)
class _Staged:
    room: str
    event: Any  # a SequencedEvent with the placeholder seq
    frame: bytes
    retry: str | None
    then: Callable[[Any], object] | None
    request: tuple[bytes, Ref] | None  # (routing id, ref) of the request, to refuse it
    seq: int = 0


@dataclasses.dataclass(slots=True)
class _Catch:
    """What comes after it waits for this node to hold ``room`` up to ``seq``."""

    room: str
    seq: int


@dataclasses.dataclass(slots=True)
class _Waiter:
    """A continuation waiting for this node to have applied ``needs`` (room -> seq)."""

    needs: dict[str, int]
    run: Callable[[], object]


class RedisRoomEvents(RoomEvents):
    """Room events numbered by Redis for a node that shares its rooms with others."""

    def __init__(
        self,
        store: Store,
        out: Outbox,
        state: BrokerState,
        roomlog: RoomLog,
        node: str,
        follow: Callable[[str, int], object] = lambda room, after: None,
    ) -> None:
        """``follow(room, after)``: have the node's feed bring ``room``'s events
        after seq ``after`` to :meth:`apply` (it is called for every room this node
        numbers or reads the head of; calls after the first change nothing)."""
        super().__init__(store, out)
        self.state = state
        self.roomlog = roomlog
        self.node = node
        self.follow = follow
        self._staged: list[_Staged | _Catch | Callable[[], object]] = []
        self._waiting: list[_Waiter] = []
        self.applied: dict[str, int] = {}  # room -> the last seq this node applied

    def head(self, room: str) -> int:
        self._follow(room)
        with engine_call():
            head = self.roomlog.head(room)[1]
        if head > self.applied[room]:
            # The node's copy is behind (a room it had not followed, or was down
            # for): what follows a join or a read (its reply, a history page) waits
            # until the feed brought the room up to here, or a member who joins
            # here would read a history that another node's members already saw
            # grow.
            self._staged.append(_Catch(room, head))
        return max(head, self.applied[room])

    def read(self, room: str, then: Callable[[], object]) -> None:
        if room not in self.applied:
            # Not followed yet: Redis says how far to catch up. A followed room's
            # copy is kept current by the feed, and this node's own acks wait for
            # it, so no round trip to Redis per read.
            self.head(room)
        self.after(then)

    def _follow(self, room: str) -> None:
        if room not in self.applied:
            # What this node holds of the room: its feed brings the rest.
            self.applied[room] = self.store.room_head(room)
            self.follow(room, self.applied[room])

    def append(
        self,
        room: Room,
        make: Callable[[int], E],
        extra: Extra = NO_EXTRA,
        then: Callable[[E], object] | None = None,
    ) -> None:
        self._follow(room.name)
        event = make(PLACEHOLDER_SEQ)
        # A session resumed on another node retries there: its ticket is the same.
        who = extra.ticket or f"{self.node}:{extra.sid}"
        retry = None if extra.ref is None else f"{who}:{extra.ref!r}"
        self._staged.append(_Staged(room.name, event, encode(event), retry, then, self.request))

    def after(self, then: Callable[[], object]) -> None:
        if any(not callable(item) for item in self._staged) or self._waiting:
            self._staged.append(then)
        else:
            then()

    @property
    def pending(self) -> bool:
        return bool(self._staged)

    def sequence(self) -> list[tuple[bytes, Ref]]:
        """Number the staged events in Redis (one call per room); their ``then``s run
        as this node applies them. Returns the requests (routing id, ref) whose
        events Redis did not take: they must be refused, nothing was stored."""
        staged, self._staged = self._staged, []
        rooms: dict[str, list[_Staged]] = {}
        for item in staged:
            if isinstance(item, _Staged):
                rooms.setdefault(item.room, []).append(item)
        failed: list[tuple[bytes, Ref]] = []
        for name, items in rooms.items():
            for at in range(0, len(items), MAX_BATCH):
                chunk = items[at : at + MAX_BATCH]
                try:
                    events = [
                        Event(i.frame, i.retry, not isinstance(i.event, PresenceEvent))
                        for i in chunk
                    ]
                    done = self.roomlog.append(name, events, self.applied.get(name, 0))
                except redis.RedisError as exc:
                    log.error("Redis did not take %d events of %s: %s", len(chunk), name, exc)
                    failed += [i.request for i in chunk if i.request is not None]
                    for item in chunk:
                        item.seq = -1
                    continue
                for item, seq in zip(chunk, done.seqs, strict=True):
                    item.seq = seq
        needs: dict[str, int] = {}
        for item in staged:
            if isinstance(item, _Catch):
                needs[item.room] = max(needs.get(item.room, 0), item.seq)
            elif not isinstance(item, _Staged):
                self._waiting.append(_Waiter(dict(needs), item))
            elif item.seq > 0:
                needs[item.room] = max(needs.get(item.room, 0), item.seq)
                if item.then is not None:
                    # The staged event is this append's own: numbered in place, as
                    # dataclasses.replace took 7 us an event.
                    object.__setattr__(item.event, "seq", item.seq)
                    then = _bind(item.then, item.event)
                    self._waiting.append(_Waiter({item.room: item.seq}, then))
        self._run_ready()
        refused = list(dict.fromkeys(failed))
        for rid, ref in refused:
            self.out.reply(rid, ErrorReply(code=ErrorCode.STORE_UNAVAILABLE, ref=ref,
                                           message="the engine can't store events now; "
                                                   "nothing was stored, try again"))  # fmt: skip
        return refused

    def apply(self, batch: Batch) -> None:
        """Keep and publish a batch of a room's events from the feed (in seq order,
        nothing missing), then run what waited for them."""
        room = self.state.rooms.get(batch.room)
        topic = room_topic(batch.room)
        last = self.applied.get(batch.room, 0)
        add_chat = self.store.add_chat
        if batch.epoch_changed and batch.first <= last:
            # The room started over: it was forgotten (only joins and leaves, nobody
            # in it), so this node forgets its copy too.
            if not self.store.forget_room(batch.room):
                log.error("room %s started over in Redis but holds chats here", batch.room)
            last = batch.first - 1
        for i, frame in enumerate(batch.frames):
            seq = batch.first + i
            if seq <= last:
                continue  # applied already (a refill overlapping the subscription)
            # A node wrote the frame, after checking what it holds: a chat, the bulk
            # of them, is unpacked and kept as is (a record and its checks cost 10 us
            # of the 25 an event took here; nothing watches chats).
            wire = unpackb(frame)
            if wire["type"] == "chat" and wire.keys() <= _CHAT_KEYS:
                data = wire.get("data")
                add_chat(batch.room, seq, wire["ts"], wire["from"], wire["text"],
                         None if data is None else packb(data), 0, None)  # fmt: skip
            else:
                event: Any = decode_message(frame)
                self.store_event(event)
                for watcher in self.watchers:
                    watcher(event)
            self.out.publishes.append((topic, frame))
            last = seq
        self.applied[batch.room] = last
        if room is not None and room.seq < last:
            room.seq = last
        self._run_ready()

    def forget(self, room: str) -> bool:
        with engine_call():
            if not self.roomlog.forget(room):
                return False  # a member on another node, or something worth keeping
        self.applied[room] = 0
        return True

    def store_event(self, event: SequencedEvent, extra: Extra = NO_EXTRA) -> None:
        with self.store.atomic():
            super().store_event(event, extra)
            _replicate(self.store.writer(), event)

    def _run_ready(self) -> None:
        if not self._waiting:
            return
        applied = self.applied
        ready: list[_Waiter] = []
        waiting: list[_Waiter] = []
        # Every waiter is checked on every apply and every turn: a loop, where a
        # generator in all() took 1.9 us a waiter against 0.5.
        for waiter in self._waiting:
            for room, seq in waiter.needs.items():
                if applied.get(room, 0) < seq:
                    waiting.append(waiter)
                    break
            else:
                ready.append(waiter)
        if ready:
            self._waiting = waiting
            for waiter in ready:
                waiter.run()


def _bind(then: Callable[[Any], object], event: Any) -> Callable[[], object]:
    return lambda: then(event)


def _replicate(db: sqlite3.Connection, event: SequencedEvent) -> None:
    """What an event changes beyond its row, as every node's store must hold it
    (the node that took the event made the same writes already: these are
    idempotent): a room's creator, its operators, bans and lock."""
    room = event.room
    if isinstance(event, PresenceEvent):
        if event.event == "join" and db.execute(_HAS_META, (room,)).fetchone() is None:
            key = user_key(event.user)  # the first join: the room's creator and operator
            db.execute(_CREATED, (room, key, event.ts))
            db.execute(_OP, (room, key))
        return
    if not isinstance(event, ModerationEvent):
        return
    key = user_key(event.user) if event.user else ""
    if event.action == "op":
        db.execute(_OP, (room, key))
    elif event.action in ("deop", "ban"):
        db.execute("DELETE FROM room_ops WHERE room = ? AND user = ?", (room, key))
        if event.action == "ban":
            db.execute(
                "INSERT OR REPLACE INTO bans (room, user, account, until) VALUES (?, ?, NULL, ?)",
                (room, key, event.until),
            )
    elif event.action == "unban":
        db.execute("DELETE FROM bans WHERE room = ? AND user = ?", (room, key))
    elif event.action in ("lock", "unlock"):
        db.execute(ENSURE_META, (room,))
        db.execute("UPDATE room_meta SET locked = ? WHERE room = ?",
                   (int(event.action == "lock"), room))  # fmt: skip


_HAS_META: Final = "SELECT 1 FROM room_meta WHERE room = ?"
_CREATED: Final = "INSERT OR IGNORE INTO room_meta (room, creator, created) VALUES (?, ?, ?)"
_OP: Final = "INSERT OR IGNORE INTO room_ops (room, user) VALUES (?, ?)"
