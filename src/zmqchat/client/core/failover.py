"""Which broker node a client talks to, and when it gives up on one (sans-IO).

A client may be given several ROUTER endpoints, one per broker node. It shuffles them
once (so that clients spread over the nodes; seedable for tests), connects to the
first, and when the link to it is declared dead moves on to the next, wrapping
around. After a full round in which no node answered it backs off: the first
endpoint of the next round is given ``backoff`` seconds more, during which libzmq
keeps knocking on it (every 100 ms) and a node that comes back is taken at once,
before the client moves on again. The back-off doubles per failed round, up to
:data:`BACKOFF_MAX`, and starts over once a node welcomes the client.

With one endpoint nothing here moves: the client stays on it, as it always has
(libzmq reconnects, and a register that goes unanswered starts a fresh socket).
A welcome that names the live nodes of a shared engine (``nodes``) adds those not
known yet (:meth:`Rotation.add`), so a client given one node's endpoint can fail
over to the others.

:class:`Rotation` holds the order and the attempt under way; the state machine in
:mod:`.connection` tells it what happened (link up, connect retried, welcome) and
asks it when the attempt is over.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Final

# A node whose TCP and ZMTP handshakes have not completed within this many seconds
# is passed over (both take milliseconds on a LAN; the broker's loop is not
# involved, so a busy node still completes them).
CONNECT_WAIT: Final = 2.0
# Extra time given to the first endpoint of a round after a round that failed.
BACKOFF_FIRST: Final = 0.5
BACKOFF_MAX: Final = 8.0


def backoff(rounds: int) -> float:
    """The back-off after ``rounds`` full rounds failed in a row (0: none)."""
    if rounds <= 0:
        return 0.0
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (rounds - 1)))


def shuffled(endpoints: Iterable[str], seed: int | None = None) -> tuple[str, ...]:
    """``endpoints`` without repeats, in the order a client with ``seed`` tries them
    (None: a random order)."""
    order = list(dict.fromkeys(endpoints))
    if len(order) > 1:
        random.Random(seed).shuffle(order)
    return tuple(order)


class Rotation:
    """The endpoints in the order they are tried, and the attempt under way."""

    def __init__(self, endpoints: Iterable[str], *, seed: int | None = None) -> None:
        self.order = shuffled(endpoints, seed)
        self._seed = seed
        if not self.order:
            raise ValueError("a client needs at least one endpoint")
        self._index = 0
        self._failed = 0  # attempts failed in a row since the last welcome
        self._started = 0.0  # when the attempt on the current endpoint began
        self._patient_until = 0.0  # the back-off: refusals before this are waited out
        self.link_up = False  # the DEALER's link, as its monitor last said

    @property
    def current(self) -> str:
        return self.order[self._index]

    @property
    def several(self) -> bool:
        """Whether there is anywhere to move to."""
        return len(self.order) > 1

    @property
    def rounds_failed(self) -> int:
        return self._failed // len(self.order)

    def add(self, endpoints: Iterable[str]) -> tuple[str, ...]:
        """Endpoints a welcome named (the live nodes, protocol.md): those not known
        yet go after the ones we have, shuffled, so that what the user gave is
        tried first. Returns the ones added."""
        new = shuffled((e for e in endpoints if e not in self.order), self._seed)
        self.order += new
        return new

    def begin(self, now: float) -> None:
        """An attempt on the current endpoint starts (a fresh socket)."""
        self._started = now
        self.link_up = False

    def advance(self, now: float) -> str:
        """The current endpoint failed: the next one (its attempt begins now)."""
        self._failed += 1
        self._index = (self._index + 1) % len(self.order)
        rounds, rest = divmod(self._failed, len(self.order))
        self._patient_until = now + (backoff(rounds) if rest == 0 else 0.0)
        self.begin(now)
        return self.current

    def welcomed(self) -> None:
        """The current node registered us: the next failure starts a new count."""
        self._failed = 0
        self._patient_until = 0.0

    def linked(self, now: float) -> None:
        """The link to the current endpoint is up: the register now gets its time."""
        self.link_up = True
        self._started = now

    def refused(self, now: float) -> bool:
        """The connect to the current endpoint failed (libzmq will retry it): True
        when the client should move on now, rather than wait out its back-off."""
        self.link_up = False
        return self.several and now >= self._patient_until

    def deadline(self, register_wait: float) -> float:
        """When the attempt under way is over if no welcome came: the handshake's
        :data:`CONNECT_WAIT` (after any back-off), then ``register_wait`` for the
        welcome once the link is up."""
        if self.link_up or not self.several:
            return self._started + register_wait
        return max(self._started, self._patient_until) + CONNECT_WAIT


__all__ = ["BACKOFF_FIRST", "BACKOFF_MAX", "CONNECT_WAIT", "Rotation", "backoff", "shuffled"]
