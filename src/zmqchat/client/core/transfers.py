"""File transfers of the client: ``send_file`` (an upload, here) and ``get_file``
(a download, :mod:`.downloads`), sans-IO state machines both faces run
(:class:`zmqchat.client.io.methods.TransferMethod`; :mod:`.transfer` says how)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zmqchat.client.core.downloads import Download, Fetched, get_file
from zmqchat.client.core.requests import Call
from zmqchat.client.core.transfer import (
    MAX_RETRIES,
    Cancel,
    Progress,
    Transfer,
    file_sha256,
    reply_call,
)
from zmqchat.common.files import (
    CHUNK_BYTES,
    WINDOW,
    FileAccept,
    FileAck,
    FileChunk,
    FileDone,
    FileOffer,
    check_file_name,
    human_size,
)
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import ProtocolError


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
        cancel: Cancel | None = None,
    ) -> None:
        super().__init__(progress, timeout, cancel)
        if (room is None) == (to is None):
            raise ValueError("send_file needs exactly one of room= or to=")
        self.path = Path(path)
        self.room = room
        self.to = to
        self.name = check_file_name(name if name is not None else self.path.name)
        self.size = 0
        self.sha256 = ""
        self._fd: int | None = None
        self._id: int | None = None  # None: offering
        self._sent = 0  # next offset to send
        self._acked = 0  # what the broker said it holds
        self._window = 1
        self._chunk = CHUNK_BYTES

    def prepare(self) -> None:
        self.sha256, self.size = file_sha256(self.path)
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _stopped(self) -> str:
        target = f"#{self.room}" if self.room is not None else self.to
        return (
            f"{self.name}: cancelled with {human_size(self._acked)} of "
            f"{human_size(self.size)} sent; send it to {target} again to go on from there"
        )

    def _offer(self) -> Call[Any, Any]:
        request = FileOffer(
            name=self.name, size=self.size, sha256=self.sha256, room=self.room, to=self.to
        )
        return reply_call(request, self.timeout)

    def _again(self) -> Call[Any, Any]:
        self._id = None
        return self._offer()

    def _next(self) -> list[Call[Any, Any]]:
        if self._id is None:
            return [] if self.in_flight else [self._offer()]
        assert self._fd is not None
        made: list[Call[Any, Any]] = []
        while self.in_flight + len(made) < self._window and self._sent < self.size:
            data = os.pread(self._fd, min(self._chunk, self.size - self._sent), self._sent)
            if not data:
                raise OSError(f"{self.path} is shorter than when it was offered")
            chunk = FileChunk(id=self._id, offset=self._sent, data=data)
            made.append(reply_call(chunk, self.timeout))
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
    cancel: Cancel | None = None,
) -> Upload:
    """Send the file at ``path`` to ``room`` (a ``file`` event there, for its
    members) or to user ``to``; returns the broker's ``file_done`` (its ``id`` is
    what :meth:`get_file` takes) once the broker has checked its sha256 and
    published it. ``name``: what others see (default: the file's own name).

    ``progress(done, size)`` is called on the calling thread (or task) as the broker
    acknowledges bytes: every acknowledgement, handed over at most every 0.1 s.
    Content the broker already holds is not sent again. A transfer interrupted by a
    reconnect goes on from the last acknowledged offset; calling ``send_file`` again
    with the same file and target after a crash does too.

    ``cancel``: a ``threading.Event`` (or ``asyncio.Event``) that stops the upload
    once set, within 0.1 s, raising :class:`~zmqchat.errors.Cancelled`; so does an
    interrupted call (Ctrl+C, a cancelled task). What the broker acknowledged is
    kept for ``upload_expiry``: sending again goes on from there.

    :class:`~zmqchat.errors.BrokerError`: ``too_large``, ``quota_exceeded``,
    ``disk_full`` (all before a byte is sent), ``not_in_room``, ``user_offline``,
    ``no_such_user``, ``hash_mismatch`` (the file changed while it was sent),
    ``rate_limited``, ``invalid_name``, ``bad_request``. ``OSError`` for the local file.
    """
    return Upload(path, room, to, name, progress, timeout, cancel)


__all__ = [
    "MAX_RETRIES",
    "Cancel",
    "Download",
    "Fetched",
    "Progress",
    "Transfer",
    "Upload",
    "file_sha256",
    "get_file",
    "send_file",
]
