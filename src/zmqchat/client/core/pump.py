"""Running a file transfer where its replies arrive (docs/protocol.md §2.16).

A :class:`~zmqchat.client.core.transfer.Transfer` is many requests, a window of
them in flight. Run from the caller's thread, each reply had to wake that thread,
which made the next request and woke the I/O thread to send it: two hand-offs
between threads per 60 KiB, which cost a transfer about as much as the broker's
own work (docs/performance.md). A :class:`Pump` runs the machine on the side that
reads the replies instead (the client's I/O thread, or the asyncio loop): each
reply settles its request and the next ones go out in the same loop turn, several
per turn when several replies came together.

The caller only waits: for the end, and for progress, which the pump hands over
at most every :data:`REPORT_PERIOD` seconds (each value noted meanwhile, in order),
so the caller's ``progress`` callback still runs on the caller's thread. Nothing
here waits or knows about threads: each face wires :meth:`Pump.run` and
:meth:`Pump.stop` to its I/O side and ``wake`` to its way of waking the caller.
"""

from __future__ import annotations

import collections
import functools
import time
from collections.abc import Callable
from typing import Any, Final

from zmqchat.client.core.pending import Completion
from zmqchat.client.core.requests import Call
from zmqchat.client.core.transfer import Transfer
from zmqchat.common.records import Record

# How often, at most, the caller is woken to hand progress over (seconds); also how
# often it looks at its cancel event and wakes a transfer waiting out a delay.
REPORT_PERIOD: Final = 0.1

Submit = Callable[[Record, Completion, float, float | None], object]
"""``ClientCore.submit``: request, completion, now, timeout."""


class Pump:
    """One transfer, prepared, run on the I/O side until it ends, and closed there.
    ``run``, ``stop`` and the completions are called there; ``report``,
    ``cancelled`` and the properties on the caller's side."""

    def __init__(
        self,
        transfer: Transfer[Any],
        submit: Submit,
        wake: Callable[[], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transfer = transfer
        self._submit = submit
        self._wake = wake
        self._clock = clock
        self._progress = transfer.progress
        transfer.progress = self._note
        # (done, size) noted on the I/O side, not yet handed to the caller: appended
        # and popped from two threads, which a deque allows without a lock.
        self._noted: collections.deque[tuple[int, int]] = collections.deque()
        self._woken = float("-inf")
        self._running = False
        self._again = False
        self.ended = False  # the transfer finished, and the caller was woken for it

    # ----------------------------------------------------------- the I/O side

    def run(self, now: float) -> None:
        """Make the requests the transfer wants now."""
        if self._running:  # a completion called back from inside submit
            self._again = True
            return
        self._running = True
        try:
            again = True
            while again:
                self._again = False
                for call in self.transfer.calls(now):
                    done = functools.partial(self._settled, call)
                    self._submit(call.request, done, now, call.timeout)
                again = self._again
        finally:
            self._running = False
        if self.transfer.finished and not self.ended:
            # Its file is closed here, where it is read and written: a caller that
            # left early (interrupted) can't close it under a chunk being read.
            self.transfer.close()
            self.ended = True
            self._wake()

    def stop(self, now: float) -> None:
        """Cancel the transfer (the caller asked, or was interrupted)."""
        self.transfer.stop()
        self.run(now)

    def _settled(self, call: Call[Any, Any], reply: object) -> None:
        now = self._clock()
        self.transfer.settle(call, call.outcome(reply), now)
        self.run(now)

    def _note(self, done: int, size: int) -> None:
        self._noted.append((done, size))
        now = self._clock()
        if now - self._woken >= REPORT_PERIOD:
            self._woken = now
            self._wake()

    # -------------------------------------------------------- the caller's side

    @property
    def idle(self) -> bool:
        """Nothing in flight and not ended: waiting out a ``retry_after`` (or just
        starting), so :meth:`run` must be called again to go on."""
        return not self.ended and self.transfer.in_flight == 0

    def cancelled(self) -> bool:
        cancel = self.transfer.cancel
        return cancel is not None and cancel.is_set()

    def report(self) -> None:
        """Hand the progress noted so far to the caller's callback, in order."""
        noted, progress = self._noted, self._progress
        while noted:
            done, size = noted.popleft()
            if progress is not None:
                progress(done, size)


__all__ = ["REPORT_PERIOD", "Pump", "Submit"]
