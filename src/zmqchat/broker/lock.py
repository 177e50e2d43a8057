"""One store, one broker: an exclusive lock on the store file itself.

Two brokers appending to one store would hand out the same sequence numbers and
overwrite each other's sessions. A lock file beside the store (``<db>.lock``) only
guards one path: a hard link, a symbolic link or a bind mount reaches the same data
under another name. So the lock is taken on the store file's own inode, with
``flock``, before SQLite opens it. The OS releases it when the process dies, even by
SIGKILL, so a crash never leaves a stale lock.

``flock`` locks are separate from the POSIX record locks SQLite takes on the same
file, so the two don't interfere; the descriptor stays open until after SQLite has
closed the file (closing another descriptor of the file would drop SQLite's POSIX
locks, see "How To Corrupt An SQLite Database File", 2.2).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from zmqchat.broker.faults import describe
from zmqchat.broker.files import open_private_file
from zmqchat.errors import StoreError

__all__ = ["StoreLock", "lock_store"]


class StoreLock:
    """An exclusive lock on a store file, held until :meth:`release`."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def lock_store(path: str) -> StoreLock | None:
    """Lock the store file at ``path`` (created ``0600``, in folders created ``0700``,
    if missing) for this process.

    Raises :class:`StoreError` naming the holder's pid when another broker has it.
    ``:memory:`` needs no lock.
    """
    if path == ":memory:":
        return None
    try:
        # An empty file is fine for SQLite: it takes it as a new database.
        fd = open_private_file(path)
    except OSError as exc:
        raise StoreError(describe(path, exc)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(fd)
        os.close(fd)
        who = f"another broker (pid {holder})" if holder else "another broker"
        raise StoreError(
            f"{path} is in use by {who}; stop that broker first, or give this one another --db"
        ) from None
    return StoreLock(fd, path)


def _lock_holder(fd: int) -> int | None:
    """The pid holding a ``flock`` on ``fd``'s file, from ``/proc/locks`` (Linux)."""
    st = os.fstat(fd)
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    by_inode = None
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or not fields[4].isdigit():
            continue
        if fields[5] == device:
            return int(fields[4])
        if fields[5].rsplit(":", 1)[-1] == str(st.st_ino):
            # On overlay filesystems stat() and /proc/locks name different devices.
            by_inode = int(fields[4])
    return by_inode
