"""Dropping a second copy of a private message.

A pm is handed over again under its id when its sender retries it, or, after a
broker crash, stored again under a new id with the same ``key`` (protocol.md 5.5).
A copy comes back only within its sender's window of requests in flight, so the
last few thousand ids and keys are enough.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

from zmqchat.common.messages import PmEvent

# Private message ids (and keys) remembered for dropping a second copy.
SEEN_PMS: Final = 4096

_K = TypeVar("_K", int, str)


class RecentIds(Generic[_K]):
    """The last ``size`` ids seen, for dropping repeats."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: dict[_K, None] = {}  # insertion-ordered: the oldest first

    def add(self, item: _K) -> bool:
        """Remember ``item``; False if it was already there."""
        if item in self._ids:
            return False
        self._ids[item] = None
        if len(self._ids) > self._size:
            del self._ids[next(iter(self._ids))]
        return True


class SeenPms:
    """The private messages a client has handed to its program."""

    def __init__(self, size: int = SEEN_PMS) -> None:
        self._ids: RecentIds[int] = RecentIds(size)
        self._keys: RecentIds[str] = RecentIds(size)

    def first(self, msg: PmEvent) -> bool:
        """True for the first copy of ``msg``, which is then remembered."""
        # Both checks run, so each remembers this copy.
        new_id = self._ids.add(msg.id)
        new_key = not isinstance(msg.key, str) or self._keys.add(msg.key)
        return new_id and new_key
