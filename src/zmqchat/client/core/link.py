"""The half of :class:`~zmqchat.client.core.connection.ClientCore` that keeps a client
registered: which node it is on, registering and re-registering, heartbeats and
liveness, and moving to the next node when the link to one is dead.

:class:`Link` holds the state both halves share (the outputs, the pending requests,
the rooms followed) and everything that depends on the link; the subclass decides
what each request, reply and event means. A link is declared dead when the broker
is silent for its ``timeout``, a register goes unanswered, a broker closes for
``shutdown``, or (with several endpoints) the TCP link drops or the connect is
refused; with one endpoint only the first two count, and the client stays on it
(libzmq reconnects by itself), as before there were several. Where to go next is
:mod:`.failover`'s :class:`~.failover.Rotation`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any, Final, Literal

from zmqchat._version import __version__
from zmqchat.client.core.events import ConnectionState, Event, StatusEvent
from zmqchat.client.core.failover import Rotation
from zmqchat.client.core.pending import Pending, PendingRequests
from zmqchat.client.core.repeats import SeenPms
from zmqchat.client.core.rooms import FollowedRooms
from zmqchat.common.endpoints import DEFAULT_ENDPOINT
from zmqchat.common.messages import Record, Welcome
from zmqchat.common.protocol import DEFAULT_ROOMS
from zmqchat.common.requests import Bye, History, Ping, Register
from zmqchat.errors import BrokerError, ConnectionClosed, Timeout

log = logging.getLogger("zmqchat.client")

CLIENT_NAME: Final = f"zmqchat-python/{__version__}"
# After (re)registering or joining, ask for the heads soon: a SUB that subscribed a
# moment ago may have missed the first events (the slow-joiner window).
SYNC_PING_DELAY: Final = 0.25
# Until a welcome says otherwise.
DEFAULT_HEARTBEAT: Final = 5.0
DEFAULT_TIMEOUT: Final = 15.0
# What the driver is asked to do: "endpoint" (the next "reset" and "sub_connect" go
# to this ROUTER endpoint), "reset" (a fresh DEALER), and the SUB's changes.
ActionName = Literal["endpoint", "reset", "sub_connect", "subscribe", "unsubscribe"]
Action = tuple[ActionName, Any]


class Link:
    """Registering, liveness and failover; the base of ``ClientCore``."""

    def __init__(
        self,
        user: str,
        *,
        rooms: Iterable[str] = DEFAULT_ROOMS,
        password: str | None = None,
        client_name: str | None = None,
        request_timeout: float = 30.0,
        resume: str | None = None,
        endpoints: Iterable[str] = (DEFAULT_ENDPOINT,),
        shuffle_seed: int | None = None,
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

        self._rotation = Rotation(endpoints, seed=shuffle_seed)
        self._initial_rooms = tuple(r.lower() for r in rooms)
        self._rooms = FollowedRooms(self.actions.append, self._ask_history)
        self._pending = PendingRequests()
        self._seen_pms = SeenPms()
        self._generation = 0
        self._closing = False
        self._last_recv = 0.0
        self._register_sent = 0.0
        self._register_on_link = False
        self._next_ping = float("inf")

    # ----------------------------------------------------------------- properties

    @property
    def endpoint(self) -> str:
        """The ROUTER endpoint of the node this client is on (or trying)."""
        return self._rotation.current

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint this client may use, in the order it tries them."""
        return self._rotation.order

    def next_deadline(self) -> float:
        """The monotonic time at which :meth:`tick` has work to do."""
        deadline = min(self._next_ping, self._pending.next_scan)
        if self.state in ("connecting", "reconnecting"):
            deadline = min(deadline, self._attempt_deadline())
        elif self.state == "connected":
            deadline = min(deadline, self._last_recv + self.timeout)
        return deadline

    # --------------------------------------------------------------------- inputs

    def start(self, now: float) -> None:
        """Begin registering (the driver's first DEALER goes to :attr:`endpoint`)."""
        self._last_recv = now
        self._rotation.begin(now)
        self._register(now, reset=False)

    def on_link(self, up: bool, now: float) -> None:
        """The DEALER's TCP link to the broker came up (handshake done) or went down."""
        if up:
            self._rotation.linked(now)
            if self._register_on_link and self.state in ("reconnecting", "connecting"):
                self._register_on_link = False
                self._register(now, reset=False)
            return
        self._rotation.link_up = False
        if self._rotation.several and self.state != "closed" and not self._closing:
            self._move_on(now, "connection lost")
            return
        self._register_on_link = True
        if self.state == "connected":
            self._set_state("reconnecting", "connection lost")
            # Queued now, it reaches the broker as soon as the link is back.
            self._register(now, reset=False)

    def on_connect_retried(self, now: float) -> None:
        """A connect of the DEALER failed (refused, or no route) and libzmq will try
        again: with other nodes to go to, and no back-off to wait out, go now."""
        if self.state in ("connecting", "reconnecting") and self._rotation.refused(now):
            self._move_on(now, "connection refused")

    def tick(self, now: float) -> None:
        """Run what is due: heartbeats, liveness, request deadlines."""
        if self.state == "connected":
            if now - self._last_recv > self.timeout:
                log.info("no reply from %s for %.1fs", self.endpoint, self.timeout)
                self._link_dead(now, "broker not answering")
            elif now >= self._next_ping:
                self._ping(now)
        elif self.state in ("connecting", "reconnecting") and now > self._attempt_deadline():
            # No answer on this connection at all: start over on a fresh one.
            self._link_dead(now, "no answer")
        if now >= self._pending.next_scan:
            self._expire_requests(now)

    def abort(self, reason: str) -> None:
        """The driver can't go on (a socket failed): close for good, failing every
        pending request, so callers get an error instead of waiting."""
        self._finish(reason)

    # ----------------------------------------------------------------- internals

    def _attempt_deadline(self) -> float:
        wait = max(self.timeout, 1.0)
        if self._rotation.several:
            return self._rotation.deadline(wait)
        return self._register_sent + wait

    def _link_dead(self, now: float, reason: str) -> None:
        """Give up on this connection: the next node, or a fresh socket to this one."""
        if self._rotation.several:
            self._move_on(now, reason)
            return
        if self.state == "connected":
            self._set_state("reconnecting", reason)
        self._register(now, reset=True)

    def _move_on(self, now: float, reason: str) -> None:
        """Leave the current node for the next, and register there (resuming)."""
        lost = self.endpoint
        if self.state == "connected":
            self._set_state("reconnecting", reason)
        endpoint = self._rotation.advance(now)
        log.info("%s: %s; trying %s", lost, reason, endpoint)
        self.actions.append(("endpoint", endpoint))
        # The next node's PUB, even on the same port, is another socket's.
        self._rooms.detach()
        self._register(now, reset=True)

    def _set_state(self, state: ConnectionState, reason: str | None = None) -> None:
        if state != self.state:
            self.state = state
            self.events.append(StatusEvent(state=state, reason=reason, endpoint=self.endpoint))

    def _send(self, pending: Pending) -> None:
        pending.generation = self._generation
        self.outgoing.append(pending.frame)

    def _register(self, now: float, reset: bool) -> None:
        if reset:
            self.outgoing.clear()
            self.actions.append(("reset", None))
            self._register_on_link = False
            self._rotation.begin(now)  # a new DEALER: its monitor will say when it is up
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
        # No deadline: any welcome is accepted, and a register's errors are handled
        # with the other replies.
        pending = self._pending.make(request, None, float("inf"))
        self._pending.add(pending, now)
        self._rooms.asking(fresh=reset)
        self._send(pending)
        self._register_sent = now

    def _ping(self, now: float) -> None:
        self._next_ping = now + self.heartbeat
        self._submit_own(Ping(), now)

    def _ask_history(self, request: History, now: float) -> None:
        self._submit_own(request, now)

    def _submit_own(self, request: Record, now: float) -> None:
        """Send a request of the client's own (no one waits for its reply)."""
        raise NotImplementedError

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
        self.events.append(
            StatusEvent(state="closed", reason=reason, error=error, endpoint=self.endpoint)
        )


__all__ = [
    "CLIENT_NAME",
    "DEFAULT_HEARTBEAT",
    "DEFAULT_TIMEOUT",
    "SYNC_PING_DELAY",
    "Action",
    "Link",
]
