"""What each front end's own keys do, for its ``/help`` and its ``--help``: the slash
commands are every front end's (:mod:`.commands`), the keys are not (Ctrl-D, the
console's way out, means nothing in a window). Kept here, as plain text, so that
``zmqchat gui --help`` needs neither Tk nor the GUI to say it."""

from __future__ import annotations

from typing import Final

CONSOLE_KEYS: Final = (
    "Enter sends; Esc Enter starts a new line of it (a paste keeps its lines).",
    "Tab completes commands, rooms and names; Ctrl-D quits.",
)

GUI_KEYS: Final = (
    "Enter sends; Shift+Enter starts a new line of it (a paste keeps its lines).",
    "Up and Down recall what you sent; Tab completes commands, rooms and names.",
    "Page Up and Page Down scroll; at the top, older messages load.",
    "Closing the window (or /quit) leaves.",
)

__all__ = ["CONSOLE_KEYS", "GUI_KEYS"]
