"""Connections budgeted per address and in all, and a deadline for connections that
never come to anything (docs/security.md, "Limits").

Every TCP connection to either port costs the broker a file descriptor and libzmq's
buffers. The sockets' monitors report each connection accepted and each one ended
(:class:`~zmqchat.broker.peers.ConnectionWatch`); a connection past a budget is
closed as soon as it is seen, so it never gets to register, and one that has neither
registered (request port) nor been granted a subscription (PUB port) within
``connect_deadline`` seconds is closed then. Established clients are never touched.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

from zmqchat.broker.peers import ConnectionWatch, shut_down
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")

# Connections closed per turn of the loop, at most: 1,100 connections opened at once
# past a budget took 20-30 ms to close in one go, and every client waited meanwhile.
CLOSE_BATCH: Final = 64


def peer_address(fd: int) -> str | None:
    """The IP address at the other end of the TCP connection on ``fd``."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return None
    try:
        address: str = sock.getpeername()[0]
        return address
    except (OSError, IndexError, TypeError):
        return None
    finally:
        sock.detach()


@dataclasses.dataclass(slots=True)
class _Conn:
    address: str
    port: int
    since: float


class Budgets:
    """Counts the connections of both sockets and closes those past a budget.

    ``in_use(port, fd)`` says whether a connection has come to something (a session
    or a login under way; a granted subscription), so the deadline spares it.
    """

    def __init__(
        self,
        *,
        per_address: int,
        total: int,
        deadline: float,
        in_use: Callable[[int, int], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_address = per_address
        self.total = total
        self.deadline = deadline
        self._in_use = in_use
        self._clock = clock
        self._conns: dict[int, _Conn] = {}
        self._by_address: Counter[str] = Counter()
        self._due: list[tuple[float, int]] = []  # (deadline, fd), a heap
        self._doomed: dict[int, int] = {}  # fd -> port: past a budget, not closed yet
        self._watches: dict[int, ConnectionWatch] = {}  # by port
        self._refused: Counter[str] = Counter()  # since last logged, by address
        self._logged = Throttle(clock=clock)

    def watch(self, watch: ConnectionWatch, port: int) -> None:
        """Count the connections ``watch`` reports, accepted on ``port``."""
        self._watches[port] = watch
        watch.listeners.append(lambda accepted, fd: self._event(accepted, fd, port))

    def _event(self, accepted: bool, fd: int, port: int) -> None:
        self._doomed.pop(fd, None)  # that connection is over: fd may be someone else's
        known = self._conns.pop(fd, None)
        if known is not None:  # ended, or its descriptor went to a new connection
            self._by_address[known.address] -= 1
            if self._by_address[known.address] <= 0:
                del self._by_address[known.address]
        if not accepted:
            return
        address = peer_address(fd)
        if address is None:
            return  # already gone: its end follows
        why = None
        if len(self._conns) >= self.total:
            why = f"{self.total} connections in all (max_connections)"
        elif self._by_address[address] >= self.per_address:
            why = f"{self.per_address} connections from {address} (max_connections_per_address)"
        if why is not None:
            # Closed by expire(), a batch a turn; meanwhile it counts as closed, so
            # nothing registers on it.
            self._doomed[fd] = port
            watch = self._watches.get(port)
            if watch is not None:
                watch.closing(fd)
            self._refuse(address, why)
            return
        now = self._clock()
        self._conns[fd] = _Conn(address, port, now)
        self._by_address[address] += 1
        heapq.heappush(self._due, (now + self.deadline, fd))

    def next_deadline(self) -> float | None:
        if self._doomed:
            return self._clock()
        return self._due[0][0] if self._due else None

    def expire(self, now: float) -> None:
        """Close the connections past a budget and those whose deadline passed and
        that came to nothing, up to CLOSE_BATCH of them (the rest next turn)."""
        if not self._doomed and (not self._due or self._due[0][0] > now):
            return  # every turn, nearly always
        closing = list(itertools.islice(self._doomed.items(), CLOSE_BATCH))
        for fd, port in closing:
            del self._doomed[fd]
            shut_down(fd, port)
        budget = CLOSE_BATCH - len(closing)
        due = self._due
        while due and due[0][0] <= now and budget > 0:
            at, fd = heapq.heappop(due)
            conn = self._conns.get(fd)
            if conn is None or conn.since + self.deadline != at:
                continue  # ended, or a later connection on the same descriptor
            if not self._in_use(conn.port, fd):
                log.debug("closing connection %d from %s: idle since it opened", fd, conn.address)
                shut_down(fd, conn.port)
                budget -= 1
                self._refuse(conn.address, f"nothing within {self.deadline:g} s (connect_deadline)")

    def _refuse(self, address: str, why: str) -> None:
        self._refused[address] += 1
        if self._logged.due():
            total = sum(self._refused.values())
            top = ", ".join(f"{a} ({n})" for a, n in self._refused.most_common(3))
            log.warning(
                "closed %d connection(s) since the last report, from %s; last: %s",
                total,
                top,
                why,
            )
            self._refused.clear()

    def count(self, address: str) -> int:
        """Connections open from ``address``."""
        return self._by_address[address]

    def __len__(self) -> int:
        return len(self._conns)
