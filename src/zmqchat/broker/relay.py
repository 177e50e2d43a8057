"""Chats and private messages: checked, rate limited, stored, sent on and acked.

A chat comes from a member of its room, or, with ``external``, from a session that
may join the room but has not (a script posting once): the room's seq and store
are the same, and nobody sees it come or go.

A retried one (same ``ref``, same content) is acked again instead of stored twice.
A chat is published to its room with the batch; a private message goes to its
recipient at once and its ack after the commit (see :class:`Outbox`), or, if the
server cannot hand it over, is taken back (:meth:`Relay.undelivered`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from zmqchat.broker.mailbox import Mailboxes
from zmqchat.broker.membership import Membership, require_member
from zmqchat.broker.outbox import Outbox, PmDelivery
from zmqchat.broker.records import PmFields, Records
from zmqchat.broker.room_events import Extra
from zmqchat.broker.state import BrokerState, Session, fingerprint
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode_message, encode
from zmqchat.common.config import BrokerConfig
from zmqchat.common.messages import ChatAck, ChatEvent, ErrorReply, PmAck, PmEvent, Ref
from zmqchat.common.protocol import ErrorCode, pm_key, user_key
from zmqchat.common.requests import Chat, Pm
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

# How recently a pm's recipient must have sent one for the two to be conversing.
CONVERSING: Final = 0.01


class Relay:
    """The ``chat`` and ``pm`` requests."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        out: Outbox,
        config: BrokerConfig,
        clock: Callable[[], float],
        mailboxes: Mailboxes,
        membership: Membership,
        records: Records,
    ) -> None:
        self.records = records
        self.mailboxes = mailboxes
        self.membership = membership
        self.state = state
        self.store = store
        self.out = out
        self.config = config
        self.clock = clock

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
                self.out.reply_to(target, event)
        self.out.reply_to(session, ack)
        return True

    def _spend(self, session: Session, now: float) -> None:
        if session.bucket is not None and not session.bucket.take(now):
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"more than {self.config.rate_limit:g} messages/s "
                f"(burst {self.config.rate_burst}); slow down",
            )

    def chat(self, session: Session, req: Chat, now: float) -> None:
        print_ = fingerprint("chat", req.room, req.text) if req.ref is not None else 0
        # A retry is answered even if the sender has left the room since.
        if self._replay(session, req.ref, print_):
            return
        if req.external and req.room not in session.rooms:
            # Posting from outside: allowed where a join would be, and creating the
            # room as a join would, but with no presence events and no membership.
            self.membership.access.check_join(session, req.room, creates=True)
            self._spend(session, now)
            room = self.membership.room(req.room)
        else:
            require_member(session, req.room)
            self._spend(session, now)
            room = self.state.rooms[req.room]
        ts = self.clock()

        def acked(event: ChatEvent) -> None:
            ack = ChatAck(room=event.room, seq=event.seq, ts=ts, ref=req.ref)
            session.remember(req.ref, print_, ack)
            self.out.reply_to(session, ack)

        self.membership.events.append(
            room,
            lambda seq: ChatEvent(
                room=req.room, seq=seq, sender=session.user, text=req.text, ts=ts, data=req.data
            ),
            Extra(session.sid, req.ref, req.data_packed, ticket=session.ticket),
            acked,
        )

    def pm(self, session: Session, req: Pm, now: float) -> None:
        key = user_key(req.to)
        print_ = fingerprint("pm", key, req.text) if req.ref is not None else 0
        if self._replay(session, req.ref, print_):
            return
        target = self.state.by_key.get(key)
        if target is None and (held := self.membership.names.where(key)) is not None:
            self._remote(session, req, key, held, print_, now)
            return
        if target is None or target.rid is None:
            account = self.store.account(req.to) if self.config.auth != "open" else None
            if account is not None:
                self._queue(session, req, account.name, account.created, print_, now)
                return
            if target is not None or self.store.user_known(key):
                # A name without an account: anyone may take it later, so nothing is
                # queued for it.
                raise ProtocolError(ErrorCode.USER_OFFLINE, f"{req.to} is not online")
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"there is no user {req.to}")
        self._spend(session, now)
        ts = self.clock()
        pm_id = self._keep(
            PmFields(
                ts,
                session.user,
                target.user,
                req.text,
                req.data_packed,
                session.sid,
                target.sid,
                req.ref,
            )
        )
        event = _event(session, req, pm_id, target.user, ts)
        ack = PmAck(to=target.user, id=pm_id, status="delivered", ts=ts, ref=req.ref)
        session.remember(req.ref, print_, ack)
        # A recipient that sent a pm itself a moment ago is in a conversation that
        # goes on: its answer will likely share this pm's commit (Flush.flush). But
        # when the ack of the recipient's own pm is held, this pm is that answer:
        # the commit is due now. Holding on, for an answer its sender may never
        # send (a client waits for its ack before it goes on), cost a library
        # user's conversation 1-2 ms a message.
        talking = now - target.last_pm < CONVERSING and not target.ack_held
        session.last_pm = now
        if target.rid in self.out.gated or session.rid is None:
            self.out.reply_to(target, event)
            self.out.reply_to(session, ack)
        else:
            self.out.pms.append(
                PmDelivery(
                    target.rid, encode(event), session, encode(ack), pm_id, target.user,
                    req.ref, hold=talking,
                )
            )  # fmt: skip

    def _remote(
        self,
        session: Session,
        req: Pm,
        key: str,
        held: tuple[str, str, int | None],
        print_: int,
        now: float,
    ) -> None:
        """To a user whose session another node holds: stored here, handed to that
        node after the commit, acked once it says its client took it
        (:mod:`.remote_pms`)."""
        node, user, sid = held
        self._spend(session, now)
        ts = self.clock()
        pm_id = self._keep(
            PmFields(ts, session.user, user, req.text, req.data_packed, session.sid, sid, req.ref)
        )
        ack = PmAck(to=user, id=pm_id, status="delivered", ts=ts, ref=req.ref)
        session.remember(req.ref, print_, ack)
        frame = encode(_event(session, req, pm_id, user, ts))
        self.out.remote.append(
            (node, key, PmDelivery(None, frame, session, encode(ack), pm_id, user, req.ref))
        )

    def _queue(
        self, session: Session, req: Pm, name: str, since: float, print_: int, now: float
    ) -> None:
        """Keep a pm to account holder ``name``, offline, in their mailbox; it is
        acked `queued` once stored, and delivered at their next login."""
        self._spend(session, now)
        self.mailboxes.check_room(user_key(name), name, since)
        ts = self.clock()
        pm_id = self._keep(
            PmFields(
                ts,
                session.user,
                name,
                req.text,
                req.data_packed,
                session.sid,
                None,
                req.ref,
                queued=True,
            )
        )
        ack = PmAck(to=name, id=pm_id, status="queued", ts=ts, ref=req.ref)
        session.remember(req.ref, print_, ack)
        self.out.reply_to(session, ack)

    def _keep(self, fields: PmFields) -> int:
        """Store a pm (and log it for the other nodes first, which gives its id)."""
        pm_id = self.records.pm(fields)
        return self.store.add_pm(*fields[:8], queued=fields.queued, pm_id=pm_id)

    def undelivered(self, pm: PmDelivery) -> bytes:
        """The server could not hand ``pm`` to its recipient (the link is gone, or its
        queue is full): queue it if they have an account and room for it, else undo
        it; return what its sender gets instead of the ack. Nothing is said to have
        been delivered that was not."""
        account = self.store.account(pm.to_user) if self.config.auth != "open" else None
        key = user_key(pm.to_user)
        if account is not None and self.mailboxes.waiting(key, account.created) < (
            self.mailboxes.limit
        ):
            self.mailboxes.requeue(pm.pm_id)
            sent = decode_message(pm.ack)
            assert isinstance(sent, PmAck)
            ack = PmAck(to=sent.to, id=sent.id, status="queued", ts=sent.ts, ref=sent.ref)
            kept = pm.sender.acks.get(pm.ref) if pm.ref is not None else None
            if kept is not None:
                pm.sender.acks[pm.ref] = (kept[0], ack)
            log.info("pm %d from %s to %s queued: not deliverable now", pm.pm_id,
                     pm.sender.user, pm.to_user)  # fmt: skip
            return encode(ack)
        self.store.drop_kept_pm(pm.pm_id)
        self.records.drop_pm(pm.pm_id)
        pm.sender.forget(pm.ref)
        log.info("pm %d from %s to %s not delivered", pm.pm_id, pm.sender.user, pm.to_user)
        return encode(
            ErrorReply(
                code=ErrorCode.USER_OFFLINE,
                message=f"{pm.to_user} could not be reached; the message was not delivered",
                ref=pm.ref,
            )
        )


def _event(session: Session, req: Pm, pm_id: int, to: str, ts: float) -> PmEvent:
    """The pm as its recipient gets it."""
    key = None if req.ref is None else pm_key(session.sid, req.ref)
    return PmEvent(id=pm_id, sender=session.user, to=to, text=req.text, data=req.data, key=key,
                   ts=ts)  # fmt: skip
