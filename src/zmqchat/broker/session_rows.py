"""The store's rows about people: sessions (so clients can resume across a broker
restart), the names they registered, accounts (their table is :mod:`.accounts`'s)
and which session logged in to which.

A part of :class:`~zmqchat.broker.store.Store`, which owns the connection and the
batch's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from zmqchat.broker import accounts
from zmqchat.broker.accounts import Account
from zmqchat.broker.rows import StoredAck, StoredSession


class SessionRows:
    """Sessions, names, accounts and logins (see :class:`Store`)."""

    # Store's, which owns the connection and the batch's transaction.
    _db: sqlite3.Connection
    _write: Callable[[str, tuple[Any, ...]], sqlite3.Cursor]
    _write_rows: Callable[[], None]
    _begin: Callable[[], None]

    def add_session(
        self,
        token: str,
        user: str,
        rooms: list[str],
        client: str | None,
        created: float,
        sid: int | None = None,
    ) -> int:
        """Keep a new session; returns its sid: ``sid`` (an engine's, the same on
        every node) or the next of this store's."""
        verb = "INSERT"
        if sid is not None:
            # What this node kept of the session from an earlier stay here goes.
            self.delete_session(sid)
            verb = "INSERT OR REPLACE"
        cur = self._write(
            f"{verb} INTO sessions (sid, token, user, rooms, client, created)"
            " VALUES (?, ?, ?, '[]', ?, ?)",
            (sid, token, user, client, created),
        )
        sid = int(cur.lastrowid or 0)
        for room in rooms:
            self.join_session_room(sid, room)
        self._write(
            "INSERT INTO users (key, name, last_seen) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen",
            (user.lower(), user, created),
        )
        return sid

    def last_sid(self) -> int:
        """The highest sid this store ever handed out or was given."""
        row = self._db.execute(
            "SELECT MAX(m) FROM (SELECT MAX(sid) AS m FROM sessions"
            " UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'sessions')"
        ).fetchone()
        return int(row[0] or 0)

    def join_session_room(self, sid: int, room: str) -> None:
        self._write("INSERT OR IGNORE INTO session_rooms (sid, room) VALUES (?, ?)", (sid, room))

    def leave_session_room(self, sid: int, room: str) -> None:
        self._write("DELETE FROM session_rooms WHERE sid = ? AND room = ?", (sid, room))

    def set_session_token(self, sid: int, token: str) -> None:
        self._write("UPDATE sessions SET token = ? WHERE sid = ?", (token, sid))

    def delete_session(self, sid: int) -> None:
        self._write("DELETE FROM session_rooms WHERE sid = ?", (sid,))
        self._write("DELETE FROM sessions WHERE sid = ?", (sid,))

    def sessions(self) -> list[StoredSession]:
        rooms: dict[int, list[str]] = {}
        for sid, room in self._db.execute("SELECT sid, room FROM session_rooms ORDER BY rowid"):
            rooms.setdefault(sid, []).append(room)
        rows = self._db.execute("SELECT sid, token, user, client FROM sessions").fetchall()
        return [
            StoredSession(sid, token, user, tuple(rooms.get(sid, ())), client)
            for sid, token, user, client in rows
        ]

    def recent_acks(self, sid: int, limit: int) -> list[StoredAck]:
        """The last ``limit`` chats and pms sent by a session, oldest first."""
        self._write_rows()
        chats = self._db.execute(
            "SELECT ref, room, seq, ts, text FROM events WHERE sid = ? AND ref IS NOT NULL"
            " AND text IS NOT NULL"
            " ORDER BY id DESC LIMIT ?",
            (sid, limit),
        ).fetchall()
        pms = self._db.execute(
            "SELECT ref, recipient, id, ts, text, queued FROM pms"
            " WHERE sender_sid = ? AND ref IS NOT NULL ORDER BY id DESC LIMIT ?",
            (sid, limit),
        ).fetchall()
        acks = [StoredAck(r[0], r[1], r[2], None, None, r[3], r[4]) for r in chats]
        acks += [StoredAck(r[0], None, None, r[1], r[2], r[3], r[4], bool(r[5])) for r in pms]
        acks.sort(key=lambda a: a.ts)
        return acks[-limit:]

    def user_known(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM users WHERE key = ?", (key,)).fetchone() is not None

    def forget_names(self, seen_before: float) -> int:
        """Forget names last registered before ``seen_before`` that are no account's
        and no session's; returns how many."""
        return self._write(
            "DELETE FROM users WHERE last_seen < ? AND key NOT IN (SELECT key FROM accounts)"
            " AND key NOT IN (SELECT lower(user) FROM sessions)",
            (seen_before,),
        ).rowcount

    # ----------------------------------------------------------------------- accounts

    def account(self, name: str) -> Account | None:
        """The account of ``name`` as committed now: ``zmqchat account`` may have
        changed it since the last login, from another process."""
        return accounts.find(self._db, name)

    def add_account(
        self, name: str, hashed: str, now: float, account_id: int | None = None
    ) -> Account | None:
        """Create an account (self sign-up) with the batch, numbered ``account_id``
        (the engine's) or the table's next; None if ``name`` has one."""
        self._begin()
        return accounts.insert(self._db, name, hashed, now, account_id)

    def rehash_account(self, account: Account, hashed: str) -> None:
        self._begin()
        accounts.rehash(self._db, account, hashed)

    def add_login(self, sid: int, login: tuple[int, int]) -> None:
        """Session ``sid`` logged in with the password of an account: ``login`` is
        (account id, password generation). It may be resumed with its token until
        the password changes."""
        self._write(
            "INSERT OR REPLACE INTO logins (sid, account, generation) VALUES (?, ?, ?)",
            (sid, *login),
        )

    def logins(self) -> dict[int, tuple[int, int]]:
        """sid -> (account id, password generation) of the sessions that logged in."""
        rows = self._db.execute("SELECT sid, account, generation FROM logins").fetchall()
        return {sid: (account, generation) for sid, account, generation in rows}
