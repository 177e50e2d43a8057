"""Desktop notifications, where the desktop offers them: ``notify-send`` (libnotify,
found on most Linux desktops) when it is on ``PATH``. Never required: without it,
or when it fails, a mention is still highlighted, counted and marked in the title,
and nothing is reported beyond a debug log line.

The text comes from other people: it goes to ``notify-send`` as arguments (no
shell), after ``--`` so that a message starting with ``-`` is no option, and with
``<``, ``>`` and ``&`` escaped, since notification servers read a little markup in
the body. See docs/security.md.
"""

from __future__ import annotations

import html
import logging
import shutil
import subprocess
import threading
from typing import Final

log = logging.getLogger("zmqchat.gui")

PROGRAM: Final = "notify-send"
# A notification server that does not answer must not leave processes behind.
WAIT: Final = 10.0


class DesktopNotifier:
    """Shows a notification with ``notify-send``, found on ``PATH`` when made; a
    notifier without it does nothing (:attr:`available` says which)."""

    def __init__(self, program: str | None = None) -> None:
        self.program = program if program is not None else shutil.which(PROGRAM)

    @property
    def available(self) -> bool:
        return self.program is not None

    def __call__(self, summary: str, body: str) -> threading.Thread | None:
        """Show ``summary`` and ``body``, on a thread of its own (the caller is the
        Tk thread, which must not wait for a D-Bus round trip); returns it, or None
        when there is no ``notify-send``."""
        if self.program is None:
            return None
        command = [
            self.program,
            "--app-name=zmqchat",
            "--category=im.received",
            "--",
            summary,
            html.escape(body, quote=False),
        ]
        thread = threading.Thread(target=_run, args=(command,), name="zmqchat-notify", daemon=True)
        thread.start()
        return thread


def _run(command: list[str]) -> None:
    try:
        subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=WAIT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("no desktop notification: %s", exc)


__all__ = ["PROGRAM", "DesktopNotifier"]
