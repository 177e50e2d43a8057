"""The shared chat controller's private conversations against a real broker: the
console and the GUI both run /query and plain lines through it."""

from __future__ import annotations

import threading

import pytest
from tests.integration.test_accounts import PASSWORD, add_account

from zmqchat import Client, PmEvent
from zmqchat.client.chat.commands import parse_input
from zmqchat.client.chat.controller import EVERYWHERE, ChatController
from zmqchat.client.chat.formatting import Line, plain
from zmqchat.client.chat.state import ChatState
from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(60)


def test_a_query_sends_plain_lines_privately_and_routes_each_line(broker):
    shown: list[tuple[str | None, str]] = []
    lock = threading.Lock()

    def emit(line: Line, where: str | None) -> None:
        with lock:
            shown.append((where, plain(line)))

    def lines(where: str | None) -> list[str]:
        with lock:
            return [text for key, text in shown if key == where]

    state = ChatState()
    controller = ChatController(state, emit, compact=True)

    def run(line: str) -> bool:
        command = parse_input(line)
        assert command is not None
        return controller.execute(command)

    controller.prepare("alice", ["general"])
    alice = Client("alice", broker.endpoint, on_event=controller.on_event)
    try:
        with Client("bob", broker.endpoint) as bob:
            controller.attach(alice, alice.connect())
            wait_until(lambda: any("you are in #general" in t for t in lines("#general")))
            assert run("/query Bob")
            assert state.viewing() == "@bob"
            assert any("talking privately with Bob" in t for t in lines("@bob"))
            assert run("just us")
            event = next(e for e in bob.events(timeout=10) if isinstance(e, PmEvent))
            assert event.text == "just us"
            assert any(t.endswith("<alice> just us") for t in lines("@bob"))
            bob.send("general", "meanwhile in the room")
            wait_until(lambda: any("meanwhile" in t for t in lines("#general")))
            assert state.unread() == {"general": 1}  # not looked at during the query
            # A refusal is an error line where the command was typed, and says so.
            assert not run("/msg nobody hi")
            assert any("(no_such_user)" in t for t in lines("@bob"))
            assert run("/query")
            assert state.viewing() == "#general"
            assert state.unread() == {}
            controller.quitting()
    finally:
        alice.close()

    assert all(key != EVERYWHERE or "disconnected" not in text for key, text in shown)


def test_a_query_shows_the_conversation_so_far_from_earlier_sessions(make_broker):
    broker = make_broker(auth="accounts")
    add_account(broker, "dora")
    shown: list[tuple[str | None, str]] = []
    lock = threading.Lock()

    def emit(line: Line, where: str | None) -> None:
        with lock:
            shown.append((where, plain(line)))

    def lines(where: str | None) -> list[str]:
        with lock:
            return [text for key, text in shown if key == where]

    with Client("alice", broker.endpoint) as alice:
        with Client("dora", broker.endpoint, password=PASSWORD) as earlier:
            alice.pm("dora", "from before")
            earlier.pm("alice", "an answer")
        assert alice.pm("dora", "while you were away").status == "queued"
        controller = ChatController(ChatState(), emit, compact=True)
        controller.prepare("dora", [])
        dora = Client("dora", broker.endpoint, password=PASSWORD, on_event=controller.on_event)
        try:
            controller.attach(dora, dora.connect())
            # The queued pm arrives live, after the welcome; the query shows what
            # came before it, once.
            wait_until(lambda: any("while you were away" in t for t in lines("@alice")))
            command = parse_input("/query alice")
            assert command is not None
            assert controller.execute(command)
            assert controller.execute(command)  # opened again: shown once

            def at(text: str) -> list[int]:
                return [n for n, line in enumerate(lines("@alice")) if text in line]

            live, before, answer = at("while you were away"), at("from before"), at("an answer")
            assert (len(live), len(before), len(answer)) == (1, 1, 1)
            # The past comes when the conversation is opened, in its order, without
            # what was already shown live.
            assert live[0] < before[0] < answer[0]
            controller.quitting()
        finally:
            dora.close()
