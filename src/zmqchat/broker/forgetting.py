"""What the broker forgets, so that no peer can make it remember without bound
(docs/security.md, "Limits"): a room nobody is in and nobody chatted in, with its
comings and goings, ``forget_rooms_after`` seconds after its last member left; a
name that was never an account, ``forget_names_after`` seconds after it was last
registered.

A forgotten room numbers from 1 again if someone joins it later; a forgotten name
is ``no_such_user`` to a ``pm`` instead of ``user_offline``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from zmqchat.broker.room_events import RoomEvents
from zmqchat.broker.state import BrokerState
from zmqchat.broker.store import Store

log = logging.getLogger("zmqchat.broker")

# How often names are swept (they are kept for days; once an hour is plenty).
NAMES_EVERY: Final = 3600.0
# Seconds of forgetting rooms per turn of the loop: thousands of rooms made in a burst
# come due together (make attack's many-rooms: a 0.4 s turn), so the rest waits for
# the next turns, which come at once while some are due.
SWEEP_BUDGET: Final = 0.001


class Forgetting:
    """Sweeps, run from the loop at :meth:`next_due` (monotonic seconds)."""

    def __init__(
        self,
        state: BrokerState,
        store: Store,
        events: RoomEvents,
        *,
        rooms_after: float,
        names_after: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.store = store
        self.events = events  # an engine shared by nodes forgets a room everywhere first
        self.rooms_after = rooms_after
        self.names_after = names_after
        self._wall = wall
        # room -> when it was seen empty. Rooms are noted as the loop's clock goes on,
        # so the dict's order is their order in time: the first is the next due.
        self._empty_since: dict[str, float] = {}
        self._names_due: float | None = None

    def note(self, now: float) -> None:
        """Start the clock of the rooms that lost their last member (every turn)."""
        state = self.state
        if state.emptied:
            for name in state.emptied:
                self._empty_since.setdefault(name, now)
            state.emptied.clear()
        if self._names_due is None:
            self._names_due = now + min(NAMES_EVERY, self.names_after)

    def next_due(self) -> float | None:
        due = [self._names_due] if self._names_due is not None else []
        if self._empty_since:
            due.append(next(iter(self._empty_since.values())) + self.rooms_after)
        return min(due, default=None)

    def sweep(self, now: float) -> None:
        """Forget what is due (writes wait for the batch's commit)."""
        self.note(now)
        state, empty = self.state, self._empty_since
        ends = time.monotonic() + SWEEP_BUDGET
        while empty:
            name, since = next(iter(empty.items()))
            if now - since < self.rooms_after:
                break
            del empty[name]
            if name in state.rooms or name in state.private_rooms:
                continue  # joined again, or private (its creator and invitations stay)
            if self.events.forget(name) and self.store.forget_room(name):
                log.debug("forgot room %s: no member and no chat for %.0fs", name, now - since)
            if time.monotonic() >= ends:
                break
        if self._names_due is not None and now >= self._names_due:
            self._names_due = now + min(NAMES_EVERY, self.names_after)
            forgotten = self.store.forget_names(self._wall() - self.names_after)
            if forgotten:
                log.info(
                    "forgot %d name(s) unused for %.0f days", forgotten, self.names_after / 86400
                )
