"""What only Tk shows, on a real X server (Xvfb) against a real broker: where a
conversation's view stands (its newest line on opening, where the reader scrolled
afterwards), the line above unread messages, wrapped Persian read in order, and
messages of several lines typed, pasted and shown under their sender's name."""

from __future__ import annotations

import pytest

from zmqchat import ChatEvent, Client
from zmqchat.client.gui.rtl import visual
from zmqchat.client.gui.tk_transcript import MARKER_TEXT
from zmqchat.testing import expect

pytestmark = pytest.mark.timeout(60)


def visible(pane, text: str) -> bool:
    """A line holding ``text`` is on screen (not scrolled out of sight)."""
    found = pane.text.search(text, "1.0", "end")
    return bool(found) and pane.text.dlineinfo(found) is not None


def test_a_conversation_opens_at_its_newest_line_and_stays_where_the_reader_is(broker, make_gui):
    with Client("bob", broker.endpoint) as bob:
        for n in range(80):
            bob.send("general", f"old {n}")
        gui = make_gui(broker, user="alice")
        gui.app.form.submit()
        gui.shows("#general", "you are in #general")
        pane = gui.window.panes["#general"]
        # The live end is in sight, not the oldest lines of the history loaded.
        gui.update_until(lambda: visible(pane, "you are in #general"), 5, "the newest line")
        assert pane.at_bottom()
        assert not visible(pane, "<bob> old 30")
        bob.send("general", "live one")
        gui.update_until(lambda: visible(pane, "live one"), 5, "a live line in sight")

        # Scrolled up, the reader stays where they are while lines come in.
        gui.press("Prior")
        gui.update_until(lambda: not pane.at_bottom(), 5, "scrolled up")
        top = pane.text.get("@0,0 linestart", "@0,0 lineend")
        for n in range(5):
            bob.send("general", f"while reading {n}")
        gui.shows("#general", "while reading 4")
        gui.root.update()
        assert pane.text.get("@0,0 linestart", "@0,0 lineend") == top
        assert not visible(pane, "while reading 4")

        # Back at the bottom, the view follows again.
        for _ in range(10):
            gui.press("Next")
            if pane.at_bottom():
                break
        bob.send("general", "followed")
        gui.update_until(lambda: visible(pane, "followed"), 5, "the new line in sight")

        # The wheel up to the top loads older lines above, in place.
        for _ in range(200):
            pane.text.event_generate("<Button-4>", x=20, y=20)
            gui.root.update()
            if pane.at_top():
                break
        gui.update_until(lambda: "#general: the beginning" in pane.lines()[0], what="older lines")


def test_a_line_marks_where_the_unread_messages_start(broker, make_gui):
    with Client("bob", broker.endpoint) as bob:
        gui = make_gui(broker, user="alice", rooms=["general", "dev"])
        gui.app.form.submit()
        gui.shows("#dev", "you are in #dev")
        window = gui.window
        window.select("#dev")
        for n in range(4):
            bob.send("general", f"unread {n}")
        gui.update_until(lambda: window.sidebar.label("#general") == "# general  (4)", what="4")
        window.select("#general")
        pane = window.panes["#general"]
        lines = pane.lines()
        assert MARKER_TEXT in lines
        marker = lines.index(MARKER_TEXT)
        assert "<bob> unread 0" in lines[marker + 1]
        assert "you are in #general" in lines[marker - 1]
        assert pane.marker_line() == marker + 1
        gui.update_until(lambda: visible(pane, "unread 3"), 5, "the newest line in sight")
        assert visible(pane, MARKER_TEXT)

        # Read now: back again with nothing new, the line is gone.
        window.select("#dev")
        window.select("#general")
        assert pane.marker_line() is None
        assert MARKER_TEXT not in pane.lines()


# Persian for "one", "two", ... "twenty": distinct words, so the order can be read.
WORDS = [
    "یک",
    "دو",
    "سه",
    "چهار",
    "پنج",
    "شش",
    "هفت",
    "هشت",
    "نه",
    "ده",
    "یازده",
    "دوازده",
    "سیزده",
    "چهارده",
    "پانزده",
    "شانزده",
    "هفده",
    "هجده",
    "نوزده",
    "بیست",
]


def test_a_wrapped_persian_message_reads_in_order_from_line_to_line(broker, make_gui):
    with Client("bob", broker.endpoint) as bob:
        gui = make_gui(broker, user="alice")
        gui.app.form.submit()
        gui.shows("#general", "you are in #general")
        pane = gui.window.panes["#general"]
        message = " ".join(WORDS * 3)
        bob.send("general", message)
        gui.shows("#general", "<bob> ")
        line = int(pane.text.search("<bob> ", "1.0", "end").split(".")[0])
        shown = {visual(word): word for word in WORDS}

        def read() -> list[str]:
            """The words as a reader reads them: line after line on the screen,
            each from right to left."""
            words: list[str] = []
            for text in display_lines(pane.text, line):
                drawn = text.split("<bob> ")[-1].split()
                words += [shown.get(word, word) for word in reversed(drawn)]
            return words

        def in_order() -> bool:
            return read() == message.split()

        def wrong() -> str:
            return f"the words in order; read {read()[:12]}…"

        gui.update_until(lambda: len(display_lines(pane.text, line)) > 2, 5, "a wrapped message")
        gui.update_until(in_order, 5, wrong)
        # Narrower, it wraps elsewhere: laid out again.
        gui.root.geometry("760x640")
        gui.update_until(lambda: pane.text.winfo_width() < 500, 5, "a narrower pane")
        gui.update_until(in_order, 5, wrong)
        assert display_lines(pane.text, line)[0].startswith(pane.lines()[line - 1][:9])  # time
        # Still one row: what the pane counts against its scrollback.
        assert pane.row_count() == 2


def display_lines(text, line: int) -> list[str]:
    """The lines on screen from line ``line`` of the Text to its end: each line of
    the Text as Tk wrapped it."""
    shown: list[str] = []
    last = int(text.index("end-1c").split(".")[0])
    for number in range(line, last):
        starts = [f"{number}.0"]
        for k in range(1, 100):
            index = text.index(f"{number}.0 + {k} display lines display linestart")
            if not index.startswith(f"{number}.") or text.compare(index, "<=", starts[-1]):
                break
            starts.append(index)
        ends = [*starts[1:], f"{number}.end"]
        shown += [text.get(start, end) for start, end in zip(starts, ends, strict=True)]
    return shown


def test_shift_enter_and_a_paste_make_one_message_of_several_lines(broker, make_gui):
    with Client("bob", broker.endpoint) as bob:
        gui = make_gui(broker, user="alice")
        gui.app.form.submit()
        gui.shows("#general", "you are in #general")
        window = gui.window
        entry = window.input
        gui.type("first")
        gui.press("Return", shift=True)
        gui.type("second")
        assert entry.text == "first\nsecond"
        gui.update_until(lambda: int(entry.entry.cget("height")) == 2, 5, "the input grown")
        gui.press("Return")
        assert expect(bob, ChatEvent, sender="alice").text == "first\nsecond"
        assert entry.text == ""

        gui.root.clipboard_clear()
        gui.root.clipboard_append("pasted one\npasted two\n")
        entry.entry.event_generate("<<Paste>>")
        gui.root.update()
        assert entry.text == "pasted one\npasted two\n"
        gui.press("Return")
        assert expect(bob, ChatEvent, sender="alice").text == "pasted one\npasted two"

        # Shown as one message: the next lines under the first line's text.
        gui.shows("#general", "pasted two")
        pane = window.panes["#general"]
        lines = pane.lines()
        first = next(n for n, text in enumerate(lines) if text.endswith("<alice> first"))
        assert lines[first + 1] == "second"
        prefix = lines[first].removesuffix("first")
        tags = pane.text.tag_names(f"{first + 2}.0")
        hang = next(tag for tag in tags if tag.startswith("hang"))
        indent = int(pane.text.tag_cget(hang, "lmargin1"))
        assert indent == window.fonts["base"].measure(prefix) > 0
        bob.send("general", "from bob\nand more")
        gui.shows("#general", "and more")
        assert pane.lines()[-1] == "and more"
        assert pane.lines()[-2].endswith("<bob> from bob")

        # Up brings the last message back whole; in it, Up moves between its lines.
        gui.press("Up")
        assert entry.text == "pasted one\npasted two"
        gui.press("Up")
        assert entry.text == "pasted one\npasted two"  # the cursor went up a line
        gui.press("Up")
        assert entry.text == "first\nsecond"


def test_a_pane_counts_rows_not_lines_against_its_scrollback(xdisplay):
    import gc
    import tkinter as tk

    from zmqchat.client.chat.formatting import format_event
    from zmqchat.client.gui.tk_fonts import transcript_fonts
    from zmqchat.client.gui.tk_transcript import TranscriptPane
    from zmqchat.client.gui.transcript import to_row

    def row(text: str, seq: int):
        event = ChatEvent(room="g", seq=seq, sender="bob", text=text, ts=1.0)
        return to_row(format_event(event, compact=True, multiline=True), "all", rtl=True)

    root = tk.Tk()
    try:
        root.geometry("420x600")
        pane = TranscriptPane(root, "#g", limit=4, fonts=transcript_fonts(), on_top=print)
        pane.pack(fill="both", expand=True)
        root.update()
        persian = row(" ".join(WORDS * 2), 2)  # wraps: several lines once laid out
        pane.append([row("plain 0", 1), persian, row("one\ntwo\nthree", 3)])
        wait = 0
        while pane.line_count() < 7 and wait < 200:  # laid out when idle
            root.update()
            wait += 1
        assert pane.line_count() >= 7
        assert pane.row_count() == 3
        pane.mark_unread(2)  # above the Persian message and the one after it
        lines = pane.lines()
        assert lines[1] == MARKER_TEXT
        assert lines[2].endswith(visual(WORDS[0]))  # the message starts on the right
        assert lines[-3:] == [lines[-3], "two", "three"]
        pane.append([row("plain 1", 4), row("plain 2", 5)])  # 5 rows: the oldest goes
        assert pane.lines()[0] == MARKER_TEXT
        pane.append([row("plain 3", 6)])  # the Persian message goes, and its marker
        root.update()
        assert pane.row_count() == 4
        assert pane.marker_line() is None
        assert pane.lines()[0].endswith("<bob> one")
        assert [line.split("> ")[-1] for line in pane.lines()[1:]] == [
            "two",
            "three",
            "plain 1",
            "plain 2",
            "plain 3",
        ]
        assert not pane.bidi  # nothing right-to-left left to lay out
    finally:
        root.destroy()
        del root
        gc.collect()
