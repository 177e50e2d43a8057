"""Accounts: the `accounts` table, password hashing, and the limits on failed logins.

Shared by the broker (through :class:`~zmqchat.broker.store.Store`) and the
``zmqchat account`` command, which writes the table of a store a broker may be
serving: each function here is one short statement on a connection given to it.

Hashes are argon2id in argon2-cffi's encoded form (``$argon2id$v=19$m=…,t=…,p=…$salt$
hash``): the parameters travel with each hash, so raising them later leaves the old
hashes verifiable, and a login with an old one stores it again with the new ones
(:meth:`Hasher.verify`). Hashing is slow on purpose (tens of milliseconds): the
broker calls it on a worker thread (see :mod:`.logins`), never on its loop.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import sqlite3
import stat
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from zmqchat.common.config import BrokerConfig

log = logging.getLogger("zmqchat.broker")

# A new password (`zmqchat account`, self sign-up) has at least this many characters.
MIN_PASSWORD_CHARS: Final = 8
# How long the failed attempts of an account or an address are remembered.
ATTEMPT_WINDOW: Final = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    hash: str
    generation: int
    created: float
    changed: float


# ------------------------------------------------------------------------- the table

_COLUMNS: Final = "id, name, hash, generation, created, changed"


def find(db: sqlite3.Connection, name: str) -> Account | None:
    """The account of user ``name`` (case-insensitive), or None."""
    row = db.execute(f"SELECT {_COLUMNS} FROM accounts WHERE key = ?", (name.lower(),)).fetchone()
    return None if row is None else Account(*row)


def every(db: sqlite3.Connection) -> list[Account]:
    """Every account, by name."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM accounts ORDER BY key").fetchall()
    return [Account(*row) for row in rows]


def insert(
    db: sqlite3.Connection, name: str, hashed: str, now: float, account_id: int | None = None
) -> Account | None:
    """Create the account ``name`` (numbered ``account_id``, the engine's, or the
    table's next); None if the name has one already."""
    cur = db.execute(
        "INSERT INTO accounts (id, key, name, hash, generation, created, changed)"
        " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (key) DO NOTHING",
        (account_id, name.lower(), name, hashed, now, now),
    )
    if cur.rowcount == 0:
        return None
    return Account(int(cur.lastrowid or 0), name, hashed, 1, now, now)


def change_password(db: sqlite3.Connection, name: str, hashed: str, now: float) -> bool:
    """Give ``name`` a new password, ending the sessions its old one opened (they
    can't be resumed without the new one); False if there is no such account."""
    cur = db.execute(
        "UPDATE accounts SET hash = ?, generation = generation + 1, changed = ? WHERE key = ?",
        (hashed, now, name.lower()),
    )
    return cur.rowcount > 0


def rehash(db: sqlite3.Connection, account: Account, hashed: str) -> None:
    """Store the same password hashed with today's parameters, unless it was changed
    meanwhile: no new generation, the sessions it opened stay resumable."""
    db.execute(
        "UPDATE accounts SET hash = ? WHERE id = ? AND generation = ?",
        (hashed, account.id, account.generation),
    )


def delete(db: sqlite3.Connection, name: str) -> bool:
    """Delete the account ``name``; False if there is none."""
    return db.execute("DELETE FROM accounts WHERE key = ?", (name.lower(),)).rowcount > 0


def exposed(path: str) -> str | None:
    """A warning if the store file at ``path`` can be read by other users (it holds
    the password hashes), else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) and mode & 0o077:
        return (
            f"{path} (mode {stat.S_IMODE(mode):04o}) can be read by other users and holds "
            f"password hashes; chmod 600 it"
        )
    return None


# -------------------------------------------------------------------------- hashing


class Hasher:
    """argon2id with the configured cost (OWASP's password storage cheat sheet:
    m=19 MiB, t=2, p=1 by default); thread-safe, and slow on purpose."""

    def __init__(self, memory_kib: int, time_cost: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    @classmethod
    def of(cls, config: BrokerConfig) -> Hasher:
        return cls(config.hash_memory_kib, config.hash_time_cost)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hashed: str, password: str) -> tuple[bool, str | None]:
        """Whether ``password`` matches (libargon2 compares the digests in constant
        time); and when it matches a hash made with other parameters than today's,
        the hash to store instead."""
        try:
            self._hasher.verify(hashed, password)
        except VerifyMismatchError:
            return False, None
        except (VerificationError, InvalidHashError):
            log.error("an account's password hash can't be read; set a new password")
            return False, None
        if self._hasher.check_needs_rehash(hashed):
            return True, self._hasher.hash(password)
        return True, None


def describe(hashed: str) -> str:
    """The algorithm and parameters of an encoded hash: ``argon2id m=19456,t=2,p=1``."""
    parts = hashed.split("$")
    return f"{parts[1]} {parts[3]}" if len(parts) >= 5 else "unknown"


def check_new_password(password: str) -> str | None:
    """Why ``password`` can't be a new password, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password needs at least {MIN_PASSWORD_CHARS} characters"
    if password != password.strip():
        return "a password can't start or end with a space"
    return None


# ------------------------------------------------------------------ failed attempts


class AttemptLimiter:
    """At most ``limit`` attempts per ``window`` seconds for each key (an account, an
    address), counted as they arrive.

    An attempt is counted before its password is checked, so guesses sent at once
    can't slip past the limit while their hashes are being computed; one that turns
    out right is :meth:`refund`-ed, so only failures (and checks still running) use
    the allowance. ``limit`` 0 disables the limit.
    """

    def __init__(self, limit: int, window: float = ATTEMPT_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._attempts: dict[str, collections.deque[float]] = {}
        self._sweep_at = 0.0

    def take(self, key: str, now: float) -> float | None:
        """Count an attempt for ``key``; None if allowed, else the seconds until the
        oldest counted attempt leaves the window (the attempt is not counted)."""
        if not self.limit:
            return None
        self._sweep(now)
        times = self._attempts.get(key)
        if times is None:
            times = self._attempts[key] = collections.deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return max(times[0] + self.window - now, 0.001)
        times.append(now)
        return None

    def refund(self, key: str, at: float) -> None:
        """Forget the attempt counted at ``at`` for ``key`` (it succeeded)."""
        times = self._attempts.get(key)
        if times is not None and at in times:
            times.remove(at)

    def __len__(self) -> int:
        return len(self._attempts)

    def _sweep(self, now: float) -> None:
        """Drop the keys with no attempt left in the window, once per window: the
        table holds only the addresses and accounts tried in the last minute."""
        if now < self._sweep_at:
            return
        self._sweep_at = now + self.window
        stale = now - self.window
        for key in [k for k, times in self._attempts.items() if not times or times[-1] <= stale]:
            del self._attempts[key]


def retry_after(seconds: float) -> float:
    """``retry_after`` as sent: rounded up to the millisecond."""
    return math.ceil(seconds * 1000) / 1000


__all__ = [
    "ATTEMPT_WINDOW",
    "MIN_PASSWORD_CHARS",
    "Account",
    "AttemptLimiter",
    "Hasher",
    "change_password",
    "check_new_password",
    "delete",
    "describe",
    "every",
    "exposed",
    "find",
    "insert",
    "rehash",
    "retry_after",
]
