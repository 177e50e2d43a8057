"""The client's protocol logic without sockets: refs, pending requests, registering
and resuming, heartbeats, liveness, and gap filling.

A driver (the thread of :class:`zmqchat.Client`, or an asyncio task) feeds
:class:`ClientCore` what arrives - DEALER frames, SUB messages, link up/down from the
socket monitor, the clock - and carries out what it asks for: frames in
``outgoing`` go to the DEALER, ``actions`` change sockets and subscriptions, and
``events`` go to the program. Requests complete through a callback that receives the
reply record or an exception, so a thread-safe or an asyncio future both fit.

The requests waiting for a reply are kept in :mod:`.pending`, the rooms followed (with
their gap fills and subscriptions) in :mod:`.rooms`, and the private messages already
handed over in :mod:`.repeats`; what each reply, event and deadline means is decided
here.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any, Final, Literal

from zmqchat._version import __version__
from zmqchat.client.core.events import ConnectionState, Event, StatusEvent
from zmqchat.client.core.pending import Completion, Pending, PendingRequests
from zmqchat.client.core.repeats import SeenPms
from zmqchat.client.core.rooms import FollowedRooms
from zmqchat.common.codec import decode
from zmqchat.common.files import PrivateFileEvent
from zmqchat.common.messages import (
    Bye,
    ByeReply,
    Closed,
    ErrorReply,
    History,
    HistoryPage,
    Join,
    Joined,
    Leave,
    Left,
    Ping,
    PmEvent,
    Pong,
    Record,
    Register,
    RoomEvent,
    SystemEvent,
    Welcome,
)
from zmqchat.common.moderation import ModerationEvent
from zmqchat.common.parsing import parse_message, unknown_room_event
from zmqchat.common.protocol import (
    DEFAULT_ROOMS,
    MAX_FRAME_BYTES,
    ErrorCode,
)
from zmqchat.errors import BrokerError, ConnectionClosed, ProtocolError, Timeout

log = logging.getLogger("zmqchat.client")

CLIENT_NAME: Final = f"zmqchat-python/{__version__}"
# After (re)registering or joining, ask for the heads soon: a SUB that subscribed a
# moment ago may have missed the first events (the slow-joiner window).
SYNC_PING_DELAY: Final = 0.25
# Until a welcome says otherwise.
DEFAULT_HEARTBEAT: Final = 5.0
DEFAULT_TIMEOUT: Final = 15.0
ActionName = Literal["reset", "sub_connect", "subscribe", "unsubscribe"]
Action = tuple[ActionName, Any]


class ClientCore:
    """One client's connection state machine (sans-IO)."""

    def __init__(
        self,
        user: str,
        *,
        rooms: Iterable[str] = DEFAULT_ROOMS,
        password: str | None = None,
        client_name: str | None = None,
        request_timeout: float = 30.0,
        resume: str | None = None,
    ) -> None:
        self.user = user
        self.password = password
        self.client_name = f"{client_name} ({CLIENT_NAME})" if client_name else CLIENT_NAME
        self.request_timeout = request_timeout
        self.state: ConnectionState = "connecting"
        self.session: str | None = resume
        self._proposed_token = secrets.token_urlsafe(24)
        self.welcome: Welcome | None = None
        self.heartbeat = DEFAULT_HEARTBEAT
        self.timeout = DEFAULT_TIMEOUT
        self.close_reason: str | None = None
        self.close_error: BrokerError | None = None

        self.outgoing: list[bytes] = []
        self.actions: list[Action] = []
        self.events: list[Event] = []

        self._initial_rooms = tuple(r.lower() for r in rooms)
        self._rooms = FollowedRooms(self.actions.append, self._ask_history)
        self._pending = PendingRequests()
        self._seen_pms = SeenPms()
        self._generation = 0
        self._closing = False
        self._last_recv = 0.0
        self._register_sent = 0.0
        self._register_on_link = False
        self._link_up = False  # the DEALER's link, as its monitor last said
        self._next_ping = float("inf")

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

    def next_deadline(self) -> float:
        """The monotonic time at which :meth:`tick` has work to do."""
        deadline = min(self._next_ping, self._pending.next_scan)
        if self.state in ("connecting", "reconnecting"):
            deadline = min(deadline, self._register_sent + max(self.timeout, 1.0))
        elif self.state == "connected":
            deadline = min(deadline, self._last_recv + self.timeout)
        return deadline

    # --------------------------------------------------------------------- inputs

    def start(self, now: float) -> None:
        """Begin registering."""
        self._last_recv = now
        self._register(now, reset=False)

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
        elif self._link_up:
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

    def on_link(self, up: bool, now: float) -> None:
        """The DEALER's TCP link to the broker came up (handshake done) or went down."""
        self._link_up = up
        if not up:
            self._register_on_link = True
            if self.state == "connected":
                self._set_state("reconnecting", "connection lost")
                # Queued now, it reaches the broker as soon as the link is back.
                self._register(now, reset=False)
        elif self._register_on_link and self.state in ("reconnecting", "connecting"):
            self._register_on_link = False
            self._register(now, reset=False)

    def tick(self, now: float) -> None:
        """Run what is due: heartbeats, liveness, request deadlines."""
        if self.state == "connected":
            if now - self._last_recv > self.timeout:
                log.info("no reply from the broker for %.1fs; reconnecting", self.timeout)
                self._set_state("reconnecting", "broker not answering")
                self._register(now, reset=True)
            elif now >= self._next_ping:
                self._ping(now)
        elif self.state in ("connecting", "reconnecting") and now - self._register_sent > max(
            self.timeout, 1.0
        ):
            # No answer on this connection at all: start over on a fresh one.
            self._register(now, reset=True)
        if now >= self._pending.next_scan:
            self._expire_requests(now)

    # ----------------------------------------------------------------- internals

    def _set_state(self, state: ConnectionState, reason: str | None = None) -> None:
        if state != self.state:
            self.state = state
            self.events.append(StatusEvent(state=state, reason=reason))

    def _send(self, pending: Pending) -> None:
        pending.generation = self._generation
        self.outgoing.append(pending.frame)

    def _register(self, now: float, reset: bool) -> None:
        if reset:
            self.outgoing.clear()
            self.actions.append(("reset", None))
            self._register_on_link = False
            self._link_up = False  # a new DEALER: its monitor will say when it is up
        # Until a welcome told us our rooms, ask for the ones we were created with
        # (also when resuming: an unknown token makes this a plain register).
        rooms = tuple(self._rooms) if self.welcome is not None else self._initial_rooms
        request = Register(
            user=self.user,
            rooms=rooms,
            password=self.password,
            # Before any welcome, a token of our own: if the broker registers us and
            # dies before its welcome reaches us, it keeps the session under this
            # token, and the next register resumes it (protocol.md 6.3).
            resume=self.session or self._proposed_token,
            client=self.client_name,
        )
        # No deadline: any welcome is accepted (see on_frame), and a register's errors
        # are handled by _on_error.
        pending = self._pending.make(request, None, float("inf"))
        self._pending.add(pending, now)
        self._send(pending)
        self._register_sent = now

    def _ping(self, now: float) -> None:
        self._next_ping = now + self.heartbeat
        self.submit(Ping(), None, now, timeout=self.timeout)

    def _ask_history(self, request: History, now: float) -> None:
        self.submit(request, None, now, timeout=self.timeout)

    def _expire_requests(self, now: float) -> None:
        for pending in self._pending.expire(now):
            self._gap_fill_failed(pending)
            if isinstance(pending.request, Bye):
                self._finish("closed")
            if pending.done is not None:
                kind = pending.request.TYPE
                pending.done(Timeout(f"no reply to {kind} within the time allowed"))

    def _gap_fill_failed(self, pending: Pending) -> None:
        """A history request of our own got no page: its room may ask again."""
        request = pending.request
        if isinstance(request, History) and pending.done is None and request.room:
            self._rooms.history_failed(request.room)

    # ------------------------------------------------------------------- replies

    def _on_reply(self, pending: Pending, msg: Any, now: float) -> None:
        request = pending.request
        if isinstance(msg, ErrorReply):
            self._on_error(pending, msg, now)
            return
        if isinstance(msg, Welcome):
            self._on_welcome(msg, now)
        elif isinstance(msg, Joined):
            self.events.extend(self._rooms.at_head(msg.room, msg.seq))
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
        self._rooms.connect(msg.pub_port, msg.ticket)
        for name, head in msg.rooms.items():
            self.events.extend(self._rooms.at_head(name, head))
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
        if first:
            log.info("registered as %s", self.user)
        else:
            log.info("%s as %s", "resumed" if resumed else "registered again", self.user)
        self.events.append(StatusEvent(state="connected", resumed=resumed))
        self._rooms.fill_gaps(now)

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
            self._set_state("reconnecting", f"broker closed the session ({msg.reason})")
            if msg.reason == "timeout":
                self._register(now, reset=False)
            else:
                self._register_on_link = True

    def abort(self, reason: str) -> None:
        """The driver can't go on (a socket failed): close for good, failing every
        pending request, so callers get an error instead of waiting."""
        self._finish(reason)

    def _finish(self, reason: str, error: BrokerError | None = None) -> None:
        """Close for good: fail everything pending."""
        if self.state == "closed":
            return
        self.close_reason = reason
        self.state = "closed"
        for p in self._pending.take_all():
            if p.done is not None:
                p.done(ConnectionClosed(reason, error))
        self.outgoing.clear()
        self.events.append(StatusEvent(state="closed", reason=reason, error=error))
