"""A node's lease in Redis, and its watch on the other nodes' (issue 17).

Each node keeps ``zc:node:{NODE}`` alive (a key that expires after the lease unless
renewed; its value is the endpoint the node advertises to clients, or empty) and its
name in the set ``zc:nodes``. A node whose key has expired is dead: every other node
hears so, and the first to take the reap lock ends its sessions
(:meth:`.names.RedisNames.reap`) — those its clients did not resume elsewhere first.
Renewing runs on the feed's thread, so a busy loop does not let its lease lapse.

A renewal also reads what the loop shows clients: the live nodes' endpoints (a
welcome's ``nodes``) and the engine's epoch (``zc:epoch``, set once with NX: a Redis
that lost everything gets a new one). And it tells the loop when this node's own
lease had lapsed (Redis unreachable, or the node stalled, for longer than the
lease): another node may have ended its sessions meanwhile, and the loop must drop
those Redis no longer says it holds (``["lapsed", tokens]``).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Final

import msgpack
import redis

log = logging.getLogger("zmqchat.broker")

# One atomic call: renew, then say whether the lease had lapsed (with the sessions
# Redis still gives this node), the engine's epoch, and every node's state. The reap
# script refuses a node whose key exists, so a lapse seen here and a reap elsewhere
# can't cross: either the reap came first and its sessions are gone from the set
# returned, or the renewal came first and no reap happens.
_RENEW: Final = """
local node, endpoint, ttl, proposed, held = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local old = redis.call('GET', 'zc:node:' .. node)
redis.call('SET', 'zc:node:' .. node, endpoint, 'PX', ttl)
redis.call('SADD', 'zc:nodes', node)
redis.call('SET', 'zc:epoch', proposed, 'NX')
local lapsed, sessions = 0, {}
if not old and held == '1' then
  lapsed = 1
  sessions = redis.call('SMEMBERS', 'zc:n:' .. node .. ':sessions')
end
local alive, dead = {}, {}
for _, other in ipairs(redis.call('SMEMBERS', 'zc:nodes')) do
  local advertised = redis.call('GET', 'zc:node:' .. other)
  if advertised then alive[#alive + 1] = advertised else dead[#dead + 1] = other end
end
return {redis.call('GET', 'zc:epoch'), lapsed, sessions, alive, dead}
"""


class Lease:
    """Node ``node``'s lease of ``ttl`` seconds: call :meth:`tick` often (well within
    ``ttl / 3``); it returns what to tell the loop (``["dead", NODE]`` and
    ``["lapsed", [TOKEN, ...]]`` messages)."""

    def __init__(
        self, client: redis.Redis, node: str, ttl: float, endpoint: str | None = None
    ) -> None:
        self.client = client
        self.node = node
        self.ttl = ttl
        self.endpoint = endpoint
        # What the last renewal saw, read by the loop's thread (each is replaced
        # whole, never changed in place).
        self.endpoints: tuple[str, ...] = ()
        self.epoch: str | None = None
        self._renew = client.register_script(_RENEW)
        self._held = False  # renewed at least once since this node started
        self._renew_at = 0.0
        self._check_at = time.monotonic() + ttl / 2

    def tick(self) -> list[bytes]:
        now = time.monotonic()
        if now < self._renew_at:
            return []
        self._renew_at = now + self.ttl / 3
        return self.renew(check=now >= self._check_at)

    def renew(self, *, check: bool = False) -> list[bytes]:
        """Renew now; ``check``: report the dead nodes too (not in the first half
        lease after starting, when a node that started with this one may not have
        renewed yet)."""
        # A fresh proposal each time: a Redis that lost everything must not get the
        # epoch this node proposed, and maybe set, before.
        args: list[str | int] = [self.node, self.endpoint or "", int(self.ttl * 1000),
                                 secrets.token_hex(8), int(self._held)]  # fmt: skip
        reply: Any = self._renew(args=args)
        epoch, lapsed, sessions, alive, dead = reply
        self._held = True
        epoch = epoch.decode()
        if self.epoch is not None and epoch != self.epoch:
            log.warning("the engine's epoch changed (%s, was %s): Redis lost its data",
                        epoch, self.epoch)  # fmt: skip
        self.epoch = epoch
        self.endpoints = tuple(sorted({e.decode() for e in alive if e}))
        out = []
        if lapsed:
            tokens = [t.decode() for t in sessions]
            log.warning("this node's lease had lapsed; Redis holds %d of its sessions",
                        len(tokens))  # fmt: skip
            out.append(msgpack.packb(["lapsed", tokens]))
        if check:
            self._check_at = time.monotonic() + self.ttl / 2
            out += [msgpack.packb(["dead", n.decode()]) for n in dead if n.decode() != self.node]
        return out
