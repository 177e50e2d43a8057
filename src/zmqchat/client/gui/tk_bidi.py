"""Right-to-left lines of a Tk Text in display order, one display line at a time.

Tk 8.6 on X11 draws characters left to right as given, so :mod:`.rtl` reorders
them; but the order depends on where a line wraps: a long Persian sentence
reversed as a whole and then wrapped shows its end on the first line and its
start on the last. The Unicode algorithm reorders each display line on its own
after breaking the line, so this does the same: a line holding right-to-left text
goes into the Text shaped and in reading order, Tk breaks it (word wrap) at the
widget's width, and then each display line is put in order. Reordering moves
whole words within a display line, whose width stays the same, so Tk breaks the
reordered line where it broke the original.

Only lines in view are laid out, when they come into view or the width changes:
a window of thousands of such lines resizes at the cost of the few on screen.
"""

from __future__ import annotations

import itertools
import tkinter as tk
from collections.abc import Callable

from zmqchat.client.gui.rtl import visual_lines
from zmqchat.client.gui.transcript import Part

_PREFIX = "bidi"


class BidiLines:
    """The right-to-left lines of ``text`` and the width each was laid out for.

    Each line is found by a mark at its start (right gravity: text inserted there,
    above it, pushes it down with its line). ``insert(index, parts)`` puts tagged
    parts into the Text (the pane's own insert, which knows its tags); ``edit(change)``
    runs a change with the Text made editable for it."""

    def __init__(
        self,
        text: tk.Text,
        insert: Callable[[str, list[Part]], None],
        edit: Callable[[Callable[[], object]], None],
    ) -> None:
        self.text = text
        self._insert = insert
        self._edit = edit
        self._lines: dict[str, tuple[list[Part], int]] = {}  # mark -> (parts, width)
        self._names = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._lines)

    def add(self, line: int, parts: list[Part]) -> None:
        """Line ``line`` of the Text holds ``parts`` (shaped, in reading order)."""
        mark = f"{_PREFIX}{next(self._names)}"
        self.text.mark_set(mark, f"{line}.0")
        self._lines[mark] = (parts, 0)

    def forget(self, end: str) -> None:
        """The lines before ``end`` are about to be deleted."""
        mark = self.text.mark_next("1.0")
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

    def lay_out_visible(self) -> None:
        """Put the lines in view in display order for the current width (those
        already laid out for it are left alone, and the Text is not touched)."""
        width = self.text.winfo_width()
        if not self._lines or width <= 1 or not self.text.winfo_ismapped():
            return  # not laid out by Tk yet: its display lines mean nothing
        first = self.text.index("@0,0 linestart")
        last = self.text.index(f"@0,{self.text.winfo_height()} lineend")
        due: list[str] = []
        mark = self.text.mark_next(first)
        while mark is not None and self.text.compare(mark, "<=", last):
            entry = self._lines.get(mark)
            if entry is not None and entry[1] != width:
                due.append(mark)
            mark = self.text.mark_next(mark)
        if due:
            self._edit(lambda: self._lay_out_all(due, width))

    def _lay_out_all(self, marks: list[str], width: int) -> None:
        for mark in marks:
            parts, laid_out = self._lines[mark]
            self._lay_out(mark, parts, laid_out=laid_out != 0)
            self._lines[mark] = (parts, width)

    def _lay_out(self, mark: str, parts: list[Part], *, laid_out: bool) -> None:
        line = self.text.index(mark).split(".")[0]
        start, end = f"{line}.0", f"{line}.end"
        if laid_out:  # in the order of another width: back to reading order first
            self._replace(start, end, parts)
        shown = visual_lines(parts, self._breaks(line))
        if shown != parts:
            self._replace(start, end, shown)

    def _replace(self, start: str, end: str, parts: list[Part]) -> None:
        self.text.delete(start, end)
        self._insert(start, parts)

    def _breaks(self, line: str) -> list[int]:
        """Where Tk wraps line ``line``: the offset each display line after the
        first starts at."""
        breaks: list[int] = []
        for k in itertools.count(1):
            index = self.text.index(f"{line}.0 + {k} display lines display linestart")
            row, column = index.split(".")
            if row != line or (breaks and int(column) <= breaks[-1]) or column == "0":
                return breaks
            breaks.append(int(column))
        return breaks  # pragma: no cover (count() never ends)


__all__ = ["BidiLines"]
