"""``search``: the messages of the session's rooms that hold every word asked for
(docs/protocol.md §2.15), from the store's full-text index (:mod:`.search_index`).
With ``external``, the rooms it could read from outside too, as ``history`` reads
one (a private room it was not invited to, or one it is banned from, is not).
With ``with``, the session's own private messages with one user: the rows
``history with`` reads (an account's whole conversation since the account was
created; for a name without one, only what this session exchanged), and nobody
else's."""

from __future__ import annotations

import functools
from collections.abc import Callable

from zmqchat.broker import search_index
from zmqchat.broker.mailbox import account_since, convo_key
from zmqchat.broker.membership import Membership, require_member
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import Session
from zmqchat.broker.store import Store
from zmqchat.common.codec import encode
from zmqchat.common.messages import ChatEvent, PmEvent, SearchResults
from zmqchat.common.protocol import MAX_HISTORY_REPLY_BYTES, ErrorCode, user_key
from zmqchat.common.search import Search, match_query, words_of
from zmqchat.errors import ProtocolError


class Searching:
    """The ``search`` request."""

    def __init__(self, store: Store, out: Outbox, membership: Membership) -> None:
        self.store = store
        self.out = out
        self.membership = membership

    def search(self, session: Session, req: Search, now: float) -> None:
        query = match_query(words_of(req.words))
        matches: list[ChatEvent | PmEvent]
        if req.with_user is not None:
            scope = self._conversation(session, req.with_user)
            db = self.store.searchable()
            pms, more = search_index.find_pms(db, query, scope, req.before, req.limit)
            matches = [*pms]
        else:
            chats, more = self._in_rooms(session, req, query)
            matches = [*chats]

        def reply(matches: list[ChatEvent | PmEvent], more: bool) -> bytes:
            found = SearchResults(
                matches=tuple(matches), more=more, with_user=req.with_user, ref=req.ref
            )
            return encode(found)

        body = reply(matches, more)
        while len(body) > MAX_HISTORY_REPLY_BYTES and matches:
            # As a history page does: fewer matches, the rest one page further.
            matches = matches[: len(matches) // 2]
            body = reply(matches, True)
        self.out.reply_to(session, body)

    def _conversation(self, session: Session, other: str) -> tuple[str, list[object]]:
        """Which rows of ``pms AS p`` are ``session``'s with user ``other``: those
        ``history with`` reads for it (see :mod:`.queries`)."""
        other_key = user_key(other)
        since = account_since(self.store, session)
        if since is not None:
            return "p.convo = ? AND p.ts >= ?", [convo_key(session.key, other_key), since]
        mine = "(p.sender_sid = ? AND p.recipient_key = ?)"
        mine += " OR (p.recipient_sid = ? AND p.sender_key = ?)"
        return mine, [session.sid, other_key, session.sid, other_key]

    def _in_rooms(self, session: Session, req: Search, query: str) -> tuple[list[ChatEvent], bool]:
        rooms: list[str] | Callable[[str], bool]
        if req.room is not None:
            if req.external and req.room not in session.rooms:
                self.membership.access.check_join(session, req.room)
                if not self.membership.exists(self.membership.room(req.room)):
                    raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {req.room}")
            else:
                require_member(session, req.room)
            rooms = [req.room]
        elif req.external:
            rooms = functools.cache(functools.partial(self._readable, session))
        else:
            rooms = sorted(session.rooms)
        if not rooms:
            return [], False
        return search_index.find(self.store.searchable(), query, rooms, req.before, req.limit)

    def _readable(self, session: Session, room: str) -> bool:
        """Whether ``session`` may read ``room``: it is in it, or could join it."""
        if room in session.rooms:
            return True
        try:
            self.membership.access.check_join(session, room)
        except ProtocolError:
            return False
        return True


__all__ = ["Searching"]
