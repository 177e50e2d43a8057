"""The input line: Enter sends, Up and Down walk through what was sent, Tab
completes commands, rooms and names (again: the next candidate), Page Up and
Page Down scroll the conversation, as in HexChat or a shell."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from zmqchat.client.gui.input_history import InputHistory

Completer = Callable[[str], tuple[str, list[str]]]


class InputLine(ttk.Frame):
    """``on_send(text)`` runs a typed line; ``on_scroll(pages)`` scrolls the
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
        # Tab pressed again cycles: (start index, candidates, position).
        self._cycle: tuple[int, list[str], int] | None = None
        self.prompt = ttk.Label(self, text="", style="Prompt.TLabel")
        self.entry = ttk.Entry(self)
        self.prompt.grid(row=0, column=0, padx=(0, 6))
        self.entry.grid(row=0, column=1, sticky="ew")
        self.columnconfigure(1, weight=1)
        bind = self.entry.bind
        bind("<Return>", self._send)
        bind("<KP_Enter>", self._send)
        bind("<Up>", self._older)
        bind("<Down>", self._newer)
        bind("<Tab>", self._tab)
        bind("<Prior>", lambda e: self._scroll(-1))
        bind("<Next>", lambda e: self._scroll(1))
        bind("<Control-c>", self._copy)
        bind("<Key>", self._typed, add="+")

    @property
    def text(self) -> str:
        return self.entry.get()

    def set_text(self, text: str) -> None:
        self.entry.delete(0, "end")
        self.entry.insert(0, text)
        self.entry.icursor("end")

    def restore(self, text: str) -> None:
        """Give back a line the broker refused, unless something new is being
        typed (it is still in the history, one Up away)."""
        if not self.entry.get():
            self.set_text(text)

    def _send(self, event: tk.Event[ttk.Entry]) -> str:
        text = self.entry.get()
        if text.strip():
            self.entry.delete(0, "end")
            self._on_send(text)
        return "break"

    def _older(self, event: tk.Event[ttk.Entry]) -> str:
        line = self._history.older(self.entry.get())
        if line is not None:
            self.set_text(line)
        return "break"

    def _newer(self, event: tk.Event[ttk.Entry]) -> str:
        line = self._history.newer()
        if line is not None:
            self.set_text(line)
        return "break"

    def _scroll(self, pages: int) -> str:
        self._on_scroll(pages)
        return "break"

    def _copy(self, event: tk.Event[ttk.Entry]) -> str | None:
        if self.entry.selection_present():
            return None  # the entry's own copy
        return "break" if self._on_copy() else None

    def _tab(self, event: tk.Event[ttk.Entry]) -> str:
        cursor = self.entry.index("insert")
        if self._cycle is not None:
            start, candidates, position = self._cycle
            position = (position + 1) % len(candidates)
        else:
            word, candidates = self._complete(self.entry.get()[:cursor])
            if not candidates:
                return "break"  # Tab never moves the focus out of the input
            start, position = cursor - len(word), 0
        self.entry.delete(start, cursor)
        self.entry.insert(start, candidates[position])
        self._cycle = (start, candidates, position) if len(candidates) > 1 else None
        return "break"

    def _typed(self, event: tk.Event[ttk.Entry]) -> None:
        if event.keysym not in ("Tab", "Shift_L", "Shift_R"):
            self._cycle = None


__all__ = ["InputLine"]
