"""Rate limits per peer address, on top of each session's own (docs/security.md,
"Limits").

A session's limit (``rate_limit``, ``rate_burst``) counts its ``chat`` and ``pm``; a
peer with many sessions, or none, could multiply it. So every request frame is also
counted per address, in one token bucket per peer IP: ``address_rate_limit`` a
second, in bursts of ``address_rate_burst``. It is counted before it is decoded: a
frame costs the broker a decode (up to milliseconds for a hostile one) before its
type is known, so the limit has to bite before that. A page sent back (``history``,
``rooms``, ``who``) costs one more request per 4 KiB past its first: a peer asking
for 63 KiB history pages gets 16 times fewer of them than one that chats.

Past the limit a frame is answered ``rate_limited`` with ``retry_after``, but only
``address_refusal_rate`` times a second per address: the rest are dropped unread
and unanswered. Answering every one would let a peer that sends as fast as it is
answered keep the broker busy refusing it (423,241 refusals in 30 s took more than a
core in ``make attack``); unanswered, such a peer runs out of requests in flight and
stops, and one that does not wait for answers costs a dict lookup a frame.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

from zmqchat.broker.state import TokenBucket
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import ProtocolError
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")

# A reply costs one more request per this many bytes past the first: a page of
# history (up to 63 KiB) or of rooms costs the broker its size in work and memory.
REPLY_UNIT: Final = 4096
# Buckets idle long enough to be full again are dropped, at most this often.
PRUNE_EVERY: Final = 60.0


class AddressLimits:
    """One token bucket per address; ``rate`` 0 turns the limit off. Past it, at
    most ``answers`` refusals a second per address are answered."""

    def __init__(
        self,
        rate: float,
        burst: int,
        answers: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.answers = answers
        self.enabled = rate > 0  # an attribute: read for every request
        self._buckets: dict[str, TokenBucket] = {}
        self._answered: dict[str, TokenBucket] = {}  # refusals answered, per address
        self._refused: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._logged = Throttle(clock=clock)  # the log's clock, not the buckets' `now`
        self._pruned = 0.0

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
        return math.ceil((1.0 - bucket.tokens) / self.rate * 1000) / 1000

    def charge(self, address: str, size: int) -> None:
        """A reply of ``size`` bytes went to ``address``: one more request per
        REPLY_UNIT bytes past the first is taken from its bucket, which may go below
        empty (the address then waits until it has refilled)."""
        units = size // REPLY_UNIT
        bucket = self._buckets.get(address)
        if units and bucket is not None:
            bucket.tokens -= units

    def answer(self, address: str, now: float) -> bool:
        """A request from ``address`` was refused (:meth:`take` said to wait): True if
        the refusal is to be answered, False if the request is dropped unanswered."""
        self._refused[address] += 1
        bucket = self._answered.get(address)
        if bucket is None and self.answers > 0:
            burst = max(1, math.ceil(self.answers))
            bucket = self._answered[address] = TokenBucket(self.answers, burst, now)
        answered = bucket is not None and bucket.take(now)
        if not answered:
            self._dropped[address] += 1
        if self._logged.due():
            self._report()
        return answered

    def _report(self) -> None:
        top = ", ".join(
            f"{a} ({n}, {self._dropped[a]} of them unanswered)"
            for a, n in self._refused.most_common(3)
        )
        log.warning(
            "refused requests over address_rate_limit (%g/s, burst %d; answered at most "
            "%g/s: address_refusal_rate) since the last report, from %s",
            self.rate,
            self.burst,
            self.answers,
            top,
        )
        self._refused.clear()
        self._dropped.clear()

    def _prune(self, now: float) -> None:
        self._pruned = now
        refill = self.burst / self.rate
        for buckets in (self._buckets, self._answered):
            idle = [a for a, b in buckets.items() if now - b.stamp >= refill]
            for address in idle:
                del buckets[address]


class ChunkLimits:
    """``file_chunk`` and ``file_get`` per address (``file_rate_limit`` a second, in
    bursts of ``file_rate_burst``; ``rate`` 0: none), on top of the frames counted
    above: a transfer's window bounds it, this bounds how many one peer runs."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._pruned = 0.0

    def take(self, address: str, now: float) -> None:
        """One chunk or range from ``address``; ``rate_limited`` past the limit."""
        rate = self.rate
        if not rate:
            return
        if now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            full = self.burst / rate
            self._buckets = {a: b for a, b in self._buckets.items() if now - b.stamp < full}
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = TokenBucket(rate, self.burst, now)
        if not bucket.take(now):
            wait = math.ceil((1.0 - bucket.tokens) / rate * 1000) / 1000
            raise ProtocolError(
                ErrorCode.RATE_LIMITED, "too many file chunks from your address", retry_after=wait
            )
