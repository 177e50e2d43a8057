"""Who may read which room: the PUB side's subscriptions, granted one by one.

The broker publishes on an XPUB with ``XPUB_MANUAL``: a subscriber's request
reaches the broker instead of taking effect, and the broker subscribes the
connection that asked (libzmq's "last pipe") to what it may read, or to nothing
(docs/protocol.md, "Subscriptions"; docs/security.md, "Members-only rooms"):

* the broker-wide topic: anyone;
* a room's plain topic (protocol v1) or a bare prefix (``""`` is every topic): only
  while every room it reaches is public and ``auth`` is ``open``;
* a room's topic followed by a session's ticket: if that session is a member (with
  CURVE, and the request came with the session's client key).

libzmq can take a subscription away only from the connection whose request was
read last, so a grant is withdrawn by cutting the connection it was made to (a
``shutdown`` of its TCP socket, looked up by the file descriptor libzmq reports for
each request). The subscriber reconnects by itself within its reconnect interval
and sends all its requests again, which are then granted as things now stand; its
client fills the events it missed from history, as after any drop.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any, Final

import zmq

from zmqchat.broker.outbox import Recheck
from zmqchat.broker.peers import ConnectionWatch, shut_down
from zmqchat.broker.state import BrokerState, Session
from zmqchat.common.protocol import (
    SYSTEM_TOPIC,
    is_room_topic,
    is_topic_prefix,
    parse_subscription,
    room_topic,
)
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")

# Subscription requests read per loop turn: a turn's requests are handled before the
# loop reads the request port again, so a flood of them (an XSUB sends every
# subscription it ever made again on each reconnect) holds chats back at most this
# many. Under make attack's fuzz row a serve of 256 took 0.6 ms at the median and
# 4.5 ms at p99; of 64, 0.26 and 3.
BATCH: Final = 64
# A request is a topic (at most 33 bytes) and a ticket (32): anything much longer is
# no request of ours; the XPUB drops the connection of a peer that sends one. Not
# smaller: the limit also applies to the CURVE handshake's commands (INITIATE is
# about 300 bytes with its metadata).
MAX_REQUEST_BYTES: Final = 1024
_NOBLOCK: Final = int(zmq.NOBLOCK)
_SRCFD: Final = int(zmq.SRCFD)


@dataclasses.dataclass(slots=True)
class Grant:
    """What one request got its connection: ``topic``, on behalf of ``session``
    (None: on nobody's behalf, for a topic anyone may read), which it proved with
    ``ticket`` and, with CURVE, from client ``key``."""

    topic: bytes
    session: Session | None
    ticket: str | None = None
    key: str | None = None


def configure_xpub(xpub: zmq.Socket[Any]) -> None:
    """Make ``xpub`` hand every subscription request to the broker (before binding)."""
    xpub.setsockopt(zmq.XPUB_MANUAL, 1)
    xpub.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)


class Gate:
    """Grants and withdraws the XPUB's subscriptions; :meth:`serve` once per loop
    turn, :meth:`recheck` after each batch."""

    def __init__(
        self,
        xpub: zmq.Socket[Any],
        watch: ConnectionWatch,
        state: BrokerState,
        *,
        valid: Callable[[Session], bool],
        open_auth: bool,
        curve: bool,
        pub_port: int,
        max_grants: int,
    ) -> None:
        self._xpub = xpub
        self._watch = watch
        self._state = state
        self._valid = valid  # whether a session's token still stands (its password)
        self._open = open_auth
        self._curve = curve
        self._pub_port = pub_port
        self._max_grants = max_grants  # per connection: config.max_subscriptions
        self._by_fd: dict[int, dict[bytes, Grant]] = {}  # connection -> request -> grant
        # connection -> topic -> its grants: an unsubscription learns at once whether
        # another grant keeps the topic (a scan of up to max_subscriptions grants,
        # 64 unsubscriptions a serve, took 9 ms).
        self._topics: dict[int, dict[bytes, int]] = {}
        # connection -> the turn its last request was read in (see _forget).
        self._read_turn: dict[int, int] = {}
        self._by_sid: dict[int, set[int]] = {}  # session -> connections it was granted
        self._turn = 0
        # libzmq pairs each request with its connection through a queue that a
        # message which is not a request (an XSUB may send any) puts out of step
        # until the XPUB has been read empty; meanwhile no request is trusted.
        self._unaligned = False
        self._refused = 0
        self._refused_logged = Throttle()
        self._over = 0  # requests refused for max_subscriptions
        self._over_logged = Throttle()

    # ------------------------------------------------------------------ requests

    def serve(self) -> None:
        """Read the subscription requests waiting (a batch) and answer each."""
        self._turn += 1
        self._forget(self._watch.closed())
        recv = self._xpub.recv
        for _ in range(BATCH):
            try:
                frame = recv(_NOBLOCK, copy=False)
            except zmq.Again:
                self._unaligned = False  # read empty: requests and pipes in step
                return
            self._request(frame)

    def _request(self, frame: zmq.Frame) -> None:
        data = frame.bytes
        try:
            fd: int | None = frame.get(_SRCFD)
        except zmq.ZMQError:  # made by libzmq itself: a closed connection's requests
            fd = None
        if fd is not None and fd < 0:
            fd = None
        if not data or data[0] > 1 or frame.more:
            # A message, not a request: nothing a subscriber sends.
            self._unaligned = True
            if fd is not None:
                self._cut(fd, "it sent a message to the PUB side")
            return
        if fd is None:
            return  # the end of a connection already gone: the watch cleans up
        self._read_turn[fd] = self._turn
        if self._unaligned:
            self._cut(fd, "its request came while requests were out of step")
            return
        request = data[1:]
        if data[0] == 1:
            self._subscribe(fd, request, frame)
        else:
            self._unsubscribe(fd, request)

    def _subscribe(self, fd: int, request: bytes, frame: zmq.Frame) -> None:
        grants = self._by_fd.get(fd)
        if grants is not None and request in grants:
            return  # asked again (a client's resend): granted already
        if grants is not None and len(grants) >= self._max_grants:
            self._over += 1
            if self._over_logged.due():
                log.warning(
                    "PUB connection %d holds %d subscriptions (max_subscriptions); "
                    "%d request(s) over it refused so far",
                    fd,
                    len(grants),
                    self._over,
                )
            return
        grant = self._decide(request, frame)
        if grant is None:
            self._refuse(fd, request)
            return
        self._xpub.setsockopt(zmq.SUBSCRIBE, grant.topic)
        log.debug("subscription to %r granted (connection %d)", grant.topic, fd)
        self._by_fd.setdefault(fd, {})[request] = grant
        topics = self._topics.setdefault(fd, {})
        topics[grant.topic] = topics.get(grant.topic, 0) + 1
        if grant.session is not None:
            self._by_sid.setdefault(grant.session.sid, set()).add(fd)

    def _unsubscribe(self, fd: int, request: bytes) -> None:
        grants = self._by_fd.get(fd)
        grant = None if grants is None else grants.pop(request, None)
        if grants is None or grant is None:
            return
        topics = self._topics[fd]
        left = topics[grant.topic] - 1
        if left:
            topics[grant.topic] = left
        else:
            del topics[grant.topic]
            self._xpub.setsockopt(zmq.UNSUBSCRIBE, grant.topic)
        if not grants:
            del self._by_fd[fd]
            del self._topics[fd]

    def _decide(self, request: bytes, frame: zmq.Frame) -> Grant | None:
        topic, ticket = parse_subscription(request)
        if ticket is None:
            grant = Grant(topic, None)
            return grant if self._allowed(grant) else None
        try:
            text = ticket.decode("ascii")
        except UnicodeDecodeError:
            return None
        session = self._state.by_ticket.get(text)
        if session is None:
            return None
        key = None
        if self._curve:
            # A ticket is a bearer proof; with CURVE it must also come from the key
            # the session is bound to (unknown after a restart until it resumes).
            try:
                key = str(frame.get("User-Id"))
            except zmq.ZMQError:
                return None
        grant = Grant(topic, session, text, key)
        return grant if self._allowed(grant) else None

    def _allowed(self, grant: Grant) -> bool:
        """Whether ``grant`` may stand as things are now."""
        topic, session = grant.topic, grant.session
        if topic == SYSTEM_TOPIC:
            return True
        # A topic no room can have is refused: granted, it would grow the XPUB's
        # subscription trie for nothing, and a peer sending thousands of random
        # ones (its SUB replays them all at each reconnection) made that trie's
        # upkeep take up to 8 ms of a loop turn (make attack's fuzz row).
        if not topic.endswith(b"\x00"):  # a bare prefix: every room it reaches
            return (
                session is None
                and self._open
                and is_topic_prefix(topic)
                and not self._reaches_private(topic)
            )
        if not is_room_topic(topic):
            return False
        room = topic[:-1].decode("ascii")
        if session is None:
            return self._open and room not in self._state.private_rooms
        # By the ticket it was granted with: a login that took the session over gave
        # it a new one, and a store failure reloads sessions as new objects.
        current = self._state.by_ticket.get(grant.ticket or "")
        if current is None or room not in current.rooms or not self._valid(current):
            return False
        return not self._curve or (current.curve_key is not None and grant.key == current.curve_key)

    def _reaches_private(self, prefix: bytes) -> bool:
        return any(room_topic(room).startswith(prefix) for room in self._state.private_rooms)

    def _refuse(self, fd: int, request: bytes) -> None:
        self._refused += 1
        topic = parse_subscription(request)[0]
        log.debug("subscription to %r refused (connection %d)", topic, fd)
        if self._refused_logged.due():
            log.info(
                "%d subscription request(s) refused so far (last: %r): not a member, "
                "no valid ticket, or a topic no room can have",
                self._refused,
                topic,
            )

    # ---------------------------------------------------------------- withdrawing

    def recheck(self, what: Recheck) -> None:
        """Cut every connection holding a grant that may no longer stand: of the
        sessions and rooms in ``what``."""
        doomed: set[int] = set()
        for sid in what.sessions:
            for fd in self._by_sid.get(sid, ()):
                grants = self._by_fd.get(fd, {})
                if any(
                    g.session is not None and g.session.sid == sid and not self._allowed(g)
                    for g in grants.values()
                ):
                    doomed.add(fd)
        for room in what.rooms:
            topic = room_topic(room)
            for fd, grants in self._by_fd.items():
                if any(
                    topic.startswith(g.topic) and g.topic != SYSTEM_TOPIC and not self._allowed(g)
                    for g in grants.values()
                ):
                    doomed.add(fd)
        for fd in doomed:
            self._cut(fd, "a grant it held was withdrawn")

    def _cut(self, fd: int, why: str) -> None:
        """End the connection on ``fd`` if it is still one of the XPUB's, and forget
        its grants."""
        self._drop(fd)
        if self._watch.is_open(fd) and shut_down(fd, self._pub_port):
            log.debug("cut subscriber connection %d: %s", fd, why)

    def _drop(self, fd: int) -> None:
        grants = self._by_fd.pop(fd, None)
        self._topics.pop(fd, None)
        if not grants:
            return
        for grant in grants.values():
            if grant.session is not None:
                fds = self._by_sid.get(grant.session.sid)
                if fds is not None:
                    fds.discard(fd)
                    if not fds:
                        del self._by_sid[grant.session.sid]

    def _forget(self, closed: Iterable[int]) -> None:
        """Connections the watch saw end since last turn. Their grants read before
        the last look at the watch belong to the connection that ended. Those read
        since may belong to a new connection that took the same descriptor: that
        one is cut (if it is there), and asks again."""
        last = self._turn - 1
        for fd in closed:
            # Any request read since, granted or not (asked again, over the cap),
            # may be the new connection's: a grant's own turn would miss those.
            recent = self._read_turn.pop(fd, -1) >= last
            grants = self._by_fd.get(fd)
            if grants is None:
                continue
            if recent and self._watch.is_open(fd):
                self._cut(fd, "its descriptor was reused while its requests were read")
            else:
                self._drop(fd)

    def holds(self, fd: int) -> bool:
        """Whether the connection on ``fd`` was granted a subscription."""
        return fd in self._by_fd

    @property
    def connections(self) -> int:
        """Connections holding at least one grant."""
        return len(self._by_fd)

    def close(self) -> None:
        self._watch.close()
        self._by_fd.clear()
        self._topics.clear()
        self._read_turn.clear()
        self._by_sid.clear()
