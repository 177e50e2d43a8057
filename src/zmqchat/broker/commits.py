"""Committing a batch, and what happens while the store can't be written.

The broker stays up when a commit fails (disk full, read-only, an I/O error): reads
need no write, and the store may come back (space freed, a filesystem remounted).
The failed batch is rolled back; until a probe write succeeds, requests that would
write are refused up front (``BrokerCore.writable``), and the failure is logged once
a minute, not once a batch.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Final

from zmqchat.broker.faults import describe
from zmqchat.broker.store import Store
from zmqchat.logs import Throttle

log = logging.getLogger("zmqchat.broker")

# While the store can't be written: how often a write is tried again (the failure is
# logged once a minute).
STORE_PROBE: Final = 1.0


class Commits:
    """Commits ``store``'s batches; :attr:`next_probe` says when to :meth:`probe`
    a store that failed (None while it works)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.next_probe: float | None = None
        self._logged = Throttle()

    def commit(self, now: float | None) -> bool:
        """Commit the batch; on failure roll it back and return False. ``now`` None:
        the last commit before exit, after which nothing is probed."""
        store = self.store
        try:
            store.commit()
        except sqlite3.Error as exc:
            store.rollback()
            clock = time.monotonic()
            if self._logged.due():
                log.error(
                    "store unavailable: %s; writes are answered store_unavailable "
                    "until it can be written",
                    describe(store.path, exc),
                )
            if now is not None:
                self.next_probe = clock + STORE_PROBE
            return False
        return True

    def probe(self, now: float) -> bool:
        """Try a write; True once the store can be written again."""
        if self.store.probe():
            self.next_probe = None
            log.warning("store %s can be written again", self.store.path)
            return True
        self.next_probe = now + STORE_PROBE
        return False
