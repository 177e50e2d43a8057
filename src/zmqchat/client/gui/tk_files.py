"""Files in the Tk window (issue 16): the attach button beside the input (and
Ctrl+O), a progress row per transfer above the input, and the save-as dialog a
click on a file's link opens.

What the dialogs answer comes through two functions, :attr:`FileActions.ask_open`
and :attr:`FileActions.ask_save`: Tk's own file dialogs by default, which a test
replaces with its answer (a dialog's own event loop can't be driven by key events
from the thread that waits in it). The transfers themselves are
:mod:`zmqchat.client.gui.files`'; this module only asks and draws.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Final

from zmqchat.client.chat.state import Snapshot
from zmqchat.client.gui.files import FileShare, TransferRow, Transfers

# While rows are shown, they are drawn again this often (rate, ETA, a finished row
# going away) even when no transfer moved on.
TICK: Final = 0.5
# The bar's resolution: parts of a whole.
_STEPS: Final = 1000
_COLOURS: Final = {"running": "", "done": "#1e8449", "failed": "#c0392b"}

AskOpen = Callable[[], str | None]
AskSave = Callable[[str], str | None]


class _RowWidgets:
    """The widgets of one progress row: what it says, its bar, its ✕ (cancel while
    it runs, then dismiss)."""

    def __init__(self, master: tk.Misc, on_close: Callable[[], object]) -> None:
        self.frame = ttk.Frame(master)
        self.label = ttk.Label(self.frame, anchor="w")
        self.bar = ttk.Progressbar(self.frame, length=180, maximum=_STEPS, mode="determinate")
        self.close = ttk.Button(self.frame, text="✕", width=2, command=on_close)
        self.label.grid(row=0, column=0, sticky="ew")
        self.bar.grid(row=0, column=1, padx=(8, 4))
        self.close.grid(row=0, column=2)
        self.frame.columnconfigure(0, weight=1)
        self.frame.pack(fill="x")
        self.row: TransferRow | None = None

    def show(self, row: TransferRow) -> None:
        if row == self.row:
            return
        self.row = row
        self.label.configure(text=row.text, foreground=_COLOURS[row.phase])
        self.bar.configure(value=int(row.fraction * _STEPS))


class TransfersPanel(ttk.Frame):
    """The progress rows, oldest first; it takes no room while there are none. Its
    owner calls :meth:`refresh` from the ``after()`` loop."""

    def __init__(
        self, master: tk.Misc, transfers: Transfers, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(master, padding=(8, 2))
        self.transfers = transfers
        self.rows: dict[int, _RowWidgets] = {}
        self._clock = clock
        self._version = -1
        self._drawn = 0.0

    def refresh(self) -> None:
        """Draw the rows again if a transfer changed, or at each :data:`TICK` while
        any are shown."""
        now = self._clock()
        if self.transfers.version == self._version and (not self.rows or now - self._drawn < TICK):
            return
        rows = self.transfers.rows()
        self._version, self._drawn = self.transfers.version, now
        shown = {row.serial for row in rows}
        for serial in [s for s in self.rows if s not in shown]:
            self.rows.pop(serial).frame.destroy()
        for row in rows:
            widgets = self.rows.get(row.serial)
            if widgets is None:
                close = self._closer(row.serial)
                widgets = self.rows[row.serial] = _RowWidgets(self, close)
            widgets.show(row)
        if rows:
            self.grid()
        else:
            self.grid_remove()

    def _closer(self, serial: int) -> Callable[[], None]:
        def close() -> None:
            self.transfers.close(serial)
            self.refresh()

        return close

    def texts(self) -> list[str]:
        """What each row says, in order (for tests and screenshots)."""
        return [str(w.label.cget("text")) for w in self.rows.values()]


class FileActions:
    """What the attach button, Ctrl+O and a file's link do in ``toplevel``: ask for
    a path, then start the transfer. ``snapshot()``: the conversation looked at."""

    def __init__(
        self, toplevel: tk.Misc, share: FileShare, snapshot: Callable[[], Snapshot]
    ) -> None:
        self.toplevel = toplevel
        self.share = share
        self.snapshot = snapshot
        self.ask_open: AskOpen = self._ask_open
        self.ask_save: AskSave = self._ask_save
        self._folder: str | None = None  # where the last dialog was answered
        # A dialog runs a loop of its own, where a second click (a double click)
        # would open another: one at a time.
        self._asking = False

    def attach(self) -> int | None:
        """Ask for a file and send it to the conversation looked at; the transfer's
        serial, or None (cancelled, or refused in a line)."""
        path = self._ask(self.ask_open)
        if not path:
            return None
        self._folder = str(Path(path).parent)
        return self.share.send(path, self.snapshot())

    def save(self, key: str, file_id: int, name: str) -> int | None:
        """A file's link was clicked in ``key``'s pane: ask where to save it (its
        own name offered), then fetch it there."""
        path = self._ask(lambda: self.ask_save(name or f"file-{file_id}"))
        if not path:
            return None
        self._folder = str(Path(path).parent)
        return self.share.get(file_id, name or Path(path).name, path, key)

    def _ask(self, ask: Callable[[], str | None]) -> str | None:
        if self._asking:
            return None
        self._asking = True
        try:
            return ask()
        finally:
            self._asking = False

    def _ask_open(self) -> str | None:
        chosen = filedialog.askopenfilename(
            parent=self.toplevel, title="Send a file", initialdir=self._folder
        )
        return chosen if isinstance(chosen, str) and chosen else None

    def _ask_save(self, name: str) -> str | None:
        chosen = filedialog.asksaveasfilename(
            parent=self.toplevel, title=f"Save {name}", initialfile=name, initialdir=self._folder
        )
        return chosen if isinstance(chosen, str) and chosen else None


__all__ = ["TICK", "AskOpen", "AskSave", "FileActions", "TransfersPanel"]
