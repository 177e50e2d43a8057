"""One conversation's lines in a read-only Tk Text, with its scrollbar.

Rows are inserted in one Tcl call per batch (a burst of thousands of lines costs
one ``insert``, not one per fragment), the oldest rows are deleted past the
scrollback bound, and older rows are put above without moving what the reader is
looking at. The view follows new lines while the reader is at the bottom, as in
every chat client, and stays where the reader scrolled otherwise: following is
what the reader did last (scrolled up, or back to the bottom), not where the
view happens to be when a line comes, since a pane not yet laid out by Tk (just
made, or just shown) has no bottom to be at. A row may take several lines of
text (a message of several lines, its continuations indented under its first
line's text); a marker line can stand above the rows that came unread. A file's
name in its line is a link: a click on it calls ``on_file`` (to save it).
"""

from __future__ import annotations

import collections
import tkinter as tk
from collections.abc import Callable, Iterable, Sequence
from tkinter import font as tkfont
from tkinter import ttk
from typing import Final

from zmqchat.client.gui.rtl import has_rtl
from zmqchat.client.gui.theme import BACKGROUND, FOREGROUND, TAGS
from zmqchat.client.gui.tk_bidi import BidiLines
from zmqchat.client.gui.transcript import HANG, LINK, Part, Row

MARKER: Final = "unread.marker"
_NEWLINE: Final = ("\n", ())  # ends a row: text, then its (no) tags
MARKER_TEXT: Final = "─── new ───"


class TranscriptPane(ttk.Frame):
    """The lines of one conversation. ``on_top`` is called when the reader scrolls
    to the top (to fetch older lines), ``on_file(key, id, name)`` when a file's link
    is clicked."""

    def __init__(
        self,
        master: tk.Misc,
        key: str,
        *,
        limit: int,
        fonts: dict[str, tkfont.Font],
        on_top: Callable[[str], object],
        on_file: Callable[[str, int, str], object] | None = None,
    ) -> None:
        super().__init__(master)
        self.key = key
        self.limit = limit
        self.following = True  # the view keeps the newest line in sight
        self._on_top = on_top
        self._on_file = on_file
        self.files: dict[int, str] = {}  # the files whose lines were shown: id -> name
        self._font = fonts["base"]
        self._heights: collections.deque[int] = collections.deque()  # lines per row
        self._messages: collections.deque[int | None] = collections.deque()  # Row.message
        self._first_row = 0  # the serial number of the oldest row (see BidiLines)
        self._hangs: set[str] = set()  # indent tags configured so far
        self._marked = False  # the unread marker is shown
        self.text = tk.Text(
            self,
            wrap="word",
            state="disabled",
            font=fonts["base"],
            background=BACKGROUND,
            foreground=FOREGROUND,
            borderwidth=0,
            highlightthickness=0,
            padx=8,
            pady=6,
            spacing1=2,
            cursor="arrow",
            takefocus=False,
        )
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self._scrollbar_moved)
        self.text.configure(yscrollcommand=self._view_moved)
        self.text.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        self._fonts: dict[str, tkfont.Font] = {}  # by tag, for those with a font of their own
        for tag, style in TAGS.items():
            options = dict(style)
            if "font" in options:  # a variant of the base font, by name
                self._fonts[tag] = fonts[options["font"]]
                options["font"] = str(fonts[options["font"]])
            self.text.tag_configure(tag, **options)
        self.bidi = BidiLines(
            self.text,
            edit=self._edit,
            resized=self._row_resized,
            font_of=self._font_of,
        )
        self._layout_job: str | None = None
        # Scrolling by wheel (X11 sends buttons 4 and 5) may reach the top.
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.text.bind(sequence, self._wheel, add="+")
        self.text.bind("<Configure>", self._resized, add="+")
        self.text.tag_bind(LINK, "<Button-1>", self._link_clicked)
        self.text.tag_bind(LINK, "<Enter>", lambda e: self.text.configure(cursor="hand2"))
        self.text.tag_bind(LINK, "<Leave>", lambda e: self.text.configure(cursor="arrow"))

    # ------------------------------------------------------------------ lines

    def append(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        if not rows:
            return
        # Line numbers only matter to right-to-left rows (see _insert_rows).
        first = self.line_count() + 1 if any(row.bidi for row in rows) else 0
        serial = self._first_row + len(self._heights)
        self._edit(lambda: self._insert_rows("end", rows, first, serial))
        self._heights.extend(row.height for row in rows)
        self._messages.extend(row.message for row in rows)
        excess = len(self._heights) - self.limit
        if excess > 0:
            self._drop_oldest(excess)
        if self.following:
            self.text.yview_moveto(1.0)
        self._lay_out_soon()

    def prepend(self, rows: list[Row]) -> None:
        """Put older rows above, keeping the line the reader looks at in place."""
        if not rows:
            return
        top = int(self.text.index("@0,0").split(".")[0])
        self._first_row -= len(rows)
        self._edit(lambda: self._insert_rows("1.0", rows, 1, self._first_row))
        self._heights.extendleft(row.height for row in reversed(rows))
        self._messages.extendleft(row.message for row in reversed(rows))
        if self.following:
            self.text.yview_moveto(1.0)
        else:
            self.text.yview(f"{top + sum(row.height for row in rows)}.0")
        self._lay_out_soon()

    def replace(self, seq: int, row: Row) -> bool:
        """The row showing room message ``seq`` (the newest such) reads ``row`` now,
        in its place: the reader's view does not move. False if none shows it."""
        found = [i for i, message in enumerate(self._messages) if message == seq]
        if not found:
            return False
        index = found[-1]
        start = sum(list(self._heights)[:index]) + 1
        marker = self.marker_line()
        if marker is not None and marker <= start:
            start += 1  # the marker's line is no row's
        end = f"{start + self._heights[index]}.0"
        top = self.text.index("@0,0")

        def swap() -> None:
            self.text.delete(f"{start}.0", end)
            self._insert_rows(f"{start}.0", [row], start, self._first_row + index)

        if self.bidi:
            self.bidi.forget(end, f"{start}.0")
        self._edit(swap)
        self._heights[index] = row.height
        self._messages[index] = row.message
        if self.following:
            self.text.yview_moveto(1.0)
        else:
            self.text.yview(top)
        self._lay_out_soon()
        return True

    def clear(self) -> None:
        self.bidi.clear()
        self._edit(lambda: self.text.delete("1.0", "end"))
        self._heights.clear()
        self._messages.clear()
        self.following, self._marked = True, False

    def mark_unread(self, count: int) -> None:
        """Put the marker line above the last ``count`` rows, the ones that came
        while the reader was elsewhere; 0 takes it away."""
        count = min(count, len(self._heights))

        def edit() -> None:
            ranges = self.text.tag_ranges(MARKER)
            if ranges:
                self.text.delete(f"{ranges[0]} linestart", f"{ranges[0]} linestart +1 lines")
            if count > 0:
                above = sum(self._heights) - sum(list(self._heights)[-count:])
                self.text.insert(f"{above + 1}.0", MARKER_TEXT + "\n", (MARKER,))

        if count > 0 or self._marked:
            self._edit(edit)
            self._marked = count > 0
        if self.following:
            self.text.yview_moveto(1.0)

    def marker_line(self) -> int | None:
        """The line the unread marker is on, if it is shown."""
        ranges = self.text.tag_ranges(MARKER)
        return int(str(ranges[0]).split(".")[0]) if ranges else None

    def _drop_oldest(self, rows: int) -> None:
        lines = sum(self._heights.popleft() for _ in range(rows))
        for _ in range(rows):
            self._messages.popleft()
        self._first_row += rows
        if self._marked:
            marker = self.marker_line()
            if marker is not None and marker <= lines:
                lines += 1  # the marker stood above rows that are going: it goes too
                self._marked = False
        if self.bidi:
            self.bidi.forget(f"{lines + 1}.0")
        self._edit(lambda: self.text.delete("1.0", f"{lines + 1}.0"))

    def _edit(self, change: Callable[[], object]) -> None:
        self.text.configure(state="normal")
        try:
            change()
        finally:
            self.text.configure(state="disabled")

    def _insert_rows(self, index: str, rows: list[Row], first: int, serial: int) -> None:
        """Insert ``rows`` at ``index``, where line ``first`` of the Text will hold
        the first of them, whose serial number is ``serial``."""
        args: list[str | tuple[str, ...]] = []
        bidi: list[tuple[int, list[Part], int]] = []
        line = first
        for number, row in enumerate(rows, serial):
            if row.file is not None:
                self.files[row.file] = row.file_name
            parts = self._hanging(row) if row.hang else row.parts
            if row.bidi:
                bidi += [(n, line_parts, number) for n, line_parts in _lines_of(line, parts)]
            for part in parts:
                args.extend(part)
            args += _NEWLINE
            line += row.height
        # Text.insert is typed for one text only; Tk takes text, tags, text, ...
        self.text.tk.call(str(self.text), "insert", index, *args)
        for number, parts, row_serial in bidi:
            self.bidi.add(number, parts, row_serial)

    def _row_resized(self, serial: int, lines: int) -> None:
        index = serial - self._first_row
        if 0 <= index < len(self._heights):
            self._heights[index] += lines

    def _font_of(self, tags: tuple[str, ...]) -> tkfont.Font:
        # The last tag configured wins where tags clash (Tk's tag priority).
        fonts = [self._fonts[tag] for tag in reversed(TAGS) if tag in tags and tag in self._fonts]
        return fonts[0] if fonts else self._font

    def _hanging(self, row: Row) -> Sequence[Part]:
        """The row's parts, its continuation lines tagged to be indented by the
        drawn width of what stands before its first line's text."""
        pixels = self._font.measure(row.hang)
        tag = f"{HANG}{pixels}"
        if tag not in self._hangs:
            self._hangs.add(tag)
            self.text.tag_configure(tag, lmargin1=pixels, lmargin2=pixels)
            self.text.tag_lower(tag)
        return [(text, tuple(tag if t == HANG else t for t in tags)) for text, tags in row.parts]

    def line_count(self) -> int:
        """Lines shown (the Text always ends with one empty line of its own)."""
        return int(self.text.index("end-1c").split(".")[0]) - 1

    def row_count(self) -> int:
        return len(self._heights)

    def message_at(self, index: str) -> int | None:
        """The seq of the room message whose row is at ``index`` (``@x,y`` for a
        point), if its row shows one. Found by counting rows' lines, not by a tag
        per row: thousands of tags would slow every insert."""
        line = int(self.text.index(index).split(".")[0])
        marker = self.marker_line()
        if marker is not None:
            if line == marker:
                return None
            if line > marker:
                line -= 1  # the marker's line is no row's
        for height, message in zip(self._heights, self._messages, strict=True):
            line -= height
            if line <= 0:
                return message
        return None

    def file_at(self, index: str) -> int | None:
        """The id of the file whose link is at ``index``, if one is."""
        for tag in self.text.tag_names(index):
            number = str(tag).removeprefix(f"{LINK}.")
            if number != tag and number.isascii() and number.isdigit():
                return int(number)
        return None

    def _link_clicked(self, event: tk.Event[tk.Text]) -> None:
        file_id = self.file_at(f"@{event.x},{event.y}")
        if file_id is not None and self._on_file is not None:
            # After the click is handled: what it calls opens a dialog.
            name, on_file = self.files.get(file_id, ""), self._on_file
            self.after_idle(lambda: on_file(self.key, file_id, name))

    def lines(self) -> list[str]:
        """The text of every line shown (for tests and screenshots)."""
        return self.text.get("1.0", "end-1c").split("\n")[:-1]

    # -------------------------------------------------------------- scrolling

    def at_bottom(self) -> bool:
        return self.text.yview()[1] >= 0.999

    def at_top(self) -> bool:
        return self.text.yview()[0] <= 0.0

    def scroll_pages(self, pages: int) -> None:
        self.text.yview_scroll(pages, "pages")
        self._reader_moved()

    def scroll_to_end(self) -> None:
        self.text.yview_moveto(1.0)
        self.following = True

    def _scrollbar_moved(self, *args: str) -> None:
        self.text.yview(*args)
        self._reader_moved()

    def _wheel(self, event: tk.Event[tk.Text]) -> None:
        # After Tk's own binding has scrolled.
        self.after_idle(self._reader_moved)

    def _reader_moved(self) -> None:
        self.following = self.at_bottom()
        if self.at_top():
            self._on_top(self.key)

    def _resized(self, event: tk.Event[tk.Text]) -> None:
        if self.following:
            self.text.yview_moveto(1.0)
        self._lay_out_soon()

    def _view_moved(self, first: float | str, last: float | str) -> None:
        self.scrollbar.set(first, last)
        if self.bidi:  # other lines may have come into view
            self._lay_out_soon()

    def _lay_out_soon(self) -> None:
        if self.bidi and self._layout_job is None:
            self._layout_job = self.after_idle(self._lay_out)

    def _lay_out(self) -> None:
        self._layout_job = None
        if self.bidi.lay_out_visible() and self.following:
            self.text.yview_moveto(1.0)  # the lines broken anew moved the bottom


def _lines_of(first: int, parts: Sequence[Part]) -> list[tuple[int, list[Part]]]:
    """The parts of a row split at its line breaks: ``(line number, parts)`` for
    each of its lines, the first being line ``first``."""
    lines: list[tuple[int, list[Part]]] = [(first, [])]
    for text, tags in parts:
        for n, piece in enumerate(text.split("\n")):
            if n:
                lines.append((lines[-1][0] + 1, []))
            if piece:
                lines[-1][1].append((piece, tags))
    return [(n, line) for n, line in lines if has_rtl("".join(text for text, _ in line))]


__all__ = ["MARKER", "MARKER_TEXT", "TranscriptPane"]
