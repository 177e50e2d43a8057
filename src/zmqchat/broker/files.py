"""The store's file and folder, private to the broker's user.

The store holds session tokens (whoever reads one can ``resume`` that session) and
the text of every private message. So the broker creates its folders ``0700`` and
the store file ``0600``, whatever the umask; SQLite gives the ``-wal`` and ``-shm``
files it creates beside the store the store file's own mode. Files and folders that
already exist keep the mode the operator gave them; a store others can read is
logged once at start (docs/security.md, "The store file").
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Final

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "create_private_file",
    "make_private_folders",
    "open_private_file",
]

log = logging.getLogger("zmqchat.broker")

FOLDER_MODE: Final = 0o700
FILE_MODE: Final = 0o600


def make_private_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each ``0700``. Raises OSError."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs to set
        os.chmod(path, FOLDER_MODE)  # mkdir's mode went through the umask


def create_private_file(path: str) -> bool:
    """Create ``path`` empty and ``0600`` (its folders ``0700``) unless it exists;
    True if it was created. Raises OSError."""
    make_private_folders(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)  # the mode given to open went through the umask
    finally:
        os.close(fd)
    return True


def open_private_file(path: str) -> int:
    """Open ``path`` read-write, created as :func:`create_private_file` does if
    missing; returns the descriptor. An existing file that other users may read or
    write is logged. Raises OSError."""
    created = create_private_file(path)
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    mode = os.fstat(fd).st_mode
    if not created and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "store %s has mode %04o: other users may read session tokens and private "
            "messages; chmod 600 it (its -wal and -shm files follow it)",
            path,
            stat.S_IMODE(mode),
        )
    return fd
