"""How a front end calls the user when they are mentioned (:mod:`.mentions`): at
most once per burst, and with a short text saying who and where.

A busy room can name someone ten times in a few seconds; the console's bell and
the GUI's desktop notification go off for the first of those and stay quiet
until :data:`BURST` seconds have passed since they last went off. The counts
(the sidebar's badges, the title) still count every one.

Pure: the clock is given, so the tests drive it without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from zmqchat.client.chat.formatting import safe_text
from zmqchat.client.core.events import Event
from zmqchat.common.messages import ChatEvent, PmEvent

# Seconds after an alert during which further mentions alert no more.
BURST: Final = 5.0
# A notification shows the start of the message; the conversation has all of it.
PREVIEW_CHARS: Final = 200


class Burst:
    """Lets one alert through per burst: :meth:`ready` is True at most once every
    ``window`` seconds."""

    def __init__(self, window: float = BURST, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        """Whether to alert now; if so, the next ``window`` seconds are quiet."""
        now = self._clock()
        if self._last is not None and now - self._last < self.window:
            return False
        self._last = now
        return True


def alert_text(event: Event) -> tuple[str, str]:
    """``(summary, body)`` of a notification for a mention: who, where, and the
    start of what they said, on one line each."""
    if isinstance(event, ChatEvent):
        summary = f"{event.sender} in #{event.room}"
    elif isinstance(event, PmEvent):
        summary = f"{event.sender} (private message)"
    else:
        summary = "zmqchat"
    text = safe_text(getattr(event, "text", ""))
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1] + "…"
    return summary, text


__all__ = ["BURST", "PREVIEW_CHARS", "Burst", "alert_text"]
