"""The left column: rooms joined and private conversations with their unread
counts, a field to join a room, and a context menu to leave one."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont
from tkinter import ttk

from zmqchat.client.chat.state import ConversationInfo, Snapshot
from zmqchat.client.gui.attention import badge
from zmqchat.client.gui.tk_fonts import quiet_font

_ROOMS = "rooms"
_PRIVATES = "privates"
JOIN_HINT = "join a room…"


class Sidebar(ttk.Frame):
    """``on_select(key)``, ``on_leave(key)`` and ``on_join(text)`` are the user's
    wishes; the sidebar shows them only once the state says so (:meth:`show`)."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        on_select: Callable[[str], object],
        on_leave: Callable[[str], object],
        on_join: Callable[[str], object],
        done: Callable[[], object],
    ) -> None:
        """``done``: after an action, give the keyboard back to the input line."""
        super().__init__(master, padding=(6, 6, 0, 6))
        self._on_select, self._on_leave, self._on_join = on_select, on_leave, on_join
        self._done = done
        self._shown: tuple[ConversationInfo, ...] | None = None
        self._viewing: str | None = None
        self.tree = ttk.Treeview(self, show="tree", selectmode="browse", takefocus=False)
        self.tree.column("#0", width=170, stretch=True)
        base = tkfont.nametofont("TkDefaultFont").actual()
        self._bold = quiet_font(family=base["family"], size=base["size"], weight="bold")
        self.tree.tag_configure("unread", font=self._bold)
        self.tree.tag_configure("mention", font=self._bold, foreground="#c0392b")
        self.tree.insert("", "end", _ROOMS, text="Rooms", open=True)
        self.tree.insert("", "end", _PRIVATES, text="Direct messages", open=True)
        self.tree.bind("<<TreeviewSelect>>", self._selected)
        self.tree.bind("<Button-3>", self._context_menu)
        self.join_entry = ttk.Entry(self, width=18)
        self.join_entry.bind("<Return>", self._join)
        self.join_entry.bind("<FocusIn>", self._hint_off)
        self.join_entry.bind("<FocusOut>", self._hint_on)
        self._hinting = False
        self._hint_on()
        self.menu = tk.Menu(self, tearoff=False)
        self.tree.grid(row=0, column=0, sticky="nsew")
        self.join_entry.grid(row=1, column=0, sticky="ew", pady=(6, 0))
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)

    def show(self, snapshot: Snapshot) -> None:
        """Draw the conversations of ``snapshot`` and select the one looked at."""
        if snapshot.conversations != self._shown:
            self._shown = snapshot.conversations
            keys = {c.key for c in snapshot.conversations}
            for parent in (_ROOMS, _PRIVATES):
                for item in self.tree.get_children(parent):
                    if item not in keys:
                        self.tree.delete(item)
            for info in snapshot.conversations:
                parent = _ROOMS if info.kind == "room" else _PRIVATES
                text = f"{'#' if info.kind == 'room' else '@'} {info.name}"
                text += badge(info.unread, info.mentions)
                tags = ("mention",) if info.mentions else ("unread",) if info.unread else ()
                if self.tree.exists(info.key):
                    self.tree.item(info.key, text=text, tags=tags)
                else:
                    self.tree.insert(parent, "end", info.key, text=text, tags=tags)
        self._viewing = snapshot.viewing
        viewing = snapshot.viewing
        want = (viewing,) if viewing and self.tree.exists(viewing) else ()
        if tuple(self.tree.selection()) != want:
            # Fires <<TreeviewSelect>>, which ignores the conversation looked at.
            self.tree.selection_set(want)
            if want:
                self.tree.see(want[0])

    def label(self, key: str) -> str:
        return str(self.tree.item(key, "text")) if self.tree.exists(key) else ""

    def _selected(self, event: tk.Event[ttk.Treeview]) -> None:
        selection = self.tree.selection()
        if not selection:
            return
        key = selection[0]
        if key in (_ROOMS, _PRIVATES):  # a heading: back to the conversation looked at
            if self._viewing and self.tree.exists(self._viewing):
                self.tree.selection_set(self._viewing)
            return
        if key != self._viewing:
            self._viewing = key
            self._on_select(key)

    def _context_menu(self, event: tk.Event[ttk.Treeview]) -> None:
        key = self.tree.identify_row(event.y)
        if not key or key in (_ROOMS, _PRIVATES):
            return
        self.menu.delete(0, "end")
        name = key[1:]
        if key.startswith("#"):
            self.menu.add_command(label=f"Leave #{name}", command=lambda: self._leave(key))
        else:
            self.menu.add_command(label="Close conversation", command=lambda: self._leave(key))
        self.menu.tk_popup(event.x_root, event.y_root)

    def _leave(self, key: str) -> None:
        self._on_leave(key)
        self._done()

    # ------------------------------------------------------------ join field

    def _join(self, event: tk.Event[ttk.Entry]) -> None:
        text = self.join_entry.get().strip()
        if text and not self._hinting:
            self.join_entry.delete(0, "end")
            self._on_join(text)
            self._done()

    def _hint_on(self, event: tk.Event[ttk.Entry] | None = None) -> None:
        if not self.join_entry.get():
            self._hinting = True
            self.join_entry.insert(0, JOIN_HINT)
            self.join_entry.configure(foreground="#8a8a8a")

    def _hint_off(self, event: tk.Event[ttk.Entry]) -> None:
        if self._hinting:
            self._hinting = False
            self.join_entry.delete(0, "end")
            self.join_entry.configure(foreground="")


__all__ = ["JOIN_HINT", "Sidebar"]
