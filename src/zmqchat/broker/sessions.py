"""Sessions over their life, beyond registering (:mod:`.registration`): restored
after a restart, detached when their connection ends, expired when idle, ended by
``bye``; and, with an engine shared by nodes, ended only by the node that holds
them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from zmqchat.broker.membership import Membership
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.registration import Registration
from zmqchat.broker.state import REF_CACHE_SIZE, BrokerState, Connections, Session, fingerprint
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig
from zmqchat.common.messages import ByeReply, ChatAck, Closed, PmAck
from zmqchat.common.protocol import user_key
from zmqchat.common.requests import Bye
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")


class Sessions:
    """Restores, detaches, expires and ends sessions."""

    def __init__(
        self,
        config: BrokerConfig,
        state: BrokerState,
        store: Store,
        out: Outbox,
        membership: Membership,
        registration: Registration,
        clock: Callable[[], float],
        connections: Connections | None,
    ) -> None:
        self.config = config
        self.state = state
        self.store = store
        self.out = out
        self.membership = membership
        self.registration = registration
        self.clock = clock
        self.connections = connections
        self._detached_logged = Throttle()  # ending detached sessions early

    def restore(self, now: float) -> int:
        """Load the sessions a previous run left in the store, detached, so their
        clients can ``resume`` them; those that don't come back expire as usual."""
        logins = self.store.logins()
        for stored in self.store.sessions():
            session = Session(
                sid=stored.sid,
                token=stored.token,
                user=stored.user,
                key=user_key(stored.user),
                rid=None,
                last_seen=now,
                client=stored.client,
                bucket=self.registration.bucket(now),
                login=logins.get(stored.sid),
            )
            if session.key in self.state.by_key or not self.membership.names.holds(
                session.key, stored.token
            ):  # edited by hand; or, with Redis, taken over or ended by another node
                self.store.delete_session(stored.sid)
                continue
            self.state.add(session)
            for name in stored.rooms:
                self.state.join(session, self.membership.room(name))
            for ack in self.store.recent_acks(stored.sid, REF_CACHE_SIZE):
                if ack.room is not None and ack.seq is not None:
                    session.remember(
                        ack.ref,
                        fingerprint("chat", ack.room, ack.text),
                        ChatAck(ack.room, ack.seq, ack.ts, ack.ref),
                    )
                elif ack.to is not None and ack.id is not None:
                    session.remember(
                        ack.ref,
                        fingerprint("pm", user_key(ack.to), ack.text),
                        PmAck(
                            ack.to, ack.id, "queued" if ack.queued else "delivered", ack.ts, ack.ref
                        ),
                    )
        return len(self.state)

    def sync(self) -> None:
        """Detach every session whose connection ended: its routing id no longer
        leads to it (whoever presents that id next is a stranger), nothing queued for
        it is sent there, and the session waits for ``resume`` until it expires."""
        if self.connections is None:
            return
        for conn in self.connections.closed():
            session = self.state.by_conn.get(conn)
            if session is None:
                continue
            rid = self.state.detach(session)
            if rid is not None:
                self.out.drop_to(rid)
            log.info("%s disconnected; the session waits for resume", session.user)
            self._bound_detached(session.address)

    def _bound_detached(self, address: str | None) -> None:
        """End the oldest detached sessions of ``address`` past its bound: whoever
        registers and drops connections over and over can't fill the session table."""
        bound = self.config.max_detached_per_address
        ended = self.state.detached_past(address, bound)
        for session in ended:
            self.end(session, reason="timeout")
        if ended and self._detached_logged.due():
            log.warning(
                "ended %d detached session(s) from %s early: %d is the most one address "
                "keeps waiting for resume (max_detached_per_address)",
                len(ended),
                address,
                bound,
            )

    def expire(self, now: float) -> int:
        """End every session idle for longer than ``timeout``; returns how many."""
        expired = list(self.state.expired(now, self.config.timeout))
        for session in expired:
            log.info("expired %s (idle %.1fs)", session.user, now - session.last_seen)
            mark = self.out.mark()
            try:
                self.out.reply_to(session, Closed(reason="timeout"))
                self.end(session, reason="timeout")
            except Exception:
                log.exception("could not end the session of %s; retrying later", session.user)
                self.out.truncate(mark)
                session.last_seen = now
                self.state.add(session)  # back in the expiry queue, one timeout from now
        return len(expired)

    def bye(self, session: Session, req: Bye, now: float) -> None:
        rid = session.rid
        log.info("bye from %s", session.user)
        self.end(session, reason="quit")
        if rid is not None:  # once its leaves are numbered: a history read after shows them
            self.membership.events.after(lambda: self.out.reply(rid, ByeReply(ref=req.ref)))

    def end(self, session: Session, reason: str) -> None:
        """End ``session`` (``reason``: quit, timeout): its leaves, then gone."""
        if not self.membership.names.release(session.key, session.token):
            self.registration.forget(session)  # another node's now: not ours to end
            return
        ts = self.clock()
        rooms = [self.state.rooms[name] for name in session.rooms]
        with self.store.atomic():
            self.store.delete_session(session.sid)
            for room in rooms:  # last: see RoomEvents.append
                self.membership.presence(room, session.user, "leave", ts, reason)
        self.state.remove(session)
        self.out.recheck.session(session)  # its subscriptions end with it
