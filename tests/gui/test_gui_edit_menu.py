"""The menu of a message line in the Tk client, under Xvfb against a real broker: a
right click on our own message offers Edit… (its latest text in the input, changed
and sent with Enter) and Delete; on someone else's message, or once ours is
deleted, no menu opens. What the menu does reaches another member as edit and
delete events, and the line changes where it is."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.timeout(60)


def right_click(gui: Any, key: str, text: str) -> None:
    """Right-click the line of ``key``'s pane that shows ``text``."""
    gui.window.message_menu.target = None  # what this click opens, if anything
    widget = gui.window.panes[key].text
    index = widget.search(text, "1.0", stopindex="end")
    assert index, f"no line with {text!r} in {key}"
    widget.see(index)
    box = gui.update_until(lambda: widget.bbox(index), what=f"the line of {text!r} on screen")
    x, y, _, height = box
    widget.event_generate("<Button-3>", x=x + 1, y=y + height // 2, rootx=100, rooty=100)
    gui.root.update()


def test_the_menu_of_our_own_message_edits_and_deletes_it(broker, make_gui, start_agent):
    gui = make_gui(broker, user="alice", rooms=["general"])
    gui.app.form.submit()
    gui.shows("#general", "you are in #general")
    bob = start_agent(broker.endpoint, "bob", "general")
    gui.shows("#general", "→ bob joined")
    window = gui.window
    messages = window.message_menu
    menu = messages.menu

    gui.type("helo wrld")
    gui.press("Return")
    seq = bob.expect_event(type="chat", room="general", text="helo wrld")["seq"]
    gui.shows("#general", "<alice> helo wrld")
    bob.call("send", room="general", text="not yours")
    gui.shows("#general", "<bob> not yours")

    right_click(gui, "#general", "not yours")
    assert messages.target is None  # bob's message: no menu

    right_click(gui, "#general", "helo wrld")
    assert messages.target == ("#general", seq)
    assert [menu.entrycget(i, "label") for i in (0, 1)] == ["Edit…", "Delete"]
    menu.invoke(0)
    assert window.input.text == f"/edit {seq} helo wrld"
    gui.update_until(lambda: gui.root.focus_get() is window.input.entry, what="the input")
    for _ in "wrld":
        gui.press("BackSpace")
    gui.type("world")
    gui.press("Return")
    edited = bob.expect_event(type="edit", room="general")
    assert (edited["of"], edited["text"], edited["from"]) == (seq, "helo world", "alice")
    line = gui.shows("#general", "<alice> helo world (edited)")
    assert not any("helo wrld" in shown for shown in gui.lines("#general"))
    assert not any("edited message" in shown for shown in gui.lines("#general"))
    assert gui.lines("#general").index(line) < gui.lines("#general").index(
        next(shown for shown in gui.lines("#general") if "<bob> not yours" in shown)
    )  # still above bob's line: changed where it was, not appended

    # Edit… again offers the text as it reads now.
    right_click(gui, "#general", "<alice> helo world")
    assert messages.target == ("#general", seq)
    menu.invoke(0)
    assert window.input.text == f"/edit {seq} helo world"
    window.input.set_text("")  # thought better of it: nothing is sent

    right_click(gui, "#general", "<alice> helo world")
    menu.invoke(1)
    deleted = bob.expect_event(type="delete", room="general")
    assert (deleted["of"], deleted["from"]) == (seq, "alice")
    gui.shows("#general", "<alice> (message deleted)")
    assert not any("helo world" in shown for shown in gui.lines("#general"))
    right_click(gui, "#general", "<alice> (message deleted)")
    assert messages.target is None  # gone: nothing left to change
    history = bob.call("history", room="general")["reply"]
    assert next(m for m in history["messages"] if m["seq"] == seq)["deleted"] is True
