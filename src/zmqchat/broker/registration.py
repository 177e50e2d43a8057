"""How a connection gets a session: ``register`` of a free name, ``resume`` of a
session by its token, and logins with a password (checked by :mod:`.logins`) that
open a session or take the user's own over.

Called by :class:`~zmqchat.broker.handlers.BrokerCore`, which keeps everything else
about sessions (dispatch, expiry, ``bye``, restoring them after a restart).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable
from typing import Final

from zmqchat._version import __version__
from zmqchat.broker.accounts import Account
from zmqchat.broker.logins import Logins, PendingLogin
from zmqchat.broker.mailbox import Mailboxes
from zmqchat.broker.membership import Membership
from zmqchat.broker.names import Moved
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import BrokerState, Connections, Session, TokenBucket
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig
from zmqchat.common.messages import Closed, Ref, Welcome
from zmqchat.common.protocol import (
    HISTORY_MAX_LIMIT,
    MAX_DATA_BYTES,
    MAX_FRAME_BYTES,
    MAX_TEXT_BYTES,
    PROTOCOL_VERSION,
    ErrorCode,
    user_key,
)
from zmqchat.common.requests import Register
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

SERVER_NAME: Final = f"zmqchat/{__version__}"
# A session token a client proposes must be at least this long (128 bits in base64).
MIN_TOKEN_CHARS: Final = 22


class Registration:
    """Registers, resumes and logins; the session limit."""

    def __init__(
        self,
        config: BrokerConfig,
        state: BrokerState,
        store: Store,
        out: Outbox,
        membership: Membership,
        logins: Logins,
        mailboxes: Mailboxes,
        *,
        pub_port: int,
        capacity: int,
        clock: Callable[[], float],
        connections: Connections | None = None,
        sync_connections: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.connections = connections
        self._sync_connections = sync_connections
        self.state = state
        self.store = store
        self.out = out
        self.membership = membership
        self.logins = logins
        self.mailboxes = mailboxes
        self.pub_port = pub_port
        self.capacity = capacity
        self.clock = clock
        self._limits = {
            "text": MAX_TEXT_BYTES,
            "data": MAX_DATA_BYTES,
            "frame": MAX_FRAME_BYTES,
            "history": HISTORY_MAX_LIMIT,
            "rate_limit": config.rate_limit,
            "rate_burst": config.rate_burst,
            "address_rate_limit": config.address_rate[0],
            "address_rate_burst": config.address_rate[1],
            # Past it a subscription is refused without a word (grants.py).
            "subscriptions": config.max_subscriptions,
        }

    def _gone(self, rid: bytes) -> bool:
        """Whether the connection ``rid``'s frame came on has closed. A session is
        bound to that connection (if the server says which): first detach what ended
        before it; bind nothing to a connection that is already gone (its id may be
        someone else's by now)."""
        if self.connections is None:
            return False
        self._sync_connections()
        conn: int | None = getattr(rid, "conn", None)
        if conn is not None and not self.connections.is_open(conn):
            log.debug("register from %s ignored: its connection closed", rid.hex())
            return True
        return False

    def register(
        self,
        rid: bytes,
        req: Register,
        now: float,
        peer: str | None,
        client_key: str | None = None,
    ) -> None:
        if self._gone(rid):
            return
        if rid in self.logins.pending:
            raise ProtocolError(
                ErrorCode.ALREADY_REGISTERED, "a login is already under way on this connection"
            )
        if req.resume is not None:
            session = self.state.by_token.get(req.resume)
            if (
                session is not None
                and session.key == user_key(req.user)
                and self.logins.may_resume(session)
                and session.curve_key in (None, client_key)
            ):
                self.take_over(session, rid, now, req.ref, peer=peer, client_key=client_key)
                return
        if req.resume is not None:
            moved = self.membership.names.take(user_key(req.user), req.resume, self.config.auth)
            if moved is not None:  # another node's session, resumed here
                self._adopt(rid, req.resume, moved, req.ref, now, peer, client_key)
                return
        if self.logins.start(rid, req, peer, now, client_key):
            return  # answered by finish_logins
        holder = self.state.by_key.get(user_key(req.user))
        if holder is not None:
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"{holder.user} is already online")
        self._check_capacity()
        self._open_session(rid, req, now, None, peer, client_key)

    def logged_in(self, login: PendingLogin, now: float) -> None:
        """A password check finished: open the session, or take the user's own over."""
        req = login.request
        if self._gone(login.rid):
            return
        if login.failed is not None:
            raise login.failed
        if not login.ok:
            raise ProtocolError(ErrorCode.AUTH_FAILED, f"wrong password for {req.user}")
        session = self.state.by_key.get(user_key(req.user))
        if session is not None and login.account is None:  # a sign-up lost the race
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"{session.user} is already online")
        if session is None or session.rid is None:
            self._check_capacity()  # before writing anything
        account = self.logins.settle(login, self.clock())
        if session is None and login.account is not None:
            # The account's own session may be on another node: the password takes
            # it over there as it would here (take_over), under a new token.
            token = secrets.token_urlsafe(16)
            proven = (account.id, account.generation)
            moved = self.membership.names.take_by_login(user_key(req.user), token, proven)
            if moved is not None:
                moved = dataclasses.replace(moved, login=proven)
                self._adopt(login.rid, token, moved, req.ref, now, login.peer, login.client_key)
                return
        if session is None:
            self._open_session(login.rid, req, now, account, login.peer, login.client_key)
        else:
            key = login.client_key
            self.take_over(session, login.rid, now, req.ref, account, login.peer, key)

    def take_over(
        self,
        session: Session,
        rid: bytes,
        now: float,
        ref: Ref,
        account: Account | None = None,
        peer: str | None = None,
        client_key: str | None = None,
    ) -> None:
        """Attach ``session`` to ``rid`` (a ``resume``, or a login of its user from
        ``peer``); the connection it had is told ``closed`` {reason: replaced}.
        With CURVE the session is then bound to ``client_key``."""
        if session.rid is None:
            self._check_capacity()
        if account is not None:
            login = (account.id, account.generation)
            # A login proves the password, not that whoever held the token should keep
            # it (it may have been someone with an old password): a new token, so a
            # new ticket, and the old one's subscriptions end.
            token = secrets.token_urlsafe(16)
            if not self.membership.names.relogin(session.key, session.token, token, login):
                raise ProtocolError(
                    ErrorCode.NAME_TAKEN, f"{session.user} is online through another node"
                )
            self.store.add_login(session.sid, login)
            session.login = login
            self.store.set_session_token(session.sid, token)
            self.state.retoken(session, token)
            self.out.recheck.session(session)
        old = self.state.attach(session, rid, now, getattr(rid, "conn", None))
        session.curve_key = client_key
        session.address = peer or session.address
        if old is not None:
            self.out.reply(old, Closed(reason="replaced"))
        client = session.client or "unknown client"
        if account is None:
            log.info("resumed %s (%s)", session.user, client)
        else:
            log.info(
                "%s logged in from %s, taking over its session (%s)", session.user, peer, client
            )
        self._welcome(session, ref)

    def _open_session(
        self,
        rid: bytes,
        req: Register,
        now: float,
        account: Account | None,
        peer: str | None = None,
        client_key: str | None = None,
    ) -> None:
        ts = self.clock()
        # An unknown `resume` token long enough to be unguessable becomes this
        # session's token: a client whose welcome was lost (the broker killed between
        # the commit and the send) then resumes with it instead of meeting its own
        # session as `name_taken`.
        proposed = req.resume
        fresh = (
            proposed is not None
            and len(proposed) >= MIN_TOKEN_CHARS
            and proposed not in self.state.by_token  # another user's: never shared
        )
        token = proposed if fresh and proposed else secrets.token_urlsafe(16)
        # A private room the user may not join is skipped, not refused: the welcome
        # lists the rooms they are in, and a client keeps the rest out of its list.
        names = self.membership.access.allowed(user_key(req.user), req.rooms)
        login = None if account is None else (account.id, account.generation)
        shared_sid = self.membership.names.claim(
            user_key(req.user), req.user, token, names, req.client, login
        )
        if shared_sid is None:
            raise ProtocolError(ErrorCode.NAME_TAKEN, f"{req.user} is already online")
        rooms = [self.membership.room(name) for name in names]
        with self.store.atomic():
            sid = self.store.add_session(token, req.user, names, req.client, ts, shared_sid or None)
            if login is not None:
                self.store.add_login(sid, login)
            for room in rooms:  # last: see RoomEvents.append
                self.membership.presence(room, req.user, "join", ts, None)
        session = Session(
            sid=sid,
            token=token,
            user=req.user,
            key=user_key(req.user),
            rid=rid,
            last_seen=now,
            client=req.client,
            bucket=self.bucket(now),
            login=login,
            conn=getattr(rid, "conn", None),
            curve_key=client_key,
            address=peer,
        )
        self.state.add(session)
        for room in rooms:
            self.state.join(session, room)
        client = req.client or "unknown client"
        how, where = ("logged in", f" from {peer}") if account else ("registered", "")
        log.info("%s %s (%s)%s in %s", how, req.user, client, where, ", ".join(names))
        # Its rooms' heads: once its joins are numbered.
        self.membership.events.after(lambda: self._welcome(session, req.ref))

    def _adopt(
        self,
        rid: bytes,
        token: str,
        moved: Moved,
        ref: Ref,
        now: float,
        peer: str | None,
        client_key: str | None,
    ) -> None:
        """Hold here the session ``token`` another node held (its client resumed
        here): in the same rooms, with no presence event, since it never left them."""
        self._check_capacity()
        key = user_key(moved.user)
        stale = self.state.by_key.get(key)
        if stale is not None:  # this node's old copy, from before it moved away
            self.forget(stale)
        rooms = [self.membership.room(name) for name in moved.rooms]
        # The sid it had there: its pm history is kept by it on every node.
        sid = self.store.add_session(
            token, moved.user, list(moved.rooms), moved.client, self.clock(), moved.sid
        )
        if moved.login is not None:  # as Redis checked it against the account's now
            self.store.add_login(sid, moved.login)
        session = Session(
            sid=sid, token=token, user=moved.user, key=key, rid=rid, last_seen=now,
            client=moved.client, bucket=self.bucket(now), conn=getattr(rid, "conn", None),
            curve_key=client_key, address=peer, login=moved.login,
        )  # fmt: skip
        self.state.add(session)
        for room in rooms:
            self.state.join(session, room)
        log.info("resumed %s (%s), taken over from another node", moved.user, moved.client)
        self.membership.events.after(lambda: self._welcome(session, ref))

    def forget(self, session: Session, reason: str = "replaced") -> None:
        """Drop ``session`` here without a word to its rooms: another node holds it
        (``replaced``), or ended it (``timeout``: its client registers again)."""
        if session.rid is not None:
            self.out.reply(session.rid, Closed(reason=reason))
        self.store.delete_session(session.sid)
        self.state.remove(session)
        self.out.recheck.session(session)

    def _check_capacity(self) -> None:
        if self.state.attached >= self.capacity:
            log.warning("refused a session: %d sessions is the limit", self.capacity)
            raise ProtocolError(
                ErrorCode.SERVER_BUSY, "the broker is at its session limit; try again later"
            )

    def _nodes(self) -> tuple[str, ...] | None:
        nodes = self.membership.names.nodes()
        return tuple(nodes) if nodes else None

    def _welcome(self, session: Session, ref: Ref) -> None:
        events = self.membership.events
        if session.rid is not None:
            log.debug("%s is on %s (connection %s)", session.user, session.rid.hex(), session.conn)
        self.out.reply_to(
            session,
            Welcome(
                user=session.user,
                session=session.token,
                pub_port=self.pub_port,
                rooms={name: self.state.rooms[name].seq for name in session.rooms},
                heartbeat=self.config.heartbeat,
                timeout=self.config.timeout,
                limits=self._limits,
                server=SERVER_NAME,
                proto=PROTOCOL_VERSION,
                ticket=session.ticket,
                topics=self.membership.access.meta.topics(session.rooms) or None,
                nodes=self._nodes(),
                epoch=events.engine_epoch,
                epochs=events.epochs(session.rooms),
                ref=ref,
            ),
        )
        account = self.store.account(session.user) if session.login is not None else None
        if account is not None and session.login is not None and account.id == session.login[0]:
            # After the welcome, before any newer pm (those wait behind the welcome).
            self.mailboxes.deliver(session, account.created)
            self.mailboxes.deliver_files(session, account.created, self.clock())

    def bucket(self, now: float) -> TokenBucket | None:
        if self.config.rate_limit <= 0:
            return None
        return TokenBucket(self.config.rate_limit, self.config.rate_burst, now)


__all__ = ["MIN_TOKEN_CHARS", "SERVER_NAME", "Registration"]
