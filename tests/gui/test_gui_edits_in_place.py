"""Edits and deletes change the line where it is in the Tk client (issue 15 item 6),
on a real X server (Xvfb) against a real broker: someone else's message edited into
several lines and another deleted, in their places, with the lines around them
untouched and the reader's view where it was; an edit of a message the pane no
longer shows comes as a line of its own. Then the pane alone: rows replaced above
and below the unread marker, right-to-left rows in and out."""

from __future__ import annotations

import pytest

from zmqchat import ChatEvent, Client
from zmqchat.client.gui.rtl import visual
from zmqchat.client.gui.tk_transcript import MARKER_TEXT

pytestmark = pytest.mark.timeout(60)

# Persian for "one" .. "five": distinct words, so the order can be read.
WORDS = ["یک", "دو", "سه", "چهار", "پنج"]


def test_edits_and_deletes_of_lines_shown_change_them_in_place(broker, make_gui):
    with Client("bob", broker.endpoint) as bob:
        first = bob.send("general", "from before the backlog").seq
        for n in range(60):
            bob.send("general", f"filler {n}")
        gui = make_gui(broker, user="alice")
        gui.app.form.submit()
        gui.shows("#general", "you are in #general")
        typo = bob.send("general", "teh build is red").seq
        gone = bob.send("general", "my password is hunter2").seq
        bob.send("general", "last line")
        gui.shows("#general", "<bob> last line")
        pane = gui.window.panes["#general"]
        before = pane.lines()
        rows = pane.row_count()

        bob.edit("general", typo, "the build is green\nand deployed")
        gui.shows("#general", "and deployed")
        after = pane.lines()
        at = next(i for i, line in enumerate(before) if "teh build is red" in line)
        assert after[:at] == before[:at]
        assert after[at].endswith("<bob> the build is green")
        assert after[at + 1] == "and deployed (edited)"  # its second line, under the first
        assert after[at + 2 :] == before[at + 1 :]
        assert pane.row_count() == rows

        bob.delete("general", gone)
        gui.shows("#general", "<bob> (message deleted)")
        assert not any("hunter2" in line for line in pane.lines())
        assert pane.lines()[-1].endswith("<bob> last line")
        assert pane.row_count() == rows

        # The first message is older than the backlog the pane loaded: its edit
        # comes as a line of its own, saying what changed.
        bob.edit("general", first, "from long ago, fixed")
        line = gui.shows("#general", f"bob edited message {first}: from long ago, fixed")
        assert pane.lines()[-1] == line

        # Scrolled up, the reader's view stays put while a line below changes.
        for _ in range(3):
            gui.press("Prior")
        gui.update_until(lambda: not pane.at_bottom(), 5, "scrolled up")
        top = pane.text.get("@0,0 linestart", "@0,0 lineend")
        last = bob.send("general", "one more").seq
        gui.shows("#general", "<bob> one more")
        bob.edit("general", last, "one more, edited")
        gui.shows("#general", "<bob> one more, edited (edited)")
        gui.root.update()
        assert pane.text.get("@0,0 linestart", "@0,0 lineend") == top


def test_the_pane_replaces_rows_around_the_marker_and_right_to_left_ones():
    import gc
    import tkinter as tk

    from zmqchat.client.chat.formatting import format_event, message_mark
    from zmqchat.client.gui.tk_fonts import transcript_fonts
    from zmqchat.client.gui.tk_transcript import TranscriptPane
    from zmqchat.client.gui.transcript import to_row

    def row(text: str, seq: int, **changed: object):
        event = ChatEvent(room="g", seq=seq, sender="bob", text=text, ts=1.0, **changed)
        mark = message_mark(event)  # as the chat's backlog puts it on
        line = format_event(event, compact=True, multiline=True)
        return to_row([mark, *line] if mark else line, "all", rtl=True)

    root = tk.Tk()
    try:
        root.geometry("420x600")
        pane = TranscriptPane(root, "#g", limit=10, fonts=transcript_fonts(), on_top=print)
        pane.pack(fill="both", expand=True)
        root.update()
        pane.append([row(f"plain {n}", n) for n in range(1, 5)])
        pane.mark_unread(2)  # above plain 3 and plain 4
        assert pane.lines()[2] == MARKER_TEXT
        assert pane.replace(1, row("one\ntwo", 1, edited=2.0))  # above the marker
        assert pane.replace(4, row(" ".join(WORDS), 4, edited=2.0))  # below it
        for _ in range(50):
            root.update()
        lines = pane.lines()
        assert lines[0].endswith("<bob> one")
        assert lines[1] == "two (edited)"
        assert lines[2].endswith("plain 2")
        assert lines[3] == MARKER_TEXT
        assert lines[4].endswith("plain 3")
        assert lines[5].endswith(f"{visual(WORDS[0])} (edited)")  # read from the right
        assert pane.message_at("5.0") == 3  # lines[4]: Text lines count from 1
        assert pane.message_at("6.0") == 4
        # The right-to-left row made plain again: nothing right-to-left is left.
        assert pane.replace(4, row("", 4, deleted=True))
        root.update()
        assert pane.lines()[-1].endswith("<bob> (message deleted)")
        assert pane.message_at("6.0") is None  # deleted: no menu on it
        assert not pane.bidi
        assert not pane.replace(99, row("nowhere", 99))
        assert pane.row_count() == 4
    finally:
        root.destroy()
        del root
        gc.collect()
