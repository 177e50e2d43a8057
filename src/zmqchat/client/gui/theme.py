"""How each line style looks in the Tk window: Text tag options per style class of
:mod:`zmqchat.client.chat.formatting` (``nick.c3``, ``presence``, ``history``, ...).
Plain data, no tkinter: the view configures one tag per entry, in this order, and
Tk gives a later tag the upper hand, so ``history`` (dim) comes last. A style not
listed here is drawn plain (and costs no tag)."""

from __future__ import annotations

from typing import Final

from zmqchat.client.chat.formatting import NICK_COLOURS

# One colour per sender class (nick.c0 .. nick.c7), dark enough to read on white.
NICK_PALETTE: Final = (
    "#c0392b",
    "#1e8449",
    "#9a7d0a",
    "#2471a3",
    "#7d3c98",
    "#117a65",
    "#ba4a00",
    "#a93263",
)
assert len(NICK_PALETTE) == NICK_COLOURS

BACKGROUND: Final = "#ffffff"
FOREGROUND: Final = "#1c1c1c"
DIM: Final = "#8a8a8a"

# Tag options by style class; applied in this order (later wins where they clash).
TAGS: Final[dict[str, dict[str, str]]] = {
    "time": {"foreground": DIM},
    "room": {"foreground": "#117a65"},
    **{f"nick.c{n}": {"foreground": colour} for n, colour in enumerate(NICK_PALETTE)},
    "emote": {"font": "italic"},
    "data": {"foreground": DIM},
    "presence": {"foreground": DIM, "font": "italic"},
    "edit": {"foreground": DIM, "font": "italic"},
    "topic": {"foreground": "#117a65"},
    "topic.text": {"foreground": "#117a65", "font": "bold"},
    "moderation": {"foreground": "#a04000", "font": "italic"},
    "pm": {"foreground": "#7d3c98"},
    "file": {"foreground": "#117a65"},
    "file.name": {"foreground": "#117a65", "font": "bold"},
    "system": {"foreground": "#9a7d0a", "font": "bold"},
    "notice": {"foreground": "#6e6e6e"},
    "error": {"foreground": "#c0392b", "font": "bold"},
    # A line naming the reader, and their name in it (see chat/mentions.py).
    "mentioned": {"background": "#fff6d6"},
    "mention": {"background": "#ffe08a", "font": "bold"},
    "history": {"foreground": "#9e9e9e"},
    # A file's name in its line: click to save it (a link even in history).
    "file.link": {"foreground": "#2471a3", "underline": "1"},
    "history.banner": {"foreground": DIM, "justify": "center"},
    # Above the lines that came while the reader was elsewhere (the view's own line).
    "unread.marker": {"foreground": "#c0392b", "justify": "center", "font": "bold"},
}

# Status bar colours by connection state.
STATE_COLOURS: Final = {
    "connected": "#1e8449",
    "connecting": "#9a7d0a",
    "reconnecting": "#c0392b",
    "closed": "#c0392b",
    "disconnected": "#c0392b",
}

__all__ = ["BACKGROUND", "DIM", "FOREGROUND", "NICK_PALETTE", "STATE_COLOURS", "TAGS"]
