"""The Tk tests run for real: an X server of their own (Xvfb), a GuiApp in this
process on the test's thread (the one that owns Tk), a real broker, key and mouse
events generated on the widgets, and loops of ``update()`` bounded by deadlines."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scripts.xvfb import XvfbError, display_env, virtual_display

from zmqchat.common.config import ClientConfig
from zmqchat.testing import BrokerProcess, wait_until


@pytest.fixture(scope="session")
def xdisplay() -> Iterator[str]:
    """A fresh Xvfb for the session; DISPLAY points at it while the tests run."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the Tk tests run under Xvfb, which is Linux-only")
    try:
        import tkinter  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"tkinter is missing ({exc}): install Tk (apt-get install tk)", pytrace=False)
    try:
        with virtual_display() as display, display_env(display):
            yield display
    except XvfbError as exc:
        pytest.fail(f"the Tk tests need a virtual X server: {exc}", pytrace=False)


# Characters typed by name: the keysym Tk knows each by.
_KEYSYMS = {
    " ": "space",
    "/": "slash",
    "@": "at",
    ".": "period",
    ",": "comma",
    "-": "minus",
    "_": "underscore",
    "!": "exclam",
    "?": "question",
    ":": "colon",
    "#": "numbersign",
}


class Gui:
    """A GuiApp in a Tk root of its own, and the hands to use it."""

    def __init__(self, tmp: Path, broker: BrokerProcess, **options: Any) -> None:
        import tkinter as tk

        from zmqchat.client.gui.tk_app import GuiApp

        self.tk = tk
        self.root = tk.Tk(className="ZmqchatTest")
        self.prefs = tmp / "gui.json"
        timeout = options.pop("connect_timeout", 5.0)
        self.config = ClientConfig(port=broker.port, connect_timeout=timeout)
        options.setdefault("host", "127.0.0.1")
        options.setdefault("port", broker.port)
        self.app = GuiApp(self.root, self.config, prefs=self.prefs, **options)
        self.update_until(self.root.winfo_viewable, what="the window on screen")
        # No window manager under Xvfb hands out the focus: take it, for the widget
        # the window gave it to.
        (self.root.focus_lastfor() or self.root).focus_force()
        self.alive = True

    # -------------------------------------------------------------- the loop

    def update_until(
        self,
        predicate: Callable[[], object],
        timeout: float = 10.0,
        what: str | Callable[[], object] = "the condition",
    ) -> Any:
        """Run the Tk loop until ``predicate`` holds; fail after ``timeout``."""

        def updated() -> object:
            self.root.update()
            return predicate()

        return wait_until(updated, timeout, what, interval=0.002)

    # ----------------------------------------------------------------- hands

    def focused(self) -> Any:
        widget = self.root.focus_get()
        assert widget is not None, "no widget has the keyboard focus"
        return widget

    def type(self, text: str) -> None:
        """Type ``text`` with key events, into the widget that has the focus."""
        for char in text:
            keysym = _KEYSYMS.get(char, char)
            self.focused().event_generate("<KeyPress>", keysym=keysym)
        self.root.update()

    def press(self, keysym: str, *, shift: bool = False) -> None:
        """Press a key (``shift``: with Shift held, as for Shift+Enter)."""
        state = 1 if shift else 0  # ShiftMask
        self.focused().event_generate("<KeyPress>", keysym=keysym, state=state)
        self.root.update()

    def click(
        self, widget: Any, x: int = 5, y: int = 5, *, button: int = 1, times: int = 1
    ) -> None:
        """Click (``times=2``: double-click; Tk pairs clicks close in time and place)."""
        for _ in range(times):
            widget.event_generate(f"<ButtonPress-{button}>", x=x, y=y)
            widget.event_generate(f"<ButtonRelease-{button}>", x=x, y=y)
        self.root.update()

    # ---------------------------------------------------------------- seeing

    @property
    def window(self) -> Any:
        assert self.app.window is not None, "the chat window is not open"
        return self.app.window

    def lines(self, key: str) -> list[str]:
        pane = self.window.panes.get(key)
        return pane.lines() if pane is not None else []

    def shows(self, key: str, text: str, timeout: float = 10.0) -> str:
        """Wait for a line containing ``text`` in the Text widget of ``key``."""

        def find() -> str | None:
            if self.app.window is None:
                return None
            return next((line for line in self.lines(key) if text in line), None)

        def shown() -> str:
            lines = self.lines(key)[-10:] if self.app.window is not None else "(no window)"
            return f"a line with {text!r} in {key}; it shows {lines}"

        found: str = self.update_until(find, timeout, shown)
        return found

    def status(self) -> str:
        return str(self.window.status.cget("text"))

    # --------------------------------------------------------------- the end

    def close(self) -> None:
        """Close the window as its close button does; wait for the loop to end."""
        if not self.alive:
            return
        self.alive = False
        self.app.close()
        try:
            self.update_until(lambda: self.app.finished, 10, "the window to close")
        finally:
            if not self.app.finished:
                self.root.destroy()


@pytest.fixture
def make_gui(xdisplay: str, tmp_path: Path) -> Iterator[Callable[..., Gui]]:
    made: list[Gui] = []

    def make(broker: BrokerProcess, **options: Any) -> Gui:
        gui = Gui(tmp_path / f"gui{len(made)}", broker, **options)
        made.append(gui)
        return gui

    yield make
    try:
        while made:
            made.pop().close()
    finally:
        # A Tk interpreter must be freed on the thread that made it: drop every
        # reference (no loop variable left holding one) and collect the cycles
        # around it now, not whenever a client thread happens to trigger it.
        made.clear()
        gc.collect()
