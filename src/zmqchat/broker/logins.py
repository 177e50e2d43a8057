"""Logins with a password (``auth = "accounts"`` or ``"required"``), checked off the
broker's loop.

:meth:`Logins.start` decides what a ``register`` needs. A password check is counted
against the attempt limits the moment it arrives, then its hash runs on a worker
thread (argon2-cffi releases the GIL while hashing), and the loop goes on serving
everyone else. The worker puts the finished check on a queue and calls ``notify``
(the server writes a byte to a socket pair its poll watches); the loop takes it from
:meth:`Logins.completed`, and the core answers the ``register`` then. Nothing here
touches a socket, and ``notify`` may be any callable, so tests drive it directly.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import ipaddress
import logging
import os
from collections.abc import Callable
from typing import Final

from zmqchat.broker.accounts import (
    Account,
    AttemptLimiter,
    Hasher,
    check_new_password,
    exposed,
    retry_after,
)
from zmqchat.broker.records import Records
from zmqchat.broker.state import BrokerState, Session
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig
from zmqchat.common.protocol import ErrorCode, user_key
from zmqchat.common.requests import Register
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

# Hashing threads: one core is the loop's. Each hash holds argon2's memory (19 MiB
# by default) while it runs.
HASH_THREADS: Final = max(1, min(4, (os.cpu_count() or 2) - 1))
# Checks waiting for a thread, past which a login is answered `server_busy`: at about
# 30 checks a second per thread, the last would wait longer than a client does.
MAX_PENDING: Final = 256


def is_local(peer: str | None) -> bool:
    """Whether ``peer`` (a frame's ``Peer-Address``) is this machine's loopback; an
    unknown address is a transport without one (inproc), never the network."""
    if peer is None:
        return True
    try:
        return ipaddress.ip_address(peer.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(slots=True, eq=False)
class PendingLogin:
    """A ``register`` whose password is being checked (or hashed, for a sign-up)."""

    rid: bytes
    request: Register  # without its password
    peer: str
    account: Account | None  # None: a sign-up
    counted: float  # when it was counted against the limits
    password: str | None  # dropped once checked
    ok: bool = False
    new_hash: str | None = None  # a sign-up's hash, or a stronger one for the account
    failed: BaseException | None = None  # the check itself broke
    cancelled: bool = False  # `bye` came first: nobody waits for the answer
    client_key: str | None = None  # with CURVE: the connection's public key


class Logins:
    """Who must give a password, the attempt limits, and the checks in progress."""

    def __init__(
        self,
        config: BrokerConfig,
        store: Store,
        state: BrokerState,
        notify: Callable[[], None],
        *,
        threads: int = HASH_THREADS,
        records: Records | None = None,
    ) -> None:
        self.mode = config.auth
        self.encrypted = config.encryption != "none"
        self.signup = config.signup
        self.store = store
        self.state = state
        self.records = records if records is not None else Records()
        self.hasher = Hasher.of(config)
        self.per_account = AttemptLimiter(config.login_attempts_per_account)
        self.per_address = AttemptLimiter(config.login_attempts_per_address)
        self.pending: dict[bytes, PendingLogin] = {}
        self._notify = notify
        self._threads = threads
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        # Appended by the workers, emptied by the loop (deque ends are thread-safe).
        self._done: collections.deque[PendingLogin] = collections.deque()
        self._muted: dict[str, float] = {}  # refusals already logged, until when
        if self.mode != "open":
            warning = exposed(store.path)
            if warning:
                log.warning("%s", warning)

    # ------------------------------------------------------------------ deciding

    def may_resume(self, session: Session) -> bool:
        """Whether a ``resume`` token is enough to take ``session`` over: it stands
        for the password it was opened with until that password changes; a session
        opened without one, for a name that has since got an account, needs it."""
        if self.mode == "open":
            return True
        account = self.store.account(session.user)
        if session.login is None:
            return account is None and self.mode == "accounts"
        return account is not None and session.login == (account.id, account.generation)

    def start(
        self,
        rid: bytes,
        req: Register,
        peer: str | None,
        now: float,
        client_key: str | None = None,
    ) -> bool:
        """Start the password check ``req`` needs, if any: True when one runs (the
        reply comes with :meth:`completed`), False when the name is free to take as
        in open mode. Raises :class:`ProtocolError` for an answer due at once."""
        if req.password is not None and not self.encrypted and not is_local(peer):
            # Refused in every mode, before anything is counted: the password has
            # crossed the network readable already, and should be changed.
            raise ProtocolError(
                ErrorCode.ENCRYPTION_REQUIRED,
                f"a password from {peer} needs an encrypted link, and this broker runs "
                'without one (set encryption = "curve" on it); the password crossed the '
                "network readable: change it",
            )
        if self.mode == "open":
            return False
        account = self.store.account(req.user)
        password = req.password
        if account is None:
            if password is None or not self.signup:
                if self.mode == "required":
                    how = " (register with a password to sign up)" if self.signup else ""
                    raise _auth_failed(
                        f"{req.user} has no account on this broker, where every name needs one{how}"
                    )
                if password is not None:
                    raise _auth_failed(
                        f"{req.user} has no account, and this broker has no self sign-up; "
                        "register without a password"
                    )
                return False
            holder = self.state.by_key.get(user_key(req.user))
            if holder is not None:
                raise ProtocolError(ErrorCode.NAME_TAKEN, f"{holder.user} is already online")
            problem = check_new_password(password)
            if problem is not None:
                raise ProtocolError(ErrorCode.BAD_REQUEST, problem)
        elif password is None:
            raise _auth_failed(f"{account.name} has an account: give its password")
        if len(self.pending) >= MAX_PENDING:
            log.warning("refused a login: %d password checks are waiting", MAX_PENDING)
            raise ProtocolError(ErrorCode.SERVER_BUSY, "too many logins at once; try again")
        where = peer or "unknown"
        self._count(where, account, now)
        login = PendingLogin(
            rid=rid,
            request=dataclasses.replace(req, password=None),
            peer=where,
            account=account,
            counted=now,
            password=password,
            client_key=client_key,
        )
        self.pending[rid] = login
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(self._threads, "zmqchat-login")
        self._pool.submit(self._check, login)
        return True

    def _count(self, peer: str, account: Account | None, now: float) -> None:
        """Count the attempt against its address and its account, or refuse it."""
        wait = self.per_address.take(peer, now)
        if wait is not None:
            self._refuse(f"from {peer}", wait, now)
        if account is None:
            return
        wait = self.per_account.take(account.name.lower(), now)
        if wait is not None:
            self.per_address.refund(peer, now)
            self._refuse(f"for {account.name}", wait, now)

    def _refuse(self, what: str, wait: float, now: float) -> None:
        # Logged once per key and lockout, not for each refused attempt: a flood of
        # guesses must not flood the log too.
        if self._muted.get(what, 0.0) <= now:
            if len(self._muted) > 10_000:
                self._muted = {k: t for k, t in self._muted.items() if t > now}
            self._muted[what] = now + wait
            log.warning("too many failed logins %s; refusing logins for %.0fs", what, wait)
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"too many failed logins {what}; try again in {wait:.0f}s",
            retry_after=retry_after(wait),
        )

    # -------------------------------------------------------------- the workers

    def _check(self, login: PendingLogin) -> None:
        """On a worker thread: hash or verify, then hand the login back to the loop."""
        password, login.password = login.password, None
        try:
            assert password is not None
            if login.account is None:
                login.new_hash = self.hasher.hash(password)
                login.ok = True
            else:
                login.ok, login.new_hash = self.hasher.verify(login.account.hash, password)
        except BaseException as exc:  # reported on the loop, as any failed request
            login.failed = exc
        self._done.append(login)
        self._notify()

    # ------------------------------------------------------------------ finished

    def completed(self) -> list[PendingLogin]:
        """The checks finished since the last call, for the core to answer; the
        attempts of those that succeeded no longer count against the limits."""
        out = []
        while self._done:
            login = self._done.popleft()
            if self.pending.get(login.rid) is login:
                del self.pending[login.rid]
            if login.ok or login.failed is not None:
                if login.account is not None:
                    self.per_account.refund(login.account.name.lower(), login.counted)
                    self.per_address.refund(login.peer, login.counted)
            elif login.account is not None:
                log.warning(
                    "failed login: wrong password for %s from %s", login.account.name, login.peer
                )
            if not login.cancelled:
                out.append(login)
        return out

    def settle(self, login: PendingLogin, now: float) -> Account:
        """Write what a successful check leaves behind: a sign-up's new account, or
        the account's password hashed with today's parameters. Returns the account."""
        hashed = login.new_hash
        if login.account is None:
            assert hashed is not None
            # With the Redis engine the name is first taken cluster-wide, then kept
            # here with the id every node gives it.
            account_id = self.records.account(login.request.user, hashed, now)
            account = None
            if account_id is not None:
                account = self.store.add_account(
                    login.request.user, hashed, now, account_id or None
                )
            if account is None:
                raise ProtocolError(
                    ErrorCode.NAME_TAKEN, f"{login.request.user} was just signed up by another"
                )
            log.info("signed up %s from %s", account.name, login.peer)
            return account
        if hashed is not None:
            # This node's copy only: the other nodes still verify the old hash, and
            # store their own stronger one at their next login.
            self.store.rehash_account(login.account, hashed)
            log.info("stored %s's password with stronger hashing", login.account.name)
        return login.account

    def cancel(self, rid: bytes) -> bool:
        """Forget the check running for ``rid`` (its client said ``bye``)."""
        login = self.pending.pop(rid, None)
        if login is None:
            return False
        login.cancelled = True
        return True

    def close(self) -> None:
        """Stop the workers; checks not started are dropped (the broker is stopping)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _auth_failed(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.AUTH_FAILED, message)


__all__ = ["HASH_THREADS", "MAX_PENDING", "Logins", "PendingLogin"]
