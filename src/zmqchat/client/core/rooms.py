"""The rooms a client follows: a sequencer each, the history requests that fill
their gaps, and the SUB topics they need.

A room is followed from the moment a join is asked for until we leave it, the join
fails, or a welcome no longer lists it. Its topic is asked for once the broker has
put us in the room (a ``joined``, or a welcome that lists it), with the session's
ticket, since the broker grants members-only rooms only to members; and asked for
again at every welcome, which may come from a restarted broker or name another PUB
port. Whenever a room learns of events it is missing (from a live event, a head, a
history page: also those published before our subscription was granted), it asks
for them with a ``history`` request. An event of a type this client does not know
(:class:`~zmqchat.common.messages.UnknownEvent`) takes its seq like any other, so
the gap it would leave is never asked for again, and is not handed on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, Literal

from zmqchat.client.core.sequencer import RoomSequencer, Sequenced
from zmqchat.common.messages import HistoryPage, RoomEvent
from zmqchat.common.moderation import UnknownEvent
from zmqchat.common.protocol import (
    HISTORY_MAX_LIMIT,
    SYSTEM_TOPIC,
    room_topic,
    subscription,
    topic_room,
)
from zmqchat.common.requests import History

log = logging.getLogger(__name__)

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
        self._topics: set[bytes] = {SYSTEM_TOPIC}  # what we want to read
        self._sent: dict[bytes, bytes] = {}  # topic -> the request the socket holds
        self._ticket: str | None = None
        # The broker's max_subscriptions (welcome.limits): past it, it refuses our
        # requests without a word. Warned of once a connection.
        self._limit: int | None = None
        self._warned = False
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
        return seq

    def unfollow(self, name: str) -> None:
        self._rooms.pop(name, None)
        topic = room_topic(name)
        self._topics.discard(topic)
        self._unsubscribe(topic)

    def withdraw(self, name: str) -> None:
        """We are asking to leave ``name``: stop reading it (see :meth:`restore`)."""
        topic = room_topic(name)
        if topic in self._topics:
            self._unsubscribe(topic)

    def restore(self, name: str) -> None:
        """A leave of ``name`` failed: read it again if we still follow it."""
        topic = room_topic(name)
        if topic in self._topics:
            self._subscribe(topic)

    def at_head(self, name: str, head: int, epoch: str | None = None) -> list[RoomEvent]:
        """The broker says ``name``'s last event is ``head`` (a ``joined`` or a
        welcome), in the numbering ``epoch`` (None: not said): a room new or waiting
        for its join starts there; the events now deliverable are returned."""
        seq = self._rooms.get(name) or self.follow(name)
        known, seq.epoch = seq.epoch, epoch or seq.epoch
        asked, seq.asked = seq.asked, None
        if seq.last is None:
            topic = room_topic(name)
            self._topics.add(topic)
            self._subscribe(topic)
            return _known(seq.start(head))
        if epoch is not None and known is not None and epoch != known:
            # Another numbering (the engine lost the room, or it is another store):
            # its seqs say nothing of what we had, neither duplicates nor gaps.
            log.warning("room %s: its numbering started over (epoch %s, was %s); "
                        "following it from seq %d", name, epoch, known, head)  # fmt: skip
            seq.rebase(head)
            return []
        if head < seq.last and asked is not None and head >= asked:
            # Our SUB, still subscribed, brought events the broker published after
            # it answered (a resume: its reply and the events race on two sockets).
            return []
        if head < seq.last:
            # Behind what we delivered: not the history we followed (another node
            # with a store of its own, or a store that was reset). Go on from there.
            log.warning("room %s: the broker is at seq %d, before our %d", name, head, seq.last)
            seq.rebase(head)
            return []
        seq.on_head(head)
        return []

    def asking(self, fresh: bool) -> None:
        """A register is sent: the heads its welcome gives are of this moment or
        later. Any welcome is taken, also one to an earlier register on the same
        socket, so the earliest unanswered moment stands unless the socket is new
        (``fresh``: an older register's welcome can't come any more)."""
        for seq in self._rooms.values():
            if fresh or seq.asked is None:
                seq.asked = seq.last

    def on_event(self, topic: bytes, event: Sequenced, now: float) -> list[RoomEvent]:
        """A live event; returns the events now deliverable."""
        seq = self._rooms.get(event.room)
        if seq is None or topic_room(topic) != event.room:
            return []
        events = seq.on_event(event)
        self.fill_gap(seq, now)
        return _known(events)

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
        events = [e for e in page.messages if isinstance(e, RoomEvent | UnknownEvent)]
        delivered = seq.on_history(events, page.more)
        self.fill_gap(seq, now)
        return _known(delivered)

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

    def detach(self) -> None:
        """The client moves to another broker node: the next welcome's PUB gets a
        socket of its own, even on the same port number."""
        self.pub_port = None
        self._sent.clear()

    def connect(self, pub_port: int, ticket: str | None, limit: int | None = None) -> None:
        """A welcome: the broker publishes on ``pub_port`` (the SUB socket is
        (re)connected there if that is new) and ``ticket`` proves our requests are
        ours. Every topic is asked for again, broker notices included: a restarted
        broker may have refused what the socket sent it on reconnecting before this
        session was back."""
        if pub_port != self.pub_port:
            self.pub_port = pub_port
            self._act(("sub_connect", pub_port))
            self._sent.clear()  # a new socket holds nothing
        for topic in sorted(self._sent):
            self._unsubscribe(topic)
        self._ticket = ticket
        self._limit, self._warned = limit, False
        for topic in sorted(self._topics):
            self._subscribe(topic)

    def _subscribe(self, topic: bytes) -> None:
        if topic not in self._sent and self.pub_port is not None:
            request = self._sent[topic] = subscription(topic, self._ticket)
            self._act(("subscribe", request))
            if self._limit is not None and len(self._sent) > self._limit and not self._warned:
                self._warned = True
                log.warning(
                    "in %d rooms, but the broker grants one connection at most %d "
                    "subscriptions (its max_subscriptions): events of the rooms past "
                    "it will not arrive",
                    len(self._sent) - 1,  # the broker-wide topic is one of them
                    self._limit,
                )

    def _unsubscribe(self, topic: bytes) -> None:
        request = self._sent.pop(topic, None)
        if request is not None:
            self._act(("unsubscribe", request))


def _known(events: list[Sequenced]) -> list[RoomEvent]:
    """What a program gets of ``events``: those of a type this client knows."""
    return [event for event in events if not isinstance(event, UnknownEvent)]
