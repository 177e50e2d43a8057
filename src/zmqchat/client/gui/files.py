"""Files in the GUI without the window (issue 16): what the attach button and a file
line's link start, and each transfer's progress as the window shows it.

A transfer runs on a thread of its own, as the console's ``/send`` does, calling the
library's ``send_file`` or ``get_file`` on the session's client: its I/O thread moves
the chunks, the worker thread stays free for chat, and the Tk thread never waits.
The progress callback only records a sample under a lock (:class:`Transfers`); the
Tk thread reads :meth:`Transfers.rows` from its ``after()`` loop when
:attr:`Transfers.version` moved (or to let the rate and ETA tick) and draws them.
The rate is measured over the last :data:`RATE_WINDOW` seconds, so a transfer that
slows down or stalls says so. A running row's ✕ cancels its transfer (the
library's ``cancel`` event): it ends as a failed row saying so, and doing the same
again goes on from where it stopped. Lines (a private file's, a saved file's, a failure)
reach the conversation through the view-model's emit, like every other line.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

from zmqchat.client.chat.backlog import Emit
from zmqchat.client.chat.commands import GetFile, SendFile
from zmqchat.client.chat.failures import classify
from zmqchat.client.chat.formatting import error, format_event, notice
from zmqchat.client.chat.state import Snapshot
from zmqchat.client.io.sync import Client
from zmqchat.common.durations import duration_text
from zmqchat.common.files import PrivateFileEvent, human_size
from zmqchat.common.threads import start_thread
from zmqchat.errors import Cancelled

log = logging.getLogger("zmqchat.gui")

Direction = Literal["up", "down"]
Phase = Literal["running", "done", "failed"]

# The rate is the bytes moved over about this many seconds, up to now.
RATE_WINDOW: Final = 3.0
# No rate is shown before this much time has passed: a first sample says nothing.
RATE_SPAN: Final = 0.2
# A finished transfer's row stays this long (a failed one stays until dismissed).
DONE_LINGER: Final = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class TransferRow:
    """One transfer as its progress row shows it. ``reason``: why it failed (the
    broker's error code when it gave one: ``too_large``, ``quota_exceeded``,
    ``disk_full``, ``hash_mismatch``, ...; else the message)."""

    serial: int
    direction: Direction
    name: str
    target: str  # "#room" or a user for an upload, the path for a download (its name shown)
    size: int  # 0 until a download's first answer says
    done: int
    phase: Phase
    rate: float | None = None  # bytes a second
    eta: float | None = None  # seconds left
    reason: str = ""

    @property
    def fraction(self) -> float:
        if self.phase == "done":
            return 1.0
        return min(1.0, self.done / self.size) if self.size else 0.0

    @property
    def text(self) -> str:
        """``sending plan.pdf to #general: 1.2 MiB of 4.0 MiB · 3.1 MiB/s · 1s left``."""
        verb = "sending" if self.direction == "up" else "fetching"
        where, target = "to", self.target
        if self.direction == "down" and self.target.endswith(os.sep):  # a folder
            where = "into"
        elif self.direction == "down":  # the path is in the line said once saved
            where, target = "as", Path(self.target).name
        head = f"{verb} {self.name} {where} {target}"
        if self.phase == "failed":
            return f"{head}: failed: {self.reason}"
        if self.phase == "done":
            verb = "sent" if self.direction == "up" else "saved"
            return f"{verb} {self.name} ({human_size(self.size)}) {where} {target}"
        parts = [f"{human_size(self.done)} of {human_size(self.size)}" if self.size else "…"]
        if self.rate is not None:
            parts.append(f"{human_size(int(self.rate))}/s")
        if self.eta is not None:
            parts.append(f"{duration_text(self.eta)} left")
        return f"{head}: {' · '.join(parts)}"


class _Item:
    """A transfer's mutable record, under :class:`Transfers`' lock."""

    def __init__(self, row: TransferRow, now: float) -> None:
        self.row = row
        self.started = now
        self.ended: float | None = None
        self.samples: collections.deque[tuple[float, int]] = collections.deque([(now, 0)])
        self.steps = 0  # progress callbacks that moved it on
        self.cancel = threading.Event()  # the library's cancel= of its transfer


class Transfers:
    """The transfers of one window, written from their threads and read by the Tk
    thread. ``clock``: monotonic seconds (a test's own clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.version = 0  # moves on with every change
        self._lock = threading.Lock()
        self._items: dict[int, _Item] = {}
        self._serial = 0

    @property
    def started(self) -> int:
        """How many transfers were started."""
        return self._serial

    def start(self, direction: Direction, name: str, target: str, size: int = 0) -> int:
        with self._lock:
            self._serial += 1
            row = TransferRow(self._serial, direction, name, target, size, 0, "running")
            self._items[self._serial] = _Item(row, self.clock())
            self.version += 1
            return self._serial

    def progressed(self, serial: int, done: int, size: int) -> None:
        """The library's progress callback: ``done`` of ``size`` bytes."""
        now = self.clock()
        with self._lock:
            item = self._items.get(serial)
            if item is None or item.row.phase != "running":
                return
            if done != item.row.done:
                item.steps += 1
            if done < item.samples[-1][1]:
                item.samples.clear()  # started over (a part file of something else)
            item.samples.append((now, done))
            item.row = dataclasses.replace(item.row, done=done, size=size)
            self.version += 1

    def finished(self, serial: int, size: int | None = None) -> None:
        self._end(serial, "done", "", size)

    def failed(self, serial: int, reason: str) -> None:
        self._end(serial, "failed", reason, None)

    def _end(self, serial: int, phase: Phase, reason: str, size: int | None) -> None:
        now = self.clock()
        with self._lock:
            item = self._items.get(serial)
            if item is None:
                return
            size = item.row.size if size is None else size
            done = size if phase == "done" else item.row.done
            row = dataclasses.replace(item.row, phase=phase, reason=reason, size=size)
            item.row = dataclasses.replace(row, done=done)
            item.ended = now
            self.version += 1

    def cancel_event(self, serial: int) -> threading.Event:
        """What the transfer of ``serial`` is given as its ``cancel`` event."""
        with self._lock:
            return self._items[serial].cancel

    def close(self, serial: int) -> None:
        """A row's ✕: cancel its transfer while it runs, else take the row away."""
        with self._lock:
            item = self._items.get(serial)
            running = item is not None and item.row.phase == "running"
            if item is not None and running:
                item.cancel.set()  # the transfer ends within 0.1 s, as failed()
        if not running:
            self.dismiss(serial)

    def dismiss(self, serial: int) -> None:
        """Take a finished row away (its ✕)."""
        with self._lock:
            item = self._items.get(serial)
            if item is not None and item.row.phase != "running":
                del self._items[serial]
                self.version += 1

    def steps(self, serial: int) -> int:
        """How many times the transfer moved on (tests: progress had several steps)."""
        with self._lock:
            item = self._items.get(serial)
            return item.steps if item is not None else 0

    def running(self, direction: Direction | None = None) -> list[TransferRow]:
        return [r for r in self.rows() if r.phase == "running" and direction in (None, r.direction)]

    def rows(self) -> list[TransferRow]:
        """The rows to show now, oldest first, each with its rate and ETA; a row done
        :data:`DONE_LINGER` seconds ago is gone."""
        now = self.clock()
        with self._lock:
            gone = [
                serial
                for serial, item in self._items.items()
                if item.row.phase == "done" and item.ended is not None
                and now - item.ended >= DONE_LINGER
            ]  # fmt: skip
            for serial in gone:
                del self._items[serial]
            if gone:
                self.version += 1
            return [self._measured(item, now) for item in self._items.values()]

    @staticmethod
    def _measured(item: _Item, now: float) -> TransferRow:
        row = item.row
        if row.phase != "running":
            return row
        samples = item.samples
        # Keep one sample at or before the window's start: the span it measures.
        while len(samples) >= 2 and samples[1][0] <= now - RATE_WINDOW:
            samples.popleft()
        since, then = samples[0]
        if now - item.started < RATE_SPAN or now <= since:
            return row
        rate = (row.done - then) / (now - since)
        eta = (row.size - row.done) / rate if rate > 0 and row.size > row.done else None
        return dataclasses.replace(row, rate=rate, eta=eta)


class FileShare:
    """What the window's file actions do. ``client``: the session's client, None
    while not connected; ``emit``: how a line reaches a conversation (any thread)."""

    def __init__(
        self,
        client: Callable[[], Client | None],
        emit: Emit,
        transfers: Transfers | None = None,
    ) -> None:
        self._client = client
        self._emit = emit
        self.transfers = transfers or Transfers()

    def send(self, path: str | os.PathLike[str], snapshot: Snapshot) -> int | None:
        """Send the file at ``path`` to the conversation looked at (a room, or the
        person of a private one); the transfer's serial, or None (said in a line)
        when it can't start."""
        where = snapshot.viewing
        client = self._ready(where)
        if client is None:
            return None
        assert where is not None
        path = Path(path).expanduser()
        if not path.is_file():
            self._emit(error(f"{path}: not a file"), where)
            return None
        room = to = None
        if where.startswith("#"):
            room = where[1:]
        else:
            to = next((c.name for c in snapshot.conversations if c.key == where), where[1:])
        target = where if room is not None else str(to)
        serial = self.transfers.start("up", path.name, target, path.stat().st_size)

        def body() -> None:
            progress = functools.partial(self.transfers.progressed, serial)
            cancel = self.transfers.cancel_event(serial)
            done = client.send_file(path, room=room, to=to, progress=progress, cancel=cancel)
            self.transfers.finished(serial, done.size)
            if to is None:
                return  # the room's file event shows it, with its link
            # A private file comes back to nobody: show ours as the other side sees it.
            sent = PrivateFileEvent(
                id=done.id,
                sender=snapshot.user,
                to=done.to or to,
                name=path.name,
                size=done.size,
                sha256=done.sha256,
                ts=time.time(),
            )
            self._emit(format_event(sent, me=snapshot.user, compact=True), where)
            if done.status == "stored":
                self._emit(notice(f"{sent.to} is offline: the file waits for them"), where)

        self._start(serial, f"{path.name} was not sent", body, where)
        return serial

    def get(
        self, file_id: int, name: str, path: str | os.PathLike[str], where: str | None
    ) -> int | None:
        """Fetch file ``file_id`` (called ``name``) into ``path``; the transfer's
        serial, or None (said in a line) when it can't start."""
        client = self._ready(where)
        if client is None:
            return None
        path = Path(path).expanduser()
        shown = str(path) + (os.sep if path.is_dir() else "")  # a folder: "into" it
        if any(r.name == name and r.target == shown for r in self.transfers.running("down")):
            self._emit(notice(f"already fetching {name} as {path}"), where)
            return None
        serial = self.transfers.start("down", name, shown)

        def body() -> None:
            progress = functools.partial(self.transfers.progressed, serial)
            cancel = self.transfers.cancel_event(serial)
            got = client.get_file(file_id, path, progress=progress, cancel=cancel)
            self.transfers.finished(serial, got.size)
            saved = f"saved {got.name} ({human_size(got.size)}) as {got.path}; sha256 checked"
            self._emit(notice(saved), where)

        self._start(serial, f"{name} was not saved", body, where)
        return serial

    def typed(self, command: SendFile | GetFile, snapshot: Snapshot) -> int | None:
        """``/send PATH`` or ``/get ID [PATH]`` typed in the input: a progress row, as
        the attach button and a file's link start (the console says notices
        instead). ``/get`` without a path saves into the current folder, under the
        name the file was sent with."""
        if isinstance(command, SendFile):
            return self.send(command.path, snapshot)
        path = command.path if command.path is not None else os.getcwd()
        return self.get(command.file_id, f"file {command.file_id}", path, snapshot.viewing)

    def _ready(self, where: str | None) -> Client | None:
        client = self._client()
        if client is None:
            self._emit(error("not connected"), where)
            return None
        if where is None:
            self._emit(error("you are in no conversation: join a room first"), where)
            return None
        return client

    def _start(self, serial: int, what: str, body: Callable[[], None], where: str | None) -> None:
        def run() -> None:
            try:
                body()
            except Cancelled as exc:  # its ✕: the line says how to go on
                self.transfers.failed(serial, "cancelled")
                self._emit(notice(str(exc)), where)
            except Exception as exc:  # a transfer's failure is a row and a line, never a crash
                message, code = _failure(exc)
                self.transfers.failed(serial, f"{code}: {message}" if code else message)
                self._emit(error(f"{what}: {message}", code), where)

        start_thread(run, f"zmqchat-file-{serial}")


def _failure(exc: Exception) -> tuple[str, str | None]:
    """What went wrong, for people, and its code if it has one: the broker's, or
    ``disk_full`` when the disk a download goes to is."""
    if isinstance(exc, OSError):
        code = "disk_full" if exc.errno == errno.ENOSPC else None
        return (f"{exc.filename}: " if exc.filename else "") + (exc.strerror or str(exc)), code
    failure = classify(exc)
    if failure.kind == "internal":
        log.debug("file transfer failed", exc_info=True)
    return failure.message, failure.code


__all__ = [
    "DONE_LINGER",
    "RATE_WINDOW",
    "FileShare",
    "TransferRow",
    "Transfers",
]
