"""How the window calls the user when they are mentioned, without the window:
whether it has the keyboard focus, how many mentions came while it had not (the
title marks them: ``(@2) #general — zmqchat``), whether to ask the desktop for a
notification, and the sidebar's badges.

A mention (:func:`~zmqchat.client.chat.mentions.is_mention`: a line naming you,
or a private message to you) in a window that has the focus is highlighted where
it is shown and counted in its conversation's badge if that is not the one looked
at. In a window without the focus it also marks the title, counted until the
window has the focus again, and asks for a desktop notification, once per burst
(:class:`~zmqchat.client.chat.alerts.Burst`), unless ``notify`` is off.

Plain state on the Tk thread: the view-model feeds it, the Tk binding
(:mod:`.tk_window`) tells it about the focus, the tests drive it without a screen.
"""

from __future__ import annotations

from collections.abc import Callable

from zmqchat.client.chat.alerts import Burst, alert_text
from zmqchat.client.core.events import Event


def badge(unread: int, mentions: int) -> str:
    """What follows a conversation's name in the sidebar: ``  (5)`` for five unread
    messages, ``  (5) @2`` when two of them name you; nothing when all is read."""
    if not unread and not mentions:
        return ""
    return f"  ({unread})" + (f" @{mentions}" if mentions else "")


class Attention:
    """The window's focus and the mentions it missed."""

    def __init__(self, *, notify: bool = True, burst: Burst | None = None) -> None:
        """``notify``: ask the desktop for notifications (the ``notify`` setting)."""
        self.notify = notify
        self.focused = True  # until the window says otherwise
        self.missed = 0  # mentions since the window lost the focus
        self._burst = burst or Burst()

    def focus(self, focused: bool) -> bool:
        """The window gained or lost the keyboard focus; True when the title changes."""
        if focused == self.focused:
            return False
        self.focused = focused
        if focused and self.missed:
            self.missed = 0
            return True
        return False

    def mentioned(self, event: Event) -> tuple[str, str] | None:
        """A mention came in; the ``(summary, body)`` of the desktop notification to
        show, or None (the window has the focus, notifications are off, or one was
        shown for this burst already)."""
        if self.focused:
            return None
        self.missed += 1
        if not self.notify or not self._burst.ready():
            return None
        return alert_text(event)

    def title(self, base: str) -> str:
        """The window title: ``base``, marked with the mentions missed."""
        return f"(@{self.missed}) {base}" if self.missed else base


Notifier = Callable[[str, str], object]

__all__ = ["Attention", "Notifier", "badge"]
