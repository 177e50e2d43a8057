"""One conversation's lines in a read-only Tk Text, with its scrollbar.

Rows are inserted in one Tcl call per batch (a burst of thousands of lines costs
one ``insert``, not one per fragment), the oldest lines are deleted past the
scrollback bound, the view follows new lines only while it is at the bottom (as
in every chat client: reading old lines is not interrupted), and older lines are
put above without moving what the reader is looking at.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Iterable
from tkinter import font as tkfont
from tkinter import ttk

from zmqchat.client.gui.theme import BACKGROUND, FOREGROUND, TAGS
from zmqchat.client.gui.transcript import Row


class TranscriptPane(ttk.Frame):
    """The lines of one conversation. ``on_top`` is called when the reader scrolls
    to the top (to fetch older lines)."""

    def __init__(
        self,
        master: tk.Misc,
        key: str,
        *,
        limit: int,
        fonts: dict[str, tkfont.Font],
        on_top: Callable[[str], object],
    ) -> None:
        super().__init__(master)
        self.key = key
        self.limit = limit
        self._on_top = on_top
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
        self.text.configure(yscrollcommand=self.scrollbar.set)
        self.text.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        for tag, style in TAGS.items():
            options = dict(style)
            if "font" in options:  # a variant of the base font, by name
                options["font"] = str(fonts[options["font"]])
            self.text.tag_configure(tag, **options)
        # Scrolling by wheel (X11 sends buttons 4 and 5) may reach the top.
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.text.bind(sequence, self._wheel, add="+")

    # ------------------------------------------------------------------ lines

    def append(self, rows: Iterable[Row]) -> None:
        args = _insert_args(rows)
        if not args:
            return
        following = self.at_bottom()
        self.text.configure(state="normal")
        self._insert("end", args)
        excess = self.line_count() - self.limit
        if excess > 0:
            self.text.delete("1.0", f"{excess + 1}.0")
        self.text.configure(state="disabled")
        if following:
            self.text.yview_moveto(1.0)

    def prepend(self, rows: list[Row]) -> None:
        """Put older rows above, keeping the line the reader looks at in place."""
        args = _insert_args(rows)
        if not args:
            return
        top = int(self.text.index("@0,0").split(".")[0])
        self.text.configure(state="normal")
        self._insert("1.0", args)
        self.text.configure(state="disabled")
        self.text.yview(f"{top + len(rows)}.0")

    def _insert(self, index: str, args: list[str | tuple[str, ...]]) -> None:
        # Text.insert is typed for one text only; Tk takes text, tags, text, ...
        self.text.tk.call(str(self.text), "insert", index, *args)

    def clear(self) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")

    def line_count(self) -> int:
        """Lines shown (the Text always ends with one empty line of its own)."""
        return int(self.text.index("end-1c").split(".")[0]) - 1

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
        self._maybe_top()

    def scroll_to_end(self) -> None:
        self.text.yview_moveto(1.0)

    def _scrollbar_moved(self, *args: str) -> None:
        self.text.yview(*args)
        self._maybe_top()

    def _wheel(self, event: tk.Event[tk.Text]) -> None:
        # After Tk's own binding has scrolled.
        self.after_idle(self._maybe_top)

    def _maybe_top(self) -> None:
        if self.at_top():
            self._on_top(self.key)


def _insert_args(rows: Iterable[Row]) -> list[str | tuple[str, ...]]:
    """``text, tags, text, tags, ...`` for one ``Text.insert`` call."""
    args: list[str | tuple[str, ...]] = []
    for row in rows:
        for text, tags in row.parts:
            args += (text, tags)
        args += ("\n", ())
    return args


__all__ = ["TranscriptPane"]
