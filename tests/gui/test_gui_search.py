"""``/search`` in the Tk client (the chat model the console shares), under Xvfb
against a real broker: the matches of the user's rooms, oldest first down to the
newest by the input, each with its room; another room's messages are not found."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)


def test_search_shows_the_matches_of_our_rooms_in_the_conversation(broker, make_gui, start_agent):
    bob = start_agent(broker.endpoint, "bob", "general", "dev", "ops")
    bob.call("send", room="general", text="the build is green")
    bob.call("send", room="ops", text="build server down")  # alice is not in ops
    bob.call("send", room="dev", text="build 42 passed")
    gui = make_gui(broker, user="alice", rooms=["general", "dev"])
    gui.app.form.submit()
    gui.shows("#general", "you are in #general")

    gui.type("/search Build")
    gui.press("Return")
    gui.shows("#general", "2 messages hold 'Build'")
    gui.shows("#general", "end of the search")
    lines = gui.lines("#general")
    start = next(i for i, line in enumerate(lines) if "2 messages hold" in line)
    found = lines[start + 1 : start + 3]
    assert found[0].endswith("#general <bob> the build is green")
    assert found[1].endswith("#dev <bob> build 42 passed")
    assert not any("server down" in line for line in lines)

    gui.type("/search nothing like it")
    gui.press("Return")
    gui.shows("#general", "no message in your rooms holds 'nothing like it'")


def test_search_in_a_private_conversation_looks_in_it_only(broker, make_gui, start_agent):
    bob = start_agent(broker.endpoint, "bob", "general")
    gui = make_gui(broker, user="alice")
    gui.app.form.submit()
    gui.shows("#general", "you are in #general")
    bob.call("send", room="general", text="the invoice thread is in the room")
    bob.call("pm", to="alice", text="did the invoice go out?")
    gui.shows("@bob", "<bob> did the invoice go out?")
    gui.type("/query bob")
    gui.press("Return")
    gui.update_until(lambda: gui.window.shown == "@bob", what="the private conversation")
    gui.type("/search invoice")
    gui.press("Return")
    gui.shows("@bob", "1 message holds 'invoice'")
    lines = gui.lines("@bob")
    start = next(i for i, line in enumerate(lines) if "1 message holds" in line)
    assert "[pm from bob] did the invoice go out?" in lines[start + 1]
    assert not any("invoice thread" in line for line in lines)
    gui.type("/search receipt")
    gui.press("Return")
    gui.shows("@bob", "no message in your conversation with bob holds 'receipt'")
