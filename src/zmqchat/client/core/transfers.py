"""File uploads and downloads as sans-IO state machines (docs/protocol.md §2.16).

A transfer is many requests, at most a window of them in flight. Each machine here
says which calls to make now (:meth:`Transfer.calls`) and takes each outcome
(:meth:`Transfer.settle`); both client faces run them the same way
(:class:`zmqchat.client.io.methods.TransferMethod`), so an upload or a download is
defined once. The only I/O here is on the local file.

Either machine resumes after a failure that is not final (a timeout while the
client reconnects, a refused chunk, ``rate_limited``): it lets what is in flight
settle, then asks the broker where to go on from: an upload offers again (the
broker answers with the offset it holds), a download asks from the first byte it
lacks. Every failure without progress counts; past :data:`MAX_RETRIES` in a row
the transfer fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final, Generic, TypeVar

from zmqchat.client.core.requests import Call
from zmqchat.common.files import (
    CHUNK_BYTES,
    WINDOW,
    FileAccept,
    FileAck,
    FileChunk,
    FileData,
    FileDone,
    FileGet,
    FileOffer,
    check_file_name,
)
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import BrokerError, ConnectionClosed, ProtocolError, Timeout

_T = TypeVar("_T")

Progress = Callable[[int, int], object]
"""Called with (bytes done, bytes in all) as a transfer goes on."""

MAX_RETRIES: Final = 5
# What the broker may answer that sending again can cure.
_RETRY_CODES: Final = frozenset(
    {
        ErrorCode.BAD_REQUEST,  # a chunk at an offset the broker no longer expects
        ErrorCode.NO_SUCH_FILE,  # an upload the broker dropped (expired, not committed)
        ErrorCode.SERVER_BUSY,
        ErrorCode.STORE_UNAVAILABLE,
        ErrorCode.RATE_LIMITED,
    }
)
_HASH_READ: Final = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The sha256 (hex) and size of the file at ``path``."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(_HASH_READ):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _reply(request: Any, timeout: float | None) -> Call[Any, Any]:
    return Call(request, object, lambda reply: reply, timeout)


class Transfer(Generic[_T]):
    """What both faces run: ``prepare()`` (blocking: local I/O), then ``calls()`` and
    ``settle()`` until ``finished``; ``result()`` returns or raises; ``close()``
    always."""

    def __init__(self, progress: Progress | None, timeout: float | None) -> None:
        self.progress = progress
        self.timeout = timeout
        self.finished = False
        self.in_flight = 0
        self._value: _T | None = None
        self._error: BaseException | None = None
        self._failures = 0
        self._not_before = 0.0
        self._resync = False
        self._generation = 0
        self._calls: dict[int, int] = {}  # id(call) -> generation it was made in

    def prepare(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _next(self) -> list[Call[Any, Any]]:
        """The calls to make now, outside a resync."""
        raise NotImplementedError

    def _again(self) -> Call[Any, Any]:
        """The call that asks where to go on from after a failure."""
        raise NotImplementedError

    def _take(self, request: Any, reply: Any) -> None:
        """A reply to a call of the current generation."""
        raise NotImplementedError

    def calls(self, now: float) -> list[Call[Any, Any]]:
        if self.finished or now < self._not_before:
            return []
        if self._resync:
            if self.in_flight:
                return []  # what is in flight settles first
            self._resync = False
            made = [self._again()]
        else:
            made = self._next()
        for call in made:
            self._calls[id(call)] = self._generation
        self.in_flight += len(made)
        return made

    def delay(self, now: float) -> float | None:
        """Seconds until :meth:`calls` may have something while nothing is in
        flight (after ``rate_limited``)."""
        return max(0.0, self._not_before - now) if self._not_before > now else None

    def settle(self, call: Call[Any, Any], outcome: object, now: float) -> None:
        self.in_flight -= 1
        generation = self._calls.pop(id(call), None)
        if self.finished or generation != self._generation:
            return  # a late answer from before a resync
        if isinstance(outcome, BaseException):
            self._failed(outcome, now)
            return
        try:
            self._take(call.request, outcome)
        except (OSError, ProtocolError) as exc:
            self._fail(exc)

    def _failed(self, exc: BaseException, now: float) -> None:
        retry = isinstance(exc, Timeout) or (
            isinstance(exc, BrokerError) and exc.code in _RETRY_CODES
        )
        if isinstance(exc, BrokerError) and exc.code == ErrorCode.RATE_LIMITED:
            self._not_before = now + (exc.retry_after or 1.0)
        elif retry:
            self._failures += 1
        if not retry or self._failures > MAX_RETRIES or isinstance(exc, ConnectionClosed):
            self._fail(exc)
            return
        self._generation += 1
        self._resync = True

    def _progressed(self, done: int, size: int) -> None:
        self._failures = 0
        if self.progress is not None:
            self.progress(done, size)

    def _succeed(self, value: _T) -> None:
        self.finished = True
        self._value = value

    def _fail(self, exc: BaseException) -> None:
        self.finished = True
        self._error = exc

    def result(self) -> _T:
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class Upload(Transfer[FileDone]):
    """``send_file``: offer, then chunks within the broker's window."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        room: str | None,
        to: str | None,
        name: str | None,
        progress: Progress | None,
        timeout: float | None,
    ) -> None:
        super().__init__(progress, timeout)
        if (room is None) == (to is None):
            raise ValueError("send_file needs exactly one of room= or to=")
        self.path = Path(path)
        self.room = room
        self.to = to
        self.name = check_file_name(name if name is not None else self.path.name)
        self.size = 0
        self.sha256 = ""
        self._file: IO[bytes] | None = None
        self._id: int | None = None  # None: offering
        self._sent = 0  # next offset to send
        self._acked = 0  # what the broker said it holds
        self._window = 1
        self._chunk = CHUNK_BYTES

    def prepare(self) -> None:
        self.sha256, self.size = file_sha256(self.path)
        self._file = open(self.path, "rb")  # noqa: SIM115 (closed by close())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _offer(self) -> Call[Any, Any]:
        request = FileOffer(
            name=self.name, size=self.size, sha256=self.sha256, room=self.room, to=self.to
        )
        return _reply(request, self.timeout)

    def _again(self) -> Call[Any, Any]:
        self._id = None
        return self._offer()

    def _next(self) -> list[Call[Any, Any]]:
        if self._id is None:
            return [] if self.in_flight else [self._offer()]
        assert self._file is not None
        made: list[Call[Any, Any]] = []
        while self.in_flight + len(made) < self._window and self._sent < self.size:
            self._file.seek(self._sent)
            data = self._file.read(min(self._chunk, self.size - self._sent))
            if not data:
                raise OSError(f"{self.path} is shorter than when it was offered")
            made.append(_reply(FileChunk(id=self._id, offset=self._sent, data=data), self.timeout))
            self._sent += len(data)
        return made

    def _take(self, request: Any, reply: Any) -> None:
        if isinstance(reply, FileDone):
            self._progressed(self.size, self.size)
            self._succeed(reply)
        elif isinstance(reply, FileAccept) and isinstance(request, FileOffer):
            self._id = reply.id
            self._sent = self._acked = reply.offset
            self._window = max(1, min(reply.window, 4 * WINDOW))
            self._chunk = max(1, min(reply.chunk, CHUNK_BYTES))
            self._progressed(reply.offset, self.size)
        elif isinstance(reply, FileAck):
            self._acked = max(self._acked, reply.offset)
            self._progressed(self._acked, self.size)
        else:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"unexpected {type(reply).__name__}")


@dataclasses.dataclass(frozen=True, slots=True)
class Fetched:
    """A downloaded file: where it was saved, and what the broker said it is."""

    id: int
    path: Path
    name: str
    size: int
    sha256: str


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
    ) -> None:
        super().__init__(progress, timeout)
        self.id = file_id
        target = Path(path) if path is not None else Path()
        # A folder (or none given): the file keeps the name it was sent under.
        self._folder = target if target.is_dir() else target.parent
        self._path: Path | None = None if target.is_dir() else target
        self.part = self._folder / f".zmqchat-{file_id}.part"
        self._fd: int | None = None
        self._have = 0  # bytes in the part file, from the start with no hole
        self._asked = 0  # next offset to ask for
        self._ahead: dict[int, int] = {}  # offset -> length, written past a hole
        self._meta: FileData | None = None

    def prepare(self) -> None:
        self._fd = os.open(self.part, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._have = self._asked = os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _get(self, offset: int) -> Call[Any, Any]:
        return _reply(FileGet(id=self.id, offset=offset, size=CHUNK_BYTES), self.timeout)

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
        while self._have in self._ahead:
            self._have += self._ahead.pop(self._have)
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
            self._have = 0
            self._asked = CHUNK_BYTES

    def _check(self, reply: FileData) -> None:
        assert self._fd is not None
        assert self._path is not None
        os.ftruncate(self._fd, reply.size)
        sha256, _ = file_sha256(self.part)
        if sha256 != reply.sha256:
            self.close()
            self.part.unlink(missing_ok=True)
            raise ProtocolError(
                ErrorCode.HASH_MISMATCH,
                f"file {self.id} did not arrive as sent (sha256 differs); fetch it again",
            )
        self.close()
        os.replace(self.part, self._path)
        self._succeed(Fetched(self.id, self._path, reply.name, reply.size, reply.sha256))


# The methods of both faces (client.io.methods.TransferMethod): name, parameters and
# docstring are theirs.


def send_file(
    path: str | os.PathLike[str],
    *,
    room: str | None = None,
    to: str | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> Upload:
    """Send the file at ``path`` to ``room`` (a ``file`` event there, for its
    members) or to user ``to``; returns the broker's ``file_done`` (its ``id`` is
    what :meth:`get_file` takes) once the broker has checked its sha256 and
    published it. ``name``: what others see (default: the file's own name).

    ``progress(done, size)`` is called as the broker acknowledges bytes. Content the
    broker already holds is not sent again. A transfer interrupted by a reconnect
    goes on from the last acknowledged offset; calling ``send_file`` again with the
    same file and target after a crash does too.

    :class:`~zmqchat.errors.BrokerError`: ``too_large``, ``quota_exceeded``,
    ``disk_full`` (all before a byte is sent), ``not_in_room``, ``user_offline``,
    ``no_such_user``, ``hash_mismatch`` (the file changed while it was sent),
    ``rate_limited``, ``invalid_name``, ``bad_request``. ``OSError`` for the local file.
    """
    return Upload(path, room, to, name, progress, timeout)


def get_file(
    file_id: int,
    path: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> Download:
    """Fetch file ``file_id`` to ``path`` (a file name, or a folder where it keeps
    the name it was sent under; default: the current folder); returns where it was
    saved and what it is. The bytes go to a part file beside it first, checked
    against the sha256 before it is renamed; a download that fails keeps its part
    file, and fetching again goes on from where it stopped. Fetching a room's file
    does not join the room, but needs you to be a member.

    :class:`~zmqchat.errors.BrokerError`: ``not_in_room``, ``no_such_file`` (none,
    or a private file between two others); :class:`~zmqchat.errors.ProtocolError`
    ``hash_mismatch``; ``OSError`` for the local file.
    """
    return Download(file_id, path, progress, timeout)


__all__ = [
    "MAX_RETRIES",
    "Download",
    "Fetched",
    "Progress",
    "Transfer",
    "Upload",
    "file_sha256",
    "get_file",
    "send_file",
]
