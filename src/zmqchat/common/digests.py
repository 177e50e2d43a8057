"""sha256 digests fed on one thread and computed on another.

A file transfer's chunk was hashed where it was received: 46 us of a 60 KiB chunk,
on the thread that also receives, writes and answers, while the other core had time
to spare. hashlib lets go of the GIL while it hashes a block of more than 2 KiB, so
one thread of the process's own hashes every transfer's blocks in parallel with the
next receive. Handing a block over is a put on a SimpleQueue: no copy, the block is
the bytes object already received.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from typing import Any, Final

from zmqchat.common.threads import start_thread

# Blocks handed over and not yet hashed, at most: a feeder faster than the hashing
# (a slow CPU, many transfers at once) waits rather than holding them in memory.
MAX_BEHIND: Final = 64


class _Hasher:
    """The process's hashing thread, started with the first block (again in a
    forked child, which has no thread of its parent's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._blocks: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._room = threading.BoundedSemaphore(MAX_BEHIND)
        self._thread: threading.Thread | None = None

    def feed(self, digest: Any, block: bytes) -> None:
        if self._thread is None:
            self._start()
        self._room.acquire()
        self._blocks.put((digest, block))

    def wait(self) -> None:
        """Return once every block fed so far is hashed."""
        if self._thread is None:
            return
        done = threading.Event()
        self._blocks.put((None, done))
        done.wait()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                # Stop signals blocked: a client's main thread must take them.
                self._thread = start_thread(self._run, "zmqchat-sha256")

    def _run(self) -> None:
        blocks, room = self._blocks, self._room
        while True:
            digest, block = blocks.get()
            if digest is None:
                block.set()
                continue
            digest.update(block)
            room.release()


_HASHER: Final = _Hasher()


class BackgroundSha256:
    """A sha256 whose :meth:`update` hands the block to the hashing thread and
    returns at once; :meth:`hexdigest` waits until it is hashed."""

    __slots__ = ("_digest",)

    def __init__(self, digest: Any = None) -> None:
        """``digest``: a hashlib sha256 to go on from (default: a new one)."""
        self._digest = digest if digest is not None else hashlib.sha256()

    def update(self, block: bytes) -> None:
        _HASHER.feed(self._digest, block)

    def hexdigest(self) -> str:
        _HASHER.wait()
        return str(self._digest.hexdigest())


__all__ = ["MAX_BEHIND", "BackgroundSha256"]
