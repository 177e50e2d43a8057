"""The chat window: conversations on the left, the one looked at in the centre,
its members on the right, file transfers' progress, the input line with its
attach button (:mod:`.tk_files`) and the status bar at the bottom.

It draws what :meth:`ChatViewModel.drain` returns and turns clicks and keys into
view-model calls; it holds no state of the chat itself. Every method runs on the
Tk thread.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from zmqchat.client.chat.formatting import safe_text
from zmqchat.client.chat.state import Snapshot
from zmqchat.client.gui.theme import DIM, STATE_COLOURS
from zmqchat.client.gui.tk_files import FileActions, TransfersPanel
from zmqchat.client.gui.tk_fonts import transcript_fonts
from zmqchat.client.gui.tk_input import InputLine
from zmqchat.client.gui.tk_message_menu import MessageMenu
from zmqchat.client.gui.tk_sidebar import Sidebar
from zmqchat.client.gui.tk_transcript import TranscriptPane
from zmqchat.client.gui.viewmodel import SERVER, Changes, ChatViewModel

# Widgets where a click means "I want to type here": they keep the focus.
_TYPING_CLASSES = ("TEntry", "Entry", "Spinbox", "TSpinbox", "TCombobox")


# The most of a topic the header shows (a long one would widen the window).
TOPIC_CHARS = 160


class ChatWindow(ttk.Frame):
    """The main window's content, in a toplevel given as ``master``."""

    def __init__(
        self, master: tk.Tk | tk.Toplevel, vm: ChatViewModel, *, on_quit: Callable[[], object]
    ) -> None:
        super().__init__(master)
        self.vm = vm
        self._on_quit = on_quit
        self.toplevel = master
        self.fonts = transcript_fonts()
        self.panes: dict[str, TranscriptPane] = {}
        self.shown: str | None = None  # the key of the pane on top

        paned = ttk.PanedWindow(self, orient="horizontal")
        self.sidebar = Sidebar(
            paned,
            on_select=self.select,
            on_leave=self._leave,
            on_join=vm.join,
            done=self.focus_input,
        )
        centre = ttk.Frame(paned)
        self.header = ttk.Label(centre, text="", padding=(8, 6), font=self.fonts["header"])
        # The viewed room's topic, under its name (empty, and so no height, without).
        self.topic = ttk.Label(centre, text="", padding=(8, 0), foreground=DIM)
        self.stack = ttk.Frame(centre)
        self.stack.rowconfigure(0, weight=1)
        self.stack.columnconfigure(0, weight=1)
        self.header.grid(row=0, column=0, sticky="ew")
        self.topic.grid(row=1, column=0, sticky="ew")
        ttk.Separator(centre).grid(row=2, column=0, sticky="ew")
        self.stack.grid(row=3, column=0, sticky="nsew")
        centre.rowconfigure(3, weight=1)
        centre.columnconfigure(0, weight=1)

        people = ttk.Frame(paned, padding=(0, 6, 6, 6))
        self.members_label = ttk.Label(people, text="Members")
        self.members = tk.Listbox(
            people, width=16, activestyle="none", exportselection=False, takefocus=False
        )
        self.members.bind("<Double-Button-1>", self._member_chosen)
        self.members_label.grid(row=0, column=0, sticky="w", pady=(0, 4))
        self.members.grid(row=1, column=0, sticky="nsew")
        people.rowconfigure(1, weight=1)
        people.columnconfigure(0, weight=1)

        paned.add(self.sidebar, weight=0)
        paned.add(centre, weight=1)
        paned.add(people, weight=0)

        self.input = InputLine(
            self,
            history=vm.history,
            complete=vm.complete,
            on_send=self._send,
            on_scroll=self._scroll,
            on_copy=self._copy,
        )
        self.message_menu = MessageMenu(self, vm, on_edit=self._edit_message)
        # Files: Attach… (or Ctrl+O) sends one here, a file's link saves it.
        self.files = FileActions(master, vm.files, lambda: vm.snapshot)
        self.transfers = TransfersPanel(self, vm.files.transfers)
        self.attach = self._attach_button()
        self.status = ttk.Label(self, text="", padding=(8, 2), relief="sunken", anchor="w")
        paned.grid(row=0, column=0, sticky="nsew")
        self.transfers.grid(row=1, column=0, sticky="ew")
        self.transfers.grid_remove()  # until there is a transfer to show
        self.input.grid(row=2, column=0, sticky="ew")
        self.status.grid(row=3, column=0, sticky="ew")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)

        # The input has the keyboard after any click that does not need typing.
        self.toplevel.bind_all("<ButtonRelease-1>", self._clicked, add="+")
        # Whether the window has the focus decides if a mention marks the title.
        self._focus_bindings = [
            (sequence, self.toplevel.bind(sequence, self._focus_moved, add="+"))
            for sequence in ("<FocusIn>", "<FocusOut>")
        ]
        self.sync()
        self.focus_input()

    # ------------------------------------------------------------- drawing

    def apply(self, changes: Changes) -> None:
        """Draw what changed; called by the ``after()`` loop with each drain."""
        for key in changes.removed:
            pane = self.panes.pop(key, None)
            if pane is not None:
                pane.destroy()
                if self.shown == key:
                    self.shown = None
        for key in changes.reset:
            if key in self.panes:
                self.panes[key].clear()
        for key, rows in changes.prepended.items():
            self.pane(key).prepend(rows)
        for key, rows in changes.appended.items():
            self.pane(key).append(rows)
        for key, swaps in changes.replaced.items():
            if key in self.panes:
                for seq, row in swaps:
                    self.panes[key].replace(seq, row)
        if changes.restore is not None:
            self.input.restore(changes.restore)
        self.transfers.refresh()
        if changes.mentions:
            # Asked now: focus events do not always come (no window manager).
            self.vm.attend(changes.mentions, focused=self._has_focus())
        if (
            changes.snapshot is not None
            or changes.ended is not None
            or changes.mentions
            or self.shown is None
        ):
            self.sync()

    def sync(self) -> None:
        """Show the state of the view-model's snapshot: sidebar, the pane looked at,
        members, header, title, prompt and status."""
        snapshot = self.vm.snapshot
        self.sidebar.show(snapshot)
        self._show_pane(snapshot.viewing or SERVER)
        for key, unread in self.vm.take_markers().items():
            if key in self.panes:
                self.panes[key].mark_unread(unread)
        self._show_members(snapshot)
        self.header.configure(text=self._header(snapshot))
        self.topic.configure(text=_shortened(safe_text(snapshot.topic), TOPIC_CHARS))
        self.toplevel.title(self.vm.title())
        self.input.prompt.configure(text=f"{snapshot.viewing or '(no room)'} \u203a")
        text, state = self.vm.status()
        self.status.configure(text=text, foreground=STATE_COLOURS.get(state, ""))

    def pane(self, key: str) -> TranscriptPane:
        pane = self.panes.get(key)
        if pane is None:
            pane = self.panes[key] = TranscriptPane(
                self.stack,
                key,
                limit=self.vm.scrollback,
                fonts=self.fonts,
                on_top=self.vm.load_older,
                on_file=self.files.save,
            )
            pane.grid(row=0, column=0, sticky="nsew")
            self.message_menu.attach(pane)
            if self.shown is not None and self.shown in self.panes:
                self.panes[self.shown].tkraise()  # a new pane stays underneath
        return pane

    def _show_pane(self, key: str) -> None:
        if key == self.shown and key in self.panes:
            return
        pane = self.pane(key)
        pane.tkraise()
        if pane.following:
            pane.scroll_to_end()
        self.shown = key

    def _show_members(self, snapshot: Snapshot) -> None:
        names = list(snapshot.members)
        if list(self.members.get(0, "end")) != names:
            self.members.delete(0, "end")
            self.members.insert("end", *names)
        count = len(names)
        self.members_label.configure(text=f"Members ({count})" if count else "Members")

    def _header(self, snapshot: Snapshot) -> str:
        viewing = snapshot.viewing
        if viewing is None:
            return "No conversation — join a room on the left"
        if viewing.startswith("@"):
            peer = next((c.name for c in snapshot.conversations if c.key == viewing), viewing)
            return f"@{peer} — private conversation"
        return f"{viewing} — {len(snapshot.members)} here"

    # ------------------------------------------------------------- actions

    def select(self, key: str) -> None:
        self.vm.select(key)
        self.sync()

    def _leave(self, key: str) -> None:
        self.vm.leave(key)
        self.sync()

    def _member_chosen(self, event: tk.Event[tk.Listbox]) -> None:
        index = self.members.index(f"@{event.x},{event.y}")  # the name under the pointer
        if not 0 <= index < self.members.size():
            return
        if self.vm.open_private(str(self.members.get(index))) is not None:
            self.sync()

    def _send(self, text: str) -> None:
        if not self.vm.submit(text):
            self._on_quit()
            return
        pane = self.panes.get(self.shown or "")
        if pane is not None:
            pane.scroll_to_end()  # what we say, and its answer, are at the bottom

    def _attach_button(self) -> ttk.Button:
        button = ttk.Button(self.input, text="Attach…", command=self._attach, takefocus=False)
        button.grid(row=0, column=2, padx=(6, 0), sticky="n")
        self.input.entry.bind("<Control-o>", self._attach_key)  # not Text's open-line
        return button

    def _attach(self) -> None:
        self.files.attach()
        self.focus_input()

    def _attach_key(self, event: tk.Event[tk.Text]) -> str:
        self._attach()
        return "break"

    def _edit_message(self, command: str) -> None:
        """A message's menu chose Edit…: its ``/edit`` is in the input to change."""
        self.input.set_text(command)
        self.focus_input()

    def _scroll(self, pages: int) -> None:
        pane = self.panes.get(self.shown or "")
        if pane is not None:
            pane.scroll_pages(pages)

    def _copy(self) -> bool:
        pane = self.panes.get(self.shown or "")
        if pane is None or not pane.text.tag_ranges("sel"):
            return False
        self.clipboard_clear()
        self.clipboard_append(pane.text.get("sel.first", "sel.last"))
        return True

    # --------------------------------------------------------------- focus

    def focus_input(self) -> None:
        self.input.entry.focus_set()

    def _clicked(self, event: tk.Event[tk.Misc]) -> None:
        widget = event.widget
        if isinstance(widget, str):  # a widget Tk knows but tkinter does not wrap
            return
        try:
            if widget.winfo_class() in _TYPING_CLASSES or widget.winfo_toplevel() is not (
                self.toplevel
            ):
                return
        except tk.TclError:  # the widget is gone already (a menu, a closed pane)
            return
        self.focus_input()

    def _focus_moved(self, event: tk.Event[tk.Misc]) -> None:
        # From one widget to another, the focus leaves the first before it reaches
        # the second: ask where it is once the events are handled.
        self.toplevel.after_idle(self._check_focus)

    def _check_focus(self) -> None:
        with contextlib.suppress(tk.TclError):  # the window is gone
            if self.vm.focus(self._has_focus()):
                self.toplevel.title(self.vm.title())

    def _has_focus(self) -> bool:
        # Tk's `focus` is empty when no window of this application has it.
        return bool(str(self.tk.call("focus")))

    def destroy(self) -> None:
        self.toplevel.unbind_all("<ButtonRelease-1>")
        for sequence, funcid in self._focus_bindings:
            self.toplevel.unbind(sequence, funcid)
        super().destroy()


def _shortened(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


__all__ = ["ChatWindow"]
