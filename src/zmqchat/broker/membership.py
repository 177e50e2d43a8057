"""Who is in which room: ``join`` and ``leave``, and the presence events that
announce them (also when a session registers or ends)."""

from __future__ import annotations

from collections.abc import Callable

from zmqchat.broker.access import RoomAccess
from zmqchat.broker.names import Names
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.room_events import RoomEvents
from zmqchat.broker.state import BrokerState, Room, Session
from zmqchat.broker.store import Store
from zmqchat.common.messages import Joined, Left, PresenceEvent
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.common.requests import Join, Leave
from zmqchat.errors import ProtocolError


def require_member(session: Session, room: str) -> None:
    """Refuse a request about a room its session is not in."""
    if room not in session.rooms:
        raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"you are not in room {room}")


class Membership:
    """Joins and leaves: stored first (with their presence event, numbered and
    published by :class:`RoomEvents`), then applied in memory."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        clock: Callable[[], float],
        access: RoomAccess,
        events: RoomEvents,
        names: Names | None = None,
    ) -> None:
        self.events = events
        self.names = names or Names()
        self.state = state
        self.store = store
        self.out = out
        self.clock = clock
        self.access = access

    def room(self, name: str) -> Room:
        """Room ``name``, or a new one numbering on from what the store holds."""
        room = self.state.rooms.get(name)
        if room is None:
            room = Room(name=name, seq=self.events.head(name))
        return room

    def presence(self, room: Room, user: str, event: str, ts: float, reason: str | None) -> None:
        """Append ``user``'s presence event to ``room``; a join that creates the room
        makes ``user`` its creator and operator. Last in a savepoint (see
        :meth:`RoomEvents.append`)."""
        if event == "join" and not self.exists(room):
            self.access.meta.store_created(room.name, user_key(user), ts)
        self.events.append(
            room,
            lambda seq: PresenceEvent(
                room=room.name, seq=seq, user=user, event=event, ts=ts, reason=reason
            ),
        )

    def exists(self, room: Room) -> bool:
        """Whether ``room`` has members, stored events, or is private: a ``join``
        with ``private`` creates only a room that does not."""
        name = room.name
        return name in self.state.rooms or room.seq > 0 or self.access.is_private(name)

    def join(self, session: Session, req: Join, now: float) -> None:
        room = self.room(req.room)
        create = False
        joining = req.room not in session.rooms
        ts = self.clock()
        if req.private and not self.access.is_private(room.name):
            if joining:  # a banned user makes nothing
                self.access.meta.check_banned(session.key, session.user, room.name)
            # Decided where every node's joins are (Redis, with that engine): a room
            # can't be made private on one node while another lets it in as public.
            create = self.access.create(session, room.name, ts, self.exists(room))
        if joining:
            if not create:
                self.access.check_join(session, room.name, creates=True)
            with self.store.atomic():
                if create:
                    self.access.store_private(room.name, session, ts)
                self.store.join_session_room(session.sid, room.name)
                self.presence(room, session.user, "join", ts, None)
            if create:
                self.access.made_private(room.name, session)
            self.state.join(session, room)
            self.names.rooms(session.token, list(session.rooms))

        def answer() -> None:
            everywhere = self.names.members(room.name)
            members = room.member_names() if everywhere is None else everywhere
            joined = Joined(
                room=room.name,
                seq=room.seq,  # its join's, or later
                members=tuple(sorted(members, key=str.lower)),
                private=True if self.access.is_private(room.name) else None,
                topic=self.access.meta.topic(room.name)[0] or None,
                epoch=self.events.epoch(room.name),
                ref=req.ref,
            )
            self.out.reply_to(session, joined)

        self.events.after(answer)

    def leave(self, session: Session, req: Leave, now: float) -> None:
        require_member(session, req.room)
        room = self.state.rooms[req.room]
        ts = self.clock()
        with self.store.atomic():
            self.store.leave_session_room(session.sid, req.room)
            self.presence(room, session.user, "leave", ts, None)
        self.state.leave(session, req.room)
        self.names.rooms(session.token, list(session.rooms))
        self.out.recheck.session(session)  # a member who left reads no more
        # Once its leave is numbered: a history read after `left` shows it.
        self.events.after(lambda: self.out.reply_to(session, Left(room=req.room, ref=req.ref)))
