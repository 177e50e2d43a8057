"""The menu of a message line: a right click on one of our own messages in a room
offers Edit… and Delete (issue 15; docs/protocol.md §2.14).

Edit… puts ``/edit SEQ TEXT`` in the input line, the message's latest text ready to
change and send with Enter (or to leave, with nothing sent); Delete withdraws the
message at once, as ``/delete SEQ`` does. The line a right click lands on names
its message by the row it is in (``TranscriptPane.message_at``); whether it is ours,
and its text now, the chat model knows (``ChatViewModel.own_message``). On a line
of someone else's message, of a deleted one, or of none, no menu opens.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from zmqchat.client.gui.tk_transcript import TranscriptPane
from zmqchat.client.gui.viewmodel import ChatViewModel


class MessageMenu:
    """One menu for every pane of a window; ``on_edit(text)`` puts a command in
    the input line."""

    def __init__(
        self, master: tk.Misc, vm: ChatViewModel, *, on_edit: Callable[[str], object]
    ) -> None:
        self.vm = vm
        self._on_edit = on_edit
        self.menu = tk.Menu(master, tearoff=False)
        self.target: tuple[str, int] | None = None  # (pane key, seq) of the last menu

    def attach(self, pane: TranscriptPane) -> None:
        """Offer the menu on ``pane``'s message lines (rooms only: a private
        message can't be changed)."""
        if pane.key.startswith("#"):
            pane.text.bind("<Button-3>", lambda event: self._open(pane, event), add="+")

    def _open(self, pane: TranscriptPane, event: tk.Event[tk.Text]) -> None:
        seq = pane.message_at(f"@{event.x},{event.y}")
        text = self.vm.own_message(pane.key, seq) if seq is not None else None
        if seq is None or text is None:
            self.target = None
            return
        self.target = (pane.key, seq)
        self.menu.delete(0, "end")
        self.menu.add_command(label="Edit…", command=lambda: self._edit(seq, text))
        self.menu.add_command(label="Delete", command=lambda: self._delete(pane.key, seq))
        self.menu.tk_popup(event.x_root, event.y_root)

    def _edit(self, seq: int, text: str) -> None:
        self._close()
        self._on_edit(f"/edit {seq} {text}")

    def _delete(self, key: str, seq: int) -> None:
        self._close()
        self.vm.delete_message(key, seq)

    def _close(self) -> None:
        # A click on an entry closes the menu by itself; an entry invoked otherwise
        # (the keyboard, a test) leaves it posted and holding the pointer's grab.
        self.menu.unpost()
        self.menu.grab_release()


__all__ = ["MessageMenu"]
