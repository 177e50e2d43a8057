"""Room topics and moderation in the Tk client, under Xvfb against a real broker: the
topic shows under the conversation's name and follows the room (set here, set by
someone else, another room without one), and the room's creator kicks a member
with a typed command."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)


def test_the_header_shows_the_rooms_topic_and_an_operator_kicks(broker, make_gui, start_agent):
    gui = make_gui(broker, user="alice", rooms=["general", "dev"])
    gui.app.form.submit()
    gui.shows("#general", "you are in #general with nobody else")  # alice created it
    window = gui.window
    topic = window.topic
    assert topic.cget("text") == ""
    bob = start_agent(broker.endpoint, "bob", "general")
    gui.shows("#general", "→ bob joined")

    gui.type("/topic Release day")
    gui.press("Return")
    gui.update_until(lambda: topic.cget("text") == "Release day", what="the topic under the name")
    gui.shows("#general", "alice set the topic: Release day")
    assert bob.expect_event(type="topic", room="general")["text"] == "Release day"

    bob.call("topic", room="general", text="bob was here")
    gui.update_until(lambda: topic.cget("text") == "bob was here", what="bob's topic")
    assert str(window.header.cget("text")).startswith("#general")

    window.select("#dev")  # a room without a topic: nothing under its name
    gui.update_until(lambda: topic.cget("text") == "", what="no topic in #dev")
    window.select("#general")
    gui.update_until(lambda: topic.cget("text") == "bob was here", what="the topic again")

    gui.type("/kick bob enough")
    gui.press("Return")
    gui.shows("#general", "alice kicked bob (enough)")
    gui.shows("#general", "← bob left (kicked)")
    event = bob.expect_event(type="moderation", room="general")
    assert (event["action"], event["user"], event["reason"]) == ("kick", "bob", "enough")
    assert list(window.members.get(0, "end")) == ["alice"]
