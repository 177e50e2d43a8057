"""The requests that only read: ``who``, ``rooms``, ``history`` and ``ping``,
answered from the broker's memory and its store."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import TypeVar

from zmqchat.broker.mailbox import Mailboxes
from zmqchat.broker.membership import require_member
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import BrokerState, Room, Session
from zmqchat.broker.store import Store
from zmqchat.common.codec import encode
from zmqchat.common.messages import (
    History,
    HistoryPage,
    ListRooms,
    Ping,
    Pong,
    RoomList,
    Users,
    Who,
)
from zmqchat.common.protocol import LIST_DEFAULT_LIMIT, MAX_HISTORY_REPLY_BYTES, user_key

_T = TypeVar("_T")

# Private rooms are members-only to read about too: `who` and `rooms` show one only
# to its members, so outsiders learn neither who is in it nor that it has anyone.


class Queries:
    """Answers that change nothing. ``charge(session, size)`` is told the size of
    each page sent, so that its address pays for big ones (ratelimits.py)."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        mailboxes: Mailboxes,
        charge: Callable[[Session, int], None] = lambda session, size: None,
    ) -> None:
        self.mailboxes = mailboxes
        self.state = state
        self.store = store
        self.out = out
        self.charge = charge

    def _send_page(self, session: Session, body: bytes) -> None:
        self.out.reply_to(session, body)
        self.charge(session, len(body))

    def who(self, session: Session, req: Who, now: float) -> None:
        if req.room is None:
            names = sorted((s.user for s in self.state.by_key.values()), key=str.lower)
        else:
            if req.room in self.state.private_rooms:
                require_member(session, req.room)
            room = self.state.rooms.get(req.room)
            names = room.member_names() if room is not None else []
        after = None if req.after is None else req.after.lower()
        page, more = _page([n for n in names if after is None or n.lower() > after], req.limit)
        users = Users(users=tuple(page), room=req.room, more=more, ref=req.ref)
        self._send_page(session, encode(users))

    def rooms(self, session: Session, req: ListRooms, now: float) -> None:
        state = self.state
        names, private, mine = state.room_names, state.private_rooms, session.rooms
        start = 0 if req.after is None else bisect.bisect_right(names, req.after)
        size = LIST_DEFAULT_LIMIT if req.limit is None else req.limit
        page: list[Room] = []
        more = None
        for i in range(start, len(names)):
            name = names[i]
            if name in private and name not in mine:
                continue
            if len(page) == size:
                more = True
                break
            page.append(state.rooms[name])
        # RoomInfo.to_wire's maps, built directly: a record each cost 5 us, 2.7 ms a page.
        wire = RoomList(rooms=(), more=more, ref=req.ref).to_wire()
        wire["rooms"] = [
            {"name": r.name, "members": len(r.members), "seq": r.seq, "private": True}
            if r.name in private
            else {"name": r.name, "members": len(r.members), "seq": r.seq}
            for r in page
        ]
        self._send_page(session, encode(wire))

    def history(self, session: Session, req: History, now: float) -> None:
        if req.room is not None:
            require_member(session, req.room)
            events, more = self.store.room_history(req.room, req.after, req.before, req.limit)
        else:
            assert req.with_user is not None
            other = user_key(req.with_user)
            since = self._account_since(session)
            if since is not None:
                # Logged in to an account: the whole conversation of the name since
                # the account was created, across sessions and restarts.
                events, more = self.mailboxes.conversation(  # type: ignore[assignment]
                    session.key, other, since, req.after, req.before, req.limit
                )
            else:
                # A name without an account: only what this session exchanged, since
                # the name may have belonged to someone else before.
                events, more = self.store.session_pm_history(  # type: ignore[assignment]
                    session.sid, other, req.after, req.before, req.limit
                )
        page = HistoryPage(
            messages=tuple(events), more=more, room=req.room, with_user=req.with_user, ref=req.ref
        )
        body = encode(page)
        if len(body) > MAX_HISTORY_REPLY_BYTES:
            page = fit(page, newest_first=req.after is None)
            body = encode(page)
        self._send_page(session, body)

    def _account_since(self, session: Session) -> float | None:
        """When the account ``session`` logged in to was created, if it did and the
        account is still the one it logged in to (not deleted, or added again)."""
        if session.login is None:
            return None
        account = self.store.account(session.user)
        if account is None or account.id != session.login[0]:
            return None
        return account.created

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
