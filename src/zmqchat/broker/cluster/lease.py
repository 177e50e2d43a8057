"""A node's lease in Redis, and its watch on the other nodes' (issue 17).

Each node keeps ``zc:node:{NODE}`` alive (a key that expires after the lease unless
renewed) and its name in the set ``zc:nodes``. A node whose key has expired is dead:
every other node hears so, and the first to take the reap lock ends its sessions
(:meth:`.names.RedisNames.reap`) — those its clients did not resume elsewhere first.
Renewing runs on the feed's thread, so a busy loop does not let its lease lapse.
"""

from __future__ import annotations

import time
from typing import Any

import msgpack
import redis


class Lease:
    """Node ``node``'s lease of ``ttl`` seconds: call :meth:`tick` often (well within
    ``ttl / 3``); it returns what to tell the loop (``["dead", NODE]`` messages)."""

    def __init__(self, client: redis.Redis, node: str, ttl: float) -> None:
        self.client = client
        self.node = node
        self.ttl = ttl
        self._renew_at = 0.0
        self._check_at = time.monotonic() + ttl / 2

    def tick(self) -> list[bytes]:
        now = time.monotonic()
        if now >= self._renew_at:
            self._renew_at = now + self.ttl / 3
            pipe = self.client.pipeline()
            pipe.set(f"zc:node:{self.node}", 1, px=int(self.ttl * 1000))
            pipe.sadd("zc:nodes", self.node)
            pipe.execute()
        if now < self._check_at:
            return []
        self._check_at = now + self.ttl / 2
        nodes: Any = self.client.smembers("zc:nodes")
        others = sorted(n.decode() for n in nodes if n.decode() != self.node)
        if not others:
            return []
        pipe = self.client.pipeline()
        for other in others:
            pipe.exists(f"zc:node:{other}")
        alive = pipe.execute()
        dead = [other for other, up in zip(others, alive, strict=True) if not up]
        return [msgpack.packb(["dead", n]) for n in dead]
