"""Mailboxes: private messages to an account holder who is offline wait in the store
and are handed over, oldest first, when the account next has a connection; and the
whole conversation of an account with another user, for ``history with``.

Private files finished while their recipient was offline wait the same way (a row of
`files` with ``delivered`` NULL): the next login is handed their ``file`` events,
after the waiting pms. Such an event is marked delivered in the batch that hands it
over, so a broker killed between that commit and the send loses the notice (never
the file, which its id still fetches): a window of microseconds, against the pm
mailbox's acknowledged hand-over, which a notice of something fetchable does not
need.

A queued pm is a row of `pms` with ``queued = 1`` (and no receiving session yet). It
is marked delivered once ZeroMQ has taken it for the recipient's connection, in a
write of its own after the send: a broker killed in between delivers it again at
the next login, and the client drops a pm whose ``id`` it has seen. So a queued pm
is delivered at least once and never lost.

With the Redis engine a queued pm is a record (:mod:`.records`) every node keeps, and
so are its hand-over and its queueing again (``pm_set``) and a file's delivery: the
account holder logging in on any node is handed what waits once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

from zmqchat.broker.outbox import Outbox
from zmqchat.broker.records import Records
from zmqchat.broker.rows import page, page_query, pm_event
from zmqchat.broker.state import Session
from zmqchat.broker.store import Store
from zmqchat.common.files import PrivateFileEvent
from zmqchat.common.messages import PmEvent
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import ProtocolError

log = logging.getLogger("zmqchat.broker")

_EVENT_COLUMNS: Final = "id, ts, sender, recipient, text, data, sender_sid, ref"


def convo_key(a: str, b: str) -> str:
    """The conversation of user keys ``a`` and ``b`` (as `pms.convo` holds it)."""
    return " ".join(sorted((a, b)))


def account_since(store: Store, session: Session) -> float | None:
    """When the account ``session`` logged in to was created, if it did and the
    account is still the one it logged in to (not deleted, or added again): the
    start of what its conversations hold for it (``history with``, ``search
    with``). None: a name without an account, whose conversations are only what
    the session itself exchanged, since the name may have been someone else's."""
    if session.login is None:
        return None
    account = store.account(session.user)
    if account is None or account.id != session.login[0]:
        return None
    return account.created


class Mailboxes:
    """The queued pms of every account, bounded per recipient."""

    def __init__(
        self, store: Store, out: Outbox, limit: int, records: Records | None = None
    ) -> None:
        self.store = store
        self.out = out
        self.limit = limit
        self.records = records if records is not None else Records()

    def waiting(self, key: str, since: float = 0.0) -> int:
        """How many pms sent from ``since`` on wait for user ``key``."""
        row = (
            self.store.reader()
            .execute(
                "SELECT COUNT(*) FROM pms WHERE queued = 1 AND recipient_key = ? AND ts >= ?",
                (key, since),
            )
            .fetchone()
        )
        return int(row[0])

    def check_room(self, key: str, name: str, since: float) -> None:
        """Refuse a pm that would overfill ``name``'s mailbox: ``mailbox_full``."""
        if self.waiting(key, since) >= self.limit:
            raise ProtocolError(
                ErrorCode.MAILBOX_FULL,
                f"{name} is offline and has {self.limit} messages waiting; try later",
            )

    def deliver(self, session: Session, since: float) -> int:
        """Queue the pms waiting for ``session``'s user since ``since`` (when its
        account was created: a deleted one's mail is not the new holder's), oldest
        first, to its connection, after what is queued to it already (its welcome).
        They are marked delivered once sent (:meth:`delivered`). Returns how many."""
        if session.rid is None:
            return 0
        rows = (
            self.store.reader()
            .execute(
                f"SELECT {_EVENT_COLUMNS} FROM pms WHERE queued = 1 AND recipient_key = ?"
                " AND ts >= ? ORDER BY id",
                (session.key, since),
            )
            .fetchall()
        )
        for row in rows:
            self.out.mail_to(session.rid, pm_event(row), row[0], session.sid)
        if rows:
            log.info("handing %s the %d private messages waiting", session.user, len(rows))
        return len(rows)

    def deliver_files(self, session: Session, since: float, now: float) -> int:
        """Hand ``session`` the ``file`` events of private files that were finished
        for its user since ``since`` while it was offline, oldest first; returns how
        many."""
        if session.rid is None:
            return 0
        db = self.store.writer()
        rows = db.execute(
            "SELECT id, sender, recipient, name, size, sha256, done FROM files"
            " WHERE recipient_key = ? AND delivered IS NULL AND room IS NULL"
            " AND done IS NOT NULL AND done >= ? ORDER BY id",
            (session.key, since),
        ).fetchall()
        for row in rows:
            event = PrivateFileEvent(id=row[0], sender=row[1], to=row[2], name=row[3],
                                     size=row[4], sha256=row[5], ts=row[6])  # fmt: skip
            self.out.reply_to(session, event)
        if rows:
            db.executemany(
                "UPDATE files SET delivered = ? WHERE id = ?", [(now, row[0]) for row in rows]
            )
            for row in rows:
                self.records.file_update(row[0], {"delivered": now})
            log.info("handing %s the %d file(s) waiting", session.user, len(rows))
        return len(rows)

    def delivered(self, sent: Iterable[tuple[int, int]]) -> None:
        """Mark queued pms as handed over: (pm id, receiving session) pairs."""
        pairs = [(sid, pm_id) for pm_id, sid in sent]
        if pairs:
            self.store.writer().executemany(
                "UPDATE pms SET queued = NULL, recipient_sid = ? WHERE id = ? AND queued = 1",
                pairs,
            )
        for sid, pm_id in pairs:
            self.records.pm_set(pm_id, {"queued": None, "recipient_sid": sid})

    def requeue(self, pm_id: int) -> None:
        """Put a pm that could not be handed over back in its recipient's mailbox."""
        self.store.writer().execute(
            "UPDATE pms SET queued = 1, recipient_sid = NULL WHERE id = ?", (pm_id,)
        )
        self.records.pm_set(pm_id, {"queued": 1, "recipient_sid": None})

    def conversation(
        self,
        me: str,
        other: str,
        since: float,
        after: int | None,
        before: int | None,
        limit: int,
    ) -> tuple[list[PmEvent], bool]:
        """Every pm between user keys ``me`` and ``other`` sent from ``since`` on
        (when ``me``'s account was created: what the name got before was someone
        else's), across sessions and restarts."""
        sql, params = page_query(
            f"SELECT {_EVENT_COLUMNS} FROM pms WHERE convo = ? AND ts >= ?",
            [convo_key(me, other), since],
            "id",
            after,
            before,
            limit,
        )
        found = self.store.reader().execute(sql, params)
        rows, more = page(found, limit, ascending=after is not None)
        # As in every history page: no `key`, that is for a live pm's echo.
        return [pm_event(row, keyed=False) for row in rows], more
