"""Request handling: (state, routing id, frame) -> replies, publishes and store writes.

No sockets here. :class:`BrokerCore` validates each frame with the shared protocol
module and runs sessions: registers, resumes and logins through
:mod:`.registration` (a login's reply comes once a worker of :mod:`.logins` has
checked its password, see :meth:`BrokerCore.finish_logins`), expiry and ``bye``
itself. Every other request goes to the part that handles it (:mod:`.membership`,
:mod:`.access`, :mod:`.relay`, :mod:`.queries`); they update
:class:`~zmqchat.broker.state.BrokerState` and the store, and queue encoded frames
in an :class:`~zmqchat.broker.outbox.Outbox`. The server commits the store and only
then sends what the outbox holds, so nothing is acknowledged or published before it
is durable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from zmqchat.broker.access import RoomAccess, SharedAccess
from zmqchat.broker.edits import Edits
from zmqchat.broker.forgetting import Forgetting
from zmqchat.broker.logins import Logins
from zmqchat.broker.mailbox import Mailboxes
from zmqchat.broker.membership import Membership
from zmqchat.broker.moderation import Moderation
from zmqchat.broker.names import Names
from zmqchat.broker.node_messages import NodeMessages
from zmqchat.broker.outbox import Mark, Outbox, PmDelivery
from zmqchat.broker.queries import Queries
from zmqchat.broker.ratelimits import AddressLimits
from zmqchat.broker.records import Records
from zmqchat.broker.registration import Registration
from zmqchat.broker.relay import Relay
from zmqchat.broker.remote_pms import RemotePms
from zmqchat.broker.room_events import RoomEvents
from zmqchat.broker.room_meta import RoomMeta
from zmqchat.broker.searching import Searching
from zmqchat.broker.sessions import Sessions
from zmqchat.broker.state import BrokerState, Connections, Session
from zmqchat.broker.store import Store
from zmqchat.broker.transfers import Transfers
from zmqchat.broker.unstored import STORE_UNAVAILABLE, unstored, writes
from zmqchat.common.codec import decode, decode_bulk, peek_ref, peek_type
from zmqchat.common.config import BrokerConfig
from zmqchat.common.files import FileChunk, FileGet, FileOffer
from zmqchat.common.messages import ByeReply, Closed, ErrorReply, Ref, SystemEvent
from zmqchat.common.moderation import Ban, Deop, Kick, Lock, Op, Topic, Unban, Unlock
from zmqchat.common.parsing import parse_request, request_ref
from zmqchat.common.protocol import (
    MAX_REQUEST_BYTES,
    SYSTEM_TOPIC,
    ErrorCode,
)
from zmqchat.common.requests import (
    Bye,
    Chat,
    Delete,
    Edit,
    History,
    Invite,
    Join,
    Leave,
    ListRooms,
    Ping,
    Pm,
    Register,
    Request,
    Who,
)
from zmqchat.common.search import Search
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

# The requests that may be over MAX_REQUEST_BYTES (protocol.md §7 item 68): a chunk
# of a file, decoded with decode_bulk's tight limits.
BULK_TYPES: Final = frozenset({"file_chunk"})


class BrokerCore:
    """The broker's behaviour, independent of how frames arrive or leave."""

    def __init__(
        self,
        config: BrokerConfig,
        store: Store,
        *,
        pub_port: int,
        capacity: int | None = None,
        clock: Callable[[], float] = time.time,
        notify: Callable[[], None] = lambda: None,
        connections: Connections | None = None,
        engine: Callable[[Store, Outbox, BrokerState], RoomEvents] | None = None,
        names: Names | None = None,
        records: Records | None = None,
        access: SharedAccess | None = None,
    ) -> None:
        """``engine`` makes what numbers room events (default: this store, see
        :mod:`.room_events`; :mod:`.cluster.engine` for Redis); ``names``,
        ``records`` and ``access`` are what other nodes share (default: none).

        ``notify`` is called, from a worker thread, when a password check has
        finished: the caller then runs :meth:`finish_logins` on its own thread."""
        self.config = config
        self.connections = connections
        self._synced: float | None = None  # the `now` of the last batch synced
        self.store = store
        self.pub_port = pub_port
        self.clock = clock
        self.state = BrokerState()
        self.out = Outbox()
        # False after a commit failed, until a write goes through again: requests
        # that would write are refused up front, reads are served.
        self.writable = True
        meta = RoomMeta(store, clock, admins=config.admins, accounts=config.auth != "open")
        # The engine first: a node's new store may get its private rooms from Redis.
        self.events = (
            RoomEvents(store, self.out) if engine is None else engine(store, self.out, self.state)
        )
        self.access = RoomAccess(self.state, store, self.out, clock, meta, access)
        self.membership = Membership(
            self.state, store, self.out, clock, self.access, self.events, names
        )
        moderation = Moderation(self.state, store, self.out, clock, self.membership, meta)
        self.events.watchers.append(moderation.removed_elsewhere)
        self.records = records if records is not None else Records()
        self.mailboxes = Mailboxes(store, self.out, config.mailbox_limit, self.records)
        self.address_limits = AddressLimits(*config.address_rate, config.address_refusal_rate)
        self.forgetting = Forgetting(
            self.state,
            store,
            self.events,
            rooms_after=config.forget_rooms_after,
            names_after=config.forget_names_after,
        )
        self.relay = Relay(
            self.state, store, self.out, config, clock, self.mailboxes, self.membership,
            self.records,
        )  # fmt: skip
        self.remote_pms = RemotePms(
            self.membership.names, self.out, self.state, self.relay.undelivered
        )
        self.transfers = Transfers(self.state, store, self.out, config, clock, self.membership,
                                   records=self.records)  # fmt: skip
        self.events.watchers.append(self.transfers.deleted_elsewhere)
        self.records.file_watchers.append(self.transfers.dropped_elsewhere)
        self.records.access_watchers.append(self.access.learned)
        edits = Edits(self.state, store, self.out, config, clock, self.membership,
                      self.transfers.release)  # fmt: skip
        searching = Searching(store, self.out, self.membership)
        queries = Queries(
            self.state, store, self.out, self.mailboxes, self.membership, self._charge
        )
        self.logins = Logins(config, store, self.state, notify, records=self.records)
        self.registration = Registration(
            config,
            self.state,
            store,
            self.out,
            self.membership,
            self.logins,
            self.mailboxes,
            pub_port=pub_port,
            capacity=capacity if capacity is not None else config.session_capacity,
            clock=clock,
            connections=connections,
            sync_connections=self.sync_connections,
        )
        self.sessions = Sessions(
            config, self.state, store, self.out, self.membership, self.registration, clock,
            connections,
        )  # fmt: skip
        self.nodes = NodeMessages(
            self.state, self.membership, self.remote_pms, self.registration.forget, clock,
            self.transfers.remote.handed_over,
        )  # fmt: skip
        self._dispatch: dict[type, Callable[[Session, Request, float], None]] = {
            Join: self.membership.join,  # type: ignore[dict-item]
            Leave: self.membership.leave,  # type: ignore[dict-item]
            Invite: self.access.invite,  # type: ignore[dict-item]
            Topic: moderation.topic,  # type: ignore[dict-item]
            **dict.fromkeys((Op, Deop, Kick, Ban, Unban, Lock, Unlock), moderation.moderate),  # type: ignore[arg-type]
            Chat: self.relay.chat,  # type: ignore[dict-item]
            Pm: self.relay.pm,  # type: ignore[dict-item]
            Edit: edits.edit,  # type: ignore[dict-item]
            Delete: edits.delete,  # type: ignore[dict-item]
            Who: queries.who,  # type: ignore[dict-item]
            ListRooms: queries.rooms,  # type: ignore[dict-item]
            History: queries.history,  # type: ignore[dict-item]
            Search: searching.search,  # type: ignore[dict-item]
            Ping: queries.ping,  # type: ignore[dict-item]
            Bye: self.sessions.bye,  # type: ignore[dict-item]
            FileOffer: self.transfers.offer,  # type: ignore[dict-item]
            FileChunk: self.transfers.chunk,  # type: ignore[dict-item]
            FileGet: self.transfers.get,  # type: ignore[dict-item]
        }

    @property
    def capacity(self) -> int:
        """The most sessions attached at once."""
        return self.registration.capacity

    # ----------------------------------------------------------------- entry points

    def restore(self, now: float) -> int:
        """Load the sessions a previous run left (see :meth:`Sessions.restore`)."""
        return self.sessions.restore(now)

    def sync_connections(self) -> None:
        """Detach the sessions whose connection ended (:meth:`Sessions.sync`)."""
        self.sessions.sync()

    def handle(
        self,
        rid: bytes,
        frame: bytes,
        now: float,
        extra_frames: bool = False,
        peer: str | None = None,
        client_key: str | None = None,
    ) -> None:
        """Handle one request frame from routing id ``rid``; never raises. ``peer``:
        the address it came from, if known (the server says it for connections
        without a session, whose requests may be logins); ``client_key``: with CURVE,
        the public key of that connection.

        Calls with the same ``now`` are one batch: the first one of each batch reads
        which connections closed, before a frame from a closed connection's id (now
        someone else's) can be taken for the session that was bound to it."""
        if now is not self._synced and self.connections is not None:
            self._synced = now
            self.sync_connections()
        session = self.state.by_rid.get(rid)
        address = peer
        if session is not None:
            self.state.touch(session, now)
            address = session.address
        limits = self.address_limits
        if limits.enabled and address is not None:
            wait = limits.take(address, now)
            if wait is not None:  # refused before it is decoded: ratelimits.py
                if limits.answer(address, now):
                    self._over_address_limit(rid, frame, address, wait)
                return
        bulk = len(frame) > MAX_REQUEST_BYTES
        if bulk and peek_type(frame) not in BULK_TYPES:
            message = f"a request is at most {MAX_REQUEST_BYTES} bytes; this is {len(frame)}"
            self._refuse(rid, ProtocolError(ErrorCode.TOO_LONG, message), peek_ref(frame))
            return
        ref: Ref = None
        mark = self.out.mark()
        kept = self.store.kept()
        try:
            # MAXMSGSIZE already capped the frame.
            msg = decode_bulk(frame) if bulk else decode(frame, None)
            ref = request_ref(msg)
            if extra_frames:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "a request is exactly one frame")
            request = parse_request(msg)
            self.events.request = (rid, ref)
            if not self.writable and self._writes(request):
                raise ProtocolError(ErrorCode.STORE_UNAVAILABLE, STORE_UNAVAILABLE)
            if session is None:
                if isinstance(request, Bye) and self.logins.cancel(rid):
                    self.out.reply(rid, ByeReply(ref=ref))  # a login was under way
                elif not isinstance(request, Register):
                    raise ProtocolError(ErrorCode.NOT_REGISTERED, "register first")
                else:
                    self.registration.register(rid, request, now, peer, client_key)
            elif isinstance(request, Register):
                raise ProtocolError(
                    ErrorCode.ALREADY_REGISTERED, f"this connection is already {session.user}"
                )
            else:
                self._dispatch[type(request)](session, request, now)
        except ProtocolError as exc:
            self._refuse(rid, exc, ref)
        except Exception:
            self._internal_error(rid, ref, mark, kept)

    def _charge(self, session: Session, size: int) -> None:
        """A page of ``size`` bytes went to ``session``: its address pays for it."""
        if session.address is not None and self.address_limits.enabled:
            self.address_limits.charge(session.address, size)

    def _over_address_limit(self, rid: bytes, frame: bytes, address: str, wait: float) -> None:
        message = f"too many requests from {address}; try again in {wait:g}s"
        reply = ErrorReply(
            code=ErrorCode.RATE_LIMITED, message=message, ref=peek_ref(frame), retry_after=wait
        )
        self.out.reply(rid, reply)

    def _refuse(self, rid: bytes, exc: ProtocolError, ref: Ref) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("error %s to %s: %s", exc.code, rid.hex(), exc.message)
        reply = ErrorReply(code=exc.code, message=exc.message, ref=ref, retry_after=exc.retry_after)
        self.out.reply(rid, reply)

    def _internal_error(self, rid: bytes, ref: Ref, mark: Mark, kept: tuple[int, int]) -> None:
        # A bug or a failing store must cost one request, not the broker. Handlers
        # write before they change memory (several writes in one savepoint), so a
        # failing write leaves nothing half done; what the request queued to send
        # is dropped, and so are the private messages it kept for the store.
        log.exception("internal error handling a request from %s", rid.hex())
        self.out.truncate(mark)
        self.store.drop_kept(kept)
        self.out.reply(
            rid,
            ErrorReply(code=ErrorCode.SERVER_BUSY, message="internal error; try again", ref=ref),
        )

    def finish_logins(self, now: float) -> None:
        """Answer the registers whose password check has finished (call it on the
        loop's thread once ``notify`` has been called)."""
        for login in self.logins.completed():
            mark, kept = self.out.mark(), self.store.kept()
            try:
                self.registration.logged_in(login, now)
            except ProtocolError as exc:
                self._refuse(login.rid, exc, login.request.ref)
            except Exception:
                self._internal_error(login.rid, login.request.ref, mark, kept)

    def close(self) -> None:
        """Stop the password-checking workers; close the files kept open."""
        self.logins.close()
        self.transfers.close()

    def expire(self, now: float) -> int:
        """End every session idle for longer than ``timeout``; returns how many.

        Not while the store can't be written: ending a session writes its leaves."""
        self.sync_connections()  # also just before the batch's frames leave
        if not self.writable:
            return 0
        self.forgetting.note(now)
        due = self.forgetting.next_due()
        if due is not None and now >= due:
            self.forgetting.sweep(now)
        try:
            self.transfers.sweep(now)
        except OSError:
            log.exception("could not drop unfinished uploads; trying again later")
        self.remote_pms.expire(now)
        due = self.state.next_expiry(self.config.timeout)
        if due is None or now < due:  # every turn: the generator's set-up costs more
            return 0
        return self.sessions.expire(now)

    def next_deadline(self) -> float | None:
        """Monotonic time of the next session expiry or forgetting sweep, if any."""
        expiry, sweep = self.state.next_expiry(self.config.timeout), self.forgetting.next_due()
        due = sweep if expiry is None or (sweep is not None and sweep < expiry) else expiry
        answer = self.remote_pms.next_deadline()  # None unless pms wait on other nodes
        return due if answer is None or (due is not None and due <= answer) else answer

    def shutdown(self, text: str = "broker shutting down") -> None:
        """Tell everyone the broker is going away. Sessions stay in the store, so
        clients resume them when the broker comes back."""
        self.out.publish(SYSTEM_TOPIC, SystemEvent(text=text, ts=self.clock()))
        closed = Closed(reason="shutdown")
        for rid in self.state.by_rid:
            self.out.reply(rid, closed)

    # -------------------------------------------------------- a store that fails

    def _writes(self, request: Request) -> bool:
        """Whether handling ``request`` writes to the store (a resume does not)."""
        return writes(request, self.state)

    def unstored(self, body: bytes) -> bytes:
        """What a reply of a batch whose commit failed becomes (see
        :func:`.unstored.unstored`)."""
        return unstored(body)

    def store_failed(self, now: float) -> None:
        """A commit failed and was rolled back: memory is ahead of the store. Load
        sessions, rooms, private rooms and retry tables again from the store, keeping each session
        that still exists on its connection, and refuse writes until
        :meth:`store_recovered`."""
        self.writable = False
        self.transfers.store_failed()
        self.records.store_failed()
        attached = {s.token: (s.rid, s.conn) for s in self.state.by_token.values() if s.rid}
        self.state.clear()
        self.access.load()
        self.restore(now)
        for token, (rid, conn) in attached.items():
            session = self.state.by_token.get(token)
            if session is not None:
                self.state.attach(session, rid, now, conn)

    def store_recovered(self) -> None:
        self.writable = True

    def mail_sent(self, sent: list[tuple[int, int]]) -> None:
        """Queued pms were handed to ZeroMQ: (pm id, receiving session) pairs."""
        self.mailboxes.delivered(sent)

    def undelivered(self, pm: PmDelivery) -> bytes:
        """The server could not hand ``pm`` to its recipient: see
        :meth:`Relay.undelivered`."""
        return self.relay.undelivered(pm)

    # -------------------------------------------------------------------- sessions

    def node_messages(self) -> None:
        """Act on what other nodes told this one (see :mod:`.node_messages`)."""
        # Learn of closed connections first, as a batch of requests does: a pm
        # handed on to a session whose connection closed a moment ago went into
        # a dead pipe and was acked `delivered` (make test caught it, rarely).
        self.sync_connections()
        self.nodes.handle()
