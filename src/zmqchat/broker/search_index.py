"""The full-text indexes of room and private messages, for ``search``
(docs/protocol.md §2.15).

An FTS5 table without content of its own (``search_index``, rowid = ``events.id``,
``detail=none``: words only, no positions) indexes each chat's text and each
edit's new text. It is kept by catching up rather than row by row: once
:data:`CATCH_UP_ROWS` events or :data:`CATCH_UP_BYTES` of text wait, each commit
indexes a slice of them, sized to take about a millisecond (4,096 chats of 16 KiB
took 0.4 s in one go, a stall of the loop), and before every search all of them
are (:class:`Lag`). Each slice is one
``INSERT … SELECT`` of the next events, which moves the mark
(``counters.search_indexed``, the highest ``events.id`` indexed) in the same
transaction. So a search always sees every stored message (it catches up first), a
crash loses nothing (the mark is where the index is, both committed or neither), and
a chat costs a share of one large insert, not an insert of its own
(docs/performance.md, "Search").

An index without content can't forget a row, so what changed is left to the query:
a chat that was edited is found by its latest edit's row only, and a deleted chat
(its text gone from ``events``) by none.

Private messages have an index of their own (``pm_search_index``, rowid = ``pms.id``,
mark ``counters.pm_search_indexed``), caught up with the same steps. A pm is never
changed; one taken back (never delivered) leaves a row that matches no pm.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Final

from zmqchat.broker.rows import pm_event, unpack_data
from zmqchat.broker.schema import KIND_CHAT, KIND_EDIT
from zmqchat.common.messages import ChatEvent, PmEvent

# Rows stored past the marks before a commit indexes some: enough that the insert's
# own cost is shared, few enough that a search catching up stays quick.
CATCH_UP_ROWS: Final = 4096
CATCH_UP_BYTES: Final = 1024 * 1024
# A commit's slice: about a millisecond of indexing, and rows within these bounds
# (the first slice's size is a guess the next ones correct). Per row, slices of a
# few hundred cost what one of 4,096 does; slices of 64 cost twice as much
# (docs/performance.md, "Search").
SLICE_SECONDS: Final = 0.001
FIRST_SLICE_ROWS: Final = 512
MIN_SLICE_ROWS: Final = 8
MAX_SLICE_ROWS: Final = 4096

_MARK: Final = "search_indexed"
_PM_MARK: Final = "pm_search_indexed"

# What each index holds: (its mark, its table, the table it indexes, which rows).
_INDEXES: Final = (
    (_MARK, "search_index", "events", f"kind IN ({KIND_CHAT}, {KIND_EDIT}) AND text IS NOT NULL"),
    (_PM_MARK, "pm_search_index", "pms", "1"),
)

# A private message as `history with` gives it (rows.pm_event's columns, no key).
_PM_COLUMNS: Final = "p.id, p.ts, p.sender, p.recipient, p.text, p.data"


def catch_up(db: sqlite3.Connection, limit: int | None = None) -> tuple[int, bool]:
    """Index the chats, edits and private messages stored since the marks, at most
    ``limit`` rows of each table, in the open transaction; returns how many rows
    that covered, and whether the indexes are caught up."""
    covered, done = 0, True
    for name, index, table, which in _INDEXES:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        mark = row[0] if row is not None else 0
        top = db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
        if limit is not None and top - mark > limit:
            top, done = mark + limit, False
        if top <= mark:
            continue
        db.execute(
            f"INSERT INTO {index} (rowid, text) SELECT id, text FROM {table}"
            f" WHERE id > ? AND id <= ? AND {which}",
            (mark, top),
        )
        db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, top))
        covered += top - mark
    return int(covered), done


class Lag:
    """What the indexes lack, and catching up with it: a commit indexes a slice once
    :data:`CATCH_UP_ROWS` rows or :data:`CATCH_UP_BYTES` of text wait, and goes on
    slice by slice, each sized from the last one's time to take about
    :data:`SLICE_SECONDS` whatever the messages' length, until none is left."""

    def __init__(self) -> None:
        self.rows = 0  # rows stored since the indexes last caught up
        self.text_bytes = 0  # ... and the characters of their texts
        self.behind = False  # a slice left some: the next commit takes another
        self._slice = FIRST_SLICE_ROWS

    def stored(self, rows: int, text_bytes: int) -> None:
        self.rows += rows
        self.text_bytes += text_bytes

    @property
    def due(self) -> bool:
        """Whether the next commit should index a slice."""
        return self.behind or self.rows >= CATCH_UP_ROWS or self.text_bytes >= CATCH_UP_BYTES

    def index_slice(self, db: sqlite3.Connection) -> None:
        started = time.perf_counter()
        covered, done = catch_up(db, self._slice)
        took = time.perf_counter() - started
        if covered:
            fits = int(covered / max(took, 1e-6) * SLICE_SECONDS)
            self._slice = min(MAX_SLICE_ROWS, max(MIN_SLICE_ROWS, fits))
        self.behind = not done
        if done:
            self.rows = self.text_bytes = 0

    def index_all(self, db: sqlite3.Connection) -> int:
        covered, _ = catch_up(db)
        self.rows = self.text_bytes = 0
        self.behind = False
        return covered

    def rolled_back(self) -> None:
        """What was indexed in the transaction is undone too: the next search
        catches up (not the next commit, which would find the store as unwritable as
        this one did)."""
        self.rows = max(1, min(self.rows, CATCH_UP_ROWS - 1))
        self.text_bytes = min(self.text_bytes, CATCH_UP_BYTES - 1)
        self.behind = False


def find(
    db: sqlite3.Connection,
    query: str,
    rooms: list[str] | Callable[[str], bool],
    before: float | None,
    limit: int,
) -> tuple[list[ChatEvent], bool]:
    """Up to ``limit`` chats matching ``query`` (an FTS5 query) newest first (by when
    they were sent or last edited, before ``before``), and whether more are left:
    of ``rooms``, a list or a test of a room's name."""
    where = "search_index MATCH ?"
    params: list[object] = [query]
    if isinstance(rooms, list):
        where += f" AND e.room IN ({', '.join('?' * len(rooms))})"
        params += rooms
    if before is not None:
        where += " AND e.ts < ?"
        params.append(before)
    # CROSS JOIN: the index's rows, newest first, drive the scan.
    sql = (
        "SELECT e.kind, e.room, e.seq, e.ts, e.user, e.text, e.data, e.of, e.edited"
        " FROM search_index AS s CROSS JOIN events AS e ON e.id = s.rowid"
        f" WHERE {where} ORDER BY s.rowid DESC"
    )
    readable = rooms if callable(rooms) else None
    found: list[ChatEvent] = []
    for kind, room, seq, ts, user, text, data, of, edited in db.execute(sql, params):
        if readable is not None and not readable(room):
            continue
        if kind == KIND_CHAT:
            if edited is not None or text is None:
                continue  # found by its latest edit, if it was edited; deleted: gone
            event = ChatEvent(room=room, seq=seq, sender=user, text=text, ts=ts,
                              data=unpack_data(data))  # fmt: skip
        else:
            current = _edited_chat(db, room, of, seq)
            if current is None:
                continue
            event = current
        found.append(event)
        if len(found) > limit:
            return found[:limit], True
    return found, False


def find_pms(
    db: sqlite3.Connection,
    query: str,
    scope: tuple[str, list[object]],
    before: float | None,
    limit: int,
) -> tuple[list[PmEvent], bool]:
    """Up to ``limit`` private messages matching ``query`` newest first (sent before
    ``before``), and whether more are left: of the rows ``scope`` picks out (a
    condition on ``pms AS p`` and its parameters: one conversation, see
    :mod:`.searching`)."""
    where, params = scope
    sql = (
        f"SELECT {_PM_COLUMNS} FROM pm_search_index AS s CROSS JOIN pms AS p ON p.id = s.rowid"
        f" WHERE pm_search_index MATCH ? AND ({where})"
    )
    params = [query, *params]
    if before is not None:
        sql += " AND p.ts < ?"
        params.append(before)
    rows = db.execute(sql + " ORDER BY s.rowid DESC LIMIT ?", [*params, limit + 1]).fetchall()
    found = [pm_event(row, keyed=False) for row in rows[:limit]]
    return found, len(rows) > limit


def _edited_chat(db: sqlite3.Connection, room: str, of: int, edit_seq: int) -> ChatEvent | None:
    """Chat ``of`` as it reads now, if edit ``edit_seq`` is its latest and it was not
    deleted since."""
    latest = db.execute(
        f"SELECT MAX(seq) FROM events WHERE room = ? AND of = ? AND kind = {KIND_EDIT}",
        (room, of),
    ).fetchone()[0]
    if latest != edit_seq:
        return None
    row = db.execute(
        "SELECT seq, ts, user, text, data, edited FROM events WHERE room = ? AND seq = ?",
        (room, of),
    ).fetchone()
    if row is None or row[3] is None:
        return None
    seq, ts, user, text, data, edited = row
    return ChatEvent(room=room, seq=seq, sender=user, text=text, ts=ts,
                     data=unpack_data(data), edited=edited)  # fmt: skip


__all__ = ["CATCH_UP_BYTES", "CATCH_UP_ROWS", "Lag", "catch_up", "find", "find_pms"]


def index_late_pm(db: sqlite3.Connection, pm_id: int, text: str) -> bool:
    """Index private message ``pm_id`` now if the index's mark is past it (another
    node's, applied after this node's later ids were indexed: catching up, which
    goes by id, would never reach it); False if catching up will."""
    row = db.execute("SELECT value FROM counters WHERE name = ?", (_PM_MARK,)).fetchone()
    if row is None or row[0] < pm_id:
        return False
    db.execute("INSERT INTO pm_search_index (rowid, text) VALUES (?, ?)", (pm_id, text))
    return True
