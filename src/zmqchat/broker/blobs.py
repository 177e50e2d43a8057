"""Uploaded bytes on disk: part files while an upload runs, then content-addressed
blobs.

Under the files folder (``files`` in the data dir): ``parts/<upload id>`` grows
chunk by chunk; once its sha256 is checked it becomes ``blobs/<aa>/<sha256>``, or
is dropped if that blob exists already (the same content is stored once). Files
are ``0600`` and folders ``0700`` whatever the umask, as the store's own (see
:mod:`.files`): a blob may be a private transfer. Nothing here holds more than one
read buffer in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Final

from zmqchat.broker.files import FILE_MODE, create_private_file, make_private_folders

# What hashing a part file again (after a broker restart) reads at a time.
_READ: Final = 1 << 20


class Blobs:
    """The files folder of one broker. Methods raise OSError on disk failures."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        # The folders are made with the first upload: a broker nobody sends a file
        # to leaves none behind.
        self.root = root
        # As the store's own setting: what was written survives a killed broker
        # either way (it is in the OS's cache); with fsync it survives power loss
        # too, at the price of a pause of the loop while a blob is synced (about
        # 200 ms for 100 MiB on the benchmark's disk, docs/performance.md).
        self.fsync = fsync
        self.parts = root / "parts"
        self._parts = str(self.parts)  # a chunk's append builds no Path
        self.blobs = root / "blobs"

    # ------------------------------------------------------------------- blobs

    def blob(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.blob(sha256).is_file()

    def read(self, sha256: str, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of a blob from ``offset``."""
        with open(self.blob(sha256), "rb") as f:
            f.seek(offset)
            return f.read(size)

    def stored(self) -> list[str]:
        """The sha256 of every blob on disk."""
        if not self.blobs.is_dir():
            return []
        return [p.name for p in self.blobs.glob("??/*") if len(p.name) == 64]

    def remove(self, sha256: str) -> None:
        """Delete the blob of ``sha256`` (no file refers to it any more)."""
        self.blob(sha256).unlink(missing_ok=True)

    def free(self) -> int:
        """Bytes free on the disk the files folder is (or will be) on."""
        folder = self.root
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        return shutil.disk_usage(folder).free

    # ------------------------------------------------------------------- parts

    def part(self, upload: int) -> Path:
        return self.parts / str(upload)

    def start(self, upload: int) -> None:
        """An empty part file for a new upload (a leftover of the same id, from a
        batch whose commit failed, is emptied)."""
        path = self.part(upload)
        make_private_folders(self.parts)
        make_private_folders(self.blobs)
        create_private_file(str(path))
        os.truncate(path, 0)

    def held(self, upload: int) -> int:
        """Bytes the part file of ``upload`` holds (0 if it has none)."""
        try:
            return self.part(upload).stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, upload: int, data: bytes) -> None:
        fd = os.open(f"{self._parts}/{upload}", os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def hash_part(self, upload: int) -> hashlib._Hash:
        """A sha256 fed with what the part file holds (to go on after a restart)."""
        digest = hashlib.sha256()
        with contextlib.suppress(FileNotFoundError), open(self.part(upload), "rb") as f:
            while chunk := f.read(_READ):
                digest.update(chunk)
        return digest

    def keep(self, upload: int, sha256: str) -> None:
        """Make the (checked) part file of ``upload`` the blob of ``sha256``; with
        ``fsync``, durable before the event that names it is published."""
        part, blob = self.part(upload), self.blob(sha256)
        if blob.is_file():
            part.unlink(missing_ok=True)
            return
        make_private_folders(blob.parent)
        fd = os.open(part, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchmod(fd, FILE_MODE)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, blob)

    def drop(self, upload: int) -> None:
        self.part(upload).unlink(missing_ok=True)


__all__ = ["Blobs"]
