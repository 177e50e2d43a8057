"""The Tk application: one root window that shows the connect form, then the chat
window, and the ``after()`` loop that feeds it.

Only this thread touches Tk. The client's threads put what they have on the
view-model's queue; :meth:`GuiApp._pump` drains it in batches bounded in count and
time, draws the result, and comes back at once while more is waiting (after the
pending redraws, so a burst never freezes the window) or after a short pause when
idle, as Thonny and IDLE poll their backends.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import signal
import sys
import time
import tkinter as tk
from collections.abc import Sequence
from pathlib import Path
from tkinter import ttk
from types import FrameType
from typing import Final

from zmqchat.client.chat.commands import suggested_name
from zmqchat.client.gui.connect_form import ConnectFailed, form_fields
from zmqchat.client.gui.glyphs import GlyphPolicy, choose_policy, reorders_rtl
from zmqchat.client.gui.prefs import load_last, save_last
from zmqchat.client.gui.tk_connect import ConnectForm
from zmqchat.client.gui.tk_window import ChatWindow
from zmqchat.client.gui.viewmodel import ChatViewModel
from zmqchat.common.config import ClientConfig
from zmqchat.common.endpoints import check_endpoints

# Drain the queue this often when idle; when busy, again right after the redraw.
POLL_MS: Final = 20
# Per turn of the loop, the lines taken in are sized to draw in about this long
# (inserting them costs Tk far more than taking them off the queue), between
# these bounds: the loop stays responsive and still keeps up with a burst.
TURN_SECONDS: Final = 0.03
BATCH_MIN: Final = 50
BATCH_MAX: Final = 2000
# How long closing waits for the broker to acknowledge bye before giving up.
CLOSE_WAIT: Final = 3.0


class StallMeter:
    """The gaps between ticks of an ``after()`` timer: how long the Tk loop was
    busy with something else (drawing, draining) and could not answer. ``longest``
    is the worst gap; ``slow`` counts gaps over ``slow_after`` seconds."""

    def __init__(self, widget: tk.Misc, interval_ms: int = 10, slow_after: float = 0.1) -> None:
        self._widget = widget
        self.interval = interval_ms / 1000
        self.slow_after = slow_after
        self.longest = 0.0
        self.slow = 0
        self.ticks = 0
        self._last = time.perf_counter()
        self._job: str | None = None

    def start(self) -> None:
        self.reset()
        self._job = self._widget.after(int(self.interval * 1000), self._tick)

    def reset(self) -> None:
        self.longest, self.slow, self.ticks = 0.0, 0, 0
        self._last = time.perf_counter()

    def stop(self) -> None:
        if self._job is not None:
            with contextlib.suppress(tk.TclError):
                self._widget.after_cancel(self._job)
            self._job = None

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self._last
        self.longest = max(self.longest, gap)
        self.slow += gap > self.slow_after
        self.ticks += 1
        self._last = now
        self._job = self._widget.after(int(self.interval * 1000), self._tick)


def glyph_policy(root: tk.Misc) -> GlyphPolicy:
    """What this Tk can draw (see :mod:`zmqchat.client.gui.glyphs`)."""
    patchlevel = str(root.tk.call("info", "patchlevel"))
    windowing = str(root.tk.call("tk", "windowingsystem"))
    return choose_policy(patchlevel, windowing, _xft_version() if windowing == "x11" else None)


def _xft_version() -> int | None:
    name = ctypes.util.find_library("Xft")
    if name is None:
        return None
    try:
        version: int = ctypes.CDLL(name).XftGetVersion()
    except (OSError, AttributeError):
        return None
    return version


class GuiApp:
    """The connect form, then the chat window, in ``root``."""

    def __init__(
        self,
        root: tk.Tk,
        config: ClientConfig,
        *,
        user: str | None = None,
        host: str | None = None,
        port: int | None = None,
        endpoints: Sequence[str] | None = None,
        rooms: Sequence[str] | None = None,
        prefs: Path | None = None,
        policy: GlyphPolicy | None = None,
        password: str | None = None,
    ) -> None:
        """``user``, ``host``, ``port``: given on the command line (they win over
        what the last run remembered, which wins over the config); ``endpoints``:
        the broker nodes given as a list (``--endpoint``, ``ZMQCHAT_ENDPOINTS``,
        ``endpoints`` in client.toml), which win over all of those; ``password``:
        given without asking (a password file, ``ZMQCHAT_PASSWORD``), used when the
        form's password field is left empty."""
        self.root = root
        self.prefs = prefs
        # The form need not be asked: a name and the broker were given.
        self.given = bool(user and (endpoints or (host and port)))
        self.vm = ChatViewModel(
            config,
            rooms=tuple(rooms) if rooms else None,
            policy=policy or glyph_policy(root),
            rtl=reorders_rtl(str(root.tk.call("tk", "windowingsystem"))),
            # Not a method of this object: the view-model lives on in the client's
            # threads, and must not keep the Tk root alive there (a Tk interpreter
            # freed on another thread aborts the process).
            remember=functools.partial(save_last, path=prefs),
            password=password,
        )
        last = load_last(prefs)
        if endpoints:
            shown_host, shown_port = form_fields(check_endpoints(endpoints))
        elif last.endpoints and not (host or port):
            shown_host, shown_port = form_fields(last.endpoints)
        else:
            # The flags, over the last run's node, over the config's nodes.
            default_host, default_port = form_fields(config.broker_endpoints)
            shown_host = host or last.host or default_host
            shown_port = str(port or last.port or default_port)
        root.title("zmqchat")
        root.geometry("1000x640")
        root.minsize(640, 400)
        root.protocol("WM_DELETE_WINDOW", self.close)
        ttk.Style(root).configure("Prompt.TLabel", foreground="#5d6d7e")
        self.form: ConnectForm | None = ConnectForm(
            root,
            user=user or last.user or config.user or suggested_name(),
            host=shown_host,
            port=shown_port,
            on_connect=self._connect,
        )
        self.form.pack(fill="both", expand=True)
        self.window: ChatWindow | None = None
        self._batch = BATCH_MIN * 4  # lines per turn; adapts to how fast Tk draws
        self.meter = StallMeter(root)
        self.meter.start()
        self.closing = False
        self.finished = False  # the root is destroyed
        self._close_requested = False
        self._close_deadline = 0.0
        self._job: str | None = root.after(POLL_MS, self._pump)

    def start(self) -> None:
        """Connect at once when the name and the broker (host and port, or a list
        of endpoints) were given: no need to ask. What a program gave is not what
        the user chose: the next run's form does not offer it (only settings
        confirmed in the form are remembered)."""
        if self.given and self.form is not None:
            self.form.submit(confirmed=False)

    def _connect(
        self, user: str, host: str, port: str, password: str, server_key: str, confirmed: bool
    ) -> ConnectFailed | None:
        return self.vm.connect(user, host, port, password, server_key, confirmed=confirmed)

    # ----------------------------------------------------------------- loop

    def _pump(self) -> None:
        self._job = None
        if self._close_requested and not self.closing:
            self.close()
        started = time.perf_counter()
        changes = self.vm.drain(self._batch, TURN_SECONDS)
        if changes.connect_failed is not None and self.form is not None:
            self.form.failed(changes.connect_failed)
        if changes.connected is not None:
            self._open_window()
        if self.window is not None:
            self.window.apply(changes)
        rows = sum(len(r) for r in changes.appended.values())
        if changes.pending and rows:
            elapsed = max(time.perf_counter() - started, 0.001)
            fit = int(rows * TURN_SECONDS / elapsed)
            self._batch = max(BATCH_MIN, min(BATCH_MAX, (self._batch + fit) // 2))
        if self.closing and (self.vm.closed.is_set() or time.monotonic() > self._close_deadline):
            self.meter.stop()
            self.finished = True
            self.root.destroy()  # ends mainloop()
            return
        if changes.pending:
            # Run again once the redraws queued by this batch are done: an idle
            # callback runs after those already queued, then the timer is set.
            self.root.after_idle(self._schedule, 1)
        else:
            self._schedule(POLL_MS)

    def _schedule(self, delay_ms: int) -> None:
        if self._job is None:
            with contextlib.suppress(tk.TclError):  # the root is gone
                self._job = self.root.after(delay_ms, self._pump)

    def _open_window(self) -> None:
        if self.form is not None:
            self.form.destroy()
            self.form = None
        self.window = ChatWindow(self.root, self.vm, on_quit=self.close)
        self.window.pack(fill="both", expand=True)

    # -------------------------------------------------------------- closing

    def request_close(self) -> None:
        """Close from a signal handler: only sets a flag that the loop acts on."""
        self._close_requested = True

    def close(self) -> None:
        """Close the window: it disappears at once; ``bye`` goes out meanwhile and
        the loop ends when the broker has answered (the name is free then)."""
        if self.closing:
            return
        self.closing = True
        self._close_deadline = time.monotonic() + CLOSE_WAIT
        self.root.withdraw()
        self.vm.close()


def run_gui(
    config: ClientConfig,
    *,
    user: str | None,
    host: str | None,
    port: int | None,
    rooms: Sequence[str] | None,
    password: str | None = None,
    endpoints: Sequence[str] | None = None,
) -> int:
    """Run the GUI until its window is closed; the exit status."""
    try:
        root = tk.Tk(className="Zmqchat")
    except tk.TclError as exc:
        print(f"zmqchat gui: cannot open a window: {exc} (is DISPLAY set?)", file=sys.stderr)
        return 1
    _run(
        root,
        config,
        user=user,
        host=host,
        port=port,
        endpoints=endpoints,
        rooms=rooms,
        password=password,
    )
    # The Tk interpreter must be freed on this thread, now that _run's frame is
    # gone, not by a collection that happens to run on a client thread.
    del root
    gc.collect()
    return 0


def _run(
    root: tk.Tk,
    config: ClientConfig,
    *,
    user: str | None,
    host: str | None,
    port: int | None,
    endpoints: Sequence[str] | None,
    rooms: Sequence[str] | None,
    password: str | None,
) -> None:
    app = GuiApp(
        root,
        config,
        user=user,
        host=host,
        port=port,
        endpoints=endpoints,
        rooms=rooms,
        password=password,
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        app.request_close()  # Ctrl-C in the terminal closes the window, with bye

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        app.start()
        root.mainloop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = [
    "POLL_MS",
    "GuiApp",
    "StallMeter",
    "glyph_policy",
    "run_gui",
]
