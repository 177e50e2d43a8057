"""Edits and deletes in the console: a terminal can't change a line it printed, so
each comes as a line of its own that says which message it changed, by its seq and
the time its line shows (docs/protocol.md §2.14; the GUI changes the line itself)."""

from __future__ import annotations

import pytest
from tests.integration.test_console import ConsoleRun, consoles  # noqa: F401 (a fixture)

from zmqchat import Client
from zmqchat.client.chat.timestamps import format_time

pytestmark = pytest.mark.timeout(60)


def test_the_console_says_which_message_an_edit_or_delete_changed(broker, consoles):  # noqa: F811
    with Client("bob", broker.endpoint, rooms=["general"]) as bob:
        alice = ConsoleRun(broker, user="alice", rooms=["general"])
        consoles.append(alice)
        alice.expect("you are in #general with bob (2 here)")
        sent = bob.send("general", "teh build is red")
        shown = alice.expect("<bob> teh build is red")
        assert shown.split(" ")[0] == format_time(sent.ts)
        bob.edit("general", sent.seq, "the build is red")
        alice.expect(f"✎ bob edited message {sent.seq} of {format_time(sent.ts)}: the build is red")
        bob.delete("general", sent.seq)
        alice.expect(f"✗ bob deleted message {sent.seq} of {format_time(sent.ts)}")
        alice.type("/quit\r")
        assert alice.finish() == 0
