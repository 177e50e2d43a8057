"""How a message of several lines is laid out: its first line after the time and
the sender's name, each further line on a line of its own, indented to start where
the first line's text starts, as IRC clients and Slack show them::

    12:00:01 <alice> first line
                     second line

Pure: fragments in, fragments out (the :data:`~.formatting.Line` shape). The indent
is a fragment of its own, of style :data:`INDENT`, made of spaces: right as it is
in a terminal's fixed-width cells. A screen with a proportional font (the GUI)
recognises the style and indents by the drawn width of what comes before the text
instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

Fragment = tuple[str, str]

# The style of the spaces before a continuation line.
INDENT: Final = "class:indent"
# CR LF, CR and LF each end a line, however the sender's system writes them.
_BREAK: Final = re.compile(r"\r\n|\r|\n")


def message_lines(text: str) -> list[str]:
    """The lines of a message as it was sent (a blank line stays a line)."""
    return _BREAK.split(text)


def hang(prefix: Sequence[Fragment], lines: Sequence[Sequence[Fragment]]) -> list[Fragment]:
    """``prefix`` then the first of ``lines``, then each further line after a line
    break and an indent as wide as ``prefix`` (in characters: the time, a room and
    a name are ASCII), so that every line of the message starts in one column."""
    out = [*prefix, *(lines[0] if lines else ())]
    width = sum(len(text) for _, text in prefix)
    for line in lines[1:]:
        out += [("", "\n"), (INDENT, " " * width), *line]
    return out


__all__ = ["INDENT", "hang", "message_lines"]
