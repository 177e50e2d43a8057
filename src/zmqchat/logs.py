"""Logging set-up shared by the commands: one line per event, to stderr."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Final

LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")


def setup_logging(level: str) -> None:
    """Send zmqchat's log records to stderr at ``level``, one of :data:`LOG_LEVELS`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger("zmqchat")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class Throttle:
    """When a repeated event may be logged again: at most once every ``every``
    seconds (a minute by default), so a limit that bites logs a line a minute, never
    a line a frame."""

    __slots__ = ("_clock", "_every", "_last")

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        """True (and the clock restarts) if the last line was long enough ago."""
        now = self._clock()
        if self._last is not None and now - self._last < self._every:
            return False
        self._last = now
        return True
