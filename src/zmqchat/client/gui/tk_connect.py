"""The connect form: name, password, host (or several broker nodes, as
``host:port`` separated by commas), port and the broker's CURVE key, each
with room for its own error beside it (``name_taken`` beside the name,
``auth_failed`` beside the password, an unreachable broker beside the host, a
wrong or changed key beside the key), and a Connect button. Connecting happens off
the Tk thread; the form stays live."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from zmqchat.client.gui.connect_form import ConnectFailed, Field, check_nodes
from zmqchat.client.gui.theme import STATE_COLOURS

ERROR_COLOUR = STATE_COLOURS["disconnected"]
OPTIONAL = ("password", "server_key")  # fields left empty when not needed


class ConnectForm(ttk.Frame):
    """``on_connect(user, host, port, password, server_key, confirmed)`` starts
    connecting and returns a problem found at once (shown beside its field) or None
    (the outcome comes later, through :meth:`failed`); ``confirmed`` says the user
    chose the settings (pressed Connect or Enter), rather than a program that gave
    them all. The password is shown as dots and left empty for names without an
    account."""

    def __init__(
        self,
        master: tk.Misc,
        *,
        user: str,
        host: str,
        port: str,
        on_connect: Callable[[str, str, str, str, str, bool], ConnectFailed | None],
    ) -> None:
        super().__init__(master, padding=24)
        self._on_connect = on_connect
        ttk.Label(self, text="Connect to a zmqchat broker", font="TkHeadingFont").grid(
            row=0, column=0, columnspan=3, sticky="w", pady=(0, 12)
        )
        self.entries: dict[str, ttk.Entry] = {}
        self.errors: dict[str, ttk.Label] = {}
        for row, (field, label, value, width) in enumerate(
            [
                ("user", "Your name", user, 24),
                ("password", "Password (if any)", "", 24),
                ("host", "Host (several: host:port, …)", host, 36),
                ("port", "Port", port, 8),
                ("server_key", "Server key (CURVE, if any)", "", 44),
            ],
            start=1,
        ):
            ttk.Label(self, text=label).grid(row=row, column=0, sticky="w", padx=(0, 8), pady=3)
            entry = ttk.Entry(self, width=width, show="•" if field == "password" else "")
            entry.insert(0, value)
            entry.grid(row=row, column=1, sticky="w", pady=3)
            entry.bind("<Return>", self._submit)
            error = ttk.Label(self, text="", foreground=ERROR_COLOUR, wraplength=320)
            error.grid(row=row, column=2, sticky="w", padx=(8, 0))
            self.entries[field], self.errors[field] = entry, error
        self.button = ttk.Button(self, text="Connect", command=self._submit)
        self.button.grid(row=6, column=1, sticky="w", pady=(12, 0))
        self.message = ttk.Label(self, text="", foreground=ERROR_COLOUR, wraplength=480)
        self.message.grid(row=7, column=0, columnspan=3, sticky="w", pady=(8, 0))
        first_empty = next(
            (e for f, e in self.entries.items() if not e.get() and f not in OPTIONAL), None
        )
        start = first_empty or self.entries["user"]
        start.focus_set()
        # The name offered is selected: typing replaces it (rather than turning the
        # login name "root" into "rootbob"); Enter takes it as it is.
        start.selection_range(0, "end")
        start.icursor("end")

    def value(self, field: str) -> str:
        return self.entries[field].get()

    def submit(self, *, confirmed: bool = True) -> None:
        """Connect with what the form holds, as its button does; ``confirmed=False``
        when no one saw it (every setting was given on the command line)."""
        self._submit(confirmed=confirmed)

    def _submit(self, event: tk.Event[ttk.Entry] | None = None, *, confirmed: bool = True) -> None:
        if str(self.button.cget("state")) == "disabled":
            return  # already connecting
        self._clear()
        problem = self._on_connect(
            self.value("user"),
            self.value("host"),
            self.value("port"),
            self.value("password"),
            self.value("server_key"),
            confirmed,
        )
        if problem is not None:
            self.failed(problem)
            return
        self.button.configure(state="disabled")
        for entry in self.entries.values():
            entry.configure(state="disabled")
        nodes = check_nodes(self.value("host"), self.value("port"))
        where = " or ".join(
            e.removeprefix("tcp://") for e in (() if isinstance(nodes, ConnectFailed) else nodes)
        )
        self.message.configure(text=f"connecting to {where}…", foreground="")

    def failed(self, problem: ConnectFailed) -> None:
        """Show why connecting failed, beside the field it is about."""
        self.button.configure(state="normal")
        for entry in self.entries.values():
            entry.configure(state="normal")
        self.message.configure(text="", foreground=ERROR_COLOUR)
        field: Field = problem.field
        if field is None:
            self.message.configure(text=problem.message)
            self.entries["user"].focus_set()
            return
        self.errors[field].configure(text=problem.message)
        entry = self.entries[field]
        entry.focus_set()
        entry.selection_range(0, "end")

    def _clear(self) -> None:
        for label in self.errors.values():
            label.configure(text="")
        self.message.configure(text="")


__all__ = ["ConnectForm"]
