"""The console's colours: one style class of the chat formatter each (``class:time``,
``class:nick.c3``, …), in prompt_toolkit's style rules."""

from __future__ import annotations

from typing import Final

from prompt_toolkit.styles import Style

from zmqchat.client.chat.formatting import NICK_COLOURS

# One colour per sender class of the formatter (class:nick.c0 .. c7).
NICK_PALETTE: Final = (
    "ansired",
    "ansigreen",
    "ansiyellow",
    "ansiblue",
    "ansimagenta",
    "ansicyan",
    "ansibrightred",
    "ansibrightgreen",
)
assert len(NICK_PALETTE) == NICK_COLOURS

# Rules defined later win, so `history` (dim) comes after the sender colours.
STYLE: Final = Style.from_dict(
    {
        "time": "#888888",
        "room": "ansicyan",
        "nick": "#888888",
        **{f"nick.c{n}": colour for n, colour in enumerate(NICK_PALETTE)},
        "emote": "italic",
        "data": "#888888",
        "presence": "#888888",
        "edit": "#888888 italic",
        "topic": "ansicyan",
        "topic.text": "ansicyan bold",
        "moderation": "ansired",
        "pm": "ansimagenta bold",
        "file": "ansicyan",
        "file.name": "ansicyan bold",
        "pm.text": "ansimagenta",
        "system": "ansiyellow bold",
        "notice": "ansiyellow",
        "error": "ansired bold",
        # A line naming you, and your name in it (chat/mentions.py).
        "mentioned": "bold",
        "mention": "reverse bold",
        "history": "#777777",
        "history.banner": "#777777",
        "day": "bold",
        "prompt": "bold",
        "toolbar.sep": "#888888",
        "toolbar.unread": "bold",
        "toolbar.mention": "ansiyellow bold",
        "toolbar.topic": "italic",
        "toolbar.state.reconnecting": "ansired bold",
        "toolbar.state.closed": "ansired bold",
    }
)


__all__ = ["NICK_PALETTE", "STYLE"]
