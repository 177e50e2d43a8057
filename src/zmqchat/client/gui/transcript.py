"""What a conversation pane holds, without the pane: its lines as rows of tagged
text, how many of them it keeps, and how many came while nobody looked."""

from __future__ import annotations

import collections
import dataclasses
from typing import Final

from zmqchat.client.chat.formatting import FILE_MARK, MESSAGE_MARK, Line
from zmqchat.client.chat.layout import INDENT
from zmqchat.client.gui.glyphs import GlyphPolicy, displayable
from zmqchat.client.gui.rtl import has_rtl
from zmqchat.client.gui.theme import TAGS

Part = tuple[str, tuple[str, ...]]  # (text, Tk tag names)

# The tag of a message's continuation lines: the view indents them under the
# first line's text (by the drawn width of Row.hang).
HANG: Final = "hang"
_INDENT_CLASS: Final = INDENT.removeprefix("class:")
# The tags of a file's name in a file line: a link to save it, and which file it is
# (``file.link.ID``: a tag per file, not per row; files are few among the lines).
LINK: Final = "file.link"


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One line of a conversation, ready for a Tk Text: each part's text with the
    tags (style classes) it is drawn with. A message of several lines is one row
    whose lines after the first are tagged :data:`HANG`, to be indented by the
    drawn width of ``hang`` (the time and name before the first line's text).
    ``bidi``: it holds right-to-left text, shaped but in reading order; the view
    puts each of its display lines in order (:func:`~.rtl.visual_lines`)."""

    parts: tuple[Part, ...]
    hang: str = ""
    bidi: bool = False
    height: int = 1  # the lines of text it takes (before wrapping)
    message: int | None = None  # the seq of the room message it shows (message_mark)
    file: int | None = None  # the id of the file it shows, its name a link (FILE_MARK)
    file_name: str = ""

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    def has_tag(self, tag: str) -> bool:
        return any(tag in tags for _, tags in self.parts)


def to_row(line: Line, policy: GlyphPolicy, *, rtl: bool = False) -> Row:
    """A formatted line (``class:`` styles) as a row (tag names), with what this
    Tk cannot draw replaced, and, with ``rtl``, right-to-left letters shaped.

    Only styles the theme draws become tags, and neighbours with the same tags
    are joined: Tk's insert costs about as much per tagged part as per line, so
    a row of three parts inserts twice as fast as one of eight. The spaces that
    indent a continuation line in a terminal (:mod:`~zmqchat.client.chat.layout`)
    become the :data:`HANG` tag: in a proportional font only the drawn width of
    what they stand under lines the text up."""
    parts: list[Part] = []
    indent: int | None = None
    message: int | None = None
    file: int | None = None
    file_name = ""
    for style, raw in line:
        names = [n.removeprefix("class:") for n in style.split()]
        if _INDENT_CLASS in names:
            indent = len(raw) if indent is None else indent
            continue
        if not raw:  # nothing to draw; it may name the message (message_mark)
            seqs = [n.removeprefix(MESSAGE_MARK) for n in names if n.startswith(MESSAGE_MARK)]
            if seqs and seqs[0].isascii() and seqs[0].isdigit():
                message = int(seqs[0])
            ids = [n.removeprefix(FILE_MARK) for n in names if n.startswith(FILE_MARK)]
            if ids and ids[0].isascii() and ids[0].isdigit():
                file = int(ids[0])
            continue
        tags = tuple(t for t in names if t in TAGS)
        if "file.name" in tags:
            file_name = raw
        if indent is not None:
            tags += (HANG,)
        text = displayable(raw, policy, rtl=rtl)
        if parts and parts[-1][1] == tags:
            parts[-1] = (parts[-1][0] + text, tags)
        else:
            parts.append((text, tags))
    # Worked out here, on the thread that made the line: the Tk thread only inserts.
    text = "".join(text for text, _ in parts)
    hang = text[:indent] if indent else ""
    if file is not None and file_name:
        link = (LINK, f"{LINK}.{file}")
        parts = [(t, tags + link if "file.name" in tags else tags) for t, tags in parts]
    else:
        file = None  # a mark without a name to click
    rtl_row = rtl and has_rtl(text)
    return Row(tuple(parts), hang, rtl_row, 1 + text.count("\n"), message, file, file_name)


class Transcript:
    """The lines of one conversation: the last ``limit`` of them, whether older
    ones can be fetched from history, and how many of the last ones came since
    the first unread message arrived while the conversation was not looked at."""

    def __init__(self, key: str, limit: int) -> None:
        self.key = key
        self.limit = limit
        self.rows: collections.deque[Row] = collections.deque(maxlen=limit)
        self.more = key.startswith("#")  # only rooms page back through history
        self.paging = False
        self.unseen = 0

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.limit

    def add(self, row: Row, *, unread: bool, looked_at: bool) -> None:
        """A new row; ``unread``: it came with the conversation's unread count
        above zero; ``looked_at``: the user is looking at the conversation."""
        self.rows.append(row)
        if looked_at:
            self.unseen = 0
        elif self.unseen or unread:
            self.unseen = min(self.unseen + 1, len(self.rows))

    def replace(self, seq: int, row: Row) -> bool:
        """The row showing room message ``seq`` (the newest such) reads ``row`` now;
        False if no row shows it."""
        for index in range(len(self.rows) - 1, -1, -1):
            if self.rows[index].message == seq:
                self.rows[index] = row
                return True
        return False

    def take_unseen(self) -> int:
        """How many of the last rows are new to the user, who looks now."""
        unseen, self.unseen = self.unseen, 0
        return unseen

    def reset(self) -> None:
        """The conversation is shown from scratch (a room joined again)."""
        self.rows.clear()
        self.more, self.paging, self.unseen = True, False, 0

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
