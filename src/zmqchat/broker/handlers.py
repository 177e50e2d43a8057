"""Request handling: (state, routing id, frame) -> replies, publishes and store writes.

No sockets here. :class:`BrokerCore` validates each frame with the shared protocol
module, updates :class:`~zmqchat.broker.state.BrokerState` and the store, and queues
encoded frames in an :class:`Outbox`. The server commits the store and only then sends
what the outbox holds, so nothing is acknowledged or published before it is durable.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from typing import Final

from zmqchat._version import __version__
from zmqchat.broker.state import (
    REF_CACHE_SIZE,
    BrokerState,
    Room,
    Session,
    TokenBucket,
    fingerprint,
)
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig
from zmqchat.common.messages import (
    Bye,
    ByeReply,
    Chat,
    ChatAck,
    ChatEvent,
    Closed,
    ErrorReply,
    History,
    HistoryPage,
    Join,
    Joined,
    Leave,
    Left,
    ListRooms,
    Ping,
    Pm,
    PmAck,
    PmEvent,
    Pong,
    PresenceEvent,
    Record,
    Ref,
    Register,
    Request,
    RoomInfo,
    RoomList,
    SystemEvent,
    Users,
    Welcome,
    Who,
)
from zmqchat.common.parsing import parse_request, request_ref
from zmqchat.common.protocol import (
    HISTORY_MAX_LIMIT,
    MAX_DATA_BYTES,
    MAX_FRAME_BYTES,
    MAX_HISTORY_REPLY_BYTES,
    MAX_TEXT_BYTES,
    PROTOCOL_VERSION,
    SYSTEM_TOPIC,
    ErrorCode,
    pm_key,
    room_topic,
    user_key,
)
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

SERVER_NAME: Final = f"zmqchat/{__version__}"


@dataclasses.dataclass(slots=True)
class PmDelivery:
    """A private message on its way, and what its sender hears once it is stored: the
    ``ack``, or an error if the recipient turns out to be unreachable."""

    to: bytes  # the recipient's routing id
    frame: bytes
    sender: Session
    ack: bytes
    pm_id: int
    to_user: str
    ref: Ref


class Outbox:
    """Frames a batch of requests produced, by when they may leave.

    ``replies`` and ``publishes`` wait for the store's commit: an ack or a room event
    never leaves before what it reports is durable. ``pms`` go to their recipients at
    once and their senders' acks after the commit: the ack means stored and
    delivered, and the round trip of a conversation does not wait for the disk.
    """

    __slots__ = ("gated", "pms", "publishes", "replies")

    def __init__(self) -> None:
        self.pms: list[PmDelivery] = []
        self.replies: list[tuple[bytes, bytes]] = []
        self.publishes: list[tuple[bytes, bytes]] = []
        # Routing ids with a reply waiting for the commit: a pm to one of them must
        # wait too, or it would overtake, say, the recipient's welcome.
        self.gated: set[bytes] = set()

    def reply(self, rid: bytes, msg: Record | bytes) -> None:
        self.replies.append((rid, msg if isinstance(msg, bytes) else encode(msg)))
        self.gated.add(rid)

    def publish(self, topic: bytes, msg: Record) -> None:
        self.publishes.append((topic, encode(msg)))

    def mark(self) -> tuple[int, int, int]:
        """Where the lists end now, to :meth:`truncate` back to if a request fails."""
        return len(self.pms), len(self.replies), len(self.publishes)

    def truncate(self, mark: tuple[int, int, int]) -> None:
        del self.pms[mark[0] :]
        del self.replies[mark[1] :]
        del self.publishes[mark[2] :]

    def clear(self) -> None:
        self.pms.clear()
        self.replies.clear()
        self.publishes.clear()
        self.gated.clear()

    def __bool__(self) -> bool:
        return bool(self.pms or self.replies or self.publishes)


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
    ) -> None:
        self.config = config
        self.store = store
        self.pub_port = pub_port
        self.capacity = capacity if capacity is not None else config.session_capacity
        self.clock = clock
        self.state = BrokerState()
        self.out = Outbox()
        self._limits = {
            "text": MAX_TEXT_BYTES,
            "data": MAX_DATA_BYTES,
            "frame": MAX_FRAME_BYTES,
            "history": HISTORY_MAX_LIMIT,
            "rate_limit": config.rate_limit,
            "rate_burst": config.rate_burst,
        }
        self._dispatch: dict[type, Callable[[Session, Request, float], None]] = {
            Join: self._join,  # type: ignore[dict-item]
            Leave: self._leave,  # type: ignore[dict-item]
            Chat: self._chat,  # type: ignore[dict-item]
            Pm: self._pm,  # type: ignore[dict-item]
            Who: self._who,  # type: ignore[dict-item]
            ListRooms: self._rooms,  # type: ignore[dict-item]
            History: self._history,  # type: ignore[dict-item]
            Ping: self._ping,  # type: ignore[dict-item]
            Bye: self._bye,  # type: ignore[dict-item]
        }

    # ----------------------------------------------------------------- entry points

    def restore(self, now: float) -> int:
        """Load the sessions a previous run left in the store, detached, so their
        clients can ``resume`` them; those that don't come back expire as usual."""
        for stored in self.store.sessions():
            session = Session(
                sid=stored.sid,
                token=stored.token,
                user=stored.user,
                key=user_key(stored.user),
                rid=None,
                last_seen=now,
                client=stored.client,
                bucket=self._bucket(now),
            )
            if session.key in self.state.by_key:  # can't happen unless edited by hand
                self.store.delete_session(stored.sid)
                continue
            self.state.add(session)
            for name in stored.rooms:
                self.state.join(session, self._room(name))
            for ack in self.store.recent_acks(stored.sid, REF_CACHE_SIZE):
                if ack.room is not None and ack.seq is not None:
                    session.remember(
                        ack.ref,
                        fingerprint("chat", ack.room, ack.text),
                        ChatAck(ack.room, ack.seq, ack.ts, ack.ref),
                    )
                elif ack.to is not None and ack.id is not None:
                    session.remember(
                        ack.ref,
                        fingerprint("pm", user_key(ack.to), ack.text),
                        PmAck(ack.to, ack.id, "delivered", ack.ts, ack.ref),
                    )
        return len(self.state)

    def handle(self, rid: bytes, frame: bytes, now: float, extra_frames: bool = False) -> None:
        """Handle one request frame from routing id ``rid``; never raises."""
        session = self.state.by_rid.get(rid)
        if session is not None:
            self.state.touch(session, now)
        ref: Ref = None
        mark = self.out.mark()
        kept = self.store.kept()
        try:
            msg = decode(frame, None)  # MAXMSGSIZE already capped the frame
            ref = request_ref(msg)
            if extra_frames:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "a request is exactly one frame")
            request = parse_request(msg)
            if session is None:
                if not isinstance(request, Register):
                    raise ProtocolError(ErrorCode.NOT_REGISTERED, "register first")
                self._register(rid, request, now)
            elif isinstance(request, Register):
                raise ProtocolError(
                    ErrorCode.ALREADY_REGISTERED, f"this connection is already {session.user}"
                )
            else:
                self._dispatch[type(request)](session, request, now)
        except ProtocolError as exc:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("error %s to %s: %s", exc.code, rid.hex(), exc.message)
            self.out.reply(rid, ErrorReply(code=exc.code, message=exc.message, ref=ref))
        except Exception:
            # A bug or a failing store must cost one request, not the broker. Handlers
            # write before they change memory (several writes in one savepoint), so a
            # failing write leaves nothing half done; what the request queued to send
            # is dropped, and so are the private messages it kept for the store.
            log.exception("internal error handling a request from %s", rid.hex())
            self.out.truncate(mark)
            self.store.drop_kept(kept)
            self.out.reply(
                rid,
                ErrorReply(
                    code=ErrorCode.SERVER_BUSY, message="internal error; try again", ref=ref
                ),
            )

    def expire(self, now: float) -> int:
        """End every session idle for longer than ``timeout``; returns how many."""
        expired = list(self.state.expired(now, self.config.timeout))
        for session in expired:
            log.info("expired %s (idle %.1fs)", session.user, now - session.last_seen)
            mark = self.out.mark()
            try:
                self._reply(session, Closed(reason="timeout"))
                self._end_session(session, reason="timeout")
            except Exception:
                log.exception("could not end the session of %s; retrying later", session.user)
                self.out.truncate(mark)
                session.last_seen = now
                self.state.add(session)  # back in the expiry queue, one timeout from now
        return len(expired)

    def next_deadline(self) -> float | None:
        """Monotonic time of the next session expiry, if any."""
        return self.state.next_expiry(self.config.timeout)

    def shutdown(self, text: str = "broker shutting down") -> None:
        """Tell everyone the broker is going away. Sessions stay in the store, so
        clients resume them when the broker comes back."""
        self.out.publish(SYSTEM_TOPIC, SystemEvent(text=text, ts=self.clock()))
        closed = Closed(reason="shutdown")
        for rid in self.state.by_rid:
            self.out.reply(rid, closed)

    # -------------------------------------------------------------------- register

    def _register(self, rid: bytes, req: Register, now: float) -> None:
        if req.resume is not None:
            session = self.state.by_token.get(req.resume)
            if session is not None and session.key == user_key(req.user):
                if session.rid is None:
                    self._check_capacity()
                old = self.state.attach(session, rid, now)
                if old is not None:
                    self.out.reply(old, Closed(reason="replaced"))
                log.info("resumed %s (%s)", session.user, session.client or "unknown client")
                self._welcome(session, req.ref)
                return
        key = user_key(req.user)
        holder = self.state.by_key.get(key)
        if holder is not None:
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"{holder.user} is already online")
        self._check_capacity()
        ts = self.clock()
        token = secrets.token_urlsafe(16)
        rooms = [self._room(name) for name in req.rooms]
        with self.store.atomic():
            sid = self.store.add_session(token, req.user, list(req.rooms), req.client, ts)
            for room in rooms:
                self._store_presence(room, req.user, "join", ts, None)
        session = Session(
            sid=sid,
            token=token,
            user=req.user,
            key=key,
            rid=rid,
            last_seen=now,
            client=req.client,
            bucket=self._bucket(now),
        )
        self.state.add(session)
        for room in rooms:
            self.state.join(session, room)
            self._announce(room, session.user, "join", ts, None)
        client = req.client or "unknown client"
        log.info("registered %s (%s) in %s", req.user, client, ", ".join(req.rooms))
        self._welcome(session, req.ref)

    def _check_capacity(self) -> None:
        if self.state.attached >= self.capacity:
            log.warning("refused a session: %d sessions is the limit", self.capacity)
            raise ProtocolError(
                ErrorCode.SERVER_BUSY, "the broker is at its session limit; try again later"
            )

    def _welcome(self, session: Session, ref: Ref) -> None:
        self._reply(
            session,
            Welcome(
                user=session.user,
                session=session.token,
                pub_port=self.pub_port,
                rooms={name: self.state.rooms[name].seq for name in session.rooms},
                heartbeat=self.config.heartbeat,
                timeout=self.config.timeout,
                limits=self._limits,
                server=SERVER_NAME,
                proto=PROTOCOL_VERSION,
                ref=ref,
            ),
        )

    def _reply(self, session: Session, msg: Record | bytes) -> None:
        """Queue a reply to a registered session (its connection, if it has one)."""
        if session.rid is not None:
            self.out.reply(session.rid, msg)

    def _bucket(self, now: float) -> TokenBucket | None:
        if self.config.rate_limit <= 0:
            return None
        return TokenBucket(self.config.rate_limit, self.config.rate_burst, now)

    # ----------------------------------------------------------------------- rooms

    def _room(self, name: str) -> Room:
        room = self.state.rooms.get(name)
        if room is None:
            room = Room(name=name, seq=self.store.room_head(name))
        return room

    # Presence comes in two steps so a request can write all it needs (atomically)
    # before anything changes in memory or is published.

    def _store_presence(
        self, room: Room, user: str, event: str, ts: float, reason: str | None
    ) -> None:
        """Write ``user``'s presence event as ``room``'s next seq (not yet taken)."""
        self.store.add_presence(room.name, room.seq + 1, ts, user, event, reason)

    def _announce(self, room: Room, user: str, event: str, ts: float, reason: str | None) -> None:
        """Take the seq :meth:`_store_presence` wrote and publish the event."""
        room.seq += 1
        self.out.publish(
            room_topic(room.name),
            PresenceEvent(
                room=room.name, seq=room.seq, user=user, event=event, ts=ts, reason=reason
            ),
        )

    def _join(self, session: Session, req: Join, now: float) -> None:
        room = self._room(req.room)
        if req.room not in session.rooms:
            ts = self.clock()
            with self.store.atomic():
                self._store_presence(room, session.user, "join", ts, None)
                self.store.set_session_rooms(session.sid, [*session.rooms, room.name])
            self.state.join(session, room)
            self._announce(room, session.user, "join", ts, None)
        self._reply(
            session,
            Joined(room=room.name, seq=room.seq, members=tuple(room.member_names()), ref=req.ref),
        )

    def _leave(self, session: Session, req: Leave, now: float) -> None:
        self._require_member(session, req.room)
        room = self.state.rooms[req.room]
        ts = self.clock()
        with self.store.atomic():
            self._store_presence(room, session.user, "leave", ts, None)
            self.store.set_session_rooms(
                session.sid, [name for name in session.rooms if name != req.room]
            )
        self._announce(room, session.user, "leave", ts, None)
        self.state.leave(session, req.room)
        self._reply(session, Left(room=req.room, ref=req.ref))

    def _require_member(self, session: Session, room: str) -> None:
        if room not in session.rooms:
            raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"you are not in room {room}")

    # -------------------------------------------------------------------- messages

    def _replay(self, session: Session, ref: Ref, print_: int) -> bool:
        """Ack a retried chat/pm again instead of storing it twice.

        A retried pm is also handed to its recipient again, if online: a retry means
        its sender missed the ack, and the first copy may have been lost with a
        restart. Clients drop a pm whose ``id`` they have already seen.
        """
        ack = session.recall(ref, print_)
        if ack is None:
            return False
        if isinstance(ack, PmAck):
            target = self.state.by_key.get(user_key(ack.to))
            event = self.store.pm(ack.id) if target is not None else None
            if target is not None and event is not None:
                self._reply(target, event)
        self._reply(session, ack)
        return True

    def _spend(self, session: Session, now: float) -> None:
        if session.bucket is not None and not session.bucket.take(now):
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"more than {self.config.rate_limit:g} messages/s "
                f"(burst {self.config.rate_burst}); slow down",
            )

    def _chat(self, session: Session, req: Chat, now: float) -> None:
        print_ = fingerprint("chat", req.room, req.text) if req.ref is not None else 0
        # A retry is answered even if the sender has left the room since.
        if self._replay(session, req.ref, print_):
            return
        self._require_member(session, req.room)
        self._spend(session, now)
        room = self.state.rooms[req.room]
        seq = room.seq + 1
        ts = self.clock()
        self.store.add_chat(
            req.room, seq, ts, session.user, req.text, req.data_packed, session.sid, req.ref
        )
        room.seq = seq
        self.out.publish(
            room_topic(req.room),
            ChatEvent(
                room=req.room, seq=seq, sender=session.user, text=req.text, ts=ts, data=req.data
            ),
        )
        ack = ChatAck(room=req.room, seq=seq, ts=ts, ref=req.ref)
        session.remember(req.ref, print_, ack)
        self._reply(session, ack)

    def _pm(self, session: Session, req: Pm, now: float) -> None:
        key = user_key(req.to)
        print_ = fingerprint("pm", key, req.text) if req.ref is not None else 0
        if self._replay(session, req.ref, print_):
            return
        target = self.state.by_key.get(key)
        if target is None or target.rid is None:
            if target is not None or self.store.user_known(key):
                # Open mode: anyone may take a free name later, so nothing is queued.
                raise ProtocolError(ErrorCode.USER_OFFLINE, f"{req.to} is not online")
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"there is no user {req.to}")
        self._spend(session, now)
        ts = self.clock()
        pm_id = self.store.add_pm(
            ts,
            session.user,
            target.user,
            req.text,
            req.data_packed,
            session.sid,
            target.sid,
            req.ref,
        )
        event = PmEvent(
            id=pm_id,
            sender=session.user,
            to=target.user,
            text=req.text,
            data=req.data,
            key=None if req.ref is None else pm_key(session.sid, req.ref),
            ts=ts,
        )
        ack = PmAck(to=target.user, id=pm_id, status="delivered", ts=ts, ref=req.ref)
        session.remember(req.ref, print_, ack)
        if target.rid in self.out.gated or session.rid is None:
            self._reply(target, event)
            self._reply(session, ack)
        else:
            self.out.pms.append(
                PmDelivery(
                    target.rid, encode(event), session, encode(ack), pm_id, target.user, req.ref
                )
            )

    def undelivered(self, pm: PmDelivery) -> bytes:
        """The server could not hand ``pm`` to its recipient (the link is gone, or its
        queue is full): undo it, and return the error its sender gets instead of the
        ack. Nothing is said to have been delivered that was not."""
        self.store.drop_kept_pm(pm.pm_id)
        pm.sender.forget(pm.ref)
        log.info("pm %d from %s to %s not delivered", pm.pm_id, pm.sender.user, pm.to_user)
        return encode(
            ErrorReply(
                code=ErrorCode.USER_OFFLINE,
                message=f"{pm.to_user} could not be reached; the message was not delivered",
                ref=pm.ref,
            )
        )

    # --------------------------------------------------------------------- queries

    def _who(self, session: Session, req: Who, now: float) -> None:
        if req.room is None:
            names = sorted((s.user for s in self.state.by_key.values()), key=str.lower)
        else:
            room = self.state.rooms.get(req.room)
            names = room.member_names() if room is not None else []
        self._reply(session, Users(users=tuple(names), room=req.room, ref=req.ref))

    def _rooms(self, session: Session, req: ListRooms, now: float) -> None:
        rooms = tuple(
            RoomInfo(name=r.name, members=len(r.members), seq=r.seq)
            for r in sorted(self.state.rooms.values(), key=lambda r: r.name)
        )
        self._reply(session, RoomList(rooms=rooms, ref=req.ref))

    def _history(self, session: Session, req: History, now: float) -> None:
        if req.room is not None:
            self._require_member(session, req.room)
            events, more = self.store.room_history(req.room, req.after, req.before, req.limit)
        else:
            assert req.with_user is not None
            # Open mode: only what this session exchanged, since the name may have
            # belonged to someone else before.
            events, more = self.store.session_pm_history(  # type: ignore[assignment]
                session.sid, user_key(req.with_user), req.after, req.before, req.limit
            )
        page = HistoryPage(
            messages=tuple(events), more=more, room=req.room, with_user=req.with_user, ref=req.ref
        )
        body = encode(page)
        if len(body) > MAX_HISTORY_REPLY_BYTES:
            page = self._fit(page, newest_first=req.after is None)
            body = encode(page)
        self._reply(session, body)

    @staticmethod
    def _fit(page: HistoryPage, newest_first: bool) -> HistoryPage:
        """Cut a history page to the frame limit, keeping the events nearest the
        cursor; ``more`` then tells the client to ask again."""
        budget = MAX_HISTORY_REPLY_BYTES - 256
        events = list(page.messages)
        order = reversed(events) if newest_first else iter(events)
        kept = []
        for event in order:
            size = len(encode(event))
            if size > budget:
                break
            budget -= size
            kept.append(event)
        if newest_first:
            kept.reverse()
        return HistoryPage(
            messages=tuple(kept), more=True, room=page.room, with_user=page.with_user, ref=page.ref
        )

    def _ping(self, session: Session, req: Ping, now: float) -> None:
        heads = {name: self.state.rooms[name].seq for name in session.rooms}
        self._reply(session, Pong(heads=heads, ref=req.ref))

    def _bye(self, session: Session, req: Bye, now: float) -> None:
        self._reply(session, ByeReply(ref=req.ref))
        log.info("bye from %s", session.user)
        self._end_session(session, reason="quit")

    def _end_session(self, session: Session, reason: str) -> None:
        ts = self.clock()
        rooms = [self.state.rooms[name] for name in session.rooms]
        with self.store.atomic():
            for room in rooms:
                self._store_presence(room, session.user, "leave", ts, reason)
            self.store.delete_session(session.sid)
        for room in rooms:
            self._announce(room, session.user, "leave", ts, reason)
        self.state.remove(session)
