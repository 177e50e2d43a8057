"""The input: Enter sends, Shift+Enter starts a new line of the same message (a
paste keeps its lines), Up and Down walk through what was sent, Tab completes
commands, rooms and names (again: the next candidate), Page Up and Page Down
scroll the conversation, as in Slack, HexChat or a shell.

A Tk Text rather than an Entry, which holds one line: it grows with what is typed
up to :data:`MAX_LINES` lines, then scrolls."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Final

from zmqchat.client.gui.input_history import InputHistory
from zmqchat.client.gui.theme import BACKGROUND, FOREGROUND

Completer = Callable[[str], tuple[str, list[str]]]

# The input grows to this many lines of text, then scrolls.
MAX_LINES: Final = 6


class InputLine(ttk.Frame):
    """``on_send(text)`` runs what was typed; ``on_scroll(pages)`` scrolls the
    conversation; ``on_copy()`` copies the conversation's selection (True if any)."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        history: InputHistory,
        complete: Completer,
        on_send: Callable[[str], object],
        on_scroll: Callable[[int], object],
        on_copy: Callable[[], bool],
    ) -> None:
        super().__init__(master, padding=(6, 4))
        self._history = history
        self._complete = complete
        self._on_send = on_send
        self._on_scroll = on_scroll
        self._on_copy = on_copy
        # Tab pressed again cycles: (index where the word starts, candidates, position).
        self._cycle: tuple[str, list[str], int] | None = None
        self.prompt = ttk.Label(self, text="", style="Prompt.TLabel")
        self.entry = tk.Text(
            self,
            height=1,
            wrap="word",
            undo=True,
            font="TkTextFont",
            background=BACKGROUND,
            foreground=FOREGROUND,
            insertbackground=FOREGROUND,
            relief="solid",
            borderwidth=1,
            highlightthickness=0,
            padx=4,
            pady=3,
        )
        self.prompt.grid(row=0, column=0, padx=(0, 6), sticky="n", pady=(3, 0))
        self.entry.grid(row=0, column=1, sticky="ew")
        self.columnconfigure(1, weight=1)
        bind = self.entry.bind
        bind("<Return>", self._send)
        bind("<KP_Enter>", self._send)
        bind("<Shift-Return>", self._newline)
        bind("<Shift-KP_Enter>", self._newline)
        bind("<Up>", self._older)
        bind("<Down>", self._newer)
        bind("<Tab>", self._tab)
        bind("<Prior>", lambda e: self._scroll(-1))
        bind("<Next>", lambda e: self._scroll(1))
        bind("<Control-c>", self._copy)
        bind("<Key>", self._typed, add="+")
        bind("<<Modified>>", self._modified)

    @property
    def text(self) -> str:
        return self.entry.get("1.0", "end-1c")

    def set_text(self, text: str) -> None:
        self.entry.delete("1.0", "end")
        self.entry.insert("1.0", text)
        self.entry.mark_set("insert", "end-1c")
        self.entry.see("insert")

    def restore(self, text: str) -> None:
        """Give back a message the broker refused, unless something new is being
        typed (it is still in the history, one Up away)."""
        if not self.text:
            self.set_text(text)

    def _send(self, event: tk.Event[tk.Text]) -> str:
        text = self.text
        if text.strip():
            self.entry.delete("1.0", "end")
            self.entry.edit_reset()  # Ctrl-Z does not bring a sent message back
            self._on_send(text)
        return "break"

    def _newline(self, event: tk.Event[tk.Text]) -> str:
        self.entry.insert("insert", "\n")
        self.entry.see("insert")
        return "break"

    def _older(self, event: tk.Event[tk.Text]) -> str | None:
        if not self._on_edge("1.0"):
            return None  # up a line within the message
        line = self._history.older(self.text)
        if line is not None:
            self.set_text(line)
        return "break"

    def _newer(self, event: tk.Event[tk.Text]) -> str | None:
        if not self._on_edge("end-1c"):
            return None
        line = self._history.newer()
        if line is not None:
            self.set_text(line)
        return "break"

    def _on_edge(self, index: str) -> bool:
        """The cursor is on the same display line as ``index`` (the first or the
        last): Up or Down would leave the message, so they walk the history."""
        between = self.entry.count("insert", index, "displaylines")
        return not between or not between[0]

    def _scroll(self, pages: int) -> str:
        self._on_scroll(pages)
        return "break"

    def _copy(self, event: tk.Event[tk.Text]) -> str | None:
        if self.entry.tag_ranges("sel"):
            return None  # the input's own copy
        return "break" if self._on_copy() else None

    def _tab(self, event: tk.Event[tk.Text]) -> str:
        if self._cycle is not None:
            start, candidates, position = self._cycle
            position = (position + 1) % len(candidates)
        else:
            word, candidates = self._complete(self.entry.get("1.0", "insert"))
            if not candidates:
                return "break"  # Tab never moves the focus out of the input
            start, position = self.entry.index(f"insert - {len(word)} chars"), 0
        self.entry.delete(start, "insert")
        self.entry.insert("insert", candidates[position])
        self._cycle = (start, candidates, position) if len(candidates) > 1 else None
        return "break"

    def _typed(self, event: tk.Event[tk.Text]) -> None:
        if event.keysym not in ("Tab", "Shift_L", "Shift_R"):
            self._cycle = None

    def _modified(self, event: tk.Event[tk.Text]) -> None:
        # Grow (or shrink) to what is typed, once Tk has laid it out.
        self.entry.edit_modified(False)
        self.after_idle(self._fit)

    def _fit(self) -> None:
        try:
            counted = self.entry.count("1.0", "end-1c", "displaylines")
        except tk.TclError:  # the window is gone
            return
        lines = 1 + (counted[0] if counted else 0)
        height = max(1, min(MAX_LINES, lines))
        if int(self.entry.cget("height")) != height:
            self.entry.configure(height=height)
        self.entry.see("insert")


__all__ = ["MAX_LINES", "InputLine"]
