"""``get_file``: a download as a sans-IO state machine (docs/protocol.md §2.16),
run by both client faces as :mod:`.transfer` says."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

from zmqchat.client.core.requests import Call
from zmqchat.client.core.transfer import Cancel, Progress, Transfer, reply_call
from zmqchat.common.files import (
    CHUNK_BYTES,
    WINDOW,
    FileData,
    FileGet,
    check_file_name,
    human_size,
)
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import ProtocolError

_READ = 1 << 20  # what hashing a part file reads at a time


@dataclasses.dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded file: where it was saved, and what the broker said it is."""

    id: int
    path: Path
    name: str
    size: int
    sha256: str
    # Bytes a part file left by an earlier fetch held when this one began: fetched
    # again only from there.
    resumed: int = 0


class Download(Transfer[Fetched]):
    """``get_file``: ranges pulled with a window of our own, written to a part file
    beside the destination (kept for a later resume if the download fails), checked
    against the sha256, then renamed."""

    def __init__(
        self,
        file_id: int,
        path: str | os.PathLike[str] | None,
        progress: Progress | None,
        timeout: float | None,
        cancel: Cancel | None = None,
    ) -> None:
        super().__init__(progress, timeout, cancel)
        self.id = file_id
        target = Path(path) if path is not None else Path()
        # A folder (or none given): the file keeps the name it was sent under.
        self._folder = target if target.is_dir() else target.parent
        self._path: Path | None = None if target.is_dir() else target
        self.part = self._folder / f".zmqchat-{file_id}.part"
        self._fd: int | None = None
        self._have = 0  # bytes in the part file, from the start with no hole
        self._resumed = 0
        self._asked = 0  # next offset to ask for
        self._ahead: dict[int, int] = {}  # offset -> length, written past a hole
        self._meta: FileData | None = None
        # The sha256 of the part's first ``_hashed`` bytes, fed as they arrive in
        # order: checking the whole file at the end does not read it all again.
        self._digest = hashlib.sha256()
        self._hashed = 0

    def prepare(self) -> None:
        self._fd = os.open(self.part, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._have = self._asked = self._resumed = os.fstat(self._fd).st_size
        self._feed(self._have)

    def _feed(self, end: int) -> None:
        """Hash what the part file holds from ``_hashed`` up to ``end``."""
        assert self._fd is not None
        while self._hashed < end:
            block = os.pread(self._fd, min(_READ, end - self._hashed), self._hashed)
            if not block:
                break
            self._digest.update(block)
            self._hashed += len(block)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _stopped(self) -> str:
        size = f" of {human_size(self._meta.size)}" if self._meta is not None else ""
        return (
            f"file {self.id}: cancelled with {human_size(self._have)}{size} in {self.part}; "
            "get it to the same place again to go on from there"
        )

    def _get(self, offset: int) -> Call[Any, Any]:
        return reply_call(FileGet(id=self.id, offset=offset, size=CHUNK_BYTES), self.timeout)

    def _again(self) -> Call[Any, Any]:
        self._ahead.clear()
        self._asked = self._have + CHUNK_BYTES
        return self._get(self._have)

    def _next(self) -> list[Call[Any, Any]]:
        if self._meta is None:  # the size comes with the first answer
            if self.in_flight:
                return []
            self._asked += CHUNK_BYTES
            return [self._get(self._asked - CHUNK_BYTES)]
        made: list[Call[Any, Any]] = []
        while self.in_flight + len(made) < WINDOW and self._asked < self._meta.size:
            made.append(self._get(self._asked))
            self._asked += CHUNK_BYTES
        return made

    def _take(self, request: Any, reply: Any) -> None:
        if not isinstance(reply, FileData) or reply.id != self.id:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"unexpected {type(reply).__name__}")
        if self._meta is None:
            self._first(reply)
        assert self._fd is not None
        if reply.data:
            os.pwrite(self._fd, reply.data, reply.offset)
            self._ahead[reply.offset] = len(reply.data)
            if reply.offset == self._hashed:  # in order, as nearly all are
                self._digest.update(reply.data)
                self._hashed += len(reply.data)
        while self._have in self._ahead:
            self._have += self._ahead.pop(self._have)
        self._feed(self._have)  # what had come ahead of a hole, read back
        size = reply.size
        self._progressed(min(self._have, size), size)
        if self._have >= size:
            self._check(reply)
        elif not reply.data:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "an empty range before the end")

    def _first(self, reply: FileData) -> None:
        self._meta = reply
        if self._path is None:
            self._path = self._folder / check_file_name(reply.name)
        if self._have > reply.size:  # a part of something else: start over
            assert self._fd is not None
            os.ftruncate(self._fd, 0)
            self._have = self._resumed = self._hashed = 0
            self._digest = hashlib.sha256()
            self._asked = CHUNK_BYTES

    def _check(self, reply: FileData) -> None:
        assert self._fd is not None
        assert self._path is not None
        os.ftruncate(self._fd, reply.size)
        self._feed(reply.size)
        if self._hashed != reply.size or self._digest.hexdigest() != reply.sha256:
            self.close()
            self.part.unlink(missing_ok=True)
            raise ProtocolError(
                ErrorCode.HASH_MISMATCH,
                f"file {self.id} did not arrive as sent (sha256 differs); fetch it again",
            )
        self.close()
        os.replace(self.part, self._path)
        self._succeed(
            Fetched(self.id, self._path, reply.name, reply.size, reply.sha256, self._resumed)
        )


def get_file(
    file_id: int,
    path: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    timeout: float | None = None,
    cancel: Cancel | None = None,
) -> Download:
    """Fetch file ``file_id`` to ``path`` (a file name, or a folder where it keeps
    the name it was sent under; default: the current folder); returns where it was
    saved and what it is. The bytes go to a part file beside it first, checked
    against the sha256 before it is renamed; a download that fails keeps its part
    file, and fetching again goes on from where it stopped. Fetching a room's file
    does not join the room, but needs you to be a member.

    ``progress(done, size)`` and ``cancel`` as for :meth:`send_file`: a cancelled
    download keeps its part file, and fetching to the same place goes on from it.

    :class:`~zmqchat.errors.BrokerError`: ``not_in_room``, ``no_such_file`` (none,
    or a private file between two others); :class:`~zmqchat.errors.ProtocolError`
    ``hash_mismatch``; ``OSError`` for the local file.
    """
    return Download(file_id, path, progress, timeout, cancel)


__all__ = ["Download", "Fetched", "get_file"]
