"""``search``: the messages of the session's rooms that hold every word asked for
(docs/protocol.md §2.15), from the store's full-text index (:mod:`.search_index`).
With ``external``, the rooms it could read from outside too, as ``history`` reads
one (a private room it was not invited to, or one it is banned from, is not)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from zmqchat.broker.membership import Membership, require_member
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import Session
from zmqchat.broker.store import Store
from zmqchat.common.codec import encode
from zmqchat.common.messages import ChatEvent, SearchResults
from zmqchat.common.protocol import MAX_HISTORY_REPLY_BYTES, ErrorCode
from zmqchat.common.search import Search, match_query, words_of
from zmqchat.errors import ProtocolError


class Searching:
    """The ``search`` request."""

    def __init__(self, store: Store, out: Outbox, membership: Membership) -> None:
        self.store = store
        self.out = out
        self.membership = membership

    def search(self, session: Session, req: Search, now: float) -> None:
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
        matches: list[ChatEvent] = []
        more = False
        if rooms:
            query = match_query(words_of(req.words))
            matches, more = self.store.search(query, rooms, req.before, req.limit)
        reply = SearchResults(matches=tuple(matches), more=more, ref=req.ref)
        body = encode(reply)
        while len(body) > MAX_HISTORY_REPLY_BYTES and matches:
            # As a history page does: fewer matches, the rest one page further.
            matches = matches[: len(matches) // 2]
            reply = SearchResults(matches=tuple(matches), more=True, ref=req.ref)
            body = encode(reply)
        self.out.reply_to(session, body)

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
