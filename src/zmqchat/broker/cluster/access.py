"""Private rooms and invitations across nodes (issue 17): Redis decides, atomically,
whether a room is private and who may enter it; every node keeps a copy of the
decisions (its ``private_rooms`` and ``invites`` tables) from the cluster's records.

Keys, with the room as the hash tag as in :mod:`.roomlog`: ``zc:r:{ROOM}:private``
(the creator's user key), ``:invited`` (a set of user keys) and ``:public``, a
marker set (for :data:`PUBLIC_TTL` seconds) by every check that lets a join or a
post into a public room, and cleared by the room's next append (:mod:`.roomlog`):
between the two, the room exists for Redis although it has no event yet.

The race this settles: a node making a room private (a ``join`` with ``private`` of
a room that does not exist) while another lets someone into the same new room as a
public one. :data:`_CREATE` and :data:`_ADMIT` are each one script, so one of them
comes first: the room is private and the other join is ``not_invited``, or it is
public and the private join is ``bad_request``. The marker also keeps a room from
being forgotten (:mod:`.roomlog`'s forget) between a check and its append, which
would let the room be made private under a member let in as public.

Creating and inviting append their record (kinds ``private`` and ``invite``: a
msgpack row of the table's columns) in the same script, as :mod:`.records`' append
does, so the records say exactly what Redis decided. The writing node applies its
own too (``INSERT OR IGNORE``: nothing here is ever dropped, so nothing comes back),
which leaves its store right even if the join that made a room failed after the
script. Like every script of the
engine's names, these touch keys they are not given: standalone Redis or valkey.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import msgpack

from zmqchat.broker.access import SharedAccess
from zmqchat.broker.cluster.accounts import COUNT, STREAM
from zmqchat.broker.cluster.names import engine_call

if TYPE_CHECKING:
    from zmqchat.broker.cluster.records import RecordLog

log = logging.getLogger("zmqchat.broker")

KINDS: Final = frozenset({"private", "invite"})
# Seconds the public marker outlives a check whose append never came (the node
# failed between them): until then the room can't be made private or forgotten.
PUBLIC_TTL: Final = 60

# A record, as records.py's _APPEND writes one (KEYS: the stream, its counter;
# ARGV[1], ARGV[2]: the entries kept, the writing node).
_RECORD: Final = """
local function record(kind, row)
  local i = redis.call('INCR', KEYS[2])
  local entry = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'k', kind, 'id', 0,
                           'n', ARGV[2], 'r', row, 'i', i)
  redis.call('PUBLISH', KEYS[1], '')  -- wakes the nodes' feed threads (follow.py)
  return entry
end
"""
# ARGV: kept, node, room, creator's key, the record's row, "1" if the node holds the
# room. Returns {"created", entry id}, {"public"} or {"private", creator}.
_CREATE: Final = (
    _RECORD
    + """
local base = 'zc:r:{' .. ARGV[3] .. '}:'
local creator = redis.call('GET', base .. 'private')
if creator then return {'private', creator} end
if ARGV[6] == '1' or tonumber(redis.call('GET', base .. 'seq') or '0') > 0
   or redis.call('EXISTS', base .. 'public') == 1 then
  return {'public'}
end
redis.call('SET', base .. 'private', ARGV[4])
return {'created', record('private', ARGV[5])}
"""
)
# ARGV: the user's key, "1" if the check is for a join or post, the marker's TTL, the
# rooms. Returns per room its creator ("" if public) and 1 if the user may enter.
_ADMIT: Final = """
local key, creates, ttl = ARGV[1], ARGV[2] == '1', ARGV[3]
local out = {}
for n = 4, #ARGV do
  local base = 'zc:r:{' .. ARGV[n] .. '}:'
  local creator = redis.call('GET', base .. 'private')
  if creator then
    out[#out + 1] = creator
    local ok = creator == key or redis.call('SISMEMBER', base .. 'invited', key) == 1
    out[#out + 1] = ok and 1 or 0
  else
    if creates then redis.call('SET', base .. 'public', '1', 'EX', ttl) end
    out[#out + 1] = ''
    out[#out + 1] = 1
  end
end
return out
"""
# ARGV: kept, node, room, the invited user's key, the record's row. Returns the
# record's entry id, or nil if the user was invited already.
_INVITE: Final = (
    _RECORD
    + """
if redis.call('SADD', 'zc:r:{' .. ARGV[3] .. '}:invited', ARGV[4]) == 0 then return false end
return record('invite', ARGV[5])
"""
)


class RedisAccess(SharedAccess):
    """Private rooms as Redis decides them, for node ``log.node``, which appends
    their records to ``log``."""

    shared = True

    def __init__(self, log_: RecordLog, public_ttl: int = PUBLIC_TTL) -> None:
        self.log = log_
        client = log_.client
        self.client = client
        self.public_ttl = public_ttl
        self._create = client.register_script(_CREATE)
        self._admit = client.register_script(_ADMIT)
        self._invite = client.register_script(_INVITE)

    def create(self, room: str, key: str, ts: float, exists: bool) -> str | None:
        row = msgpack.packb([room, key, ts])
        with engine_call():
            args = [self.log.kept, self.log.node, room, key, row, "1" if exists else "0"]
            reply: Any = self._create(keys=[STREAM, COUNT], args=args)
        if reply[0] == b"public":
            return None
        return key if reply[0] == b"created" else str(reply[1].decode())

    def admit(self, key: str, rooms: Sequence[str], creates: bool) -> list[tuple[str | None, bool]]:
        with engine_call():
            args = [key, "1" if creates else "0", self.public_ttl, *rooms]
            reply: Any = self._admit(keys=[], args=args)
        return [
            (creator.decode() or None, bool(ok))
            for creator, ok in zip(reply[::2], reply[1::2], strict=True)
        ]

    def invite(self, room: str, key: str, inviter: str, ts: float) -> None:
        row = msgpack.packb([room, key, inviter, ts])
        with engine_call():
            self._invite(keys=[STREAM, COUNT], args=[self.log.kept, self.log.node, room, key, row])

    def load(self, db: sqlite3.Connection) -> int:
        """Keep in ``db`` every private room and invitation Redis has (a node on a new
        store, while the records of some are trimmed away); returns how many rooms.
        When they were made is not in Redis: 0 here."""
        rooms = 0
        for raw in self.client.scan_iter(match="zc:r:{*}:private", count=1000):
            name = raw.decode()
            room = name[len("zc:r:{") : -len("}:private")]
            creator: Any = self.client.get(name)
            if creator is None:
                continue
            invited: Any = self.client.smembers(f"zc:r:{{{room}}}:invited")
            db.execute(_INSERT_PRIVATE, (room, creator.decode(), 0.0))
            db.executemany(
                _INSERT_INVITE, [(room, user.decode(), creator.decode(), 0.0) for user in invited]
            )
            rooms += 1
        return rooms


_INSERT_PRIVATE: Final = (
    "INSERT OR IGNORE INTO private_rooms (room, creator, created) VALUES (?, ?, ?)"
)
_INSERT_INVITE: Final = (
    "INSERT OR IGNORE INTO invites (room, user, inviter, ts) VALUES (?, ?, ?, ?)"
)


def apply_access(db: sqlite3.Connection, kind: str, raw: bytes) -> tuple[str, str, str] | None:
    """Keep a ``private`` or ``invite`` record in ``db``; returns what memory learns
    (see Records.access_watchers), None for a record not of this form."""
    row = msgpack.unpackb(raw)
    if kind == "private" and isinstance(row, list) and len(row) == 3:
        room, creator, created = row
        db.execute(_INSERT_PRIVATE, (room, creator, created))
        return kind, str(room), str(creator)
    if kind == "invite" and isinstance(row, list) and len(row) == 4:
        room, user, inviter, ts = row
        db.execute(_INSERT_INVITE, (room, user, inviter, ts))
        return kind, str(room), str(user)
    log.warning("a %s record of an unknown form skipped", kind)
    return None
