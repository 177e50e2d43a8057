"""Accounts as records of the cluster (issue 17): an account made, its password
changed or the account deleted through any node, or by ``zmqchat account`` against
the engine, is an entry of ``zc:records`` (:mod:`.records`) that every node applies
to its own ``accounts`` table, where logins read it.

Redis keeps ``zc:accounts`` (lower-case name -> ``"id:generation"``), changed in the
same script that appends the record: a name gets one account cluster-wide however
many nodes sign it up at once, and a generation is raised once per change wherever
it was made. ``zc:account:id`` numbers accounts, raised first to the writer's floor
(the highest id it knows), so an id is never handed out twice even by a Redis that
lost the counter. ``zc:account:rows`` (lower-case name -> msgpack [id, name, hash,
generation, created, changed]) is every account as the records left it, which a
node starting on a new store loads: the records that made the accounts may be
trimmed from the stream long since. A session's login (``zc:s:{TOKEN}``'s ``login``, see
:mod:`.names`) is checked against ``zc:accounts`` when another node takes it over.

Entry kinds: ``account`` (``r``: [name, hash, created]), ``account_set`` ([hash,
changed]) and ``account_drop``; each carries ``g``, the generation it leaves.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any, Final

import msgpack
import redis

from zmqchat.common.protocol import user_key

STREAM: Final = "zc:records"  # the records' stream (here: records.py imports this module)
COUNT: Final = "zc:records:n"  # entries ever appended
ACCOUNTS: Final = "zc:accounts"
ACCOUNT_IDS: Final = "zc:account:id"
ROWS: Final = "zc:account:rows"
KINDS: Final = frozenset({"account", "account_set", "account_drop"})

# KEYS: stream, its count, zc:accounts, zc:account:id, zc:account:rows. ARGV: records
# kept, kind, node, row, the name's key, the id floor. Returns nil when the name has
# an account (`account`) or has none (the others), else {id, generation, stream id}.
_ACCOUNT: Final = """
local held = redis.call('HGET', KEYS[3], ARGV[5])
local id, gen
if ARGV[2] == 'account' then
  if held then return nil end
  if tonumber(redis.call('GET', KEYS[4]) or '0') < tonumber(ARGV[6]) then
    redis.call('SET', KEYS[4], ARGV[6])
  end
  id, gen = redis.call('INCR', KEYS[4]), 1
else
  if not held then return nil end
  local colon = string.find(held, ':', 1, true)
  id, gen = tonumber(string.sub(held, 1, colon - 1)), tonumber(string.sub(held, colon + 1))
  if ARGV[2] == 'account_set' then gen = gen + 1 end
end
if ARGV[2] == 'account_drop' then
  redis.call('HDEL', KEYS[3], ARGV[5])
  redis.call('HDEL', KEYS[5], ARGV[5])
else
  redis.call('HSET', KEYS[3], ARGV[5], id .. ':' .. gen)
  local r = cmsgpack.unpack(ARGV[4])
  if ARGV[2] == 'account' then
    redis.call('HSET', KEYS[5], ARGV[5], cmsgpack.pack({id, r[1], r[2], gen, r[3], r[3]}))
  else
    local kept = redis.call('HGET', KEYS[5], ARGV[5])
    if kept then
      local row = cmsgpack.unpack(kept)
      row[3], row[4], row[6] = r[1], gen, r[2]
      redis.call('HSET', KEYS[5], ARGV[5], cmsgpack.pack(row))
    end
  end
end
local i = redis.call('INCR', KEYS[2])
local entry = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'k', ARGV[2], 'id', id,
                         'n', ARGV[3], 'r', ARGV[4], 'i', i, 'g', gen)
redis.call('PUBLISH', KEYS[1], '')
return {id, gen, entry}
"""
# A node starting on its store: ids past the ones it holds (see _ACCOUNT).
_FLOOR: Final = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Written:
    """An account record appended: the account's id, the generation it leaves and
    the entry's stream id."""

    id: int
    generation: int
    stream_id: str


class AccountLog:
    """Accounts in Redis, written by node ``node`` (or by ``zmqchat account``)."""

    def __init__(self, client: redis.Redis, node: str, kept: int) -> None:
        self.client = client
        self.node = node
        self.kept = kept
        self._script = client.register_script(_ACCOUNT)
        self._floor = client.register_script(_FLOOR)

    def held(self, name: str) -> bool:
        """Whether ``name`` has an account cluster-wide."""
        return bool(self.client.hexists(ACCOUNTS, user_key(name)))

    def add(self, name: str, hashed: str, now: float, floor: int = 0) -> Written | None:
        """Make the account ``name``; None if the name has one."""
        return self._write("account", name, [name, hashed, now], floor)

    def change(self, name: str, hashed: str, now: float) -> Written | None:
        """Give ``name`` a new password (a new generation); None: no such account."""
        return self._write("account_set", name, [hashed, now])

    def drop(self, name: str) -> Written | None:
        """Delete the account ``name``; None: no such account."""
        return self._write("account_drop", name, None)

    def raise_floor(self, floor: int) -> None:
        self._floor(keys=[ACCOUNT_IDS], args=[floor])

    def load(self, db: sqlite3.Connection) -> int:
        """Keep in ``db`` every account Redis has (a node on a new store); returns
        how many."""
        reply: Any = self.client.hgetall(ROWS)
        for raw in reply.values():
            row = msgpack.unpackb(raw)
            if isinstance(row, list) and len(row) == 6:
                _keep(db, *row)
        return len(reply)

    def _write(self, kind: str, name: str, row: list[Any] | None, floor: int = 0) -> Written | None:
        packed = b"" if row is None else msgpack.packb(row)
        args: list[bytes | str | int] = [self.kept, kind, self.node, packed, user_key(name), floor]
        keys = [STREAM, COUNT, ACCOUNTS, ACCOUNT_IDS, ROWS]
        reply: Any = self._script(keys=keys, args=args)
        if reply is None:
            return None
        return Written(int(reply[0]), int(reply[1]), reply[2].decode())


def highest_id(db: sqlite3.Connection) -> int:
    """The highest account id ``db`` holds or held (AUTOINCREMENT remembers)."""
    row = db.execute(
        "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM accounts"
        " UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'accounts')"
    ).fetchone()
    return int(row[0] or 0)


def apply_account(
    db: sqlite3.Connection, kind: str, account_id: int, generation: int, raw: bytes
) -> None:
    """Keep one account record in a node's ``accounts`` table."""
    if kind == "account_drop":
        db.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
        return
    row = msgpack.unpackb(raw) if raw else None
    if kind == "account" and isinstance(row, list) and len(row) == 3:
        name, hashed, created = row
        _keep(db, account_id, name, hashed, generation, created, created)
    elif kind == "account_set" and isinstance(row, list) and len(row) == 2:
        hashed, changed = row
        db.execute(
            "UPDATE accounts SET hash = ?, generation = ?, changed = ? WHERE id = ?",
            (hashed, generation, changed, account_id),
        )


def _keep(
    db: sqlite3.Connection,
    account_id: int,
    name: str,
    hashed: str,
    generation: int,
    created: float,
    changed: float,
) -> None:
    # Another account of the name here can only be from before a Redis that lost
    # zc:accounts: the cluster's newer one wins on every node alike.
    db.execute("DELETE FROM accounts WHERE key = ? AND id != ?", (user_key(name), account_id))
    db.execute(
        "INSERT OR REPLACE INTO accounts (id, key, name, hash, generation, created, changed)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (account_id, user_key(name), name, hashed, generation, created, changed),
    )
