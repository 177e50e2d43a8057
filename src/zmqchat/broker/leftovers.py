"""What the files folder no longer needs (docs/protocol.md §2.16, "Blob lifetime"):
uploads left unfinished for ``upload_expiry`` seconds, and blobs no row of
``files`` refers to any more.

A blob is content-addressed and shared by every file of its sha256, so it goes
only when the last of them does: a file's row goes when its sender deletes its
event (``delete``, :mod:`.edits`). The row's deletion is part of the batch; the
blob is removed only after a commit has made it durable, at the loop's next turn,
and only if no row of that sha256 is left (a new file of the same content may have
come meanwhile). A broker killed in between leaves the blob behind: the first
sweep after a start looks for blobs no row names, and removes those the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from zmqchat.broker.blobs import Blobs
from zmqchat.broker.store import Store
from zmqchat.common.config import BrokerConfig

log = logging.getLogger("zmqchat.broker")

# How often half-finished uploads are looked for (monotonic seconds).
SWEEP_EVERY: Final = 60.0


class Leftovers:
    """Sweeps of one broker's files folder, run from the loop each turn."""

    def __init__(
        self,
        store: Store,
        blobs: Blobs,
        config: BrokerConfig,
        clock: Callable[[], float],
        *,
        scan: bool = True,
    ) -> None:
        """``scan``: look for blobs no row names once after a start (not in a folder
        other nodes share, whose rows this store may not hold yet)."""
        self.scan = scan
        self.store = store
        self.blobs = blobs
        self.config = config
        self.clock = clock
        self._swept: float | None = None
        # sha256 -> the store's commit count when its last row may have gone: it is
        # looked at once a commit past that one has been made.
        self._unreferenced: dict[str, int] | None = None  # None: not scanned yet

    def release(self, room: str, seq: int) -> int | None:
        """The file event ``seq`` of ``room`` was deleted: its file goes (its id is
        ``no_such_file`` from now on) and its blob once no other file has that
        content. Returns the file's id, if there was one."""
        db = self.store.writer()
        row = db.execute(
            "SELECT id, sha256 FROM files WHERE room = ? AND seq = ?", (room, seq)
        ).fetchone()
        if row is None:
            return None
        db.execute("DELETE FROM files WHERE id = ?", (row[0],))
        self._candidates()[row[1]] = self.store.commits
        log.info("file %d of #%s deleted by its sender", row[0], room)
        return int(row[0])

    def sweep(self, now: float) -> list[int]:
        """Remove the blobs that lost their last file (see the module's docstring),
        and, at most every SWEEP_EVERY seconds of ``now`` (monotonic), the uploads
        left unfinished ``upload_expiry`` seconds; returns the ids of those."""
        self._collect()
        if self._swept is not None and now - self._swept < SWEEP_EVERY:
            return []
        self._swept = now
        before = self.clock() - self.config.upload_expiry
        # Read first: a write transaction opened for nothing would hold the store's
        # snapshot (and the batch's commit) for nothing.
        stale = [r[0] for r in self.store.reader().execute(
            "SELECT id FROM files WHERE done IS NULL AND created < ?", (before,)
        )]  # fmt: skip
        if stale:
            db = self.store.writer()
            for upload in stale:
                db.execute("DELETE FROM files WHERE id = ?", (upload,))
                self.blobs.drop(upload)
            log.info("dropped %d upload(s) left unfinished", len(stale))
        return stale

    def _candidates(self) -> dict[str, int]:
        if self._unreferenced is None and not self.scan:
            self._unreferenced = {}
        if self._unreferenced is None:
            # Blobs a killed broker left without a row; the first look costs a listing
            # of the blobs folder, once per start.
            mark = self.store.commits
            self._unreferenced = dict.fromkeys(self.blobs.stored(), mark)
        return self._unreferenced

    def _collect(self) -> None:
        candidates = self._candidates()
        due = [sha for sha, mark in candidates.items() if self.store.commits > mark]
        if not due:
            return
        db = self.store.reader()
        for sha256 in due:
            del candidates[sha256]
            if db.execute("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone():
                continue  # another file has that content
            try:
                self.blobs.remove(sha256)
            except OSError as exc:
                log.warning("could not remove blob %s: %s", sha256, exc)
                continue
            log.info("removed blob %s: no file refers to it any more", sha256)


__all__ = ["SWEEP_EVERY", "Leftovers"]
