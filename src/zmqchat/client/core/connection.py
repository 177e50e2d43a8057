"""The client's protocol logic without sockets: what each request, reply and event
means to a client.

A driver (the thread of :class:`zmqchat.Client`, or an asyncio task) feeds
:class:`ClientCore` what arrives - DEALER frames, SUB messages, link changes from the
socket monitor, the clock - and carries out what it asks for: frames in
``outgoing`` go to the DEALER, ``actions`` change sockets and subscriptions, and
``events`` go to the program. Requests complete through a callback that receives the
reply record or an exception, so a thread-safe or an asyncio future both fit.

Staying registered - which node, registering, heartbeats, liveness, failover - is
the base class's, :class:`~.link.Link`. The requests waiting for a reply are kept in
:mod:`.pending`, the rooms followed (with their gap fills and subscriptions) in
:mod:`.rooms`, and the private messages already handed over in :mod:`.repeats`.
"""

from __future__ import annotations

import logging
from typing import Any

from zmqchat.client.core.events import StatusEvent
from zmqchat.client.core.link import (
    CLIENT_NAME,
    DEFAULT_HEARTBEAT,
    DEFAULT_TIMEOUT,
    SYNC_PING_DELAY,
    Action,
    Link,
)
from zmqchat.client.core.pending import Completion, Pending
from zmqchat.common.codec import decode
from zmqchat.common.endpoints import check_endpoint
from zmqchat.common.files import PrivateFileEvent
from zmqchat.common.messages import (
    ByeReply,
    Closed,
    ErrorReply,
    HistoryPage,
    Joined,
    Left,
    PmEvent,
    Pong,
    Record,
    RoomEvent,
    SystemEvent,
    Welcome,
)
from zmqchat.common.moderation import ModerationEvent
from zmqchat.common.parsing import parse_message, unknown_room_event
from zmqchat.common.protocol import MAX_FRAME_BYTES, ErrorCode
from zmqchat.common.requests import Bye, Join, Leave, Register
from zmqchat.errors import BrokerError, ConnectionClosed, ProtocolError, UsageError

log = logging.getLogger("zmqchat.client")


class ClientCore(Link):
    """One client's connection state machine (sans-IO)."""

    # ----------------------------------------------------------------- properties

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms this client is in (joins still waiting for a reply excluded)."""
        return self._rooms.joined

    @property
    def pub_port(self) -> int | None:
        """The broker's PUB port, once a welcome said it."""
        return self._rooms.pub_port

    @property
    def pending(self) -> int:
        return len(self._pending)

    # --------------------------------------------------------------------- inputs

    def submit(
        self, request: Record, done: Completion | None, now: float, timeout: float | None = None
    ) -> int:
        """Queue a request; ``done`` is later called with its reply or an exception."""
        deadline = now + (self.request_timeout if timeout is None else timeout)
        pending = self._pending.make(request, done, deadline)
        size = len(pending.frame)
        if size > MAX_FRAME_BYTES:
            if done is not None:
                done(
                    ProtocolError(
                        ErrorCode.TOO_LONG,
                        f"the request is {size} bytes; the limit is {MAX_FRAME_BYTES}",
                    )
                )
            return pending.ref
        if self.state == "closed" or self._closing:
            if done is not None:
                done(ConnectionClosed(self.close_reason or "closed", self.close_error))
            return pending.ref
        self._pending.add(pending, now)
        if isinstance(request, Join) and request.room.lower() not in self._rooms:
            # Events from our join on are ours; the topic is asked for once joined.
            self._rooms.follow(request.room.lower())
        elif isinstance(request, Leave):
            # Withdrawn first: the broker cuts a subscriber's connection (all its
            # rooms for a moment) that still holds a room its session left.
            self._rooms.withdraw(request.room.lower())
        if self.state == "connected":
            self._send(pending)
        return pending.ref

    def close(self, now: float) -> None:
        """Say ``bye`` (if connected) and close once it is answered."""
        if self.state == "closed" or self._closing:
            return
        if self.state == "connected":
            self.submit(Bye(), None, now, timeout=2.0)
            self._closing = True
        elif self._rotation.link_up:
            # A register is on its way over a live link: the broker may be giving us
            # the name right now. A bye behind it on the same connection frees it
            # at once, instead of when the session times out.
            pending = self._pending.make(Bye(), None, now + 2.0)
            self._pending.add(pending, now)
            self._send(pending)
            # It rides behind the register, so it belongs to the generation that
            # register's welcome opens: the welcome must not send it again.
            pending.generation = self._generation + 1
            self._closing = True
        else:
            self._closing = True
            self._finish("closed")

    def on_frame(self, frame: bytes, now: float) -> None:
        """A frame from the DEALER."""
        self._last_recv = now
        try:
            raw = decode(frame, None)
            msg = parse_message(raw)
        except ProtocolError as exc:
            log.warning("ignoring a malformed frame from the broker: %s", exc.message)
            return
        ref = raw.get("ref")
        pending = self._pending.pop(ref)
        if pending is not None:
            self._on_reply(pending, msg, now)
        elif isinstance(msg, PmEvent):
            if self._seen_pms.first(msg):
                self.events.append(msg)
        elif isinstance(msg, PrivateFileEvent):
            self.events.append(msg)
        elif isinstance(msg, Closed):
            self._on_closed(msg, now)
        elif isinstance(msg, ModerationEvent):
            self._on_removed(msg)
        elif isinstance(msg, Welcome):
            # A welcome for a register we stopped waiting for is still our session.
            self._on_welcome(msg, now)
        else:
            log.debug("ignoring %s without a pending request (ref %r)", msg.TYPE, ref)

    def on_publish(self, topic: bytes, body: bytes, now: float) -> None:
        """A message from the SUB socket."""
        try:
            raw = decode(body, None)
            unknown = unknown_room_event(raw)
            msg = unknown or parse_message(raw)
        except ProtocolError as exc:
            log.warning("ignoring a malformed event: %s", exc.message)
            return
        if unknown is not None:
            # A newer broker's kind of event: it takes its seq, so gap filling does
            # not ask for it again and again.
            log.debug("room %s: seq %d is a %r event", unknown.room, unknown.seq, unknown.type)
            self.events.extend(self._rooms.on_event(topic, unknown, now))
            return
        if isinstance(msg, RoomEvent):
            self.events.extend(self._rooms.on_event(topic, msg, now))
        elif isinstance(msg, SystemEvent):
            self.events.append(msg)

    def _submit_own(self, request: Record, now: float) -> None:
        self.submit(request, None, now, timeout=self.timeout)

    # ------------------------------------------------------------------- replies

    def _on_reply(self, pending: Pending, msg: Any, now: float) -> None:
        request = pending.request
        if isinstance(msg, ErrorReply):
            self._on_error(pending, msg, now)
            return
        if isinstance(msg, Welcome):
            self._on_welcome(msg, now)
        elif isinstance(msg, Joined):
            epoch = msg.epoch if isinstance(msg.epoch, str) else None
            self.events.extend(self._rooms.at_head(msg.room, msg.seq, epoch))
            self._next_ping = min(self._next_ping, now + SYNC_PING_DELAY)
        elif isinstance(msg, Left):
            self._rooms.unfollow(msg.room)
        elif isinstance(msg, Pong):
            self._rooms.on_heads(msg.heads, now)
        elif isinstance(msg, HistoryPage) and pending.done is None:
            self.events.extend(self._rooms.on_history(msg, now))
        elif isinstance(msg, ByeReply) and isinstance(request, Bye):
            self._finish("closed")
        if pending.done is not None:
            pending.done(msg)

    def _on_error(self, pending: Pending, msg: ErrorReply, now: float) -> None:
        request = pending.request
        code = msg.code
        if code == ErrorCode.NOT_REGISTERED and not isinstance(request, Bye):
            # The broker does not know this connection (it restarted, or expired us):
            # register again and resend this request once we are back. Our own pings
            # and gap fills are simply dropped; the welcome starts new ones.
            if pending.done is not None:
                self._pending.put_back(pending)
            else:
                self._gap_fill_failed(pending)
            if self.state == "connected":
                self._set_state("reconnecting", "broker restarted")
                self._register(now, reset=False)
            return
        if isinstance(request, Register):
            if code == ErrorCode.ALREADY_REGISTERED:
                return  # an earlier register of ours got through
            error = BrokerError(code, msg.message, msg.ref, retry_after=msg.retry_after)
            self.close_error = error
            self._finish(f"registration refused: {code}", error)
            return
        if isinstance(request, Bye):
            self._finish("closed")
            return
        if isinstance(request, Join) and pending.done is not None:
            seq = self._rooms.get(request.room.lower())
            if seq is not None and seq.last is None:
                self._rooms.unfollow(seq.room)
        elif isinstance(request, Leave):
            self._rooms.restore(request.room.lower())  # still in it, as far as we know
        self._gap_fill_failed(pending)
        if pending.done is not None:
            pending.done(BrokerError(code, msg.message, msg.ref, retry_after=msg.retry_after))

    def _on_welcome(self, msg: Welcome, now: float) -> None:
        if self.state == "connected" and msg.session == self.session:
            return  # a duplicate from an earlier register of ours
        resumed = self.session is not None and msg.session == self.session
        first = self.welcome is None
        self.welcome = msg
        self.session = msg.session
        self.user = msg.user
        self.heartbeat = float(msg.heartbeat)
        self.timeout = float(msg.timeout)
        self._generation += 1
        self._register_on_link = False
        self._rotation.welcomed()
        self._learn_nodes(msg.nodes)
        limit = msg.limits.get("subscriptions")
        self._rooms.connect(msg.pub_port, msg.ticket, limit if isinstance(limit, int) else None)
        for name, head in msg.rooms.items():
            self.events.extend(self._rooms.at_head(name, head, room_epoch(msg, name)))
        joining = self._pending.joining()
        for name in [n for n in self._rooms if n not in msg.rooms and n not in joining]:
            self._rooms.unfollow(name)
        # Registers are answered now; everything else not sent on this connection
        # goes again.
        for pending in self._pending.resend(self._generation):
            self._send(pending)
        self._last_recv = now
        self._next_ping = now + SYNC_PING_DELAY
        self.state = "connected"
        how = "registered" if first else "resumed" if resumed else "registered again"
        log.info("%s as %s at %s", how, self.user, self.endpoint)
        self.events.append(StatusEvent(state="connected", resumed=resumed, endpoint=self.endpoint))
        self._rooms.fill_gaps(now)

    def _learn_nodes(self, nodes: object) -> None:
        """A welcome's ``nodes``: the live nodes join our failover order."""
        if not isinstance(nodes, tuple | list):
            return
        valid = []
        for node in nodes:
            try:
                valid.append(check_endpoint(node))
            except UsageError:
                log.warning("ignoring a node the broker named: %.80r", node)
        added = self._rotation.add(valid)
        if added:
            log.info("the broker named other nodes: %s", ", ".join(added))

    def _on_removed(self, event: ModerationEvent) -> None:
        """An operator kicked or banned us from a room (the broker says so over
        ROUTER, since our subscription to the room may end before the event reaches
        it): stop following the room, and hand the event on unless the room's own
        stream already did."""
        removed = event.removes
        if removed is None or removed.lower() != self.user.lower():
            return
        seq = self._rooms.get(event.room)
        if seq is None:
            return  # not a room we follow (left meanwhile)
        if seq.last is None or seq.last < event.seq:
            self.events.append(event)
        self._rooms.unfollow(event.room)

    def _on_closed(self, msg: Closed, now: float) -> None:
        if msg.reason == "replaced":
            self._finish("replaced by another connection of the same session")
        elif self.state == "connected":
            reason = f"broker closed the session ({msg.reason})"
            if msg.reason == "timeout":
                # The node is alive and only forgot a silent session: register there.
                self._set_state("reconnecting", reason)
                self._register(now, reset=False)
            elif self._rotation.several:
                self._move_on(now, reason)  # a node shutting down: go to another
            else:
                self._set_state("reconnecting", reason)
                self._register_on_link = True  # the same broker, once it is back


def room_epoch(welcome: Welcome, room: str) -> str | None:
    """The epoch of ``room`` a welcome gives: its own in ``epochs`` (a shared
    engine numbers each room apart: a room missing there has none said), else the
    engine's ``epoch``."""
    epochs: object = welcome.epochs
    if epochs is None:
        epoch: object = welcome.epoch
    else:
        epoch = epochs.get(room) if isinstance(epochs, dict) else None
    return epoch if isinstance(epoch, str) else None


__all__ = [
    "CLIENT_NAME",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_TIMEOUT",
    "SYNC_PING_DELAY",
    "Action",
    "ClientCore",
]
