"""Copying the store's write-ahead log into the store file, on a thread of its own.

SQLite checkpoints a WAL database on the committing connection by default: the
commit that takes the log past 1,000 pages (4 MB) also copies those pages into the
database file and syncs both files. On the broker's loop that commit took 16-40 ms
(measured with ``make attack``: 16 KiB chats, or joins and registers in a loop),
and every reply and event of its batch waited for it. Here a thread with its own
connection runs passive checkpoints instead: they take no lock a writer needs, and
the sqlite3 module lets go of the GIL while SQLite works, so the loop goes on
meanwhile. Once a checkpoint has copied the whole log, the broker's next write
starts the log over from its beginning.

A passive checkpoint copies only what was committed when it started, so under
writes that never pause the log could keep growing: the broker's own connection
still checkpoints past :data:`FALLBACK_PAGES`, as SQLite would have done at 1,000,
and only has what this thread did not copy yet left to copy.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from typing import Final

log = logging.getLogger("zmqchat.broker")

# How often the thread looks at the log; a busy broker writes a few MB a second.
EVERY: Final = 0.25
# Rounds in a row while each one still found new pages (the log is being written).
ROUNDS: Final = 4
# The broker's own connection checkpoints past this many pages (64 MiB with 4 KiB pages).
FALLBACK_PAGES: Final = 16384


class Checkpointer:
    """Checkpoints the WAL store at ``path`` every :data:`EVERY` seconds until
    :meth:`close`; ``fsync`` as the store's own setting."""

    def __init__(self, path: str, *, fsync: bool) -> None:
        self.path = path
        self.rounds = 0  # checkpoints run, for tests
        self._stop = threading.Event()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._thread = threading.Thread(target=self._run, name="zmqchat-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(EVERY):
            try:
                for _ in range(ROUNDS):
                    busy, logged, copied = self._db.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                    self.rounds += 1
                    if busy or copied >= logged:
                        break
            except sqlite3.Error as exc:
                # The loop's own commits report a store that fails; its connection
                # still checkpoints past FALLBACK_PAGES.
                log.debug("checkpoint of %s failed: %s", self.path, exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
