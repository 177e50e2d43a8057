"""The store's SQLite file: its tables, its schema version, and the upgrade of a
file an older zmqchat wrote.

What the tables hold is the business of :class:`~zmqchat.broker.store.Store`; here
the file is opened in the mode the store relies on (WAL) and brought to
:data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Final

from zmqchat.broker.faults import damaged, newer_schema
from zmqchat.broker.files import create_private_file
from zmqchat.errors import StoreError

# The store's own messages, wherever they are written from.
log = logging.getLogger("zmqchat.broker.store")

# 2: `sessions.sid` is AUTOINCREMENT (version 1 stores could hand a sid out again).
# 3: `accounts` (names with a password) and `logins` (the sessions that logged in
#    with one); older stores get both, empty, as they open.
# 4: `pms.convo` (the conversation's two user keys, for `history with` of an account
#    across sessions) and `pms.queued` (a pm waiting in its recipient's mailbox);
#    older stores get both columns, convo filled in, queued empty.
# 5: `private_rooms` (rooms created members-only, with their creator) and `invites`
#    (who may join them); older stores get both, empty.
# 6: `room_meta` (a room's creator, topic and topic lock), `room_ops` (its operators)
#    and `bans`; topic and moderation events (kinds 3 and 4) in `events`. Older
#    stores get the tables, with each private room's creator as its operator; their
#    public rooms have no creator and no operator (docs/protocol.md §2.13).
# 7: `events.of` (the seq an edit or delete refers to) and `events.edited` (when a
#    chat was last edited; its `text` is then the latest), edit and delete events
#    (kinds 5 and 6); older stores get both columns, empty.
# 8: `search_index`, the full-text index of chats and edits (see search_index.py);
#    older stores get it empty, and the store fills it in as it opens.
# 9: `files` (uploads, finished or not; the bytes are blobs in the files folder) and
#    file events (kind 7) in `events`. Older stores get the table, empty.
# 10: `pm_search_index`, the full-text index of private messages (search_index.py);
#    older stores get it empty, and the store fills it in as it opens.
# 11: `session_rooms`, a row per room a session is in: a join or a leave writes one
#    row, where it rewrote the session's whole list (sessions.rooms, JSON, no longer
#    read: a session in 20,000 rooms wrote 2 GB to join them). Older stores get
#    their lists copied in.
# 12: `files.delivered`, when a private file's event was handed to its recipient
#    (NULL while it waits for an offline account's next login). An older store's
#    table gets the column with every file marked delivered when it was finished.
# 13: `engine_marks`, how far a node of the Redis engine applied the cluster's logs
#    (cluster/records.py); older stores get it empty.
SCHEMA_VERSION: Final = 13

# The `kind` column of `events`.
KIND_CHAT: Final = 0
KIND_JOIN: Final = 1
KIND_LEAVE: Final = 2
KIND_TOPIC: Final = 3  # `user` set the topic to `text`
KIND_MODERATION: Final = 4  # `user` did `data`'s action (msgpack map), with `reason`
KIND_EDIT: Final = 5  # `user` replaced the text of chat `of` with `text`
KIND_DELETE: Final = 6  # `user` withdrew chat `of`
KIND_FILE: Final = 7  # `user` sent the file named `text`; `data`: {id, size, sha256}

# Added to version 2 stores as they open (nothing else depends on it).
_COUNTERS: Final = """
CREATE TABLE IF NOT EXISTS counters (
    name    TEXT PRIMARY KEY,
    value   INTEGER NOT NULL
);
"""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    room    TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    ts      REAL    NOT NULL,
    kind    INTEGER NOT NULL,          -- 0 chat, 1 join, 2 leave, 3 topic, 4 moderation,
                                       -- 5 edit, 6 delete
    user    TEXT    NOT NULL,          -- sender, or the user of a presence event
    text    TEXT,
    data    BLOB,                      -- msgpack map, as the client sent it
    reason  TEXT,
    sid     INTEGER,                   -- sending session, for retry de-duplication
    ref,                               -- the sender's ref (int or text)
    of      INTEGER,                   -- edit, delete: the seq of the chat
    edited  REAL                       -- chat: when last edited (text is the latest)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_room_seq ON events (room, seq);
CREATE INDEX IF NOT EXISTS events_sid ON events (sid) WHERE sid IS NOT NULL;

CREATE TABLE IF NOT EXISTS pms (
    id         INTEGER PRIMARY KEY,
    ts         REAL    NOT NULL,
    sender     TEXT    NOT NULL,
    sender_key TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    recipient_key TEXT NOT NULL,
    text       TEXT    NOT NULL,
    data       BLOB,
    sender_sid INTEGER,
    recipient_sid INTEGER,             -- the receiving session (NULL while queued)
    ref,
    convo      TEXT,                   -- the two user keys, lower first, space between
    queued     INTEGER                 -- 1 while in the recipient's mailbox
);
CREATE INDEX IF NOT EXISTS pms_sender ON pms (sender_sid);
CREATE INDEX IF NOT EXISTS pms_recipient ON pms (recipient_sid);

CREATE TABLE IF NOT EXISTS sessions (
    -- AUTOINCREMENT: a sid is never reused, since pm history and retry
    -- de-duplication are keyed by it.
    sid     INTEGER PRIMARY KEY AUTOINCREMENT,
    token   TEXT    NOT NULL UNIQUE,
    user    TEXT    NOT NULL,
    rooms   TEXT    NOT NULL,          -- JSON list of canonical room names
    client  TEXT,
    created REAL    NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    key       TEXT PRIMARY KEY,        -- lower-case name
    name      TEXT NOT NULL,           -- as last registered
    last_seen REAL NOT NULL
) WITHOUT ROWID;
"""


# Version 3. `zmqchat account` writes `accounts` while a broker runs; the broker reads
# an account at each login, so a change needs no restart.
_ACCOUNTS: Final = """
CREATE TABLE IF NOT EXISTS accounts (
    -- AUTOINCREMENT: an account deleted and added again is another account, so
    -- sessions logged in to the first can't be resumed as the second.
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT    NOT NULL UNIQUE,    -- lower-case name
    name       TEXT    NOT NULL,           -- as created
    hash       TEXT    NOT NULL,           -- argon2id, parameters and salt included
    generation INTEGER NOT NULL,           -- raised by each password change
    created    REAL    NOT NULL,
    changed    REAL    NOT NULL            -- the password's last change
);

CREATE TABLE IF NOT EXISTS logins (
    sid        INTEGER PRIMARY KEY,        -- a session that logged in with a password
    account    INTEGER NOT NULL,           -- accounts.id
    generation INTEGER NOT NULL            -- of the password it logged in with
);
-- A session's login goes with it, whichever code ends the session.
CREATE TRIGGER IF NOT EXISTS sessions_logins AFTER DELETE ON sessions BEGIN
    DELETE FROM logins WHERE sid = old.sid;
END;
"""


# Version 4: version 1-3 stores get the columns first (see open_database).
_MAILBOX_COLUMNS: Final = {"convo": "TEXT", "queued": "INTEGER"}
_CONVO: Final = """
UPDATE pms SET convo = CASE WHEN sender_key <= recipient_key
    THEN sender_key || ' ' || recipient_key ELSE recipient_key || ' ' || sender_key END;
"""
_MAILBOX: Final = """
-- `history with` of an account is a range of this index; a mailbox, of the other.
CREATE INDEX IF NOT EXISTS pms_convo ON pms (convo, id);
CREATE INDEX IF NOT EXISTS pms_mailbox ON pms (recipient_key, id) WHERE queued = 1;
"""

# Version 5. Read once at broker start (see access.py); a private room stays private
# after its last member leaves, and its invitations with it.
_PRIVATE_ROOMS: Final = """
CREATE TABLE IF NOT EXISTS private_rooms (
    room    TEXT PRIMARY KEY,          -- canonical name
    creator TEXT NOT NULL,             -- user key of its creator, the room's operator
    created REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS invites (
    room    TEXT NOT NULL,             -- private_rooms.room
    user    TEXT NOT NULL,             -- user key of who may join
    inviter TEXT NOT NULL,             -- user key of who invited them
    ts      REAL NOT NULL,
    PRIMARY KEY (room, user)
) WITHOUT ROWID;
"""


# Version 6. What a room is now (its events are what happened to it): read where it
# is needed, in the batch's transaction, so a failed commit leaves nothing to undo.
_ROOM_META: Final = """
CREATE TABLE IF NOT EXISTS room_meta (
    room     TEXT PRIMARY KEY,          -- canonical name
    creator  TEXT,                      -- user key of the joiner who created it
    created  REAL,
    topic    TEXT NOT NULL DEFAULT '',  -- '' for none
    topic_by TEXT,                      -- display name of who last set it
    topic_ts REAL,
    locked   INTEGER NOT NULL DEFAULT 0 -- 1: only operators may set the topic
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS room_ops (
    room    TEXT NOT NULL,
    user    TEXT NOT NULL,              -- user key of an operator
    PRIMARY KEY (room, user)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS bans (
    room    TEXT NOT NULL,
    user    TEXT NOT NULL,              -- user key
    account INTEGER,                    -- accounts.id the name had when banned, if any
    until   REAL,                       -- NULL: without end
    PRIMARY KEY (room, user)
) WITHOUT ROWID;
"""
# A private room's creator was its operator before version 6 too (only then: in a
# version 6 store the creator may have been deopped since).
_PRIVATE_OPERATORS: Final = """
INSERT OR IGNORE INTO room_meta (room, creator, created)
    SELECT room, creator, created FROM private_rooms;
INSERT OR IGNORE INTO room_ops (room, user) SELECT room, creator FROM private_rooms;
"""


# Version 7: version 1-6 stores get the columns first (see open_database).
_EDIT_COLUMNS: Final = {"of": "INTEGER", "edited": "REAL"}
_EDITS: Final = """
-- A delete retried finds the delete it made (only edits and deletes have `of`).
CREATE INDEX IF NOT EXISTS events_of ON events (room, of) WHERE of IS NOT NULL;
"""

# Version 8. No content of its own (rowid = events.id) and no positions: it only
# answers which rows hold every word asked for, at the least cost per row indexed.
_SEARCH: Final = """
CREATE VIRTUAL TABLE IF NOT EXISTS search_index
    USING fts5(text, content='', detail=none, columnsize=0);
"""

# Version 10. The same for private messages (rowid = pms.id): a search `with` a user
# reads one conversation, whose rows the pms table's own columns pick out.
_PM_SEARCH: Final = """
CREATE VIRTUAL TABLE IF NOT EXISTS pm_search_index
    USING fts5(text, content='', detail=none, columnsize=0);
"""

# Version 11. The rooms of each session, in the order it joined them (rowid).
_SESSION_ROOMS: Final = """
CREATE TABLE IF NOT EXISTS session_rooms (
    sid  INTEGER NOT NULL,
    room TEXT    NOT NULL,
    UNIQUE (sid, room)
);
"""
# What older stores' sessions were in, copied over once.
_COPY_SESSION_ROOMS: Final = """
INSERT OR IGNORE INTO session_rooms (sid, room)
    SELECT s.sid, j.value FROM sessions AS s, json_each(s.rooms) AS j
    WHERE json_valid(s.rooms) AND j.type = 'text' ORDER BY s.sid, j.key;
"""

# Version 9. A row per upload: `done` NULL while its bytes arrive (they are in the
# part file named by its id), then the time it was checked and published. Rows are
# the file ids clients fetch by; blobs are shared by every row of one sha256.
_FILES: Final = """
CREATE TABLE IF NOT EXISTS files (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    sender        TEXT    NOT NULL,     -- display name
    sender_key    TEXT    NOT NULL,
    room          TEXT,                 -- a room's file, or
    recipient     TEXT,                 -- a private one (display name)
    recipient_key TEXT,
    created       REAL    NOT NULL,     -- offered
    done          REAL,                 -- checked and published; NULL while uploading
    seq           INTEGER,              -- its event in `room`
    delivered     REAL                  -- a private one handed to its recipient
);
CREATE INDEX IF NOT EXISTS files_sender ON files (sender_key, sha256);
CREATE INDEX IF NOT EXISTS files_partial ON files (created) WHERE done IS NULL;
CREATE INDEX IF NOT EXISTS files_blob ON files (sha256);
CREATE INDEX IF NOT EXISTS files_waiting ON files (recipient_key)
    WHERE delivered IS NULL AND room IS NULL;
"""
# Version 12's column, for an older store's table: what it finished was handed
# over then (or is for its recipient to fetch by id), not to be handed over again.
_FILES_DELIVERED: Final = (
    "ALTER TABLE files ADD COLUMN delivered REAL; UPDATE files SET delivered = done;"
)


# Version 13. Where a node of the Redis engine is in a log every node follows: the
# stream id ("ms-seq") and ordinal of the last entry of the cluster's records it
# applied ("ms-seq n").
_ENGINE_MARKS: Final = """
CREATE TABLE IF NOT EXISTS engine_marks (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""


def open_database(path: str, *, fsync: bool) -> sqlite3.Connection:
    """The store file at ``path`` (created if new, upgraded if old), in WAL mode.

    Raises :class:`StoreError` for a file of an unknown schema version, and lets
    :class:`sqlite3.DatabaseError` through for one that is not a database.
    """
    if path != ":memory:":
        # Created private before SQLite sees it: SQLite would create it with the
        # umask's mode, and gives its -wal and -shm files the store file's mode.
        create_private_file(path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a killed process (it is in the WAL, in
    # the OS cache); `fsync = true` also survives power loss.
    db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, SCHEMA_VERSION):
        raise StoreError(newer_schema(path, version, SCHEMA_VERSION))
    if version:
        # A page scribbled over shows now, with a clear word, rather than as a
        # traceback later or as every history request failing.
        findings = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
        if findings != ["ok"]:
            raise StoreError(damaged(path, "; ".join(findings)))
    if version == 0:
        db.executescript(
            _SCHEMA
            + _ACCOUNTS
            + _MAILBOX
            + _PRIVATE_ROOMS
            + _ROOM_META
            + _EDITS
            + _SEARCH
            + _FILES
            + _PM_SEARCH
            + _SESSION_ROOMS
            + _ENGINE_MARKS
        )
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    elif version < SCHEMA_VERSION:
        log.info("upgrading store %s to schema version %d", path, SCHEMA_VERSION)
        if version == 1:
            _migrate_from_1(db)
        have = {row[1] for row in db.execute("PRAGMA table_info(pms)")}
        columns = "".join(
            f"ALTER TABLE pms ADD COLUMN {name} {kind};"
            for name, kind in _MAILBOX_COLUMNS.items()
            if name not in have
        )
        have = {row[1] for row in db.execute("PRAGMA table_info(events)")}
        columns += "".join(
            f"ALTER TABLE events ADD COLUMN {name} {kind};"
            for name, kind in _EDIT_COLUMNS.items()
            if name not in have
        )
        have = {row[1] for row in db.execute("PRAGMA table_info(files)")}
        if have and "delivered" not in have:  # a version 9 to 11 store's table
            columns += _FILES_DELIVERED
        db.executescript(
            "BEGIN;"
            + _ACCOUNTS
            + columns
            + (_CONVO if version < 4 else "")  # a version 4 store has it filled in
            + _MAILBOX
            + _PRIVATE_ROOMS
            + _ROOM_META
            + (_PRIVATE_OPERATORS if version < 6 else "")
            + _EDITS
            + _SEARCH
            + _FILES
            + _PM_SEARCH
            + _SESSION_ROOMS
            + (_COPY_SESSION_ROOMS if version < 11 else "")
            + _ENGINE_MARKS
            + f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        )
    db.executescript(_COUNTERS)
    return db


def _migrate_from_1(db: sqlite3.Connection) -> None:
    """Rebuild `sessions` with AUTOINCREMENT, numbering on from the highest sid any
    table mentions, so no sid of an ended session is handed out again (its pm
    history is keyed by it)."""
    highest = db.execute(
        "SELECT MAX(m) FROM (SELECT MAX(sid) AS m FROM sessions"
        " UNION ALL SELECT MAX(sid) FROM events"
        " UNION ALL SELECT MAX(sender_sid) FROM pms"
        " UNION ALL SELECT MAX(recipient_sid) FROM pms)"
    ).fetchone()[0]
    db.executescript(
        "BEGIN;"
        " ALTER TABLE sessions RENAME TO sessions_v1;"
        + _SCHEMA
        + " INSERT INTO sessions SELECT * FROM sessions_v1;"
        " DROP TABLE sessions_v1;"
    )
    raised = db.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'sessions'",
        (highest or 0,),
    )
    if raised.rowcount == 0:
        db.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('sessions', ?)", (highest or 0,)
        )
    db.execute("PRAGMA user_version=2")
    db.execute("COMMIT")
