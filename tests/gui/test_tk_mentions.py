"""Mentions in the Tk window on a real X server (Xvfb) against a real broker: the
line naming you highlighted, the sidebar's badges with the mentions counted
apart, the title marked while the window has no focus, and a desktop
notification through a `notify-send` stand-in on PATH."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(60)


def notify_send_on_path(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `notify-send` that keeps the arguments of each call in a file of its own."""
    folder.mkdir()
    program = folder / "notify-send"
    program.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{folder}/call.$$"\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def calls(folder: Path) -> list[list[str]]:
    return [path.read_text().splitlines() for path in sorted(folder.glob("call.*"))]


def test_mentions_highlight_count_apart_and_mark_the_title_when_unfocused(
    broker, make_gui, start_agent, tmp_path, monkeypatch
):
    notified = notify_send_on_path(tmp_path / "bin", monkeypatch)
    bob = start_agent(broker.endpoint, "bob", "general", "dev")
    gui = make_gui(broker, user="alice", rooms=["general", "dev"])
    gui.app.form.submit()
    gui.shows("#general", "you are in #general with bob (2 here)")
    window = gui.window
    root = gui.root

    # Elsewhere, with the window focused: counted, and the mentions apart.
    bob.call("send", room="dev", text="hello all")
    bob.call("send", room="dev", text="alice: a question for you")
    gui.update_until(
        lambda: window.sidebar.label("#dev") == "# dev  (2) @1",
        what=lambda: f"the badge of #dev, now {window.sidebar.label('#dev')!r}",
    )
    assert "mention" in window.sidebar.tree.item("#dev", "tags")
    assert root.title() == "(2) #general — zmqchat"

    # Here: the name stands out in its line.
    bob.call("send", room="general", text="hi @Alice and malice")
    gui.shows("#general", "<bob> hi @Alice and malice")
    text = window.panes["#general"].text
    ranges = text.tag_ranges("mention")
    assert [text.get(a, b) for a, b in zip(ranges[::2], ranges[1::2], strict=True)] == ["Alice"]
    assert text.tag_ranges("mentioned")
    assert root.title() == "(2) #general — zmqchat"  # focused: no mark
    assert calls(notified) == []

    # Another application takes the focus: mentions mark the title and notify.
    other = gui.tk.Tk(className="Other")
    try:
        other.focus_force()
        gui.update_until(lambda: (other.update(), str(root.tk.call("focus")) == "")[1])
        bob.call("send", room="general", text="@alice are you there?")
        bob.call("pm", to="alice", text="psst")
        gui.update_until(
            lambda: root.title() == "(@2) (3) #general — zmqchat",
            what=lambda: f"the title marked, now {root.title()!r}",
        )
        wait_until(lambda: calls(notified), 10, "a notification")
        # Two mentions in a burst: one notification, for the first to arrive. The
        # chat comes on the PUB socket and the pm on the ROUTER's, and nothing orders
        # the two (a client thread that reads both after a stall takes the pm first).
        [notification] = calls(notified)
        assert notification[:3] == ["--app-name=zmqchat", "--category=im.received", "--"]
        assert notification[3:] == ["bob in #general", "@alice are you there?"] or (
            notification[-1] == "psst" and "bob" in notification[3]
        ), notification
        assert window.sidebar.label("@bob") == "@ bob  (1) @1"
    finally:
        other.destroy()

    # Back in the window: the mark goes; the badges stay until looked at.
    window.input.entry.focus_force()
    gui.update_until(
        lambda: root.title() == "(3) #general — zmqchat",
        what=lambda: f"the mark gone, now {root.title()!r}",
    )
    window.select("#dev")
    assert window.sidebar.label("#dev") == "# dev"
    window.select("@bob")
    assert window.sidebar.label("@bob") == "@ bob"
    assert root.title() == "@bob — zmqchat"
    assert len(calls(notified)) == 1
