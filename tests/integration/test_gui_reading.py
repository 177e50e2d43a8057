"""The GUI's view-model (no screen) on what issue 15 found in the way of reading and
typing: where unread lines start, messages of several lines, /help and /who as a
window means them, what Tab adds after a name, and which connect settings the
next run offers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.test_gui_viewmodel import Driven, said, start

from zmqchat import ChatEvent, Client
from zmqchat.client.gui.prefs import LastConnect
from zmqchat.testing import expect

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def driven() -> Iterator[list[Driven]]:
    made: list[Driven] = []
    yield made
    for run in made:
        run.close()


def unread(run: Driven, key: str) -> int:
    return next((c.unread for c in run.vm.snapshot.conversations if c.key == key), 0)


def test_looking_at_a_conversation_marks_where_its_unread_lines_start(broker, driven):
    with Client("bob", broker.endpoint) as bob:
        alice = start(broker, driven, rooms=("general", "dev"))
        alice.shows("#dev", "you are in #dev")
        assert alice.vm.select("#dev")
        alice.vm.take_markers()
        with Client("dave", broker.endpoint):  # a join, while nothing is unread
            alice.shows("#general", "→ dave joined")
        bob.send("general", "first unread")
        alice.until(lambda _: unread(alice, "#general") == 1, what="one unread")
        with Client("carol", broker.endpoint):
            alice.shows("#general", "→ carol joined")
            bob.send("general", "second unread")
            alice.shows("#general", "<bob> second unread")
        alice.shows("#general", "← carol left")
        assert alice.vm.select("#general")
        # The mark goes above the first unread message: the joins and leaves that
        # came after it are new too, dave's before it is not.
        markers = alice.vm.take_markers()
        assert markers == {"#general": 4}
        texts = alice.texts("#general")
        assert "<bob> first unread" in texts[-4]
        assert "dave" in texts[-5]
        assert alice.vm.take_markers() == {}

        # Lines that come while the conversation is looked at are not unread; back
        # after looking elsewhere with nothing new, there is nothing to mark.
        bob.send("general", "seen as it came")
        alice.shows("#general", "<bob> seen as it came")
        assert alice.vm.select("#dev")
        assert alice.vm.select("#general")
        assert alice.vm.take_markers() == {"#dev": 0, "#general": 0}

        # A private conversation too.
        bob.pm("alice", "psst")
        alice.shows("@bob", "<bob> psst")
        assert alice.vm.select("@bob")
        assert alice.vm.take_markers() == {"@bob": 1}


def test_a_message_of_several_lines_is_sent_and_shown_as_one(broker, driven):
    with Client("bob", broker.endpoint) as bob:
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general")
        # Typed with Shift+Enter, or pasted: the last line break is not a line.
        assert alice.vm.submit("first line\nsecond line\n")
        assert expect(bob, ChatEvent, sender="alice").text == "first line\nsecond line"
        alice.shows("#general", "second line")
        row = alice.vm.transcripts["#general"].rows[-1]
        head, rest = row.text.split("\n")
        assert head.endswith("<alice> first line")
        assert rest == "second line"  # on a line of its own, indented by the view
        assert row.hang == head.removesuffix("first line")
        assert row.height == 2

        bob.send("general", "a\r\nb\n\nc")
        alice.shows("#general", "<bob> a")
        row = alice.vm.transcripts["#general"].rows[-1]
        assert row.text.split("\n")[1:] == ["b", "", "c"]
        assert said([row.text]) == ["a\nb\n\nc"]

        # The size limit is the same: too long is refused as a whole and given back.
        long = "a line of text\n" * 300
        assert len(long.encode()) > 4096
        alice.vm.submit(long)
        changes = alice.until(lambda c: c.restore is not None, what="the text given back")
        assert changes.restore == long.rstrip("\n")
        alice.shows("#general", "(too_long)")


def test_help_in_the_window_names_the_window_s_keys(broker, driven):
    alice = start(broker, driven)
    alice.shows("#general", "you are in #general")
    alice.vm.submit("/help")
    alice.shows("#general", "Shift+Enter")
    texts = alice.texts("#general")
    assert any("/who [ROOM|*]" in text for text in texts)
    assert not any("Ctrl-D" in text for text in texts)  # the console's key


def test_who_while_talking_privately_is_about_that_person(broker, driven):
    bob = Client("bob", broker.endpoint)
    bob.connect()
    try:
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general with bob")
        assert alice.vm.open_private("bob") == "@bob"
        alice.vm.submit("/who")
        alice.shows("@bob", "*** bob is online")
        # Not the room behind the conversation, and nothing in the room's pane.
        assert not any("#general: " in text for text in alice.texts("@bob"))
        assert not any("is online" in text for text in alice.texts("#general"))
        # A room named is still that room.
        alice.vm.submit("/who general")
        alice.shows("@bob", "#general: alice, bob (2)")
    finally:
        bob.close()
    alice.shows("#general", "← bob left")
    alice.vm.submit("/who")
    alice.shows("@bob", "*** bob is offline")


def test_tab_adds_what_comes_next_after_a_name(broker, driven):
    with Client("bob", broker.endpoint):
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general with bob")
        assert alice.vm.complete("b") == ("b", ["bob: "])
        assert alice.vm.complete("ask b") == ("b", ["bob "])
        assert alice.vm.complete("@b") == ("@b", ["@bob "])
        assert alice.vm.complete("/wh") == ("/wh", ["/who "])


def test_only_settings_confirmed_in_the_form_are_remembered(broker, driven):
    given = Driven(broker)
    driven.append(given)
    # Every setting given on the command line: the form was never seen.
    problem = given.vm.connect("alice", "127.0.0.1", str(broker.port), confirmed=False)
    assert problem is None
    assert given.until(lambda c: c.connected or c.connect_failed).connected is not None
    given.shows("#general", "you are in #general")
    assert given.remembered == []

    chosen = Driven(broker)
    driven.append(chosen)
    assert chosen.connect("carol").connected is not None  # Connect pressed in the form
    assert chosen.remembered == [LastConnect("carol", "127.0.0.1", broker.port)]
