"""The client's protocol logic without sockets: refs, pending requests, registering
and resuming, heartbeats, liveness, and gap filling.

A driver (the thread of :class:`zmqchat.Client`, or an asyncio task) feeds
:class:`ClientCore` what arrives - DEALER frames, SUB messages, link up/down from the
socket monitor, the clock - and carries out what it asks for: frames in
``outgoing`` go to the DEALER, ``actions`` change sockets and subscriptions, and
``events`` go to the program. Requests complete through a callback that receives the
reply record or an exception, so a thread-safe or an asyncio future both fit.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any, Final, Generic, Literal, TypeVar

from zmqchat._version import __version__
from zmqchat.client.core.events import ConnectionState, Event, StatusEvent
from zmqchat.client.core.sequencer import RoomSequencer
from zmqchat.common.codec import decode, encode
from zmqchat.common.messages import (
    Bye,
    ByeReply,
    ChatEvent,
    Closed,
    ErrorReply,
    History,
    HistoryPage,
    Join,
    Joined,
    Left,
    Ping,
    PmEvent,
    Pong,
    PresenceEvent,
    Record,
    Register,
    SystemEvent,
    Welcome,
)
from zmqchat.common.parsing import parse_message
from zmqchat.common.protocol import (
    DEFAULT_ROOMS,
    HISTORY_MAX_LIMIT,
    MAX_FRAME_BYTES,
    SYSTEM_TOPIC,
    ErrorCode,
    room_topic,
    topic_room,
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
# How often pending requests are checked against their deadlines.
SCAN_INTERVAL: Final = 0.1

# Private message ids remembered for dropping a second copy: a copy comes back only
# when its sender retries, which is within its window of requests in flight.
SEEN_PMS: Final = 4096

_K = TypeVar("_K", int, str)

Completion = Callable[[Any], None]


class RecentIds(Generic[_K]):
    """The last ``size`` ids seen, for dropping repeats."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: dict[_K, None] = {}  # insertion-ordered: the oldest first

    def add(self, item: _K) -> bool:
        """Remember ``item``; False if it was already there."""
        if item in self._ids:
            return False
        self._ids[item] = None
        if len(self._ids) > self._size:
            del self._ids[next(iter(self._ids))]
        return True


ActionName = Literal["reset", "sub_connect", "subscribe", "unsubscribe"]
Action = tuple[ActionName, Any]


@dataclasses.dataclass(slots=True)
class _Pending:
    ref: int
    request: Record
    frame: bytes
    deadline: float
    done: Completion | None  # None: the core's own request (ping, gap fill, ...)
    generation: int = -1  # connection generation it was last sent in; -1: not sent


def _by_ref(pending: _Pending) -> int:
    return pending.ref


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
        self.welcome: Welcome | None = None
        self.heartbeat = DEFAULT_HEARTBEAT
        self.timeout = DEFAULT_TIMEOUT
        self.pub_port: int | None = None
        self.close_reason: str | None = None
        self.close_error: BrokerError | None = None

        self.outgoing: list[bytes] = []
        self.actions: list[Action] = []
        self.events: list[Event] = []

        self._initial_rooms = tuple(r.lower() for r in rooms)
        self._rooms: dict[str, RoomSequencer] = {}
        self._subscribed: set[bytes] = set()
        self._pending: dict[int, _Pending] = {}
        # A retried pm is handed over again under its id, or after a crash stored
        # again under a new id with the same key (protocol.md 5.5).
        self._seen_pms: RecentIds[int] = RecentIds(SEEN_PMS)
        self._seen_keys: RecentIds[str] = RecentIds(SEEN_PMS)
        # Refs start at a random point: a client restarted with `resume` takes over a
        # session whose broker remembers the refs of the previous process.
        self._next_ref = secrets.randbits(40)
        self._generation = 0
        self._closing = False
        self._last_recv = 0.0
        self._register_sent = 0.0
        self._register_on_link = False
        self._next_ping = float("inf")
        self._next_scan = float("inf")

    # ----------------------------------------------------------------- properties

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms this client is in (joins still waiting for a reply excluded)."""
        return tuple(name for name, seq in self._rooms.items() if seq.last is not None)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def next_deadline(self) -> float:
        """The monotonic time at which :meth:`tick` has work to do."""
        deadline = min(self._next_ping, self._next_scan)
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
        ref = self._next_ref
        self._next_ref += 1
        wire = request.to_wire()
        wire["ref"] = ref
        frame = encode(wire)
        if len(frame) > MAX_FRAME_BYTES:
            if done is not None:
                done(
                    ProtocolError(
                        ErrorCode.TOO_LONG,
                        f"the request is {len(frame)} bytes; the limit is {MAX_FRAME_BYTES}",
                    )
                )
            return ref
        if self.state == "closed" or self._closing:
            if done is not None:
                done(ConnectionClosed(self.close_reason or "closed", self.close_error))
            return ref
        deadline = now + (self.request_timeout if timeout is None else timeout)
        pending = _Pending(ref, request, frame, deadline, done)
        self._pending[ref] = pending
        self._next_scan = min(self._next_scan, now + SCAN_INTERVAL)
        if isinstance(request, Join) and request.room.lower() not in self._rooms:
            # Subscribe before asking, so events after our join are not missed.
            name = request.room.lower()
            self._rooms[name] = RoomSequencer(name)
            self._subscribe(room_topic(name))
        if self.state == "connected":
            self._send(pending)
        return ref

    def close(self, now: float) -> None:
        """Say ``bye`` (if connected) and close once it is answered."""
        if self.state == "closed" or self._closing:
            return
        if self.state == "connected":
            self.submit(Bye(), None, now, timeout=2.0)
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
        pending = self._pending.pop(ref, None) if isinstance(ref, int) else None
        if pending is not None:
            self._on_reply(pending, msg, now)
        elif isinstance(msg, PmEvent):
            # Both checks run, so each remembers this copy.
            new_id = self._seen_pms.add(msg.id)
            new_key = not isinstance(msg.key, str) or self._seen_keys.add(msg.key)
            if new_id and new_key:
                self.events.append(msg)
        elif isinstance(msg, Closed):
            self._on_closed(msg, now)
        elif isinstance(msg, Welcome):
            # A welcome for a register we stopped waiting for is still our session.
            self._on_welcome(msg, now)
        else:
            log.debug("ignoring %s without a pending request (ref %r)", msg.TYPE, ref)

    def on_publish(self, topic: bytes, body: bytes, now: float) -> None:
        """A message from the SUB socket."""
        try:
            msg = parse_message(decode(body, None))
        except ProtocolError as exc:
            log.warning("ignoring a malformed event: %s", exc.message)
            return
        if isinstance(msg, ChatEvent | PresenceEvent):
            seq = self._rooms.get(msg.room)
            if seq is None or topic_room(topic) != msg.room:
                return
            self.events.extend(seq.on_event(msg))
            self._fetch_gap(seq, now)
        elif isinstance(msg, SystemEvent):
            self.events.append(msg)

    def on_link(self, up: bool, now: float) -> None:
        """The DEALER's TCP link to the broker came up (handshake done) or went down."""
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
        if now >= self._next_scan:
            self._expire_requests(now)

    # ----------------------------------------------------------------- internals

    def _set_state(self, state: ConnectionState, reason: str | None = None) -> None:
        if state != self.state:
            self.state = state
            self.events.append(StatusEvent(state=state, reason=reason))

    def _send(self, pending: _Pending) -> None:
        pending.generation = self._generation
        self.outgoing.append(pending.frame)

    def _subscribe(self, topic: bytes) -> None:
        if topic not in self._subscribed:
            self._subscribed.add(topic)
            if self.pub_port is not None:
                self.actions.append(("subscribe", topic))

    def _unsubscribe(self, topic: bytes) -> None:
        if topic in self._subscribed:
            self._subscribed.discard(topic)
            if self.pub_port is not None:
                self.actions.append(("unsubscribe", topic))

    def _register(self, now: float, reset: bool) -> None:
        if reset:
            self.outgoing.clear()
            self.actions.append(("reset", None))
            self._register_on_link = False
        # Until a welcome told us our rooms, ask for the ones we were created with
        # (also when resuming: an unknown token makes this a plain register).
        rooms = tuple(self._rooms) if self.welcome is not None else self._initial_rooms
        request = Register(
            user=self.user,
            rooms=rooms,
            password=self.password,
            resume=self.session,
            client=self.client_name,
        )
        ref = self._next_ref
        self._next_ref += 1
        wire = request.to_wire()
        wire["ref"] = ref
        # Registers are not held in _pending: any welcome is accepted (see on_frame)
        # and their errors are handled by _on_register_error.
        self._pending[ref] = _Pending(ref, request, encode(wire), float("inf"), None)
        self._pending[ref].generation = self._generation
        self.outgoing.append(self._pending[ref].frame)
        self._register_sent = now

    def _ping(self, now: float) -> None:
        self._next_ping = now + self.heartbeat
        self.submit(Ping(), None, now, timeout=self.timeout)

    def _fetch_gap(self, seq: RoomSequencer, now: float) -> None:
        after = seq.fetch_from()
        if after is not None:
            request = History(room=seq.room, after=after, limit=HISTORY_MAX_LIMIT)
            self.submit(request, None, now, timeout=self.timeout)

    def _expire_requests(self, now: float) -> None:
        expired = [p for p in self._pending.values() if p.deadline <= now]
        for pending in expired:
            del self._pending[pending.ref]
            request = pending.request
            if isinstance(request, History) and pending.done is None and request.room:
                seq = self._rooms.get(request.room)
                if seq is not None:
                    seq.fetch_failed()
            elif isinstance(request, Bye):
                self._finish("closed")
            if pending.done is not None:
                pending.done(Timeout(f"no reply to {request.TYPE} within the time allowed"))
        self._next_scan = now + SCAN_INTERVAL if self._pending else float("inf")

    # ------------------------------------------------------------------- replies

    def _on_reply(self, pending: _Pending, msg: Any, now: float) -> None:
        request = pending.request
        if isinstance(msg, ErrorReply):
            self._on_error(pending, msg, now)
            return
        if isinstance(msg, Welcome):
            self._on_welcome(msg, now)
        elif isinstance(msg, Joined):
            seq = self._rooms.get(msg.room)
            if seq is None:
                seq = self._rooms[msg.room] = RoomSequencer(msg.room)
                self._subscribe(room_topic(msg.room))
            if seq.last is None:
                self.events.extend(seq.start(msg.seq))
            else:
                seq.on_head(msg.seq)
            self._next_ping = min(self._next_ping, now + SYNC_PING_DELAY)
        elif isinstance(msg, Left):
            self._rooms.pop(msg.room, None)
            self._unsubscribe(room_topic(msg.room))
        elif isinstance(msg, Pong):
            for room, head in msg.heads.items():
                seq = self._rooms.get(room)
                if seq is not None:
                    seq.on_head(head)
                    self._fetch_gap(seq, now)
        elif isinstance(msg, HistoryPage) and pending.done is None and msg.room is not None:
            seq = self._rooms.get(msg.room)
            if seq is not None:
                events = [e for e in msg.messages if isinstance(e, ChatEvent | PresenceEvent)]
                self.events.extend(seq.on_history(events, msg.more))
                self._fetch_gap(seq, now)
        elif isinstance(msg, ByeReply) and isinstance(request, Bye):
            self._finish("closed")
        if pending.done is not None:
            pending.done(msg)

    def _on_error(self, pending: _Pending, msg: ErrorReply, now: float) -> None:
        request = pending.request
        code = msg.code
        if code == ErrorCode.NOT_REGISTERED and not isinstance(request, Bye):
            # The broker does not know this connection (it restarted, or expired us):
            # register again and resend this request once we are back. Our own pings
            # and gap fills are simply dropped; the welcome starts new ones.
            if pending.done is not None:
                pending.generation = -1
                self._pending[pending.ref] = pending
            elif isinstance(request, History) and request.room:
                seq = self._rooms.get(request.room)
                if seq is not None:
                    seq.fetch_failed()
            if self.state == "connected":
                self._set_state("reconnecting", "broker restarted")
                self._register(now, reset=False)
            return
        if isinstance(request, Register):
            if code == ErrorCode.ALREADY_REGISTERED:
                return  # an earlier register of ours got through
            error = BrokerError(code, msg.message, msg.ref)
            self.close_error = error
            self._finish(f"registration refused: {code}", error)
            return
        if isinstance(request, Bye):
            self._finish("closed")
            return
        if isinstance(request, Join) and pending.done is not None:
            seq = self._rooms.get(request.room.lower())
            if seq is not None and seq.last is None:
                del self._rooms[seq.room]
                self._unsubscribe(room_topic(seq.room))
        if isinstance(request, History) and pending.done is None and request.room:
            seq = self._rooms.get(request.room)
            if seq is not None:
                seq.fetch_failed()
        if pending.done is not None:
            pending.done(BrokerError(code, msg.message, msg.ref))

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
        if msg.pub_port != self.pub_port:
            self.pub_port = msg.pub_port
            self.actions.append(("sub_connect", msg.pub_port))
            topics = self._subscribed | {SYSTEM_TOPIC}
            self._subscribed = set()
            for topic in sorted(topics):
                self._subscribe(topic)
        for name, head in msg.rooms.items():
            seq = self._rooms.get(name)
            if seq is None:
                self._rooms[name] = RoomSequencer(name, head)
                self._subscribe(room_topic(name))
            elif seq.last is None:
                self.events.extend(seq.start(head))
            else:
                seq.on_head(head)
        joining = {p.request.room for p in self._pending.values() if isinstance(p.request, Join)}
        for name in [n for n in self._rooms if n not in msg.rooms and n not in joining]:
            del self._rooms[name]
            self._unsubscribe(room_topic(name))
        # Drop stale registers; resend everything else not answered on this connection.
        for ref in [r for r, p in self._pending.items() if isinstance(p.request, Register)]:
            del self._pending[ref]
        # In ref order, which is the order they were made: one put back after a
        # not_registered sits last in the table, and resending it there would let
        # later chats overtake it.
        for pending in sorted(self._pending.values(), key=_by_ref):
            if pending.generation != self._generation:
                self._send(pending)
        self._last_recv = now
        self._next_ping = now + SYNC_PING_DELAY
        self.state = "connected"
        if first:
            log.info("registered as %s", self.user)
        else:
            log.info("%s as %s", "resumed" if resumed else "registered again", self.user)
        self.events.append(StatusEvent(state="connected", resumed=resumed))
        for seq in self._rooms.values():
            self._fetch_gap(seq, now)

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
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if p.done is not None:
                p.done(ConnectionClosed(reason, error))
        self.outgoing.clear()
        self.events.append(StatusEvent(state="closed", reason=reason, error=error))
