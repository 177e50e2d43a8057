"""What file uploads and downloads share, as sans-IO state machines (docs/protocol.md
§2.16); the machines themselves are :mod:`.transfers` (uploads) and
:mod:`.downloads`.

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

A caller stops a transfer with a ``cancel`` event (anything with ``is_set()``:
a ``threading.Event``, an ``asyncio.Event``), checked between chunks: it ends in
:class:`~zmqchat.errors.Cancelled`, which says where the transfer stood and how to
go on, as an interrupted call does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any, Final, Generic, Protocol, TypeVar

from zmqchat.client.core.requests import Call
from zmqchat.common.protocol import ErrorCode
from zmqchat.errors import BrokerError, Cancelled, ConnectionClosed, ProtocolError, Timeout

_T = TypeVar("_T")

Progress = Callable[[int, int], object]
"""Called with (bytes done, bytes in all) as a transfer goes on."""


class Cancel(Protocol):
    """What stops a transfer once set: a ``threading.Event`` or an ``asyncio.Event``."""

    def is_set(self) -> bool: ...


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


def reply_call(request: Any, timeout: float | None) -> Call[Any, Any]:
    return Call(request, object, lambda reply: reply, timeout)


class Transfer(Generic[_T]):
    """What both faces run: ``prepare()`` (blocking: local I/O), then ``calls()`` and
    ``settle()`` until ``finished``; ``result()`` returns or raises; ``close()``
    always."""

    def __init__(
        self, progress: Progress | None, timeout: float | None, cancel: Cancel | None = None
    ) -> None:
        self.progress = progress
        self.timeout = timeout
        self.cancel = cancel
        self.finished = False
        self.done = 0  # bytes acknowledged (uploads) or held from the start (downloads)
        self.size = 0
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

    def _stopped(self) -> str:
        """Where a cancelled transfer stands, and how to go on from there."""
        raise NotImplementedError

    def stop(self) -> None:
        """End the transfer now in :class:`Cancelled` (unless it has ended). Replies
        still in flight are dropped as they come."""
        if not self.finished:
            self._fail(Cancelled(self._stopped(), self.done, self.size))

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
        self.done, self.size = done, size
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


__all__ = ["MAX_RETRIES", "Cancel", "Progress", "Transfer", "file_sha256", "reply_call"]
