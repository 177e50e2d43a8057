"""/send and /get through the shared chat controller (the console's and the GUI's)
against a real broker: the transfer runs beside the chat, and its lines land in the
conversation it started from."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zmqchat import Client
from zmqchat.client.chat.commands import GetFile, Invalid, SendFile, parse_input
from zmqchat.client.chat.controller import ChatController
from zmqchat.client.chat.formatting import Line, plain
from zmqchat.client.chat.state import ChatState
from zmqchat.common.files import CHUNK_BYTES
from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(60)


class Chat:
    """A controller with a connected client, and every line it emitted."""

    def __init__(self, endpoint: str, user: str) -> None:
        self.shown: list[tuple[str | None, str]] = []
        self._lock = threading.Lock()
        self.state = ChatState()
        self.controller = ChatController(self.state, self._emit, compact=True)
        self.controller.prepare(user, ["general"])
        self.client = Client(user, endpoint, on_event=self.controller.on_event)
        self.controller.attach(self.client, self.client.connect())

    def _emit(self, line: Line, where: str | None) -> None:
        with self._lock:
            self.shown.append((where, plain(line)))

    def lines(self, where: str | None = "#general") -> list[str]:
        with self._lock:
            return [text for key, text in self.shown if key == where]

    def saw(self, text: str, where: str | None = "#general") -> str:
        return wait_until(
            lambda: next((t for t in self.lines(where) if text in t), None),
            20,
            f"{text!r} in {where}; shown: {self.lines(where)}",
        )

    def run(self, line: str) -> bool:
        command = parse_input(line)
        assert command is not None
        return self.controller.execute(command)

    def close(self) -> None:
        self.controller.quitting()
        self.client.close()


@pytest.fixture
def chats(broker) -> Iterator[list[Chat]]:
    made: list[Chat] = []
    yield made
    for chat in made:
        chat.close()


def test_send_in_a_room_and_get_by_the_id_its_line_shows(broker, chats, tmp_path: Path):
    alice = Chat(broker.endpoint, "alice")
    bob = Chat(broker.endpoint, "bob")
    chats += [alice, bob]
    source = tmp_path / "plan b.pdf"  # a space in the path: the rest of the line
    source.write_bytes(os.urandom(12 * CHUNK_BYTES))

    assert alice.run(f"/send {source}")
    alice.saw("sent plan b.pdf (720.0 KiB) to #general as file ")
    alice.saw("plan b.pdf: 50% of 720.0 KiB")
    line = bob.saw("alice sent plan b.pdf (720.0 KiB), file ")
    file_id = int(line.rsplit(" ", 1)[1])
    # Chat goes on while nothing is pending, and the line was where it belongs.
    assert bob.run("thanks")
    alice.saw("thanks")

    out = tmp_path / "got"
    out.mkdir()
    assert bob.run(f"/get {file_id} {out}")
    bob.saw(f"saved plan b.pdf (720.0 KiB) as {out / 'plan b.pdf'}; sha256 checked")
    assert (out / "plan b.pdf").read_bytes() == source.read_bytes()


def test_send_in_a_query_is_private_and_errors_are_lines(broker, chats, tmp_path: Path):
    alice = Chat(broker.endpoint, "alice")
    bob = Chat(broker.endpoint, "bob")
    chats += [alice, bob]
    source = tmp_path / "note.txt"
    source.write_bytes(b"for bob only")
    assert alice.run("/query bob")
    assert alice.run(f"/send {source}")
    alice.saw("sent note.txt (12 B) to bob as file ", "@bob")
    bob.saw("[file from alice] note.txt (12 B), file ", "@alice")
    assert bob.lines("#general") == [t for t in bob.lines("#general") if "note.txt" not in t]

    alice.run(f"/send {tmp_path / 'missing.txt'}")
    alice.saw("missing.txt: not a file", "@bob")
    bob.run("/get 999")
    bob.saw("no_such_file")  # where bob looks: #general


def test_the_commands_parse():
    assert parse_input("/send ~/a b.txt") == SendFile("~/a b.txt")
    assert parse_input("/get 42") == GetFile(42, None)
    assert parse_input("/get 42 ~/Downloads/") == GetFile(42, "~/Downloads/")
    assert isinstance(parse_input("/get x"), Invalid)
    assert isinstance(parse_input("/send"), Invalid)
