"""Editing and deleting one's own chat: ``edit`` and ``delete``.

Each is an event of its own in the room's history, with the room's next seq, that
names the chat it changes (``of``): stored before it is published, so a client that
missed it gets it by gap fill like any other event. The chat's row is changed with
it (its latest text, or its text and data gone), so ``history`` shows a chat as it
reads now, and search finds what it says now.

Only the chat's sender may change it (the same user key: with accounts, the
account), within ``edit_window`` seconds of sending it. A member edits; a session
outside the room may too where it could post from outside (``external``).

A file event can be deleted (not edited) on the same terms: the event stays in
history as it was sent, followed by the delete event, and the file goes
(``released``: :meth:`.leftovers.Leftovers.release`, which also removes its blob
once no other file has that content).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from zmqchat.broker.membership import Membership
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.room_events import Extra
from zmqchat.broker.schema import KIND_CHAT, KIND_FILE
from zmqchat.broker.state import BrokerState, Room, Session
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig
from zmqchat.common.messages import ChatAck, DeleteEvent, EditEvent, Ref
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.common.requests import Delete, Edit
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")


class Edits:
    """The ``edit`` and ``delete`` requests."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        config: BrokerConfig,
        clock: Callable[[], float],
        membership: Membership,
        released: Callable[[str, int], object] | None = None,
    ) -> None:
        self.state = state
        self.released = released
        self.store = store
        self.out = out
        self.config = config
        self.clock = clock
        self.membership = membership

    def edit(self, session: Session, req: Edit, now: float) -> None:
        room = self._room(session, req.room)
        self._check(session, req.room, req.of, "edit")
        self._spend(session, now)
        ts = self.clock()
        self.membership.events.append(
            room,
            lambda seq: EditEvent(
                room=req.room, seq=seq, sender=session.user, of=req.of, text=req.text, ts=ts
            ),
            then=lambda event: self._ack(session, event, req.ref),
        )

    def delete(self, session: Session, req: Delete, now: float) -> None:
        room = self._room(session, req.room)
        done = self.store.deletion(req.room, req.of)
        if done is not None:
            # Deleted already (a retry, or twice): the same ack, nothing new, if it
            # was this sender's; anyone else learns nothing more than no_such_message.
            found = self.store.message(req.room, req.of)
            if found is not None and user_key(found[1]) == session.key:
                self.out.reply_to(
                    session, ChatAck(room=req.room, seq=done[0], ts=done[1], ref=req.ref)
                )
                return
            raise ProtocolError(
                ErrorCode.NO_SUCH_MESSAGE, f"message {req.of} of #{req.room} was deleted"
            )
        kind = self._check(session, req.room, req.of, "delete")
        self._spend(session, now)
        ts = self.clock()
        is_file = kind == KIND_FILE
        self.membership.events.append(
            room,
            lambda seq: DeleteEvent(room=req.room, seq=seq, sender=session.user, of=req.of, ts=ts),
            Extra(blank=not is_file),
            lambda event: self._ack(session, event, req.ref),
        )
        if is_file and self.released is not None:
            self.released(req.room, req.of)

    def _ack(self, session: Session, event: EditEvent | DeleteEvent, ref: Ref) -> None:
        self.out.reply_to(session, ChatAck(room=event.room, seq=event.seq, ts=event.ts, ref=ref))

    def _spend(self, session: Session, now: float) -> None:
        """An edit or delete is a message to everyone in the room: it counts
        against the sender's rate limit as a chat does."""
        if session.bucket is not None and not session.bucket.take(now):
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"more than {self.config.rate_limit:g} messages/s "
                f"(burst {self.config.rate_burst}); slow down",
            )

    def _room(self, session: Session, name: str) -> Room:
        """The room, for a member, or for a session that may post to it from outside."""
        if name in session.rooms:
            return self.state.rooms[name]
        self.membership.access.check_join(session, name)
        # Nobody in it: numbered on from the store, as a post from outside is.
        return self.membership.room(name)

    def _check(self, session: Session, room: str, of: int, verb: str) -> int:
        """Refuse unless chat ``of`` of ``room`` (or, to delete, file event ``of``)
        is the caller's, not deleted, and within the edit window; returns its kind."""
        found = self.store.message(room, of)
        kinds = (KIND_CHAT, KIND_FILE) if verb == "delete" else (KIND_CHAT,)
        if found is None or found[0] not in kinds or found[3]:
            raise ProtocolError(ErrorCode.NO_SUCH_MESSAGE, f"#{room} has no message {of} to {verb}")
        kind, sender, sent, _ = found
        if user_key(sender) != session.key:
            raise ProtocolError(
                ErrorCode.NOT_YOURS,
                f"message {of} of #{room} is {sender}'s; only they may {verb} it",
            )
        window = self.config.edit_window
        if window <= 0:
            raise ProtocolError(ErrorCode.TOO_LATE, "this broker does not let messages change")
        if self.clock() - sent > window:
            raise ProtocolError(
                ErrorCode.TOO_LATE,
                f"message {of} of #{room} is older than {window:g} s; too late to {verb} it",
            )
        return int(kind)
