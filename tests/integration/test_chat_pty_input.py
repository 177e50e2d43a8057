"""The console's input and its mentions, in a pseudo-terminal as people use it: a
message of several lines (Esc Enter, a paste), Tab completing a name, and the bell
that rings once per burst of lines naming you."""

from __future__ import annotations

import re

import pytest
from tests.integration.test_chat_pty import Terminal

from zmqchat import ChatEvent, Client, PmEvent
from zmqchat.testing import expect, wait_until

pytestmark = pytest.mark.timeout(60)

# Operating system commands (a window title) end with BEL too: not a bell.
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(\x07|\x1b\\\\)")
# Select graphic rendition: the styles a line is drawn with.
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def settle(term: Terminal) -> None:
    """Wait for the prompt drawn again after what was printed last. While a line is
    printed above it, the terminal is in cooked mode, where keys are the line
    discipline's: Ctrl-D would be taken as end of file, Enter as Ctrl-J."""
    term.expect("#general>")


def bells(term: Terminal) -> int:
    return _OSC.sub("", term.raw()).count("\x07")


def reversed_texts(term: Terminal) -> list[str]:
    """The runs of text drawn in reverse video (how the console picks out a name)."""
    runs: list[str] = []
    on = False
    raw = term.raw()
    position = 0
    for match in _SGR.finditer(raw):
        if on and match.start() > position:
            runs.append(raw[position : match.start()])
        on = "7" in match.group(1).split(";")
        position = match.end()
    return runs


def test_the_bell_rings_once_per_burst_of_mentions_and_the_name_is_highlighted(broker, tmp_path):
    with Client("bob", broker.endpoint) as bob:
        alice = Terminal(tmp_path, broker, "--user", "alice")
        try:
            alice.expect("you are in #general with bob (2 here)")
            settle(alice)
            bob.send("general", "hello everyone, and malice too")
            alice.expect("hello everyone, and malice too")
            assert bells(alice) == 0  # not a mention: no bell

            for text in ("alice: are you there?", "@Alice ping", "ALICE!!"):
                bob.send("general", text)
            alice.expect("ALICE!!")
            settle(alice)
            wait_until(lambda: bells(alice) >= 1, 10, "the bell")
            bob.pm("alice", "psst, alice")  # a private message is a mention too
            alice.expect("[pm from bob] psst, alice")
            bob.send("general", "sync")  # after the lines above in every way
            alice.expect("sync")
            settle(alice)
            # Three lines and a private message in a burst: one bell.
            assert bells(alice) == 1
            # The name in each line naming alice is drawn reversed; nothing else is.
            assert {"alice", "Alice", "ALICE"} <= set(reversed_texts(alice))
            assert "malice" not in " ".join(reversed_texts(alice))
            assert alice.finish("/quit\r") == 0
        finally:
            alice.child.close(force=True)


def test_esc_enter_and_a_paste_send_one_message_of_several_lines(broker, tmp_path):
    with Client("bob", broker.endpoint) as bob:
        alice = Terminal(tmp_path, broker, "--user", "alice")
        try:
            alice.expect("you are in #general with bob (2 here)")
            settle(alice)
            alice.child.send("first line")
            alice.child.send("\x1b\r")  # Esc Enter: a new line, not a send
            alice.child.send("second line\r")
            event = expect(bob, ChatEvent, sender="alice", timeout=10)
            assert event.text == "first line\nsecond line"
            # Shown as one message, its second line under the first's text.
            alice.expect("<alice> first line")
            line = alice.text()[alice._cursor :].lstrip("\r\n").split("\r\n", 1)[0]
            assert line.rstrip() == " " * len("HH:MM:SS #general <alice> ") + "second line"
            settle(alice)

            # A paste keeps its lines (and its last line break is no line of its own).
            alice.child.send("\x1b[200~pasted one\npasted two\n\x1b[201~")
            alice.child.send("\r")
            event = expect(bob, ChatEvent, sender="alice", timeout=10)
            assert event.text == "pasted one\npasted two"
            alice.expect("<alice> pasted one")
            settle(alice)

            # Enter alone still sends a line as it is.
            alice.type("just one line")
            assert expect(bob, ChatEvent, sender="alice", timeout=10).text == "just one line"
            alice.expect("<alice> just one line")
            settle(alice)
            assert alice.finish("\x04") == 0
        finally:
            alice.child.close(force=True)


def test_tab_completes_a_name_with_a_colon_at_the_start_and_a_space_elsewhere(broker, tmp_path):
    with Client("bob", broker.endpoint) as bob:
        alice = Terminal(tmp_path, broker, "--user", "alice")
        try:
            alice.expect("you are in #general with bob (2 here)")
            settle(alice)
            # A space drawn at the end of the input is a cursor move, not a character:
            # what was sent shows it.
            alice.child.send("bo\t")
            alice.expect("bob:")
            alice.type("hi")
            assert expect(bob, ChatEvent, sender="alice", timeout=10).text == "bob: hi"
            alice.expect("<alice> bob: hi")
            settle(alice)
            alice.child.send("thanks bo\t")
            alice.expect("thanks bob")
            alice.type("for that")
            event = expect(bob, ChatEvent, sender="alice", timeout=10)
            assert event.text == "thanks bob for that"
            alice.expect("<alice> thanks bob for that")
            settle(alice)
            alice.child.send("@bo\t")
            alice.expect("@bob")
            alice.type("psst")
            assert expect(bob, PmEvent, sender="alice", timeout=10).text == "psst"
            alice.expect("[pm to bob] psst")
            settle(alice)
            assert alice.finish("\x04") == 0
        finally:
            alice.child.close(force=True)
