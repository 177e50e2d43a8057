"""Moderation: the ``topic`` request and the moderation requests (``op``, ``deop``,
``kick``, ``ban``, ``unban``, ``lock``, ``unlock``), which change a room's operators,
its topic and topic lock, and its bans (what other parts ask of those is
:mod:`.room_meta`'s).

Who is an operator of a room: whoever created it (the first join of a room with no
member and no stored event, by ``join`` or ``register``), whoever an operator made
one, and the names in the broker's ``admins``. A room created before schema 6 (a
public one: a private room's creator stays its operator), or by a post from outside,
has none until an admin makes someone operator there. Moderation asks for an
operator, not a member, so a script can moderate without joining.

Every change is an event in the room's history with the room's next seq (``topic``,
kind 3; ``moderation``, kind 4), stored in the batch's transaction with the table
it changes, and published after the commit as every room event is. The tables
(:mod:`.schema`, version 6) are read where a request needs them, in that same
transaction, so a failed commit leaves no memory to reload: they are small and
keyed by room.

A kick or a ban of a member also takes them out of the room (a presence ``leave``
with reason ``kicked`` or ``banned``) and ends any subscription of theirs that the
room no longer grants (members-only rooms, see :mod:`.grants`); they are sent the
moderation event over ROUTER as well, since their subscription may end before it
is published.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from zmqchat.broker.membership import Membership
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.room_events import ENSURE_META
from zmqchat.broker.room_meta import RoomMeta
from zmqchat.broker.state import BrokerState, Room, Session
from zmqchat.broker.store import Store
from zmqchat.common.moderation import (
    Ban,
    Deop,
    Kick,
    Lock,
    Moderate,
    Moderated,
    ModerationEvent,
    Op,
    Topic,
    TopicEvent,
    TopicInfo,
    Unlock,
)
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")


@dataclasses.dataclass(frozen=True, slots=True)
class _Change:
    """A moderation action that changes something: its writes, then its event."""

    action: str
    writes: Sequence[tuple[str, tuple[object, ...]]]
    user: str | None = None
    until: float | None = None
    reason: str | None = None
    removes: Session | None = None  # the member it puts out of the room


class Moderation:
    """The ``topic`` request and the moderation requests."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        clock: Callable[[], float],
        membership: Membership,
        meta: RoomMeta,
    ) -> None:
        self.state = state
        self.store = store
        self.out = out
        self.clock = clock
        self.membership = membership
        self.meta = meta

    # ------------------------------------------------------------------- topic

    def topic(self, session: Session, req: Topic, now: float) -> None:
        """Read a room's topic, or set it: whoever may post to the room (a member, or
        from outside where a join would be allowed) unless it is locked, then only
        its operators. Neither creates a room."""
        name = req.room
        if name not in session.rooms:
            self.membership.access.check_join(session, name)
            if not self.membership.exists(self.membership.room(name)):
                raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name}")
        text, by, at, locked = self.meta.topic(name)
        if req.text is None:
            self.out.reply_to(
                session,
                TopicInfo(room=name, text=text, sender=by, ts=at, locked=locked or None,
                          ref=req.ref),
            )  # fmt: skip
            return
        if locked and not self.meta.is_operator(session.key, name):
            raise ProtocolError(
                ErrorCode.NOT_OPERATOR,
                f"the topic of room {name} is locked: only its operators may set it",
            )
        if session.bucket is not None and not session.bucket.take(now):
            # A change is a stored event anyone may make: as costly as a chat.
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many changes of the topic; slow down")
        room = self.membership.room(name)
        ts = self.clock()

        def done(event: TopicEvent) -> None:
            log.info("%s set the topic of %s (seq %d)", session.user, name, event.seq)
            info = TopicInfo(room=name, text=event.text, sender=session.user, ts=ts,
                             locked=locked or None, seq=event.seq, ref=req.ref)  # fmt: skip
            self.out.reply_to(session, info)

        text = req.text
        self.membership.events.append(
            room,
            lambda seq: TopicEvent(room=name, seq=seq, sender=session.user, text=text, ts=ts),
            then=done,
        )

    # -------------------------------------------------------------- moderation

    def moderate(self, session: Session, req: Moderate, now: float) -> None:
        """Any moderation request: checked, done, answered ``moderated``."""
        room = self._operated(session, req.room, req.TYPE)
        ts = self.clock()
        user: str | None = None
        if isinstance(req, Lock | Unlock):
            done = self._lock(session, room, isinstance(req, Lock), ts)
        else:
            assert not isinstance(req, Lock | Unlock)
            user = req.user
            target = self.state.by_key.get(user_key(user))
            if target is not None and room.name in target.rooms:
                user = target.user  # as they registered it
            if isinstance(req, Op):
                done = self._op(session, room, user, ts)
            elif isinstance(req, Deop):
                done = self._deop(session, room, user, ts)
            elif isinstance(req, Kick):
                done = self._kick(session, room, user, req.reason, ts)
            elif isinstance(req, Ban):
                done = self._ban(session, room, user, req, ts)
            else:
                done = self._unban(session, room, user, ts)

        def answer(event: ModerationEvent | None) -> None:
            seq, until = (None, None) if event is None else (event.seq, event.until)
            reply = Moderated(room=room.name, action=req.TYPE, user=user, until=until, seq=seq,
                              ref=req.ref)  # fmt: skip
            self.out.reply_to(session, reply)

        if done is None:
            answer(None)  # nothing changed
        else:
            self._change(session, room, ts, done, answer)

    def _operated(self, session: Session, name: str, action: str) -> Room:
        """The room ``name``, if it exists and ``session`` is an operator of it."""
        room = self.membership.room(name)
        if not self.membership.exists(room):
            raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name}")
        if not self.meta.is_operator(session.key, name):
            if self.membership.access.is_private(name) and name not in session.rooms:
                raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"you are not in room {name}")
            raise ProtocolError(
                ErrorCode.NOT_OPERATOR, f"only an operator of room {name} may {action} there"
            )
        return room

    def _op(self, session: Session, room: Room, user: str, ts: float) -> _Change | None:
        key = user_key(user)
        if key in self.meta.admins or self._is_op(room.name, key):
            return None  # one already
        add = ("INSERT INTO room_ops (room, user) VALUES (?, ?)", (room.name, key))
        return _Change("op", [add], user=user)

    def _deop(self, session: Session, room: Room, user: str, ts: float) -> _Change | None:
        key = user_key(user)
        if not self._is_op(room.name, key):
            return None  # not one (an admin stays one: broker config, not the room's)
        drop = ("DELETE FROM room_ops WHERE room = ? AND user = ?", (room.name, key))
        return _Change("deop", [drop], user=user)

    def _kick(
        self, session: Session, room: Room, user: str, reason: str | None, ts: float
    ) -> _Change:
        target = self.state.by_key.get(user_key(user))
        if target is None or room.name not in target.rooms:
            elsewhere = self.membership.names.members(room.name) or []
            if target is None and user_key(user) in map(user_key, elsewhere):
                # A member on another node: that node puts them out (removed_elsewhere).
                return _Change("kick", [], user=user, reason=reason)
            raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"{user} is not in room {room.name}")
        return _Change("kick", [], user=user, reason=reason, removes=target)

    def _ban(self, session: Session, room: Room, user: str, req: Ban, ts: float) -> _Change:
        key = user_key(user)
        if key == session.key:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "you can't ban yourself")
        if key in self.meta.admins:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"{user} is an admin of this broker: bans don't apply"
            )
        until = None if req.duration is None else ts + req.duration
        account = self.store.account(user) if self.meta.accounts else None
        target = self.state.by_key.get(key)
        ban = (
            "INSERT OR REPLACE INTO bans (room, user, account, until) VALUES (?, ?, ?, ?)",
            (room.name, key, None if account is None else account.id, until),
        )
        # A banned operator could lift their own ban from outside.
        deop = ("DELETE FROM room_ops WHERE room = ? AND user = ?", (room.name, key))
        return _Change(
            "ban", [ban, deop], user=user, until=until, reason=req.reason,
            removes=target if target is not None and room.name in target.rooms else None,
        )  # fmt: skip

    def _unban(self, session: Session, room: Room, user: str, ts: float) -> _Change | None:
        key = user_key(user)
        sql = "SELECT 1 FROM bans WHERE room = ? AND user = ?"
        if self.store.reader().execute(sql, (room.name, key)).fetchone() is None:
            return None
        lift = ("DELETE FROM bans WHERE room = ? AND user = ?", (room.name, key))
        return _Change("unban", [lift], user=user)

    def _lock(self, session: Session, room: Room, lock: bool, ts: float) -> _Change | None:
        if self.meta.topic(room.name)[3] == lock:
            return None
        writes = [
            (ENSURE_META, (room.name,)),
            ("UPDATE room_meta SET locked = ? WHERE room = ?", (int(lock), room.name)),
        ]
        return _Change("lock" if lock else "unlock", writes)

    # ---------------------------------------------------------------- helpers

    def _change(
        self,
        session: Session,
        room: Room,
        ts: float,
        change: _Change,
        then: Callable[[ModerationEvent], None],
    ) -> None:
        """Make the change's writes and append its moderation event (and the leave
        of the member it removes) all at once: the seq and what is sent change only
        once every write went through."""
        removes = change.removes
        why = "banned" if change.action == "ban" else "kicked"

        def done(event: ModerationEvent) -> None:
            what = f"{event.action} {event.user or ''}".rstrip()
            log.info("%s in %s: %s (seq %d)", event.sender, room.name, what, event.seq)
            if removes is not None:
                # It hears of it over ROUTER too, since its subscription may end first.
                self.out.reply_to(removes, event)
            then(event)

        def make(seq: int) -> ModerationEvent:
            return ModerationEvent(
                room=room.name, seq=seq, sender=session.user, action=change.action,
                user=change.user, until=change.until, reason=change.reason, ts=ts,
            )  # fmt: skip

        with self.store.atomic():
            db = self.store.writer()
            for sql, params in change.writes:
                db.execute(sql, params)
            if removes is not None:
                self.store.leave_session_room(removes.sid, room.name)
            self.membership.events.append(room, make, then=done)
            if removes is not None:  # the member's leave takes the seq after the event's
                self.membership.presence(room, removes.user, "leave", ts, why)
        if removes is not None:
            # Out of the room: in memory, and in what it may read.
            self.state.leave(removes, room.name)
            self.out.recheck.session(removes)

    def removed_elsewhere(self, event: object) -> None:
        """A kick or ban another node took (the Redis engine): if its member's
        session is here, put it out of the room as :meth:`_change` would have."""
        if not isinstance(event, ModerationEvent) or event.action not in ("kick", "ban"):
            return
        target = self.state.by_key.get(user_key(event.user or ""))
        room = self.state.rooms.get(event.room)
        if target is None or room is None or event.room not in target.rooms:
            return  # not here, or put out already by the node that took it
        why = "banned" if event.action == "ban" else "kicked"
        with self.store.atomic():
            self.store.leave_session_room(target.sid, room.name)
            self.membership.presence(room, target.user, "leave", event.ts, why)
        self.state.leave(target, room.name)
        self.membership.names.rooms(target.token, list(target.rooms))
        self.out.recheck.session(target)
        self.out.reply_to(target, event)

    def _is_op(self, room: str, key: str) -> bool:
        sql = "SELECT 1 FROM room_ops WHERE room = ? AND user = ?"
        return self.store.reader().execute(sql, (room, key)).fetchone() is not None


__all__ = ["Moderation"]
