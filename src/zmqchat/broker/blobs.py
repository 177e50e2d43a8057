"""Uploaded bytes on disk: part files while an upload runs, then content-addressed
blobs.

Under the files folder (``files`` in the data dir): ``parts/<upload id>`` grows
chunk by chunk; once its sha256 is checked it becomes ``blobs/<aa>/<sha256>``, or
is dropped if that blob exists already (the same content is stored once). Files
are ``0600`` and folders ``0700`` whatever the umask, as the store's own (see
:mod:`.files`): a blob may be a private transfer. Nothing here holds more than one
read buffer in memory.

The descriptors of the files being appended to and read are kept open between
chunks, a few of each (:class:`_Descriptors`): opening and closing a file for each
60 KiB chunk cost the loop about as much as writing it. Every change to a part or
a blob (kept, dropped, removed) closes its descriptor first.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Final

from zmqchat.broker.files import FILE_MODE, create_private_file, make_private_folders

# What hashing a part file again (after a broker restart) reads at a time.
_READ: Final = 1 << 20
# Descriptors kept open, of parts and of blobs each: more transfers than this at
# once still work, opening their file again when their turn comes.
KEPT_OPEN: Final = 16


class _Descriptors:
    """Open files by key, the least recently used closed past ``limit``."""

    def __init__(self, limit: int) -> None:
        self._open: collections.OrderedDict[object, int] = collections.OrderedDict()
        self._limit = limit

    def get(self, key: object, path: str, flags: int) -> int:
        fd = self._open.get(key)
        if fd is not None:
            self._open.move_to_end(key)
            return fd
        fd = os.open(path, flags | os.O_CLOEXEC)
        self._open[key] = fd
        if len(self._open) > self._limit:
            os.close(self._open.popitem(last=False)[1])
        return fd

    def close(self, key: object) -> None:
        fd = self._open.pop(key, None)
        if fd is not None:
            os.close(fd)

    def close_all(self) -> None:
        while self._open:
            os.close(self._open.popitem()[1])


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
        self._blobs = str(self.blobs)
        self._appending = _Descriptors(KEPT_OPEN)  # upload id -> its part, to append
        self._reading = _Descriptors(KEPT_OPEN)  # sha256 -> its blob, to read

    def close(self) -> None:
        """Close every descriptor kept open."""
        self._appending.close_all()
        self._reading.close_all()

    # ------------------------------------------------------------------- blobs

    def blob(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.blob(sha256).is_file()

    def read(self, sha256: str, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of a blob from ``offset``."""
        path = f"{self._blobs}/{sha256[:2]}/{sha256}"
        return os.pread(self._reading.get(sha256, path, os.O_RDONLY), size, offset)

    def stored(self) -> list[str]:
        """The sha256 of every blob on disk."""
        if not self.blobs.is_dir():
            return []
        return [p.name for p in self.blobs.glob("??/*") if len(p.name) == 64]

    def remove(self, sha256: str) -> None:
        """Delete the blob of ``sha256`` (no file refers to it any more)."""
        self._reading.close(sha256)
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
        self._appending.close(upload)
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
        fd = self._appending.get(upload, f"{self._parts}/{upload}", os.O_WRONLY | os.O_APPEND)
        try:
            written = os.write(fd, data)
            if written < len(data):  # a short write: disk full, or a signal
                view = memoryview(data)[written:]
                while view:
                    view = view[os.write(fd, view) :]
        except OSError:
            self._appending.close(upload)  # opened again, if the upload goes on
            raise

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
        self._appending.close(upload)
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
        self._appending.close(upload)
        self.part(upload).unlink(missing_ok=True)


__all__ = ["Blobs"]
