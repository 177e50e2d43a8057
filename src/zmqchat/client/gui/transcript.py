"""What a conversation pane holds, without the pane: its lines as rows of tagged
text, and how many of them it keeps."""

from __future__ import annotations

import collections
import dataclasses

from zmqchat.client.chat.formatting import Line
from zmqchat.client.gui.glyphs import GlyphPolicy, displayable
from zmqchat.client.gui.theme import TAGS

Part = tuple[str, tuple[str, ...]]  # (text, Tk tag names)


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One line of a conversation, ready for a Tk Text: each part's text with the
    tags (style classes) it is drawn with."""

    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    def has_tag(self, tag: str) -> bool:
        return any(tag in tags for _, tags in self.parts)


def to_row(line: Line, policy: GlyphPolicy, *, rtl: bool = False) -> Row:
    """A formatted line (``class:`` styles) as a row (tag names), with what this
    Tk cannot draw replaced.

    Only styles the theme draws become tags, and neighbours with the same tags
    are joined: Tk's insert costs about as much per tagged part as per line, so
    a row of three parts inserts twice as fast as one of eight."""
    parts: list[Part] = []
    for style, text in line:
        tags = tuple(t for t in (n.removeprefix("class:") for n in style.split()) if t in TAGS)
        if parts and parts[-1][1] == tags:
            parts[-1] = (parts[-1][0] + text, tags)
        else:
            parts.append((text, tags))
    return Row(tuple((displayable(text, policy, rtl=rtl), tags) for text, tags in parts))


class Transcript:
    """The lines of one conversation: the last ``limit`` of them, and whether older
    ones can be fetched from history."""

    def __init__(self, key: str, limit: int) -> None:
        self.key = key
        self.limit = limit
        self.rows: collections.deque[Row] = collections.deque(maxlen=limit)
        self.more = key.startswith("#")  # only rooms page back through history
        self.paging = False

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.limit

    def reset(self) -> None:
        """The conversation is shown from scratch (a room joined again)."""
        self.rows.clear()
        self.more, self.paging = True, False

    def start_paging(self, page: int) -> int | None:
        """How many older rows to fetch now (at most ``page``), or None when there is
        nothing to fetch or a fetch is under way."""
        if not self.more or self.paging:
            return None
        if self.full:
            self.more = False  # the scrollback is bounded: no further back
            return None
        self.paging = True
        return min(page, self.limit - len(self.rows))

    def prepend(self, rows: list[Row], more: bool) -> list[Row]:
        """Older rows fetched: those that fit go above the others; returns them."""
        self.paging = False
        self.more = more
        room = self.limit - len(self.rows)
        if len(rows) > room:  # keep the newest: they join up with what is shown
            rows = rows[len(rows) - room :] if room > 0 else []
            self.more = False
        self.rows.extendleft(reversed(rows))
        return rows
