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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from zmqchat.broker.moderation import RoomMeta
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import BrokerState, Session
from zmqchat.broker.store import Store
from zmqchat.common.messages import Invite, Invited
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")


class RoomAccess:
    """Private rooms (by canonical name), their creators and who is invited."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        clock: Callable[[], float],
        meta: RoomMeta | None = None,
    ) -> None:
        self.state = state
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
        return [
            room
            for room in rooms
            if self.may_join(key, room) and self.meta.ban_until(key, room) is None
        ]

    def check_join(self, session: Session, room: str) -> None:
        """Refuse a ``join`` of a room its session is banned from, or of a private
        room it may not enter (and so a post or a read from outside)."""
        self.meta.check_banned(session.key, session.user, room)
        if not self.may_join(session.key, room):
            raise ProtocolError(
                ErrorCode.NOT_INVITED,
                f"room {room} is private: ask its operator to /invite {session.user}",
            )

    # ---------------------------------------------------------------------- changes

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
            self.store.writer().execute(
                "INSERT OR IGNORE INTO invites (room, user, inviter, ts) VALUES (?, ?, ?, ?)",
                (room, key, session.key, self.clock()),
            )
            self.invited.setdefault(room, set()).add(key)
            log.info("%s invited %s to %s", session.user, req.user, room)
        self.out.reply_to(session, Invited(room=room, user=req.user, ref=req.ref))


__all__ = ["RoomAccess"]
