"""Durable state in SQLite: room events with their sequence numbers and private
messages; sessions, known users and accounts are :mod:`.session_rows`'s part of it.

Owned by the broker thread. Writes open a transaction that the server loop commits
once per batch of requests, before any reply or publish leaves the process, so an
acknowledged message is on disk even if the broker is killed right after.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
from collections.abc import Iterator
from typing import Any, Final

from zmqchat.broker import search_index
from zmqchat.broker.faults import describe
from zmqchat.broker.rows import (
    INSERT_PMS,
    page,
    page_query,
    pm_event,
    pm_row,
    room_event,
)
from zmqchat.broker.schema import (
    KIND_CHAT,
    KIND_DELETE,
    KIND_EDIT,
    KIND_JOIN,
    KIND_LEAVE,
    open_database,
)
from zmqchat.broker.session_rows import SessionRows
from zmqchat.common.messages import PmEvent, Ref, RoomEvent

# Raised here, defined in the error tree; still importable from here.
from zmqchat.errors import StoreError as StoreError  # noqa: PLC0414

log = logging.getLogger(__name__)

# Private message ids are handed out in memory and a pm leaves before its commit, so
# the highest id that may have been seen is kept ahead in `counters`: a restart
# numbers on from there and never hands out an id a peer may have been given.
PM_ID_BLOCK: Final = 4096

_INSERT_CHATS: Final = (
    "INSERT INTO events (room, seq, ts, kind, user, text, data, sid, ref)"
    f" VALUES (?, ?, ?, {KIND_CHAT}, ?, ?, ?, ?, ?)"
)


class Store(SessionRows):
    """SQLite store in WAL mode. Not thread-safe: one broker thread owns it."""

    def __init__(self, path: str, *, fsync: bool = False) -> None:
        self.path = path
        try:
            self._db = open_database(path, fsync=fsync)
            last_pm = self._db.execute(
                "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM pms"
                " UNION ALL SELECT value FROM counters WHERE name = 'pm_id')"
            ).fetchone()[0]
            last_pm = last_pm or 0
            self._db.execute(
                "INSERT OR REPLACE INTO counters (name, value) VALUES ('pm_id', ?)",
                (last_pm + PM_ID_BLOCK,),
            )
            # The store's epoch: made once, the first time a store is opened, and
            # kept; a store made anew (deleted, or another file) has another, so a
            # client tells its seqs from the old one's (docs/protocol.md, epochs).
            self._db.execute(
                "INSERT OR IGNORE INTO counters (name, value) VALUES ('epoch', ?)",
                (secrets.randbits(63),),
            )
            (epoch,) = self._db.execute(
                "SELECT value FROM counters WHERE name = 'epoch'"
            ).fetchone()
            self.epoch: str = f"{epoch:016x}"
            # What the search index lacks (an older store's, or the last run's last
            # events): indexed now, before anything is served.
            self._db.execute("BEGIN")
            caught_up, _ = search_index.catch_up(self._db)
            self._db.execute("COMMIT")
            if caught_up > search_index.CATCH_UP_ROWS:
                log.info("indexed %d stored events for search", caught_up)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(describe(path, exc)) from None
        self._in_tx = False
        # Chats and private messages are written at commit time, in one executemany
        # each, so that relaying one costs no SQLite call; pm ids are handed out here
        # meanwhile, below a ceiling that is always committed ahead of them.
        self._last_pm_id: int = last_pm
        self._pm_id_ceiling = last_pm + PM_ID_BLOCK
        self._pm_rows: list[tuple[Any, ...]] = []
        self._chat_rows: list[tuple[Any, ...]] = []
        self._lag = search_index.Lag()
        self.commits = 0  # commits made: what was written before one is durable

    # ----------------------------------------------------------------- transactions

    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        self._write_rows()  # what was kept comes first, as it was handled
        self._begin()
        return self._db.execute(sql, params)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Make the writes inside all-or-nothing (a savepoint in the batch's
        transaction): a request that fails halfway leaves none of them behind."""
        self._begin()
        self._db.execute("SAVEPOINT request")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO request")
            self._db.execute("RELEASE request")
            raise
        self._db.execute("RELEASE request")

    @property
    def dirty(self) -> bool:
        """True when writes are waiting for :meth:`commit`."""
        # An index behind by a slice or more counts too: the loop's lazy commits then
        # index it a slice at a time while nothing else is written.
        return self._in_tx or bool(self._pm_rows or self._chat_rows) or self._lag.due

    def commit(self) -> None:
        """Make every write since the last commit durable."""
        self._write_rows()
        if self._lag.due:
            self._begin()
            self._lag.index_slice(self._db)
        ceiling = self._pm_id_ceiling
        if ceiling - self._last_pm_id < PM_ID_BLOCK // 2:
            # Raised with a batch's commit while half a block is left: a batch holds
            # far fewer pms than that, so no id outruns the committed ceiling.
            ceiling = self._last_pm_id + PM_ID_BLOCK
            self._write("UPDATE counters SET value = ? WHERE name = 'pm_id'", (ceiling,))
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False
        self._pm_id_ceiling = ceiling
        self.commits += 1

    def rollback(self) -> None:
        """Drop every write since the last commit (a commit failed)."""
        self._pm_rows.clear()
        self._chat_rows.clear()
        self._lag.rolled_back()
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._in_tx = False

    def probe(self) -> bool:
        """Whether a write can be committed now (after a commit failed)."""
        try:
            self._write("UPDATE counters SET value = value WHERE name = 'pm_id'", ())
            self._db.execute("COMMIT")
            self._in_tx = False
        except sqlite3.Error:
            self.rollback()
            return False
        return True

    def checkpoint_elsewhere(self, pages: int, kept_bytes: int) -> None:
        """Another connection checkpoints the log (broker/checkpoints.py): this one
        only past ``pages`` pages, where SQLite's default is 1,000; the log file is
        cut back to ``kept_bytes`` when it starts over."""
        self._db.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
        self._db.execute(f"PRAGMA journal_size_limit={int(kept_bytes)}")

    def close(self) -> None:
        try:
            self.commit()
        except sqlite3.Error as exc:
            log.error("the last writes to %s are lost: %s", self.path, exc)
        finally:
            self._db.close()

    # ------------------------------------------------------------------- room events

    def room_head(self, room: str) -> int:
        self._write_rows()
        row = self._db.execute("SELECT MAX(seq) FROM events WHERE room = ?", (room,)).fetchone()
        return int(row[0] or 0)

    def add_chat(
        self,
        room: str,
        seq: int,
        ts: float,
        user: str,
        text: str,
        data: bytes | None,
        sid: int,
        ref: Ref,
    ) -> None:
        self._chat_rows.append((room, seq, ts, user, text, data, sid, ref))

    def add_presence(
        self, room: str, seq: int, ts: float, user: str, event: str, reason: str | None
    ) -> None:
        kind = KIND_JOIN if event == "join" else KIND_LEAVE
        self._write(
            "INSERT INTO events (room, seq, ts, kind, user, reason) VALUES (?, ?, ?, ?, ?, ?)",
            (room, seq, ts, kind, user, reason),
        )

    def message(self, room: str, seq: int) -> tuple[int, str, float, bool] | None:
        """Event ``seq`` of ``room`` as an edit or delete checks it: (kind, sender,
        ts, deleted), or None if there is no such event."""
        self._write_rows()
        row = self._db.execute(
            "SELECT kind, user, ts, text IS NULL FROM events WHERE room = ? AND seq = ?",
            (room, seq),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], bool(row[3]))

    def add_edit(self, room: str, seq: int, ts: float, user: str, of: int, text: str) -> None:
        """Store the edit event ``seq`` of chat ``of``, which now reads ``text``."""
        self._write(
            "INSERT INTO events (room, seq, ts, kind, user, text, of)"
            f" VALUES (?, ?, ?, {KIND_EDIT}, ?, ?, ?)",
            (room, seq, ts, user, text, of),
        )
        self._db.execute(
            "UPDATE events SET text = ?, edited = ? WHERE room = ? AND seq = ?",
            (text, ts, room, of),
        )
        self._lag.stored(1, len(text))

    def add_delete(
        self, room: str, seq: int, ts: float, user: str, of: int, *, blank: bool = True
    ) -> None:
        """Store the delete event ``seq`` of chat ``of``, whose text and data go
        (unless not ``blank``: a file event stays as sent, its file goes)."""
        self._write(
            "INSERT INTO events (room, seq, ts, kind, user, of)"
            f" VALUES (?, ?, ?, {KIND_DELETE}, ?, ?)",
            (room, seq, ts, user, of),
        )
        if blank:
            self._db.execute(
                "UPDATE events SET text = NULL, data = NULL, edited = ? WHERE room = ? AND seq = ?",
                (ts, room, of),
            )

    def deletion(self, room: str, of: int) -> tuple[int, float] | None:
        """(seq, ts) of the delete event of chat ``of``, if it was deleted."""
        self._write_rows()
        row = self._db.execute(
            f"SELECT seq, ts FROM events WHERE room = ? AND of = ? AND kind = {KIND_DELETE}",
            (room, of),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def room_history(
        self, room: str, after: int | None, before: int | None, limit: int
    ) -> tuple[list[RoomEvent], bool]:
        """Up to ``limit`` events in ascending seq order, and whether more exist in
        the direction of travel (newer for ``after``, older otherwise)."""
        self._write_rows()
        rows, more = self._page(
            "SELECT seq, ts, kind, user, text, data, reason, of, edited FROM events"
            " WHERE room = ?",
            [room], "seq", after, before, limit,
        )  # fmt: skip
        events = [room_event(room, row) for row in rows]
        return [e for e in events if e is not None], more

    def searchable(self) -> sqlite3.Connection:
        """The database to search (see :mod:`.search_index`), after indexing what was
        stored since the indexes last caught up."""
        self._write_rows()
        if self._lag.rows:
            self._catch_up()
        return self._db

    def _catch_up(self) -> None:
        self._begin()
        self._lag.index_all(self._db)

    def _page(
        self,
        sql: str,
        params: list[Any],
        key: str,
        after: int | None,
        before: int | None,
        limit: int,
    ) -> tuple[list[tuple[Any, ...]], bool]:
        """Run a history query (see :func:`rows.page`)."""
        sql, params = page_query(sql, params, key, after, before, limit)
        return page(self._db.execute(sql, params), limit, ascending=after is not None)

    # -------------------------------------------------------------- private messages

    def add_pm(
        self,
        ts: float,
        sender: str,
        recipient: str,
        text: str,
        data: bytes | None,
        sender_sid: int,
        recipient_sid: int | None,
        ref: Ref,
        *,
        queued: bool = False,
        pm_id: int | None = None,
    ) -> int:
        """Keep a private message for the next commit (``queued``: in its recipient's
        mailbox, see :mod:`.mailbox`); returns its id: ``pm_id`` (an engine's, unique
        across nodes) or the next of this store's."""
        if pm_id is None:
            if self._last_pm_id >= self._pm_id_ceiling:
                raise StoreError("private message ids ran past their committed ceiling")
            self._last_pm_id += 1
            pm_id = self._last_pm_id
        self._pm_rows.append(
            pm_row(pm_id, ts, sender, recipient, text, data, sender_sid, recipient_sid, ref, queued)
        )
        return pm_id

    def kept(self) -> tuple[int, int]:
        """A mark of the chats and private messages kept so far, for :meth:`drop_kept`."""
        return len(self._chat_rows), len(self._pm_rows)

    def drop_kept(self, mark: tuple[int, int]) -> None:
        """Forget the chats and private messages kept since ``mark`` (their request
        failed)."""
        del self._chat_rows[mark[0] :]
        del self._pm_rows[mark[1] :]

    def drop_kept_pm(self, pm_id: int) -> None:
        """Take back private message ``pm_id`` (it could not be delivered)."""
        kept = [row for row in self._pm_rows if row[0] != pm_id]
        if len(kept) != len(self._pm_rows):
            self._pm_rows[:] = kept
        else:  # a read in the same batch already handed it to SQLite
            self._write("DELETE FROM pms WHERE id = ?", (pm_id,))

    def _write_rows(self) -> None:
        """Hand the kept chats and private messages to SQLite (before a read, a
        direct write or a commit), in one executemany each: relaying them costs no
        SQLite call meanwhile."""
        if self._chat_rows:
            self._begin()
            self._db.executemany(_INSERT_CHATS, self._chat_rows)
            texts = sum(len(row[4]) for row in self._chat_rows)  # the row's text
            self._lag.stored(len(self._chat_rows), texts)
            self._chat_rows.clear()
        if self._pm_rows:
            self._begin()
            self._db.executemany(INSERT_PMS, self._pm_rows)
            texts = sum(len(row[6]) for row in self._pm_rows)
            self._lag.stored(len(self._pm_rows), texts)
            self._pm_rows.clear()

    def stored_elsewhere(self, rows: int, text_bytes: int) -> None:
        """Rows written through :meth:`writer` that the search indexes lack."""
        self._lag.stored(rows, text_bytes)

    def reader(self) -> sqlite3.Connection:
        """The database, with every kept row in it, to read (for :mod:`.mailbox`)."""
        self._write_rows()
        return self._db

    def writer(self) -> sqlite3.Connection:
        """The database inside the batch's transaction, to write (for :mod:`.mailbox`)."""
        self._write_rows()
        self._begin()
        return self._db

    def pm(self, pm_id: int) -> PmEvent | None:
        """Private message ``pm_id`` as its recipient was handed it, or None."""
        self._write_rows()
        row = self._db.execute(
            "SELECT id, ts, sender, recipient, text, data, sender_sid, ref FROM pms WHERE id = ?",
            (pm_id,),
        ).fetchone()
        return None if row is None else pm_event(row)

    def session_pm_history(
        self, sid: int, other_key: str, after: int | None, before: int | None, limit: int
    ) -> tuple[list[PmEvent], bool]:
        """Private messages session ``sid`` exchanged with user ``other_key``."""
        self._write_rows()
        rows, more = self._page(
            "SELECT id, ts, sender, recipient, text, data FROM pms"
            " WHERE ((sender_sid = ? AND recipient_key = ?)"
            " OR (recipient_sid = ? AND sender_key = ?))",
            [sid, other_key, sid, other_key], "id", after, before, limit,
        )  # fmt: skip
        return [pm_event(r, keyed=False) for r in rows], more

    def forget_room(self, room: str) -> bool:
        """Delete ``room``'s events if they are only comings and goings (no chat, no
        topic, no moderation), and who created it: a room joined again later is a
        new room, with a new creator."""
        self._write_rows()
        kept = f"SELECT 1 FROM events WHERE room = ? AND kind NOT IN ({KIND_JOIN}, {KIND_LEAVE})"
        if self._db.execute(kept + " LIMIT 1", (room,)).fetchone() is not None:
            return False
        self._write("DELETE FROM room_ops WHERE room = ?", (room,))
        self._write("DELETE FROM room_meta WHERE room = ?", (room,))
        return self._write("DELETE FROM events WHERE room = ?", (room,)).rowcount > 0
