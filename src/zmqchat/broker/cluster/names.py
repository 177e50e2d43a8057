"""Names and sessions in Redis (issue 17): a name is held cluster-wide, a session
is taken over by whichever node its client resumes on, and only the node that holds
a session ends it.

Keys (standalone Redis or valkey: the scripts touch keys they are not given, which
Redis Cluster would refuse): ``zc:u:{KEY}`` (hash: ``token``, ``node``, ``sid`` of
the session holding the name), ``zc:s:{TOKEN}`` (hash: ``user``, ``key``, ``rooms``
as msgpack, ``client``, ``node``, ``sid``, and ``login``, ``"id:generation"`` of
the account whose password opened it, checked against ``zc:accounts`` by a node
taking it over: see :mod:`.accounts`), ``zc:r:{ROOM}:members`` and
``zc:online`` (user key -> name), ``zc:sid`` (the last session id given: a session
keeps its sid on every node, as its pm history is kept by it), and ``zc:n:{NODE}``,
the channel on which a node hears from the others (one of its sessions was taken
over, a private message to hand on). Each change is one script, so two nodes can't
both win a name, and members change with the sessions.
"""

from __future__ import annotations

import contextlib
import logging
import queue
from collections.abc import Iterator, Sequence
from typing import Any, Final

import msgpack
import redis

from zmqchat.broker.cluster.lease import Lease
from zmqchat.broker.names import Moved, Names
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import ProtocolError
from zmqchat.logs import Throttle

# Room members (``zc:r:{ROOM}:members``, key -> name) and everyone online
# (``zc:online``) change with the sessions, in the same scripts.
_MEMBERS: Final = """
local function join(rooms, key, user)
  for _, room in ipairs(rooms) do redis.call('HSET', 'zc:r:{' .. room .. '}:members', key, user) end
end
local function leave(rooms, key)
  for _, room in ipairs(rooms) do redis.call('HDEL', 'zc:r:{' .. room .. '}:members', key) end
end
"""
_CLAIM: Final = (
    _MEMBERS
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
-- Past the node's floor (the highest sid it knows): a Redis that lost the counter
-- never hands out a sid a node's store holds.
if tonumber(redis.call('GET', 'zc:sid') or '0') < tonumber(ARGV[7]) then
  redis.call('SET', 'zc:sid', ARGV[7])
end
local sid = redis.call('INCR', 'zc:sid')
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'node', ARGV[2], 'user', ARGV[3], 'sid', sid)
redis.call('HSET', KEYS[2], 'user', ARGV[3], 'rooms', ARGV[4], 'client', ARGV[5], 'node', ARGV[2],
           'key', ARGV[6], 'sid', sid)
if ARGV[8] ~= '' then redis.call('HSET', KEYS[2], 'login', ARGV[8]) end
redis.call('HSET', 'zc:online', ARGV[6], ARGV[3])
redis.call('SADD', 'zc:n:' .. ARGV[2] .. ':sessions', ARGV[1])
join(cmsgpack.unpack(ARGV[4]), ARGV[6], ARGV[3])
return sid
"""
)
# ARGV[3], the auth mode: past "open", a token stands for the password it was opened
# with until that changes (Logins.may_resume), as zc:accounts says now.
_TAKE: Final = """
local held = redis.call('HMGET', KEYS[1], 'token', 'node')
if held[1] ~= ARGV[1] or held[2] == ARGV[2] then return false end
if ARGV[3] ~= 'open' then
  local login = redis.call('HGET', KEYS[2], 'login')
  local account = redis.call('HGET', 'zc:accounts', ARGV[4])
  if login then
    if login ~= account then return false end
  elseif account or ARGV[3] ~= 'accounts' then
    return false
  end
end
redis.call('HSET', KEYS[1], 'node', ARGV[2])
redis.call('HSET', KEYS[2], 'node', ARGV[2])
redis.call('SMOVE', 'zc:n:' .. held[2] .. ':sessions', 'zc:n:' .. ARGV[2] .. ':sessions', ARGV[1])
redis.call('PUBLISH', 'zc:n:' .. held[2], cmsgpack.pack({'moved', ARGV[1]}))
return redis.call('HMGET', KEYS[2], 'user', 'rooms', 'client', 'sid', 'login')
"""
# A login with the account's password on a node that does not hold the name's
# session: it moves here under a new token, as a resume would (KEYS: the name;
# ARGV: the new token, this node, the login). The old token ends with the move, so
# whoever held it can't resume it.
_LOGIN_TAKE: Final = """
local held = redis.call('HMGET', KEYS[1], 'token', 'node')
if not held[1] or held[2] == ARGV[2] then return false end
local old, new = 'zc:s:{' .. held[1] .. '}', 'zc:s:{' .. ARGV[1] .. '}'
if redis.call('EXISTS', old) == 0 then return false end
redis.call('RENAME', old, new)
redis.call('HSET', new, 'node', ARGV[2], 'login', ARGV[3])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'node', ARGV[2])
redis.call('SREM', 'zc:n:' .. held[2] .. ':sessions', held[1])
redis.call('SADD', 'zc:n:' .. ARGV[2] .. ':sessions', ARGV[1])
redis.call('PUBLISH', 'zc:n:' .. held[2], cmsgpack.pack({'moved', held[1]}))
return redis.call('HMGET', new, 'user', 'rooms', 'client', 'sid', 'login')
"""
# A login on the node holding the session: a new token (Registration.take_over).
_RELOGIN: Final = """
local held = redis.call('HMGET', KEYS[1], 'token', 'node')
if held[1] ~= ARGV[1] or held[2] ~= ARGV[3] then return 0 end
redis.call('RENAME', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[3], 'login', ARGV[4])
redis.call('HSET', KEYS[1], 'token', ARGV[2])
redis.call('SREM', 'zc:n:' .. ARGV[3] .. ':sessions', ARGV[1])
redis.call('SADD', 'zc:n:' .. ARGV[3] .. ':sessions', ARGV[2])
return 1
"""
_ROOMS: Final = (
    _MEMBERS
    + """
local held = redis.call('HMGET', KEYS[1], 'node', 'rooms', 'key', 'user')
if held[1] ~= ARGV[1] then return 0 end
local old, new = cmsgpack.unpack(held[2]), cmsgpack.unpack(ARGV[2])
leave(old, held[3])
join(new, held[3], held[4])
redis.call('HSET', KEYS[1], 'rooms', ARGV[2])
return 1
"""
)
_RELEASE: Final = (
    _MEMBERS
    + """
local held = redis.call('HMGET', KEYS[1], 'token', 'node')
if held[1] ~= ARGV[1] or held[2] ~= ARGV[2] then return 0 end
local rooms = redis.call('HGET', KEYS[2], 'rooms')
if rooms then leave(cmsgpack.unpack(rooms), ARGV[3]) end
redis.call('HDEL', 'zc:online', ARGV[3])
redis.call('SREM', 'zc:n:' .. ARGV[2] .. ':sessions', ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2])
return 1
"""
)

# A node whose lease ran out: its sessions end here, once, whichever node gets the
# lock first (KEYS: the lock, the dead node's sessions; ARGV: this node, the lock's
# lifetime in ms). Returns [user, rooms] per session it ended. A node that renewed
# its lease meanwhile is alive (cluster/lease.py): nothing is reaped.
_REAP: Final = (
    _MEMBERS
    + """
if redis.call('EXISTS', 'zc:node:' .. ARGV[3]) == 1 then return {} end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {} end
local ended = {}
for _, token in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local skey = 'zc:s:{' .. token .. '}'
  local s = redis.call('HMGET', skey, 'user', 'rooms', 'key')
  if s[1] then
    leave(cmsgpack.unpack(s[2]), s[3])
    redis.call('HDEL', 'zc:online', s[3])
    redis.call('DEL', 'zc:u:{' .. s[3] .. '}', skey)
    ended[#ended + 1] = {s[1], s[2]}
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', 'zc:nodes', ARGV[3])
return ended
"""
)


_log = logging.getLogger("zmqchat.broker")
_unreachable = Throttle()


@contextlib.contextmanager
def engine_call() -> Iterator[None]:
    """A Redis that can't be reached refuses the request (``store_unavailable``),
    logged once a minute, not once a request."""
    try:
        yield
    except redis.RedisError as exc:
        if _unreachable.due():
            _log.error("the engine's Redis can't be reached: %s", exc)
        raise ProtocolError(
            ErrorCode.STORE_UNAVAILABLE, "the broker's engine can't be reached now; try again"
        ) from None


def _name(key: str) -> str:
    return f"zc:u:{{{key}}}"


def _session(token: str) -> str:
    return f"zc:s:{{{token}}}"


def _login(login: tuple[int, int] | None) -> str:
    """A session's login as Redis keeps it (zc:accounts' form): "id:generation"."""
    return "" if login is None else f"{login[0]}:{login[1]}"


def _parse_login(raw: bytes | None) -> tuple[int, int] | None:
    if not raw:
        return None
    account, _, generation = raw.decode().partition(":")
    return int(account), int(generation)


def node_channel(node: str) -> str:
    """Where node ``node`` hears from the others (msgpack lists, see Names.heard)."""
    return f"zc:n:{node}"


class RedisNames(Names):
    """Node ``node``'s view of names and sessions in one Redis."""

    shared = True

    def __init__(self, client: redis.Redis, node: str, lease: Lease | None = None) -> None:
        self.client = client
        self.node = node
        self.lease = lease
        self._claim = client.register_script(_CLAIM)
        self._take = client.register_script(_TAKE)
        self._release = client.register_script(_RELEASE)
        self._rooms = client.register_script(_ROOMS)
        self._reap = client.register_script(_REAP)
        self._relogin = client.register_script(_RELOGIN)
        self._login_take = client.register_script(_LOGIN_TAKE)
        self.sid_floor = 0  # the highest sid this node knows (see _CLAIM)
        # Filled by the feed's thread (cluster/follow.py), read by the loop.
        self.inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def claim(
        self,
        key: str,
        user: str,
        token: str,
        rooms: Sequence[str],
        client: str | None,
        login: tuple[int, int] | None = None,
    ) -> int | None:
        with engine_call():
            args = [token, self.node, user, msgpack.packb(list(rooms)), client or "", key,
                    self.sid_floor, _login(login)]  # fmt: skip
            sid = int(self._claim(keys=[_name(key), _session(token)], args=args))
            self.sid_floor = max(self.sid_floor, sid)
            return sid or None

    def sids_past(self, sid: int) -> None:
        """Number sessions past ``sid`` (the highest this node's store holds)."""
        self.sid_floor = max(self.sid_floor, sid)

    def take(self, key: str, token: str, auth: str = "open") -> Moved | None:
        with engine_call():
            args = [token, self.node, auth, key]
            reply: Any = self._take(keys=[_name(key), _session(token)], args=args)
            if not reply:
                return None
            return self._moved(reply)

    def take_by_login(self, key: str, new_token: str, login: tuple[int, int]) -> Moved | None:
        with engine_call():
            args = [new_token, self.node, _login(login)]
            reply: Any = self._login_take(keys=[_name(key)], args=args)
            return self._moved(reply) if reply else None

    def _moved(self, reply: Any) -> Moved:
        user, rooms, client, sid, login = reply
        if sid is not None:
            self.sid_floor = max(self.sid_floor, int(sid))
        return Moved(user.decode(), tuple(msgpack.unpackb(rooms)), client.decode() or None,
                     None if sid is None else int(sid), _parse_login(login))  # fmt: skip

    def relogin(self, key: str, token: str, new_token: str, login: tuple[int, int]) -> bool:
        with engine_call():
            keys = [_name(key), _session(token), _session(new_token)]
            args = [token, new_token, self.node, _login(login)]
            return bool(self._relogin(keys=keys, args=args))

    def rooms(self, token: str, rooms: Sequence[str]) -> None:
        with engine_call():
            self._rooms(keys=[_session(token)], args=[self.node, msgpack.packb(list(rooms))])

    def release(self, key: str, token: str) -> bool:
        with engine_call():
            args = [token, self.node, key]
            return bool(self._release(keys=[_name(key), _session(token)], args=args))

    def online(self) -> list[str] | None:
        with engine_call():
            reply: Any = self.client.hvals("zc:online")
            return [name.decode() for name in reply]

    def members(self, room: str) -> list[str] | None:
        with engine_call():
            reply: Any = self.client.hvals(f"zc:r:{{{room}}}:members")
            return [name.decode() for name in reply]

    def member_counts(self, rooms: Sequence[str]) -> list[int] | None:
        with engine_call():
            pipe = self.client.pipeline(transaction=False)
            for room in rooms:
                pipe.hlen(f"zc:r:{{{room}}}:members")
            return [int(n) for n in pipe.execute()]

    def where(self, key: str) -> tuple[str, str, int | None] | None:
        with engine_call():
            reply: Any = self.client.hmget(_name(key), ["node", "user", "sid"])
            node, user, sid = reply
            if node is None or node.decode() == self.node:
                return None
            return str(node.decode()), str(user.decode()), None if sid is None else int(sid)

    def holds(self, key: str, token: str) -> bool:
        with engine_call():
            reply: Any = self.client.hmget(_name(key), ["token", "node"])
            return [v.decode() if v is not None else None for v in reply] == [token, self.node]

    def reap(self, dead: str, lock_ms: int) -> list[tuple[str, tuple[str, ...]]]:
        with engine_call():
            keys = [f"zc:reap:{dead}", f"zc:n:{dead}:sessions"]
            reply: Any = self._reap(keys=keys, args=[self.node, lock_ms, dead])
            return [(user.decode(), tuple(msgpack.unpackb(rooms))) for user, rooms in reply]

    def nodes(self) -> list[str] | None:
        # As this node's lease last saw them (every third of the lease): a welcome
        # costs Redis nothing more.
        return [] if self.lease is None else list(self.lease.endpoints)

    def tell(self, node: str, message: list[Any]) -> None:
        with engine_call():
            self.client.publish(node_channel(node), msgpack.packb(message))

    def heard(self) -> list[list[Any]]:
        out: list[list[Any]] = []
        while True:
            try:
                raw = self.inbox.get_nowait()
            except queue.Empty:
                return out
            message = msgpack.unpackb(raw)
            if isinstance(message, list) and message and isinstance(message[0], str):
                out.append(message)
