"""Right-to-left lines of a Tk Text in display order, one display line at a time.

Tk 8.6 on X11 draws characters left to right as given, so :mod:`.rtl` reorders
them; but the order depends on where a line wraps: a long Persian sentence
reversed as a whole and then wrapped shows its end on the first line and its
start on the last. The Unicode algorithm breaks the line first and then reorders
each display line on its own, so this does the same. It cannot leave the breaking
to Tk: Tk's word wrap measures a line in pieces, and the same words in another
order may fit a word more or a word less, so the breaks move once the words are
reordered, and reordering again moves them back. So a line holding right-to-left
text is broken here, by the widths of its words in its fonts, and each piece
becomes a line of the Text of its own that Tk does not wrap (tag
:data:`UNWRAPPED`); the row then takes as many lines as the width needs.

Only lines in view are laid out, when they come into view or the width changes:
a window of thousands of such lines resizes at the cost of the few on screen.
"""

from __future__ import annotations

import dataclasses
import itertools
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import font as tkfont
from typing import Final

from zmqchat.client.gui.rtl import visual_lines
from zmqchat.client.gui.transcript import Part

UNWRAPPED: Final = "bidi.unwrapped"
_PREFIX: Final = "bidi"
# Room left at the end of a line for what measuring words one by one misses.
_SLACK: Final = 4
# A logical line laid out is looked for this many lines above the top of the view.
_LOOK_BACK: Final = 200


@dataclasses.dataclass(slots=True)
class _Line:
    parts: list[Part]  # shaped, in reading order
    row: int  # the pane's serial number of the row it belongs to
    lines: int = 1  # lines of the Text it takes now
    width: int = 0  # the width it was laid out for (0: not yet)


class BidiLines:
    """The right-to-left lines of ``text``, each found by a mark at its start.

    ``edit(change)`` runs a change with the Text made editable;
    ``resized(row, lines)`` tells the pane a row takes ``lines`` more (or fewer)
    lines of text; ``font_of(tags)`` is the font text with those tags is drawn in.
    """

    def __init__(
        self,
        text: tk.Text,
        *,
        edit: Callable[[Callable[[], object]], None],
        resized: Callable[[int, int], None],
        font_of: Callable[[tuple[str, ...]], tkfont.Font],
    ) -> None:
        self.text = text
        self._edit = edit
        self._resized = resized
        self._font_of = font_of
        self._lines: dict[str, _Line] = {}
        self._names = itertools.count()
        self._widths: dict[tuple[str, str], int] = {}  # (font, word) -> pixels
        text.tag_configure(UNWRAPPED, wrap="none")

    def __bool__(self) -> bool:
        return bool(self._lines)

    def add(self, line: int, parts: list[Part], row: int) -> None:
        """Line ``line`` of the Text holds ``parts`` (shaped, in reading order), a
        line of row ``row``."""
        mark = f"{_PREFIX}{next(self._names)}"
        # Right gravity: text inserted at the line's start (older rows, the unread
        # marker) pushes the mark down with its line.
        self.text.mark_set(mark, f"{line}.0")
        self._lines[mark] = _Line(parts, row)

    def forget(self, end: str, start: str = "1.0") -> None:
        """The lines from ``start`` to before ``end`` are about to be deleted."""
        mark = self.text.mark_next(start)
        while mark is not None and self.text.compare(mark, "<", end):
            following = self.text.mark_next(mark)
            if mark in self._lines:
                del self._lines[mark]
                self.text.mark_unset(mark)
            mark = following

    def clear(self) -> None:
        for mark in self._lines:
            self.text.mark_unset(mark)
        self._lines.clear()

    def lay_out_visible(self) -> bool:
        """Break the lines in view for the current width (those already broken for
        it are left alone, and the Text is not touched); True if any changed."""
        width = self.text.winfo_width()
        if not self._lines or width <= 1 or not self.text.winfo_ismapped():
            return False  # not laid out by Tk yet: no width to break lines at
        top = int(self.text.index("@0,0").split(".")[0])
        bottom = int(self.text.index(f"@0,{self.text.winfo_height()}").split(".")[0])
        due: list[tuple[str, _Line]] = []
        mark = self.text.mark_next(f"{max(1, top - _LOOK_BACK)}.0")
        while mark is not None:
            line = int(self.text.index(mark).split(".")[0])
            if line > bottom:
                break
            entry = self._lines.get(mark)
            if entry is not None and entry.width != width and line + entry.lines > top:
                due.append((mark, entry))
            mark = self.text.mark_next(mark)
        if due:

            def lay_out() -> None:
                for mark, entry in due:
                    self._lay_out(mark, entry, width)

            self._edit(lay_out)
        return bool(due)

    def _lay_out(self, mark: str, entry: _Line, width: int) -> None:
        line = int(self.text.index(mark).split(".")[0])
        pieces = self._break(entry.parts, self._room(entry.parts, width))
        args: list[str | tuple[str, ...]] = []
        for n, piece in enumerate(pieces):
            if n:
                args += ("\n", (UNWRAPPED,))
            for chunk, tags in piece:
                args += (chunk, (*tags, UNWRAPPED))
        self.text.delete(f"{line}.0", f"{line + entry.lines - 1}.end")
        if args:
            self.text.tk.call(str(self.text), "insert", f"{line}.0", *args)
        self.text.mark_set(mark, f"{line}.0")
        if len(pieces) != entry.lines:
            self._resized(entry.row, len(pieces) - entry.lines)
        entry.lines, entry.width = len(pieces), width

    def _room(self, parts: Sequence[Part], width: int) -> int:
        """The pixels a line of ``parts`` may take in a Text ``width`` wide."""
        pad = int(str(self.text.cget("padx"))) + int(str(self.text.cget("borderwidth")))
        margin = 0
        for tag in parts[0][1] if parts else ():
            if tag.startswith("hang"):
                margin = max(margin, int(str(self.text.tag_cget(tag, "lmargin1")) or 0))
        return max(1, width - 2 * pad - margin - _SLACK)

    def _break(self, parts: list[Part], room: int) -> list[list[Part]]:
        """``parts`` broken into lines of at most ``room`` pixels at spaces (a word
        longer than a line gets one of its own), each in display order."""
        text = "".join(chunk for chunk, _ in parts)
        tags = [t for chunk, t in parts for _ in chunk]
        breaks: list[int] = []
        x: int | None = None  # how wide the line being filled is so far
        previous = 0  # where the last word ended
        for begin, end in _words(text):
            pixels = self._measure(text[begin:end], tags[begin])
            if x is None:
                x = pixels
            else:
                gap = self._measure(text[previous:begin], tags[previous])
                if x + gap + pixels > room:
                    breaks.append(begin)
                    x = pixels
                else:
                    x += gap + pixels
            previous = end
        shown = visual_lines(parts, breaks)
        return [_strip(piece) for piece in _split(shown, [0, *breaks, len(text)])]

    def _measure(self, word: str, tags: tuple[str, ...]) -> int:
        font = self._font_of(tags)
        key = (str(font), word)
        pixels = self._widths.get(key)
        if pixels is None:
            if len(self._widths) > 20_000:  # a bound, not a policy: start again
                self._widths.clear()
            pixels = self._widths[key] = font.measure(word)
        return pixels


def _words(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of non-space characters."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for index, char in enumerate(text):
        if char == " ":
            if start is not None:
                spans.append((start, index))
                start = None
        elif start is None:
            start = index
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _split(parts: list[Part], bounds: list[int]) -> list[list[Part]]:
    """``parts`` cut at the character offsets ``bounds`` (first 0, last the end)."""
    chars = [(char, tags) for chunk, tags in parts for char in chunk]
    pieces: list[list[Part]] = []
    for start, end in itertools.pairwise(bounds):
        piece: list[Part] = []
        for char, tags in chars[start:end]:
            if piece and piece[-1][1] == tags:
                piece[-1] = (piece[-1][0] + char, tags)
            else:
                piece.append((char, tags))
        pieces.append(piece)
    return pieces


def _strip(piece: list[Part]) -> list[Part]:
    """A display line without the spaces it ended with (where it broke)."""
    while piece and not piece[-1][0].rstrip(" "):
        piece = piece[:-1]
    if piece:
        last, tags = piece[-1]
        piece = [*piece[:-1], (last.rstrip(" "), tags)]
    return piece


__all__ = ["UNWRAPPED", "BidiLines"]
