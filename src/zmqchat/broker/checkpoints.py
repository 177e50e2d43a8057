"""Copying the store's write-ahead log into the store file, on a thread of its own.

SQLite checkpoints a WAL database on the committing connection by default: the
commit that takes the log past 1,000 pages (4 MB) also copies those pages into the
database file and syncs both files. On the broker's loop that commit took 16-40 ms
(measured with ``make attack``: 16 KiB chats, or joins and registers in a loop),
and every reply and event of its batch waited for it. Here a thread with its own
connection runs passive checkpoints instead: they take no lock a writer needs, and
the sqlite3 module lets go of the GIL while SQLite works, so the loop goes on
meanwhile. While the log grows fast the thread checkpoints round after round, so
what is left to copy stays small. Once a checkpoint has copied the whole log before
the broker writes again, its next write starts the log over from the beginning.

Writes that never pause (16 KiB chats at 1,100 a second, 18 MB/s) leave no such
moment, and the log grows. The broker's own connection still checkpoints past
:data:`FALLBACK_PAGES` (1 GiB, a minute of that load), which holds its loop for the
copy and the syncs (150 ms on this machine's shared disk), and the log file is cut
back to :data:`KEPT_BYTES` once it starts over. Any way to start the log over blocks
the writer: a RESTART checkpoint from this thread held the loop as long, and more
often.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from typing import Final

log = logging.getLogger("zmqchat.broker")

# How often the thread looks at the log when it is not growing fast.
EVERY: Final = 0.25
# Rounds in a row, at most, while each finds at least BUSY_PAGES new pages in the log
# since the one before (the log is being written fast).
ROUNDS: Final = 100
BUSY_PAGES: Final = 64
# The broker's own connection checkpoints past this many pages (1 GiB of 4 KiB pages).
FALLBACK_PAGES: Final = 262_144
# The log file is cut back to this size when it starts over.
KEPT_BYTES: Final = 64 * 1024 * 1024


class Checkpointer:
    """Checkpoints the WAL store at ``path`` until :meth:`close`; ``fsync`` as the
    store's own setting."""

    def __init__(self, path: str, *, fsync: bool) -> None:
        self.path = path
        self.rounds = 0  # checkpoints run, for tests
        self._stop = threading.Event()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._thread = threading.Thread(target=self._run, name="zmqchat-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = 0  # pages in the log at the last round
        while not self._stop.wait(EVERY):
            try:
                for _ in range(ROUNDS):
                    busy, logged, _copied = self._db.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                    self.rounds += 1
                    grew, last = logged - last, logged
                    if busy or grew < BUSY_PAGES or self._stop.is_set():
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
