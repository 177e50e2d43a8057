"""The full-text index of room messages, for ``search`` (docs/protocol.md §2.15).

An FTS5 table without content of its own (``search_index``, rowid = ``events.id``,
``detail=none``: words only, no positions) indexes each chat's text and each
edit's new text. It is kept by catching up rather than row by row: every
:data:`CATCH_UP_ROWS` events (in the commit that reaches them) and before every
search, one ``INSERT … SELECT`` indexes the events stored since the last time, and
moves the mark (``counters.search_indexed``, the highest ``events.id`` indexed) in
the same transaction. So a search always sees every stored message (it catches up
first), a crash loses nothing (the mark is where the index is, both committed or
neither), and a chat costs a share of one large insert, not an insert of its own
(docs/performance.md, "Search").

An index without content can't forget a row, so what changed is left to the query:
a chat that was edited is found by its latest edit's row only, and a deleted chat
(its text gone from ``events``) by none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

from zmqchat.broker.rows import unpack_data
from zmqchat.broker.schema import KIND_CHAT, KIND_EDIT
from zmqchat.common.messages import ChatEvent

# Events stored past the mark before a commit indexes them: large enough that the
# insert is cheap per row, small enough that a search catching up stays quick.
CATCH_UP_ROWS: Final = 4096

_MARK: Final = "search_indexed"


def catch_up(db: sqlite3.Connection) -> int:
    """Index the events stored since the mark, in the open transaction; returns how
    many events that covered."""
    row = db.execute("SELECT value FROM counters WHERE name = ?", (_MARK,)).fetchone()
    mark = row[0] if row is not None else 0
    top = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
    if top <= mark:
        return 0
    db.execute(
        "INSERT INTO search_index (rowid, text) SELECT id, text FROM events"
        f" WHERE id > ? AND id <= ? AND kind IN ({KIND_CHAT}, {KIND_EDIT})"
        " AND text IS NOT NULL",
        (mark, top),
    )
    db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (_MARK, top))
    return int(top - mark)


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


__all__ = ["CATCH_UP_ROWS", "catch_up", "find"]
