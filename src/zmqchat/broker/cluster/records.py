"""The cluster's records (issue 17): rows a node stores for users beyond room
events (private messages, file rows) go to one Redis stream, ``zc:records``, that
every node follows into its own store, so that each node holds the same private
history whichever node took a message.

A record is appended in the turn its node stores the row, before the request is
acknowledged, in one script that also takes the row's id from a Redis counter
(``zc:pm:id``, ``zc:file:id``): the id is the same on every node, and applying a
record is ``INSERT OR IGNORE`` by it. Every node applies every record but those
its own process wrote (its store made the change already; after a failed commit,
those too), on its loop thread, from entries its feed's thread read
(:mod:`.follow`), and keeps the stream id and ordinal of the last one in its store
(``engine_marks``), in the same transaction: a node that restarts reads on from
there, its own records included.

The stream is bounded (``XADD MAXLEN ~``, ``records_kept`` entries). A node whose
mark is older than what Redis trimmed has lost records for good and refuses to
start (:func:`check_mark`); docs/scaling.md says what to do.

Entry fields: ``k`` (kind: ``pm``, ``pm_set``, ``pm_drop``, ``file``,
``file_set``, ``file_drop``, the accounts' kinds of :mod:`.accounts`, and
``private`` and ``invite`` of :mod:`.access`), ``id``
(the row's id), ``n`` (the node that wrote it), ``r`` (msgpack: the row's fields, or
the columns that changed), ``i`` (the entry's ordinal, from the counter
``zc:records:n``: Redis's XINFO does not say what trimming removed, the first kept
entry's ordinal does) and, on an account's, ``g`` (its password generation).
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from typing import Any, Final

import msgpack
import redis

from zmqchat.broker.cluster import access, accounts
from zmqchat.broker.cluster.accounts import ACCOUNT_IDS, AccountLog
from zmqchat.broker.cluster.names import engine_call
from zmqchat.broker.records import PmFields, Records
from zmqchat.broker.rows import INSERT_PMS, pm_row
from zmqchat.broker.search_index import index_late_pm
from zmqchat.broker.store import Store
from zmqchat.errors import StoreError
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")

STREAM: Final = accounts.STREAM
COUNT: Final = accounts.COUNT  # entries ever appended: each entry's ordinal is its `i`
MARK: Final = "records"  # its row in engine_marks
PM_IDS: Final = "zc:pm:id"
FILE_IDS: Final = "zc:file:id"
# The kinds that take a new id.
_COUNTERS: Final = {"pm": PM_IDS, "file": FILE_IDS, "account": ACCOUNT_IDS}
READ_PAGE: Final = 1000  # entries read (and applied in one turn) at a time
KEPT: Final = 1_000_000  # default of records_kept

# One call: the row's id from its counter, then the entry that carries it. The
# counter is first raised to the writer's floor, the highest id it knows: a Redis
# that lost the counter (restarted empty, or without its last writes) never hands
# out an id a node already holds.
_APPEND: Final = """
local id = ARGV[5]
if KEYS[3] then
  if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[6]) then
    redis.call('SET', KEYS[3], ARGV[6])
  end
  id = redis.call('INCR', KEYS[3])
end
local i = redis.call('INCR', KEYS[2])
local entry = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'k', ARGV[2], 'id', id,
                         'n', ARGV[3], 'r', ARGV[4], 'i', i)
redis.call('PUBLISH', KEYS[1], '')  -- wakes the nodes' feed threads (follow.py)
return {tonumber(id), entry}
"""
_INSERT_PM: Final = INSERT_PMS.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
# What a file record may set (a row's columns; `id` is the record's).
_FILE_COLUMNS: Final = frozenset(
    {"sha256", "name", "size", "sender", "sender_key", "room", "recipient", "recipient_key",
     "created", "done", "seq", "delivered"}
)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One record as read from the stream."""

    stream_id: str
    kind: str
    id: int
    node: str
    row: bytes
    ordinal: int  # the how-manieth entry ever appended it is (1 the first)
    generation: int = 0  # an account record's password generation


def stream_key(stream_id: str) -> tuple[int, int]:
    """A stream id ("ms-seq") as something that orders like it."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class RecordLog:
    """The stream in Redis: append, read after an id, and what it no longer has."""

    def __init__(self, client: redis.Redis, node: str, kept: int = KEPT) -> None:
        self.client = client
        self.node = node
        self.kept = kept
        self._append = client.register_script(_APPEND)

    def append(
        self, kind: str, row: bytes, counter: str | None, record_id: int = 0, floor: int = 0
    ) -> tuple[int, str]:
        """Append a record; returns its id (``counter``'s next past ``floor``, or
        ``record_id``) and its entry's stream id."""
        keys = [STREAM, COUNT] if counter is None else [STREAM, COUNT, counter]
        args: list[bytes | str | int] = [self.kept, kind, self.node, row, record_id, floor]
        reply: Any = self._append(keys=keys, args=args)
        return int(reply[0]), reply[1].decode()

    def read(self, after: str, count: int = READ_PAGE) -> list[Entry]:
        """The entries after stream id ``after`` ("0-0": from the first kept)."""
        reply: Any = self.client.xread({STREAM: after}, count=count)
        out: list[Entry] = []
        for _, entries in reply or ():
            for stream_id, fields in entries:
                out.append(
                    Entry(
                        stream_id.decode(),
                        fields[b"k"].decode(),
                        int(fields[b"id"]),
                        fields[b"n"].decode(),
                        fields[b"r"],
                        int(fields[b"i"]),
                        int(fields.get(b"g", 0)),
                    )
                )
        return out

    def first_kept(self) -> int | None:
        """The ordinal of the oldest entry Redis still has (None: none)."""
        reply: Any = self.client.xrange(STREAM, count=1)
        return int(reply[0][1][b"i"]) if reply else None


@dataclasses.dataclass(frozen=True, slots=True)
class Mark:
    """How far a store applied the records: the last entry's stream id and ordinal."""

    stream_id: str
    ordinal: int

    def __str__(self) -> str:
        return f"{self.stream_id} {self.ordinal}"

    @classmethod
    def parse(cls, text: str) -> Mark:
        stream_id, _, ordinal = text.partition(" ")
        return cls(stream_id, int(ordinal or 0))


def check_mark(log_: RecordLog, mark: Mark | None, store_path: str) -> str:
    """Where a node starting on a store with ``mark`` reads the stream from. Raises
    :class:`StoreError` if Redis trimmed records this store never applied."""
    try:
        first = log_.first_kept()
    except redis.RedisError as exc:  # read on from the mark; the feed retries
        log.error("can't tell whether Redis trimmed records this node lacks: %s", exc)
        first = None
    if mark is None:
        if first is not None and first > 1:
            log.warning("this node's store is new, and the cluster's first %d records are "
                        "gone from Redis: private history older than that is not here",
                        first - 1)  # fmt: skip
        return "0-0"
    # (A Redis that lost everything numbers from 1 again: then nothing is missing
    # that Redis still could give.)
    if first is not None and first > mark.ordinal + 1:
        raise StoreError(
            f"{store_path} applied the cluster's records up to the {mark.ordinal}th, but "
            f"Redis has trimmed them up to the {first - 1}th (records_kept): the "
            f"{first - 1 - mark.ordinal} this node missed are gone. Start it on a copy of "
            "another node's store (docs/scaling.md, 'A node that was down too long')"
        )
    return mark.stream_id


def read_mark(store: Store) -> Mark | None:
    row = (
        store.reader().execute("SELECT value FROM engine_marks WHERE name = ?", (MARK,)).fetchone()
    )
    return None if row is None else Mark.parse(str(row[0]))


class RedisRecords(Records):
    """Node ``log.node``'s records: appended for every node, applied from the others
    (and, after a restart or a failed commit, from itself)."""

    shared = True

    def __init__(self, log_: RecordLog) -> None:
        super().__init__()
        self.log = log_
        # The highest id of each counter this node knows (its store's, then every
        # id it appended or applied): see _APPEND.
        self.floors: dict[str, int] = {PM_IDS: 0, FILE_IDS: 0, ACCOUNT_IDS: 0}
        self.accounts = AccountLog(log_.client, log_.node, log_.kept)
        # Stream ids of the entries this process appended and has not met in the
        # stream yet: its store made the same change already, so they are skipped
        # (applying a pm again cost an INSERT OR IGNORE, and a row dropped since
        # would come back until the drop's entry was applied too).
        self.mine: set[str] = set()
        # Entries a failing store refused (a write of theirs raised): tried again,
        # first, at the next turn; until then the mark stays before them.
        self._refused: list[Entry] = []
        self._logged = Throttle()

    def start(self, store: Store) -> None:
        """Number on from the ids ``store`` holds."""
        db = store.reader()
        for counter, table in ((PM_IDS, "pms"), (FILE_IDS, "files")):
            highest = db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
            self.floors[counter] = max(self.floors[counter], int(highest))
        self.floors[ACCOUNT_IDS] = max(self.floors[ACCOUNT_IDS], accounts.highest_id(db))
        try:
            # `zmqchat account` numbers past what the nodes hold even if Redis lost
            # the counter: it knows no store's ids.
            self.accounts.raise_floor(self.floors[ACCOUNT_IDS])
        except redis.RedisError as exc:
            log.error("can't tell Redis the highest account id here: %s", exc)

    def _append(self, kind: str, row: bytes, counter: str | None, record_id: int = 0) -> int:
        floor = 0 if counter is None else self.floors[counter]
        record_id, stream_id = self.log.append(kind, row, counter, record_id, floor)
        self.mine.add(stream_id)
        if counter is not None:
            self.floors[counter] = max(floor, record_id)
        return record_id

    def pm(self, fields: PmFields) -> int | None:
        with engine_call():
            return self._append("pm", msgpack.packb(list(fields)), PM_IDS)

    def drop_pm(self, pm_id: int) -> None:
        try:
            self._append("pm_drop", b"", None, pm_id)
        except redis.RedisError as exc:
            log.error("other nodes keep pm %d, which was not delivered: %s", pm_id, exc)

    def pm_set(self, pm_id: int, changes: dict[str, Any]) -> None:
        try:
            self._append("pm_set", msgpack.packb(changes), None, pm_id)
        except redis.RedisError as exc:
            log.error("other nodes missed that pm %d was delivered or queued: %s", pm_id, exc)

    def account(self, name: str, hashed: str, now: float) -> int | None:
        with engine_call():
            written = self.accounts.add(name, hashed, now, self.floors[ACCOUNT_IDS])
        if written is None:
            return None
        self.mine.add(written.stream_id)
        self.floors[ACCOUNT_IDS] = max(self.floors[ACCOUNT_IDS], written.id)
        return written.id

    def file(self, row: dict[str, Any]) -> int | None:
        with engine_call():
            return self._append("file", msgpack.packb(row), FILE_IDS)

    def file_update(self, file_id: int, changes: dict[str, Any]) -> None:
        try:
            self._append("file_set", msgpack.packb(changes), None, file_id)
        except redis.RedisError as exc:
            log.error("other nodes missed a change of file %d: %s", file_id, exc)

    def drop_file(self, file_id: int) -> None:
        try:
            self._append("file_drop", b"", None, file_id)
        except redis.RedisError as exc:
            log.error("other nodes keep file %d, which went here: %s", file_id, exc)

    def store_failed(self) -> None:
        # What this process wrote was rolled back with the batch, but is in Redis,
        # and so in every other node's store: this one applies it too.
        self.mine.clear()

    def apply(self, store: Store, entries: list[Entry]) -> None:
        """Keep ``entries`` (in stream order) in ``store`` but those this process
        wrote, and the last one's id and ordinal as its mark, in the batch's
        transaction."""
        if self._refused:
            entries, self._refused = self._refused + entries, []
        if not entries:
            return
        mine = self.mine
        others = [e for e in entries if e.stream_id not in mine]
        db = store.writer()
        try:
            # All or nothing, in a savepoint of the batch's transaction: a write
            # refused here (a failing disk) must not take the node down, nor leave
            # half the entries behind a mark that says they are all kept.
            with store.atomic():
                db.execute(
                    "INSERT OR REPLACE INTO engine_marks (name, value) VALUES (?, ?)",
                    (MARK, str(Mark(entries[-1].stream_id, entries[-1].ordinal))),
                )
                learned = _apply(store, db, others)  # its counts of the index: last
        except sqlite3.Error as exc:
            self._refused = entries
            if self._logged.due():
                log.error(
                    "can't keep %d record(s) of the cluster in %s: %s; trying again",
                    len(entries),
                    store.path,
                    exc,
                )
            return
        if len(others) < len(entries):
            mine.difference_update(e.stream_id for e in entries)
        for entry in others:
            if entry.kind == "file_drop":
                for watcher in self.file_watchers:
                    watcher(entry.id)
        for change in learned:
            for access_watcher in self.access_watchers:
                access_watcher(*change)
        floors = self.floors
        for entry in others:
            counter = _COUNTERS.get(entry.kind)
            if counter is not None and entry.id > floors[counter]:
                floors[counter] = entry.id


def _apply(
    store: Store, db: sqlite3.Connection, entries: list[Entry]
) -> list[tuple[str, str, str]]:
    """Keep ``entries``; returns the private rooms and invitations among them (see
    Records.access_watchers)."""
    added = texts = 0
    learned = []
    for entry in entries:
        if entry.kind == "pm":
            fields = PmFields(*msgpack.unpackb(entry.row))
            inserted = db.execute(_INSERT_PM, pm_row(entry.id, *fields)).rowcount
            if inserted and not index_late_pm(db, entry.id, fields.text):
                added, texts = added + 1, texts + len(fields.text)
        elif entry.kind == "pm_set":
            marks = msgpack.unpackb(entry.row)
            if isinstance(marks, dict):
                db.execute(
                    "UPDATE pms SET queued = ?, recipient_sid = ? WHERE id = ?",
                    (marks.get("queued"), marks.get("recipient_sid"), entry.id),
                )
        elif entry.kind in accounts.KINDS:
            accounts.apply_account(db, entry.kind, entry.id, entry.generation, entry.row)
        elif entry.kind in access.KINDS:
            change = access.apply_access(db, entry.kind, entry.row)
            if change is not None:
                learned.append(change)
        elif entry.kind == "pm_drop":
            db.execute("DELETE FROM pms WHERE id = ?", (entry.id,))
        elif entry.kind == "file":
            row = _file_columns(entry.row)
            names = ", ".join(row)
            marks = ", ".join("?" * len(row))
            db.execute(
                f"INSERT OR IGNORE INTO files (id, {names}) VALUES (?, {marks})",
                (entry.id, *row.values()),
            )
        elif entry.kind == "file_set":
            row = _file_columns(entry.row)
            if row:
                sets = ", ".join(f"{name} = ?" for name in row)
                db.execute(f"UPDATE files SET {sets} WHERE id = ?", (*row.values(), entry.id))
        elif entry.kind == "file_drop":
            db.execute("DELETE FROM files WHERE id = ?", (entry.id,))
        else:
            log.warning("record %s of an unknown kind %r skipped", entry.stream_id, entry.kind)
    if added:
        store.stored_elsewhere(added, texts)
    return learned


def _file_columns(raw: bytes) -> dict[str, Any]:
    """A file record's columns, only those of ``files`` (the names go into SQL)."""
    row = msgpack.unpackb(raw)
    return {k: v for k, v in row.items() if k in _FILE_COLUMNS} if isinstance(row, dict) else {}
