"""A screenshot of the GUI in use, for the README: docs/gui.png.

    .venv/bin/python scripts/screenshot.py [--out docs/gui.png] [--display :0]

Starts a broker, two people (bob and carol) who chat in #general and #dev, and
the GUI as alice under a fresh Xvfb (or on --display), lets some live traffic
and a private message arrive, and saves the window as a PNG. Needs Pillow (in
the dev extras): its ImageGrab reads an X display directly.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import tempfile
import time
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

from PIL import ImageGrab
from xvfb import display_env, virtual_display

from zmqchat import Client
from zmqchat.client.gui.tk_app import GuiApp
from zmqchat.common.config import ClientConfig
from zmqchat.testing import BrokerProcess

HISTORY = [
    ("carol", "general", "morning all"),
    ("bob", "general", "morning! the nightly build is green again"),
    ("carol", "general", "great, thanks for fixing the flaky test"),
    ("bob", "general", "سلام! the Persian translation is merged too"),
    ("bob", "dev", "PR #42 (retry on timeout) is ready for review"),
    ("carol", "dev", "I'll take it after lunch"),
    ("carol", "general", "has anyone seen the new dashboard?"),
    ("bob", "general", "yes, the latency graph finally makes sense"),
    ("carol", "general", "deploy window is 15:00 today, FYI"),
]


def settle(root: tk.Tk, done: Callable[[], object], timeout: float = 15.0) -> None:
    """Run the Tk loop until ``done()`` holds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("the window did not reach the expected state in time")
        root.update()
        time.sleep(0.01)


def shoot(display: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = BrokerProcess(tmp, log_level="warning").start()
        bob = Client("bob", broker.endpoint, rooms=["general", "dev"])
        carol = Client("carol", broker.endpoint, rooms=["general", "dev"])
        try:
            bob.connect()
            carol.connect()
            people = {"bob": bob, "carol": carol}
            for who, room, text in HISTORY:
                people[who].send(room, text)
            _window(display, broker, bob, carol, out, Path(tmp))
            gc.collect()  # free the Tk interpreter on this thread
        finally:
            bob.close()
            carol.close()
            broker.kill()


def _window(
    display: str, broker: BrokerProcess, bob: Client, carol: Client, out: Path, tmp: Path
) -> None:
    root = tk.Tk(className="Zmqchat")
    app = GuiApp(
        root,
        ClientConfig(port=broker.port),
        user="alice",
        host="127.0.0.1",
        port=broker.port,
        rooms=["general", "dev"],
        prefs=tmp / "gui.json",
    )
    root.geometry("960x520")
    assert app.form is not None
    app.form.submit()

    def shown(key: str, text: str) -> bool:
        pane = app.window.panes.get(key) if app.window else None
        return pane is not None and text in pane.text.get("1.0", "end")

    settle(root, lambda: shown("#general", "you are in #general"))
    settle(root, lambda: shown("#dev", "you are in #dev"))
    # No emoji here: Xvfb has no emoji font, and a box would look like a fault.
    bob.send("general", "welcome alice!")
    bob.send("dev", "CI is rerunning #42 now")
    app.vm.submit("hi everyone, glad to be here")
    settle(root, lambda: shown("#general", "<alice> hi everyone"))
    carol.send("general", "waves", data={"emote": True})
    carol.send("general", "lunch at 12:30?")
    bob.pm("alice", "can you look at #42 later?")
    settle(root, lambda: shown("#general", "lunch at 12:30?") and shown("@bob", "look at #42"))
    assert app.window is not None
    app.window.focus_input()
    app.window.input.set_text("sure, after the standup")
    root.update()
    time.sleep(0.3)  # let the last redraws land
    root.update()
    x, y = root.winfo_rootx(), root.winfo_rooty()
    width, height = root.winfo_width(), root.winfo_height()
    image = ImageGrab.grab(bbox=(x, y, x + width, y + height), xdisplay=display)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    print(f"saved {out} ({width}x{height})")
    app.close()
    settle(root, lambda: app.finished)


@contextlib.contextmanager
def x_display(given: str | None) -> Iterator[str]:
    if given:
        with display_env(given):
            yield given
    else:
        with virtual_display("1280x800x24") as virtual, display_env(virtual):
            yield virtual


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/gui.png"))
    parser.add_argument("--display", help="an X display to use instead of a new Xvfb")
    args = parser.parse_args()
    with x_display(args.display) as display:
        shoot(display, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
