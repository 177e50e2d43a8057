"""Rate limits per peer address, on top of each session's own (docs/security.md,
"Limits").

A session's limit (``rate_limit``, ``rate_burst``) counts its ``chat`` and ``pm``; a
peer with many sessions, or none, could multiply it. So the requests that cost the
broker work or store space (``register``, ``join``, ``chat``, ``pm``, ``invite``,
``history``, ``who``, ``rooms``) are also counted per address, in one token bucket
per peer IP: ``address_rate_limit`` a second, in bursts of ``address_rate_burst``.
Past it, such a request is answered ``rate_limited`` with ``retry_after``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Final

from zmqchat.broker.state import TokenBucket
from zmqchat.common.messages import (
    Chat,
    Delete,
    Edit,
    History,
    Invite,
    Join,
    ListRooms,
    Pm,
    Register,
    Request,
    Who,
)
from zmqchat.common.protocol import ErrorCode
from zmqchat.common.search import Search
from zmqchat.errors import ProtocolError
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")

LIMITED: Final[frozenset[type[Request]]] = frozenset(
    {Register, Join, Chat, Pm, Invite, Edit, Delete, History, Search, Who, ListRooms}
)
# Buckets idle long enough to be full again are dropped, at most this often.
PRUNE_EVERY: Final = 60.0


class AddressLimits:
    """One token bucket per address; ``rate`` 0 turns the limit off."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._refused: Counter[str] = Counter()
        self._logged = Throttle()
        self._pruned = 0.0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, address: str, now: float) -> float | None:
        """Count one request from ``address``; None if it may go ahead, else the
        seconds until it may."""
        bucket = self._buckets.get(address)
        if bucket is None:
            if now - self._pruned >= PRUNE_EVERY:
                self._prune(now)
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, now)
        if bucket.take(now):
            return None
        self._refuse(address)
        return math.ceil((1.0 - bucket.tokens) / self.rate * 1000) / 1000

    def check(self, request: Request, address: str | None, now: float) -> None:
        """Count ``request`` from ``address`` if it is one that counts; raise
        ``rate_limited`` past the limit."""
        if not self.enabled or address is None or type(request) not in LIMITED:
            return
        wait = self.take(address, now)
        if wait is not None:
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"too many requests from {address}; try again in {wait:g}s",
                retry_after=wait,
            )

    def _prune(self, now: float) -> None:
        self._pruned = now
        refill = self.burst / self.rate
        idle = [a for a, b in self._buckets.items() if now - b.stamp >= refill]
        for address in idle:
            del self._buckets[address]

    def _refuse(self, address: str) -> None:
        self._refused[address] += 1
        if self._logged.due():
            top = ", ".join(f"{a} ({n})" for a, n in self._refused.most_common(3))
            log.warning(
                "refused requests over address_rate_limit (%g/s, burst %d) since the last "
                "report, from %s",
                self.rate,
                self.burst,
                top,
            )
            self._refused.clear()
