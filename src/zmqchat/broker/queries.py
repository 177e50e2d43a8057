"""The requests that only read: ``who``, ``rooms``, ``history`` and ``ping``,
answered from the broker's memory and its store."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from zmqchat.broker.mailbox import Mailboxes, account_since
from zmqchat.broker.membership import Membership, require_member
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import BrokerState, Session
from zmqchat.broker.store import Store
from zmqchat.common.codec import encode
from zmqchat.common.messages import HistoryPage, Pong, RoomInfo, RoomList, Users
from zmqchat.common.protocol import (
    LIST_DEFAULT_LIMIT,
    MAX_HISTORY_REPLY_BYTES,
    ErrorCode,
    user_key,
)
from zmqchat.common.requests import History, ListRooms, Ping, Who
from zmqchat.errors import ProtocolError

_T = TypeVar("_T")

# Private rooms are members-only to read about too: `who` and `rooms` show one only
# to its members, so outsiders learn neither who is in it nor that it has anyone.

# The names of the rooms with stored events after ?1, at most ?2, in order: a skip
# scan of the (room, seq) index, one seek per room however many events it holds (a
# GROUP BY would read every event of every room listed).
_ROOMS_AFTER: Final = """
WITH RECURSIVE names(room) AS (
    SELECT (SELECT MIN(room) FROM events WHERE room > ?1)
    UNION ALL
    SELECT (SELECT MIN(room) FROM events WHERE room > names.room)
    FROM names WHERE names.room IS NOT NULL
    LIMIT ?2
)
SELECT room FROM names WHERE room IS NOT NULL
"""


class Queries:
    """Answers that change nothing. ``charge(session, size)`` is told the size of
    each page sent, so that its address pays for big ones (ratelimits.py)."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        mailboxes: Mailboxes,
        membership: Membership,
        charge: Callable[[Session, int], None] = lambda session, size: None,
    ) -> None:
        self.mailboxes = mailboxes
        self.membership = membership
        self.state = state
        self.store = store
        self.out = out
        self.charge = charge

    def _send_page(self, session: Session, body: bytes) -> None:
        self.out.reply_to(session, body)
        self.charge(session, len(body))

    def who(self, session: Session, req: Who, now: float) -> None:
        shared = self.membership.names
        if req.room is None:
            everyone = shared.online()
            if everyone is None:
                everyone = [s.user for s in self.state.by_key.values()]
            names = sorted(everyone, key=str.lower)
        else:
            if req.room in self.state.private_rooms:
                require_member(session, req.room)
            members = shared.members(req.room)
            if members is not None:
                names = sorted(members, key=str.lower)
            else:
                room = self.state.rooms.get(req.room)
                names = room.member_names() if room is not None else []
        after = None if req.after is None else req.after.lower()
        page, more = _page([n for n in names if after is None or n.lower() > after], req.limit)
        users = Users(users=tuple(page), room=req.room, more=more, ref=req.ref)
        self._send_page(session, encode(users))

    def rooms(self, session: Session, req: ListRooms, now: float) -> None:
        """Every room with members or stored events (a room whose members all left
        is still there to read and post to), a private one to its members only."""
        private, names = self.state.private_rooms, self.state.room_names

        def shown(name: str) -> bool:
            return name not in private or name in session.rooms

        after = req.after or ""  # "" sorts before every name
        want = (LIST_DEFAULT_LIMIT if req.limit is None else req.limit) + 1
        live: list[str] = []
        # The rooms with members, from the sorted index (docs/attack.md, many-rooms).
        for i in range(bisect.bisect_right(names, after), len(names)):
            if len(live) == want:
                break
            if shown(names[i]):
                live.append(names[i])
        stored = self._stored_rooms(after, want, shown)
        page, more = _page(sorted(set(live).union(stored))[:want], req.limit)
        topics = self.membership.access.meta.topics(page)
        # With the Redis engine, members on every node (one round trip a page).
        counts = self.membership.names.member_counts(page)
        rooms = []
        for i, name in enumerate(page):
            room = self.state.rooms.get(name)
            if room is None:  # nobody in it here: its head is in the store
                members, seq = 0, self.store.room_head(name)
            else:
                members, seq = len(room.members), room.seq
            if counts is not None:
                members = counts[i]
            flag = True if name in private else None
            info = RoomInfo(name, members, seq, private=flag, topic=topics.get(name))
            rooms.append(info)
        self._send_page(session, encode(RoomList(rooms=tuple(rooms), more=more, ref=req.ref)))

    def _stored_rooms(self, after: str, want: int, shown: Callable[[str], bool]) -> list[str]:
        """The first ``want`` rooms with stored events named after ``after`` that are
        ``shown``, in order."""
        found: list[str] = []
        db = self.store.reader()
        while len(found) < want:
            names = [name for (name,) in db.execute(_ROOMS_AFTER, (after, want))]
            found += [name for name in names if shown(name)]
            if len(names) < want:
                break
            after = names[-1]
        return found[:want]

    def history(self, session: Session, req: History, now: float) -> None:
        if req.room is not None:
            if req.external and req.room not in session.rooms:
                self._check_outside(session, req.room)
            else:
                require_member(session, req.room)
            # With the Redis engine, a node that did not follow the room yet reads
            # it once it holds the room's events (room_events.py).
            room = req.room
            self.membership.events.read(
                room,
                lambda: self._page(
                    session, req, *self.store.room_history(room, req.after, req.before, req.limit)
                ),
            )
            return
        assert req.with_user is not None
        other = user_key(req.with_user)
        since = account_since(self.store, session)
        if since is not None:
            # Logged in to an account: the whole conversation of the name since
            # the account was created, across sessions and restarts.
            events, more = self.mailboxes.conversation(
                session.key, other, since, req.after, req.before, req.limit
            )
        else:
            # A name without an account: only what this session exchanged, since
            # the name may have belonged to someone else before.
            events, more = self.store.session_pm_history(
                session.sid, other, req.after, req.before, req.limit
            )
        self._page(session, req, events, more)

    def _page(self, session: Session, req: History, events: Sequence[Any], more: bool) -> None:
        page = HistoryPage(
            messages=tuple(events), more=more, room=req.room, with_user=req.with_user, ref=req.ref
        )
        body = encode(page)
        if len(body) > MAX_HISTORY_REPLY_BYTES:
            page = fit(page, newest_first=req.after is None)
            body = encode(page)
        self._send_page(session, body)

    def _check_outside(self, session: Session, name: str) -> None:
        """Refuse to read ``name`` from outside unless a join would be allowed, and
        the room exists: reading a room never creates it."""
        self.membership.access.check_join(session, name)
        if not self.membership.exists(self.membership.room(name)):
            raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name}")

    def ping(self, session: Session, req: Ping, now: float) -> None:
        heads = {name: self.state.rooms[name].seq for name in session.rooms}
        self.out.reply_to(session, Pong(heads=heads, ref=req.ref))


def fit(page: HistoryPage, newest_first: bool) -> HistoryPage:
    """Cut a history page to the frame limit, keeping the events nearest the cursor;
    ``more`` then tells the client to ask again."""
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


def _page(items: list[_T], limit: int | None) -> tuple[list[_T], bool | None]:
    """The first ``limit`` items (LIST_DEFAULT_LIMIT by default: no reply grows with
    the broker), and True if more follow (None, left out of the reply, if not)."""
    size = LIST_DEFAULT_LIMIT if limit is None else limit
    return items[:size], (True if len(items) > size else None)
