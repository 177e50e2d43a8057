"""What a storage failure means, in one line that names the file, says what is wrong
and what to do: for the broker's exit at start, and for its log while it runs.

SQLite reports most faults as text (``database or disk is full``, ``attempt to write a
readonly database``, ``database disk image is malformed``); the OS as an errno. Both
are sorted here into the few cases an operator can act on.
"""

from __future__ import annotations

import errno
import sqlite3

__all__ = ["describe"]

_FULL = "no space left on its device; free some space (or give --db another place)"
_READ_ONLY_FS = "is on a read-only filesystem; remount it read-write, or give --db a writable place"
_READ_ONLY_FILE = (
    "is read-only for this user ({why}); give the broker's user write access to it and "
    "its directory, or give --db a writable place"
)
_DAMAGED = (
    "is damaged ({why}); restore it from a backup, or move it aside to start with an empty store"
)


def describe(path: str, exc: BaseException) -> str:
    """The operator's line for ``exc``, raised while opening or writing ``path``."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        if exc.errno == errno.ENOSPC:
            return f"{path}: {_FULL}"
        if exc.errno == errno.EROFS:
            return f"{path} {_READ_ONLY_FS}"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"{path} {_READ_ONLY_FILE.format(why=exc.strerror)}"
        return f"cannot open {path}: {exc.strerror or exc}"
    text = str(exc)
    lowered = text.lower()
    if "disk is full" in lowered or "no space" in lowered:
        return f"{path}: {_FULL}"
    if "readonly" in lowered or "read-only" in lowered:
        return f"{path} {_READ_ONLY_FILE.format(why=text)}"
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return f"{path} {_DAMAGED.format(why=text)}"
    return f"cannot use {path}: {text}"


def newer_schema(path: str, version: int, known: int) -> str:
    """A store that a newer zmqchat wrote."""
    return (
        f"{path} was written by a newer zmqchat (store schema {version}; this one knows "
        f"{known}); upgrade zmqchat, or give --db another file"
    )


def damaged(path: str, findings: str) -> str:
    """A store whose quick check found faults."""
    return f"{path} {_DAMAGED.format(why='quick_check: ' + findings)}"
