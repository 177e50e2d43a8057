"""The console client driven for real: a prompt_toolkit session reading a pipe, a
real broker, and other clients in the same room."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from tests.helpers import RawPeer
from tests.integration.test_accounts import PASSWORD, add_account

from zmqchat import ChatEvent, Client, PmEvent, PresenceEvent
from zmqchat.client.chat.formatting import Line, plain
from zmqchat.client.console import interactive as console
from zmqchat.client.console.interactive import ChatConsole
from zmqchat.common.config import ClientConfig
from zmqchat.testing import BrokerProcess, expect, wait_until

pytestmark = pytest.mark.timeout(60)


class ConsoleRun:
    """A ChatConsole reading keys from a pipe, on a thread with its own event loop;
    every line it shows is kept (styled and plain)."""

    def __init__(self, broker: BrokerProcess, **options: Any) -> None:
        self.config = ClientConfig(
            port=broker.port, connect_timeout=options.pop("connect_timeout", 5.0)
        )
        self.options = options
        self.styled: list[Line] = []
        self.code: int | None = None
        self._cursor = 0
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        assert self._started.wait(10)

    def _main(self) -> None:
        with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
            self.pipe = pipe
            self.console = ChatConsole(
                self.config, patch=False, on_line=self._on_line, **self.options
            )
            self._started.set()
            self.code = asyncio.run(self.console.run())

    def _on_line(self, line: Line) -> None:
        with self._lock:
            self.styled.append(line)

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return [plain(line) for line in self.styled]

    def type(self, keys: str) -> None:
        self.pipe.send_text(keys)

    def expect(self, text: str, timeout: float = 10.0) -> str:
        """The next shown line containing ``text`` (after the previous match)."""

        def find() -> str | None:
            lines = self.lines
            for index in range(self._cursor, len(lines)):
                if text in lines[index]:
                    self._cursor = index + 1
                    return lines[index]
            return None

        try:
            found: str = wait_until(find, timeout, f"a line with {text!r}")
        except AssertionError:
            raise AssertionError(f"no line with {text!r}; lines: {self.lines[-15:]}") from None
        return found

    def finish(self, timeout: float = 10.0) -> int | None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the console did not end"
        return self.code

    @property
    def input_text(self) -> str:
        """What is typed at the prompt, not yet sent."""
        return self.console.session.default_buffer.text

    @property
    def toolbar(self) -> str:
        return plain(self.console.controller.toolbar())


@pytest.fixture
def consoles() -> Iterator[list[ConsoleRun]]:
    made: list[ConsoleRun] = []
    yield made
    for run in made:  # a failed test leaves no console thread behind
        if run._thread.is_alive():
            run.type("\x04")
            run.finish()


def test_console_chats_privately_and_in_rooms(broker, consoles):
    with Client("bob", broker.endpoint, rooms=["general", "dev"]) as bob:
        for n in range(25):
            bob.send("general", f"old {n}")
        alice = ConsoleRun(broker, user="alice", rooms=["general"])
        consoles.append(alice)

        # The last 20 messages of the room, marked as history, then who is there.
        alice.expect("#general: the last 20 messages")
        history = [alice.expect(f"<bob> old {n}") for n in range(5, 25)]
        assert len(history) == 20
        assert not any("old 4" in line for line in alice.lines)
        marked = [line for line in alice.styled if "<bob> old" in plain(line)]
        assert all("class:history" in style for line in marked for style, _ in line)
        alice.expect("you are in #general with bob (2 here)")

        alice.type("hello سلام 👋\r")
        assert expect(bob, ChatEvent, sender="alice").text == "hello سلام 👋"
        alice.expect("#general <alice> hello سلام 👋")
        bob.send("general", "hi alice")
        alice.expect("#general <bob> hi alice")

        alice.type("@bob psst\r")
        assert expect(bob, PmEvent).text == "psst"
        alice.expect("[pm to bob] psst")
        bob.pm("alice", "back at you")
        alice.expect("[pm from bob] back at you")

        alice.type("/quit\r")
        assert alice.finish() == 0
        assert expect(bob, PresenceEvent, user="alice", event="leave", room="general")
    assert not any("Traceback" in line or "internal error" in line for line in alice.lines)


def test_console_rooms_unread_counts_commands_and_completion(broker, consoles):
    with Client("bob", broker.endpoint, rooms=["general", "dev"]) as bob:
        alice = ConsoleRun(broker, user="alice", rooms=["general"])
        consoles.append(alice)
        alice.expect("you are in #general with bob (2 here)")
        alice.type("/join dev\r")
        alice.expect("you are in #dev with bob (2 here)")
        assert alice.console.state.current == "dev"
        bob.send("general", "while you were away")
        wait_until(lambda: "unread: #general 1" in alice.toolbar, 10, "an unread count")
        assert alice.toolbar.split(" │ ")[:2] == [" alice", "#dev"]
        assert alice.toolbar.rstrip().endswith("connected")
        bob.send("general", "@alice a look, please")
        wait_until(lambda: "unread: #general 2" in alice.toolbar, 10, "a second unread line")
        assert alice.toolbar.split(" │ ")[2] == "#general 1@"  # the mentions, apart
        alice.type("/room general\r")
        alice.expect("talking in #general")
        assert "unread" not in alice.toolbar
        assert "@" not in alice.toolbar

        alice.type("/me waves\r")
        alice.expect("#general * alice waves")
        alice.type("/who\r")
        alice.expect("#general: alice, bob (2)")
        alice.type("/msg nobody hi\r")
        alice.expect("(no_such_user)")
        alice.type("/bogus\r")
        alice.expect("!!! unknown command /bogus")
        alice.type("/history 2\r")
        alice.expect("#general: the last 2 messages")
        alice.expect("* alice waves")

        # Tab completes a command, then a user name, each with the space that lets
        # typing carry on, as in the GUI (completion runs as a task, so wait for it
        # to land before typing on).
        alice.type("/jo\t")
        wait_until(lambda: alice.input_text == "/join ", 10, "/jo completed")
        alice.type("ops\r")
        alice.expect("you are in #ops")
        alice.type("@b\t")
        wait_until(lambda: alice.input_text == "@bob ", 10, "@b completed")
        alice.type("tabbed\r")
        assert expect(bob, PmEvent).text == "tabbed"

        alice.type("/quit\r")
        assert alice.finish() == 0
        assert expect(bob, PresenceEvent, user="alice", event="leave", room="general")
    assert not any("Traceback" in line or "internal error" in line for line in alice.lines)


def test_console_asks_for_a_name_until_the_broker_takes_one(broker, consoles, monkeypatch):
    monkeypatch.setattr(console, "suggested_name", lambda: "alice")  # the login name
    with Client("alice", broker.endpoint):
        run = ConsoleRun(broker)
        consoles.append(run)
        # The login name is the default: Enter takes it (taken, here).
        run.type("\r")
        run.expect("alice is already online (name_taken)")
        # What is typed replaces it; it is not typed after it.
        run.type("no spaces\r")
        run.expect("invalid user name 'no spaces'")
        run.type("carol\r")
        run.expect("connected to")
        run.expect("you are in #general with alice (2 here)")
        assert run.toolbar.startswith(" carol")
        run.type("\x04")  # Ctrl-D
        assert run.finish() == 0


def said(run: ConsoleRun) -> list[str]:
    return [line.split("<bob> ")[1] for line in run.lines if "<bob> " in line]


def test_console_fills_the_gap_of_a_broker_restart_without_duplicates(make_broker, consoles):
    broker = make_broker()
    run = ConsoleRun(broker, user="alice")
    consoles.append(run)
    run.expect("you are in #general")
    with Client("bob", broker.endpoint) as bob:
        run.expect("→ bob joined")
        for n in range(3):
            bob.send("general", f"before {n}")
        run.expect("<bob> before 2")
        broker.restart()
        run.expect("connection lost")
        wait_until(lambda: bob.state == "connected", 15, "bob back")
        # Bob may be back before alice: what he says meanwhile comes from history.
        for n in range(3):
            bob.send("general", f"after {n}")
        # The room's events may come (on the SUB socket) before the session's
        # resumption is confirmed (on the DEALER): no order between the two.
        run.expect("reconnected (session resumed)", 15)
        wait_until(lambda: run.toolbar.rstrip().endswith("connected"), 10, "the toolbar")
        expected = [f"before {n}" for n in range(3)] + [f"after {n}" for n in range(3)]
        wait_until(lambda: said(run) == expected, 15, "every message once, in order")
        # Nothing more arrives late (a duplicate would come from a gap fill).
        bob.send("general", "last")
        run.expect("<bob> last")
    assert said(run) == [*expected, "last"]
    run.type("/quit\r")
    assert run.finish() == 0


def test_console_ends_with_a_reason_when_its_session_is_taken_over(broker, consoles):
    run = ConsoleRun(broker, user="alice")
    consoles.append(run)
    run.expect("you are in #general")
    token = run.console.controller.client.session
    thief = RawPeer(broker.endpoint)
    try:
        thief.register("alice", resume=token)
        run.expect("disconnected: replaced")
        assert run.finish() == 1
    finally:
        thief.close()


def test_console_reports_an_unreachable_broker(make_broker, consoles):
    broker = make_broker()
    broker.kill()  # its port is known and nothing listens there now
    run = ConsoleRun(broker, user="alice", connect_timeout=0.5)
    consoles.append(run)
    # The same words as the one-shot commands and the GUI's connect form.
    where = f"127.0.0.1:{broker.port}"
    run.expect(
        f"!!! broker unreachable: no zmqchat broker answered at {where} within 0.5s"
        " (an encrypted broker also needs its server key)"
    )
    assert run.finish() == 3


def test_console_refuses_an_invalid_room_before_asking_anything(broker, consoles):
    run = ConsoleRun(broker, user="alice", rooms=["general", "not valid"])
    consoles.append(run)
    run.expect("!!! 'not valid' is not a room name")
    assert run.finish() == 2


def test_console_asks_for_the_password_of_a_name_with_an_account(make_broker, consoles):
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    alice = ConsoleRun(broker, user="alice")
    consoles.append(alice)
    # A notice, not an error: the first try goes without a password.
    alice.expect("*** alice has an account: give its password")
    alice.type("wrong horse\r")
    alice.expect("wrong password for alice (auth_failed)")
    alice.type(f"{PASSWORD}\r")
    alice.expect("as alice")
    alice.type("/quit\r")
    assert alice.finish() == 0
    assert not any("horse" in line for line in alice.lines)  # typed unseen
    # The password prompt kept nothing for the Up key to bring back.
    assert list(alice.console.session.history.get_strings()) == ["/quit"]


def test_console_gives_up_on_an_empty_password(make_broker, consoles):
    broker = make_broker(auth="accounts")
    add_account(broker, "alice")
    alice = ConsoleRun(broker, user="alice", password="wrong horse")
    consoles.append(alice)
    alice.expect("wrong password for alice (auth_failed)")
    alice.type("\r")
    assert alice.finish() == 1
