"""Files in the Tk client under Xvfb against a real broker (issue 16): the attach
button, Ctrl+O and a typed ``/send`` send to the conversation looked at, each
transfer has a progress row (a refused one says why; a running one's ✕ cancels it,
a finished one's takes it away), and a file line's name is a link that asks where
to save the file and fetches it.

The file dialogs are answered through the window's seams (``files.ask_open``,
``files.ask_save``): a dialog runs a loop of its own that key events from this
thread could not reach.

``test_a_newcomer_sends_a_file_from_the_console_to_the_gui`` is the issue's
resolution scenario, with the real console in a pseudo-terminal.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_chat_pty import Terminal

pytestmark = pytest.mark.timeout(90)

MiB = 1024 * 1024
CONTROL = 4  # ControlMask


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def open_chat(gui: Any) -> Any:
    gui.app.form.submit()
    gui.shows("#general", "you are in #general")
    return gui.window


def row_texts(gui: Any) -> list[str]:
    return list(gui.window.transfers.texts())


def panel_shows(gui: Any, text: str, timeout: float = 20.0) -> str:
    found: str = gui.update_until(
        lambda: next((t for t in row_texts(gui) if text in t), None),
        timeout,
        lambda: f"a progress row with {text!r}; rows: {row_texts(gui)}",
    )
    return found


def click_text(gui: Any, key: str, text: str) -> None:
    """Click the first character of ``text`` in ``key``'s pane, as a mouse would:
    the pointer moves there, then the button goes down and up."""
    widget = gui.window.panes[key].text
    index = widget.search(text, "1.0", stopindex="end")
    assert index, f"no {text!r} in {key}"
    widget.see(index)
    x, y, _, height = gui.update_until(lambda: widget.bbox(index), what=f"{text!r} on screen")
    at = {"x": x + 2, "y": y + height // 2}
    widget.event_generate("<Motion>", **at)
    widget.event_generate("<ButtonPress-1>", **at)
    widget.event_generate("<ButtonRelease-1>", **at)
    gui.root.update()


def console_shows(gui: Any, console: Terminal, text: str, timeout: float = 20.0) -> None:
    """Wait for ``text`` on the console, the GUI's loop running meanwhile."""
    gui.update_until(
        lambda: text in console.text(),
        timeout,
        lambda: f"{text!r} on the console; it shows:\n{console.text()[-1500:]}",
    )


class Download:
    """What the GUI's progress row of a download showed, as drawn: each value of
    its bar and each text, read at every turn of the loop."""

    def __init__(self, gui: Any) -> None:
        self.panel = gui.window.transfers
        self.values: set[int] = set()
        self.texts: list[str] = []

    def look(self) -> str | None:
        """The phase of the download's row, if one is shown."""
        for widgets in self.panel.rows.values():
            if widgets.row is not None and widgets.row.direction == "down":
                self.values.add(int(widgets.bar.cget("value")))
                self.texts.append(str(widgets.label.cget("text")))
                return str(widgets.row.phase)
        return None

    def under_way(self) -> bool:
        return self.look() == "running" and 0 < max(self.values) < 500

    def done(self) -> bool:
        return self.look() == "done"


def test_attach_and_ctrl_o_send_here_and_a_refusal_says_why(
    make_broker, make_gui, start_agent, tmp_path
):
    broker = make_broker(max_file_size=MiB)
    gui = make_gui(broker, user="alice", rooms=["general"])
    window = open_chat(gui)
    bob = start_agent(broker.endpoint, "bob", "general")
    gui.shows("#general", "→ bob joined")
    assert not window.transfers.winfo_ismapped()  # no room taken without transfers

    small = tmp_path / "notes.txt"
    small.write_bytes(os.urandom(200_000))
    window.files.ask_open = lambda: str(small)
    gui.click(window.attach)
    event = bob.expect_event(type="file", name="notes.txt")
    assert (event["from"], event["room"], event["sha256"]) == ("alice", "general", sha256(small))
    panel_shows(gui, "sent notes.txt (195.3 KiB) to #general")
    assert window.transfers.winfo_ismapped()
    gui.shows("#general", f"alice sent notes.txt (195.3 KiB), file {event['id']}")
    assert gui.focused() is window.input.entry  # back to typing

    big = tmp_path / "too big.bin"
    big.write_bytes(b"\0" * (MiB + 1))
    window.files.ask_open = lambda: str(big)
    gui.focused().event_generate("<KeyPress>", keysym="o", state=CONTROL)
    failed = panel_shows(gui, "failed")
    assert failed.startswith("sending too big.bin to #general: failed: too_large: ")
    gui.shows("#general", "too big.bin was not sent")
    assert window.input.text == ""  # Ctrl+O is not Text's "open a line"
    widgets = next(w for w in window.transfers.rows.values() if w.row.phase == "failed")
    assert widgets.close.winfo_ismapped()
    gui.click(widgets.close)
    gui.update_until(lambda: not any("failed" in t for t in row_texts(gui)), what="the row gone")

    # A cancelled dialog sends nothing.
    started = window.vm.files.transfers.started
    window.files.ask_open = lambda: None
    gui.click(window.attach)
    assert window.vm.files.transfers.started == started == 2


def test_a_newcomer_sends_a_file_from_the_console_to_the_gui(make_broker, make_gui, tmp_path):
    """Issue 16 resolved: a new user sends a file from the console to someone using
    the GUI, both see progress, and the file saved has the sha256 of the original.
    File requests are held to 50 a second, as a slow network would, so a transfer
    of 3 MiB takes about a second each way and shows its progress in steps."""
    broker = make_broker(file_rate_limit=50, file_rate_burst=8)
    source = tmp_path / "holiday photos.tar"
    source.write_bytes(os.urandom(3 * MiB))
    gui = make_gui(broker, user="alice", rooms=["general"])
    window = open_chat(gui)

    console = Terminal(tmp_path, broker)  # no --user: a newcomer picks a name
    try:
        console_shows(gui, console, "your name [tester]:")
        console.type("newcomer")
        console_shows(gui, console, "you are in #general with alice (2 here)")
        gui.shows("#general", "→ newcomer joined")

        console.type(f"/send {source}")
        console_shows(gui, console, "sending holiday photos.tar to #general…")
        for step in (25, 50, 75):  # the console's side of the progress
            console_shows(gui, console, f"holiday photos.tar: {step}% of 3.0 MiB")
        line = gui.shows("#general", "newcomer sent holiday photos.tar (3.0 MiB), file ")
        file_id = int(line.rsplit(" ", 1)[1])
        sent = f"sent holiday photos.tar (3.0 MiB) to #general as file {file_id}"
        console_shows(gui, console, sent)

        # The GUI user clicks the name: a save-as dialog offers it, then it comes.
        offered: list[str] = []
        saved = tmp_path / "downloads" / "photos.tar"
        saved.parent.mkdir()

        def ask_save(name: str) -> str:
            offered.append(name)
            # Clicked again (a double click) while the dialog's own loop runs: no
            # second dialog.
            click_text(gui, "#general", "holiday photos.tar (3.0 MiB)")
            return str(saved)

        window.files.ask_save = ask_save
        click_text(gui, "#general", "holiday photos.tar (3.0 MiB)")
        gui.update_until(lambda: offered, what="the save dialog")
        assert offered == ["holiday photos.tar"]

        # The GUI's side of the progress: its bar, as drawn, in several steps.
        download = Download(gui)
        gui.update_until(download.under_way, 20, "the download under way")
        # Chat goes on meanwhile: a line typed now makes its round trip at once.
        gui.type("got it, thanks!")
        gui.press("Return")
        gui.shows("#general", "<alice> got it, thanks!")
        assert any(r.phase == "running" for r in window.vm.files.transfers.rows())
        console_shows(gui, console, "<alice> got it, thanks!")

        gui.update_until(download.done, 30, lambda: f"the download done; {download.texts[-1:]}")
        gui.shows("#general", f"saved holiday photos.tar (3.0 MiB) as {saved}; sha256 checked")
        assert sha256(saved) == sha256(source)
        between = sorted(v for v in download.values if 0 < v < 1000)
        assert len(between) >= 3, f"the bar showed {sorted(download.values)}"
        assert any("MiB of 3.0 MiB" in t and "/s" in t and "left" in t for t in download.texts), (
            download.texts
        )
        assert download.texts[-1] == "saved holiday photos.tar (3.0 MiB) as photos.tar"

        assert console.finish("/quit\r") == 0
    finally:
        console.child.close(force=True)
    assert "Traceback" not in console.text()


def test_send_typed_shows_a_row_whose_cross_cancels_it(make_broker, make_gui, tmp_path):
    broker = make_broker(file_rate_limit=25, file_rate_burst=1)  # 25 chunks a second
    source = tmp_path / "slow.bin"
    source.write_bytes(os.urandom(3 * MiB))
    gui = make_gui(broker, user="alice", rooms=["general"])
    window = open_chat(gui)
    gui.type(f"/send {source}")
    gui.press("Return")
    panel_shows(gui, "sending slow.bin to #general: ")  # a row, not notices only

    def running() -> Any:
        return next((w for w in window.transfers.rows.values() if w.row and w.row.done > 0), None)

    widgets = gui.update_until(running, 20, "the upload under way")
    assert widgets.close.winfo_ismapped()
    gui.click(widgets.close)
    failed = panel_shows(gui, "failed: cancelled")
    assert failed == "sending slow.bin to #general: failed: cancelled"
    gui.shows("#general", "slow.bin: cancelled with ")
    gui.click(widgets.close)  # a finished row's ✕ takes it away
    gui.update_until(lambda: not row_texts(gui), what="the row gone")
