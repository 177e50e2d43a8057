"""The GUI's files without a screen, against a real broker: what the attach button
sends to the conversation looked at (a room, a person), the file line's link and
what saving it fetches, and failures as progress rows with their reason. The Tk
thread's part is played by ``drain()`` (see test_gui_viewmodel)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_gui_viewmodel import Driven, start

from zmqchat import Client
from zmqchat.common.files import FileEvent, PrivateFileEvent
from zmqchat.testing import expect, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def driven() -> Iterator[list[Driven]]:
    made: list[Driven] = []
    yield made
    for run in made:
        run.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def finished(run: Driven, serial: int, timeout: float = 20.0):
    """Drain until transfer ``serial`` ended; its last row."""

    def ended():
        run.vm.drain()
        row = next((r for r in run.vm.files.transfers.rows() if r.serial == serial), None)
        return row if row is not None and row.phase != "running" else None

    return wait_until(ended, timeout, f"transfer {serial} to end")


def file_row(run: Driven, key: str, name: str):
    run.shows(key, f"{name} (")
    transcript = run.vm.transcripts[key]
    return next(row for row in reversed(transcript.rows) if row.file_name == name)


def test_attach_sends_to_the_room_looked_at_and_its_link_saves_it(broker, driven, tmp_path):
    source = tmp_path / "report.bin"
    source.write_bytes(os.urandom(700_000))
    with Client("bob", broker.endpoint) as bob:
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general")
        serial = alice.vm.files.send(source, alice.vm.snapshot)
        assert serial is not None
        row = finished(alice, serial)
        assert (row.phase, row.direction, row.size) == ("done", "up", 700_000)
        assert row.text == "sent report.bin (683.6 KiB) to #general"
        assert alice.vm.files.transfers.steps(serial) >= 2  # progress moved in steps
        got = expect(bob, FileEvent)
        assert (got.name, got.sender, got.room, got.sha256) == (
            "report.bin",
            "alice",
            "general",
            sha256(source),
        )
        # Our own line, from the room's event, is a link too.
        line = file_row(alice, "#general", "report.bin")
        assert line.file == got.id

        # Saving it (what the link's dialog answers) fetches it, sha256 checked.
        saved = tmp_path / "saved" / "mine.bin"
        saved.parent.mkdir()
        serial = alice.vm.files.get(got.id, "report.bin", saved, "#general")
        assert serial is not None
        row = finished(alice, serial)
        assert row.phase == "done", row.text
        assert sha256(saved) == sha256(source)
        alice.shows("#general", f"saved report.bin (683.6 KiB) as {saved}; sha256 checked")


def test_in_a_private_conversation_the_file_goes_to_that_person(broker, driven, tmp_path):
    source = tmp_path / "note.txt"
    source.write_bytes(b"for bob only")
    with Client("Bob", broker.endpoint) as bob:
        alice = start(broker, driven)
        key = alice.vm.open_private("Bob")
        assert key == "@bob"
        serial = alice.vm.files.send(source, alice.vm.snapshot)
        assert serial is not None
        assert finished(alice, serial).text == "sent note.txt (12 B) to Bob"
        got = expect(bob, PrivateFileEvent)
        assert (got.name, got.sender, got.to) == ("note.txt", "alice", "Bob")
        # Ours shows as the other side sees it, with its link.
        line = file_row(alice, "@bob", "note.txt")
        assert "[file to Bob] note.txt (12 B), file" in line.text
        assert line.file == got.id
        out = tmp_path / "bob.txt"
        bob.get_file(got.id, out)
        assert out.read_bytes() == b"for bob only"
        assert not any("note.txt" in text for text in alice.texts("#general"))


def test_refusals_and_mistakes_are_rows_and_lines_with_their_reason(make_broker, driven, tmp_path):
    broker = make_broker(max_file_size=1000)
    alice = start(broker, driven)
    alice.shows("#general", "you are in #general")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    serial = alice.vm.files.send(big, alice.vm.snapshot)
    assert serial is not None
    row = finished(alice, serial)
    assert row.phase == "failed"
    assert row.reason.startswith("too_large: ")
    assert row.text.startswith("sending big.bin to #general: failed: too_large: ")
    alice.shows("#general", "big.bin was not sent: ")
    assert any(t.endswith("(too_large)") for t in alice.texts("#general"))

    assert alice.vm.files.send(tmp_path / "missing.txt", alice.vm.snapshot) is None
    alice.shows("#general", "missing.txt: not a file")

    serial = alice.vm.files.get(999, "nothing.bin", tmp_path / "nothing.bin", "#general")
    assert serial is not None
    assert finished(alice, serial).reason.startswith("no_such_file: ")
    alice.shows("#general", "nothing.bin was not saved: ")
    assert not (tmp_path / "nothing.bin").exists()
    # A failed row stays until dismissed.
    rows = alice.vm.files.transfers.rows()
    assert [r.phase for r in rows] == ["failed", "failed"]
    for r in rows:
        alice.vm.files.transfers.dismiss(r.serial)
    assert alice.vm.files.transfers.rows() == []


def test_send_and_get_typed_in_the_input_show_progress_rows(broker, driven, tmp_path):
    source = tmp_path / "typed.bin"
    source.write_bytes(os.urandom(700_000))
    with Client("bob", broker.endpoint) as bob:
        alice = start(broker, driven)
        alice.shows("#general", "you are in #general")
        assert alice.vm.submit(f"/send {source}")
        transfers = alice.vm.files.transfers
        assert transfers.started == 1  # a row, as the attach button's, not notices only
        row = finished(alice, 1)
        assert (row.phase, row.direction, row.text) == (
            "done",
            "up",
            "sent typed.bin (683.6 KiB) to #general",
        )
        assert transfers.steps(1) >= 2
        got = expect(bob, FileEvent)
        assert got.sha256 == sha256(source)

        folder = tmp_path / "downloads"
        folder.mkdir()
        assert alice.vm.submit(f"/get {got.id} {folder}")
        assert transfers.started == 2
        assert transfers.rows()[-1].text.startswith(f"fetching file {got.id} into {folder}")
        assert finished(alice, 2).phase == "done"
        assert sha256(folder / "typed.bin") == got.sha256
        alice.shows("#general", f"saved typed.bin (683.6 KiB) as {folder / 'typed.bin'}")


def test_a_rows_cancel_stops_its_transfer_and_doing_it_again_goes_on(
    make_broker, driven, tmp_path
):  # fmt: skip
    broker = make_broker(file_rate_limit=25, file_rate_burst=1)  # 25 chunks a second
    source = tmp_path / "slow.bin"
    source.write_bytes(os.urandom(3_000_000))
    alice = start(broker, driven)
    alice.shows("#general", "you are in #general")
    transfers = alice.vm.files.transfers
    serial = alice.vm.files.send(source, alice.vm.snapshot)
    assert serial is not None
    wait_until(lambda: transfers.rows()[0].done >= 300_000, 20, "some bytes to go")
    transfers.close(serial)  # the running row's ✕
    row = finished(alice, serial)
    assert (row.phase, row.reason) == ("failed", "cancelled")
    alice.shows("#general", "slow.bin: cancelled with ")
    assert any(
        "send it to #general again to go on from there" in t for t in alice.texts("#general")
    )
    transfers.close(serial)  # now it dismisses the row
    assert transfers.rows() == []

    again = alice.vm.files.send(source, alice.vm.snapshot)
    assert again is not None
    wait_until(lambda: transfers.rows() and transfers.rows()[0].done > 0, 20, "it to go on")
    assert transfers.rows()[0].done >= row.done  # from what the broker held, not 0
