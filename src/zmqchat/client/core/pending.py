"""The requests a client has sent or queued and not had answered: each numbered by
its ``ref``, with its frame, its deadline and whoever waits for its reply.

:class:`~zmqchat.client.core.connection.ClientCore` decides what a reply or a
deadline means; the table here keeps them, finds the ones due, and lists what a new
connection must resend, in the order it was made.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from typing import Any, Final

from zmqchat.common.codec import encode
from zmqchat.common.messages import Record
from zmqchat.common.requests import Join, Register

# How often pending requests are checked against their deadlines.
SCAN_INTERVAL: Final = 0.1

# Called with the reply record, or with the exception that ended the request.
Completion = Callable[[Any], None]


@dataclasses.dataclass(slots=True)
class Pending:
    """One request, from the moment it is made until its reply or its deadline."""

    ref: int
    request: Record
    frame: bytes
    deadline: float
    done: Completion | None  # None: the core's own request (ping, gap fill, ...)
    generation: int = -1  # connection generation it was last sent in; -1: not sent


def _by_ref(pending: Pending) -> int:
    return pending.ref


class PendingRequests:
    """Requests waiting for their reply, by ref."""

    def __init__(self) -> None:
        self._table: dict[int, Pending] = {}
        # Refs start at a random point: a client restarted with `resume` takes over a
        # session whose broker remembers the refs of the previous process.
        self._next_ref = secrets.randbits(40)
        self.next_scan = float("inf")  # when to look for expired requests again

    def __len__(self) -> int:
        return len(self._table)

    def make(self, request: Record, done: Completion | None, deadline: float) -> Pending:
        """``request`` under the next ref, encoded; not kept until :meth:`add`."""
        ref = self._next_ref
        self._next_ref += 1
        wire = request.to_wire()
        wire["ref"] = ref
        return Pending(ref, request, encode(wire), deadline, done)

    def add(self, pending: Pending, now: float) -> None:
        """Keep ``pending`` until its reply comes, or it is taken back."""
        self._table[pending.ref] = pending
        if pending.deadline < float("inf"):  # a register waits without one
            self.next_scan = min(self.next_scan, now + SCAN_INTERVAL)

    def put_back(self, pending: Pending) -> None:
        """Keep a request whose reply came but must be sent again, unsent."""
        pending.generation = -1
        self._table[pending.ref] = pending

    def pop(self, ref: object) -> Pending | None:
        """The request ``ref`` answers, no longer pending; None if there is none."""
        return self._table.pop(ref, None) if isinstance(ref, int) else None

    def expire(self, now: float) -> list[Pending]:
        """Take out the requests whose deadline has passed."""
        expired = [p for p in self._table.values() if p.deadline <= now]
        for pending in expired:
            del self._table[pending.ref]
        self.next_scan = now + SCAN_INTERVAL if self._table else float("inf")
        return expired

    def joining(self) -> set[str]:
        """The rooms of the joins waiting for a reply."""
        return {p.request.room for p in self._table.values() if isinstance(p.request, Join)}

    def resend(self, generation: int) -> list[Pending]:
        """After a welcome: drop the registers (answered now), and return the requests
        not sent on connection ``generation``, in ref order, which is the order they
        were made: one put back after a ``not_registered`` sits last in the table,
        and resending it there would let later chats overtake it."""
        for ref in [r for r, p in self._table.items() if isinstance(p.request, Register)]:
            del self._table[ref]
        unsent = [p for p in self._table.values() if p.generation != generation]
        return sorted(unsent, key=_by_ref)

    def take_all(self) -> list[Pending]:
        """Empty the table (the client closes): every request, to fail."""
        taken = list(self._table.values())
        self._table.clear()
        return taken
