"""Two `zmqchat chat` processes in pseudo-terminals, as people would run them:
choosing a name, chatting, a private message, and a broker restart."""

from __future__ import annotations

import re
import signal
import sys
import threading
from pathlib import Path

import pexpect
import pytest
from tests.cli_helpers import cli_env

from zmqchat import Client, PresenceEvent
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(60)

# Escape sequences a terminal program writes (colours, cursor moves, modes).
_ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")
_CPR_REQUEST = "\x1b[6n"
ROWS, COLUMNS = 30, 160


class Terminal:
    """`zmqchat chat` in a pseudo-terminal. A reader thread keeps everything it
    writes and, like a real terminal, answers its cursor position requests
    (prompt_toolkit draws the bottom toolbar only once it knows the screen)."""

    def __init__(self, home: Path, broker: BrokerProcess, *args: str) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "zmqchat", "chat", "--port", str(broker.port), *args],
            # The login name, offered as the default answer to "your name".
            env=cli_env(home, TERM="xterm-256color", LOGNAME="tester", USER="tester"),
            encoding="utf-8",
            dimensions=(ROWS, COLUMNS),
        )
        self._raw = ""
        self._answered = 0
        self._cursor = 0
        self._lock = threading.Lock()
        self._hung_up = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._hung_up.is_set():
            try:
                chunk = self.child.read_nonblocking(4096, timeout=0.2)
            except pexpect.TIMEOUT:
                continue
            except (pexpect.EOF, OSError, ValueError):
                return
            with self._lock:
                self._raw += chunk
                requests = self._raw.count(_CPR_REQUEST)
            for _ in range(requests - self._answered):
                self.child.send(f"\x1b[{ROWS - 8};1R")  # "the cursor is near the bottom"
            self._answered = requests

    def text(self) -> str:
        """What it wrote, without escape sequences."""
        with self._lock:
            return _ANSI.sub("", self._raw)

    def raw(self) -> str:
        """What it wrote, escape sequences and all."""
        with self._lock:
            return self._raw

    def expect(self, text: str, timeout: float = 15) -> None:
        """Wait for ``text`` to be shown after the previous match."""

        def shown() -> bool:
            index = self.text().find(text, self._cursor)
            if index < 0:
                return False
            self._cursor = index + len(text)
            return True

        wait_until(shown, timeout, lambda: f"{text!r}; screen so far:\n{self.text()[-1500:]}")

    def type(self, line: str) -> None:
        self.child.send(line + "\r")

    def hang_up(self) -> None:
        """Close the terminal, as when its window is closed: the kernel sends the
        program SIGHUP, and what it writes fails from then on."""
        self._hung_up.set()
        self._reader.join(5)  # it must not read a closed (or reused) descriptor
        assert not self._reader.is_alive()
        self.child.ptyproc.fileobj.close()

    def wait_exit(self, timeout: float = 15) -> int:
        """The exit status of a program stopped from outside."""
        wait_until(lambda: not self.child.isalive(), timeout, "the chat to exit")
        status: int = self.child.exitstatus
        return status

    def finish(self, keys: str) -> int:
        self.child.send(keys)
        self._reader.join(15)
        assert not self._reader.is_alive(), "it did not exit"
        self.child.close()
        assert "Traceback" not in self.text()
        status: int = self.child.exitstatus
        return status


def test_two_terminals_chat_privately_and_survive_a_broker_restart(make_broker, tmp_path):
    broker = make_broker()
    alice = Terminal(tmp_path, broker, "--user", "alice")
    bob = Terminal(tmp_path, broker)  # no --user: asks for a name
    try:
        alice.expect("you are in #general with nobody else")
        alice.expect("alice │ #general │ connected")  # the bottom toolbar
        bob.expect("your name [tester]:")
        bob.type("alice")  # in place of the suggestion, not after it
        bob.expect("alice is already online")
        bob.expect("your name [tester]:")
        bob.type("bob")
        bob.expect("you are in #general with alice (2 here)")
        alice.expect("→ bob joined")

        alice.type("hello bob, سلام 👋")
        bob.expect("hello bob, سلام 👋")
        bob.type("@alice just between us")
        alice.expect("[pm from bob] just between us")
        bob.expect("[pm to alice] just between us")

        broker.restart()
        for term in (alice, bob):
            term.expect("reconnecting")
            term.expect("reconnected (session resumed)")
        alice.type("still here after the restart")
        bob.expect("still here after the restart")
        bob.type("/who")
        bob.expect("#general: alice, bob (2)")

        assert alice.finish("/quit\r") == 0
        bob.expect("← alice left (quit)")
        assert bob.finish("\x04") == 0  # Ctrl-D
    finally:
        for term in (alice, bob):
            term.child.close(force=True)
    seen = bob.text()
    # Every message shows once: no duplicate from the reconnection's gap fill.
    assert seen.count("hello bob, سلام 👋") == 1
    assert seen.count("still here after the restart") == 1
    assert "bob │ #general │ connected" in seen
    assert "!!!" not in seen.split("your name [tester]:")[-1]  # no error once named


@pytest.mark.parametrize(("stop", "status"), [("sigterm", 143), ("hang up", 129)])
def test_a_chat_killed_or_whose_terminal_closes_says_bye(broker, tmp_path, stop, status):
    with Client("watch", broker.endpoint) as watch:
        alice = Terminal(tmp_path, broker, "--user", "alice")
        try:
            alice.expect("you are in #general with watch (2 here)")
            if stop == "sigterm":
                alice.child.kill(signal.SIGTERM)
            else:
                alice.hang_up()
            # Well within the broker's 15 s timeout, and a quit, not a timeout.
            for event in watch.events(timeout=5):
                if isinstance(event, PresenceEvent) and event.event == "leave":
                    assert (event.user, event.reason) == ("alice", "quit")
                    break
            else:
                raise AssertionError("alice did not leave")
            with Client("alice", broker.endpoint):  # the name is free at once
                pass
            assert alice.wait_exit() == status
        finally:
            alice.child.close(force=True)
    if stop == "sigterm":
        assert "Traceback" not in alice.text()
        alice.expect("*** bye")
