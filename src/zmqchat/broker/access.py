"""Who may join a room: private rooms and their invitations, and bans.

A room is created private by the ``join`` that creates it (``private: true``); its
operators (its creator, and whoever it made one: :mod:`.moderation`) may
``invite``. Only its creator and the users invited (by user key) may join it;
everyone else gets ``not_invited``. A private room stays private, with its
invitations, after its last member leaves. A user banned from a room
(:mod:`.moderation`) may not join it, public or private: ``banned``.

Both tables (see :mod:`.schema`) are small and read once, into
``BrokerState.private_rooms`` (which the PUB side reads too) and the maps here;
:meth:`RoomAccess.load` reads them again after a failed commit. Writes go into the
batch's transaction before memory changes, as every handler's do.

With the Redis engine (issue 17) what decides is :class:`SharedAccess`, Redis's
(:mod:`.cluster.access`): a room is made private, or let in as public, atomically
there, so two nodes can't make one room both; every node keeps the tables (and so
memory) as a copy, from the cluster's records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from zmqchat.broker.outbox import Outbox
from zmqchat.broker.room_meta import RoomMeta
from zmqchat.broker.state import BrokerState, Session
from zmqchat.broker.store import Store
from zmqchat.common.messages import Invited
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.common.requests import Invite
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")


class SharedAccess:
    """Private rooms as nodes sharing an engine decide them: with one broker, its
    memory is the whole truth and nothing here is asked (``shared`` is False)."""

    shared = False

    def create(self, room: str, key: str, ts: float, exists: bool) -> str | None:
        """Make ``room`` private, created by user ``key`` at ``ts``, unless it exists
        (``exists``: as this node sees it). Returns the room's creator if it is
        private (``key``: made now, or by ``key`` before), None if it is public."""
        return None if exists else key

    def admit(self, key: str, rooms: Sequence[str], creates: bool) -> list[tuple[str | None, bool]]:
        """For each of ``rooms``: its creator if it is private (None: public), and
        whether user ``key`` may enter it. ``creates``: the check is for a join or a
        post, which creates a public room that does not exist."""
        return [(None, True) for _ in rooms]

    def invite(self, room: str, key: str, inviter: str, ts: float) -> None:
        """User ``key`` is invited to private ``room`` (before the ``invited`` reply:
        a join on any node then admits them)."""


class RoomAccess:
    """Private rooms (by canonical name), their creators and who is invited."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        clock: Callable[[], float],
        meta: RoomMeta | None = None,
        shared: SharedAccess | None = None,
    ) -> None:
        self.state = state
        self.shared = shared or SharedAccess()
        self.store = store
        self.out = out
        self.clock = clock
        self.meta = meta or RoomMeta(store, clock)
        self.creators: dict[str, str] = {}  # room -> creator's user key
        self.invited: dict[str, set[str]] = {}  # room -> invited user keys
        self.load()

    def load(self) -> None:
        """Read both tables again (at start, and after a commit failed: memory may be
        ahead of the store). ``state.private_rooms`` is refilled in place, since the
        PUB side holds it."""
        db = self.store.reader()
        self.creators = dict(db.execute("SELECT room, creator FROM private_rooms").fetchall())
        self.invited = {}
        for room, user in db.execute("SELECT room, user FROM invites"):
            self.invited.setdefault(room, set()).add(user)
        self.state.private_rooms.clear()
        self.state.private_rooms.update(self.creators)

    # ------------------------------------------------------------------- questions

    def is_private(self, room: str) -> bool:
        return room in self.state.private_rooms

    def may_join(self, key: str, room: str) -> bool:
        """Whether user ``key`` may join ``room``: any public room; a private one
        if they created it or were invited."""
        if room not in self.state.private_rooms:
            return True
        return self.creators.get(room) == key or key in self.invited.get(room, ())

    def allowed(self, key: str, rooms: Iterable[str]) -> list[str]:
        """The rooms of ``rooms`` user ``key`` may join, in order (a ``register``'s)."""
        unbanned = [room for room in rooms if self.meta.ban_until(key, room) is None]
        admitted = self._admit(key, unbanned, creates=True)
        return [room for room, ok in zip(unbanned, admitted, strict=True) if ok]

    def check_join(self, session: Session, room: str, creates: bool = False) -> None:
        """Refuse a ``join`` of a room its session is banned from, or of a private
        room it may not enter (and so a post or a read from outside). ``creates``:
        for a join or post, which creates the room if it does not exist."""
        self.meta.check_banned(session.key, session.user, room)
        if not self._admit(session.key, [room], creates)[0]:
            raise ProtocolError(
                ErrorCode.NOT_INVITED,
                f"room {room} is private: ask its operator to /invite {session.user}",
            )

    def _admit(self, key: str, rooms: list[str], creates: bool) -> list[bool]:
        local = [self.may_join(key, room) for room in rooms]
        if not self.shared.shared:
            return local
        # A room stays private and an invitation stays: one this node knows lets in
        # without asking. Anything else may have changed on another node a moment ago.
        ask = [room for room, ok in zip(rooms, local, strict=True)
               if not (ok and room in self.state.private_rooms)]  # fmt: skip
        if not ask:
            return local
        answers = dict(zip(ask, self.shared.admit(key, ask, creates), strict=True))
        out = []
        for room, ok in zip(rooms, local, strict=True):
            answer = answers.get(room)
            if answer is None:
                out.append(ok)
                continue
            creator, admitted = answer
            if creator is None:
                # Public in Redis. A room this node holds as private stays so (a Redis
                # that lost its keys must not open it): then only what memory says.
                out.append(ok)
                continue
            self.learned("private", room, creator)
            if admitted and creator != key:
                self.invited.setdefault(room, set()).add(key)
            out.append(admitted)
        return out

    # ---------------------------------------------------------------------- changes

    def create(self, session: Session, room: str, ts: float, exists: bool) -> bool:
        """Whether ``session``'s join of ``room`` with ``private`` makes it (True:
        write it with :meth:`store_private`), or joins a room that is private
        already (made a moment ago through another node: checked as any join).
        Refused if the room exists (``exists``: as this node sees it) and is public."""
        creator = self.shared.create(room, session.key, ts, exists)
        if creator is None:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"room {room} exists and is public; a room is made private only"
                " by the join that creates it",
            )
        if creator == session.key:
            return True
        self.learned("private", room, creator)
        return False

    def store_private(self, room: str, creator: Session, ts: float) -> None:
        """Write ``room`` as private, made by ``creator`` (inside the join's atomic
        block); :meth:`made_private` applies it once everything is written."""
        self.store.writer().execute(
            "INSERT OR IGNORE INTO private_rooms (room, creator, created) VALUES (?, ?, ?)",
            (room, creator.key, ts),
        )

    def made_private(self, room: str, creator: Session) -> None:
        self.creators[room] = creator.key
        self.state.private_rooms.add(room)
        self.out.recheck.room(room)
        log.info("%s created private room %s", creator.user, room)

    def learned(self, kind: str, room: str, user: str) -> None:
        """What another node did, as its record (or Redis) told this one: ``room``
        was made private by ``user`` (``kind`` "private"), or ``user`` was invited
        to it ("invite")."""
        if kind == "invite":
            self.invited.setdefault(room, set()).add(user)
        elif room not in self.state.private_rooms:
            self.creators[room] = user
            self.state.private_rooms.add(room)
            # Plain subscriptions to it granted while it looked public end here.
            self.out.recheck.room(room)

    def invite(self, session: Session, req: Invite, now: float) -> None:
        room = req.room
        if room not in session.rooms:
            raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"you are not in room {room}")
        if room not in self.state.private_rooms:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"room {room} is public: anyone may join it")
        if not self.meta.is_operator(session.key, room):
            raise ProtocolError(
                ErrorCode.NOT_OPERATOR, f"only an operator of room {room} may invite to it"
            )
        key = user_key(req.user)
        if key not in self.invited.get(room, ()):
            ts = self.clock()
            self.shared.invite(room, key, session.key, ts)
            self.store.writer().execute(
                "INSERT OR IGNORE INTO invites (room, user, inviter, ts) VALUES (?, ?, ?, ?)",
                (room, key, session.key, ts),
            )
            self.invited.setdefault(room, set()).add(key)
            log.info("%s invited %s to %s", session.user, req.user, room)
        self.out.reply_to(session, Invited(room=room, user=req.user, ref=req.ref))


__all__ = ["RoomAccess", "SharedAccess"]
