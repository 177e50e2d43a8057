"""The GUI's file parts that need neither a screen nor a broker: a file line's row
and its link, and each transfer's progress (rate, ETA, done, failed) on a clock of
the test's own."""

from __future__ import annotations

import os

from zmqchat.client.chat.formatting import FILE_MARK, format_event, plain
from zmqchat.client.gui.files import DONE_LINGER, RATE_SPAN, RATE_WINDOW, Transfers
from zmqchat.client.gui.transcript import LINK, to_row
from zmqchat.common.files import FileEvent, PrivateFileEvent
from zmqchat.common.messages import ChatEvent

MiB = 1024 * 1024
SHA = "0" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_file_line_names_its_file_and_its_name_is_a_link():
    event = FileEvent(
        room="general", seq=3, sender="bob", name="plan b.pdf", size=MiB, sha256=SHA, id=7, ts=1.0
    )
    line = format_event(event, compact=True)
    assert (f"class:{FILE_MARK}7", "") in line
    assert plain(line).endswith("bob sent plan b.pdf (1.0 MiB), file 7")  # text as before
    row = to_row(line, "all")
    assert (row.file, row.file_name) == (7, "plan b.pdf")
    linked = [text for text, tags in row.parts if LINK in tags]
    assert linked == ["plan b.pdf"]
    assert any(f"{LINK}.7" in tags for _, tags in row.parts)
    # From history, dimmed, and private: still a link.
    old = to_row(format_event(event, compact=True, history=True), "all")
    assert old.file == 7
    assert old.has_tag("history")
    assert old.has_tag(LINK)
    private = PrivateFileEvent(
        id=9, sender="bob", to="alice", name="n.txt", size=3, sha256=SHA, ts=1.0
    )
    row = to_row(format_event(private, me="alice", compact=True), "all")
    assert (row.file, row.file_name) == (9, "n.txt")
    assert "[file from bob] n.txt (3 B), file 9" in row.text


def test_other_lines_link_nothing():
    chat = ChatEvent(room="general", seq=1, sender="bob", text="file 7", ts=1.0)
    row = to_row(format_event(chat, compact=True), "all")
    assert row.file is None
    assert not row.has_tag(LINK)
    # A mark without a name to click is no link (a line made otherwise).
    assert to_row([(f"class:{FILE_MARK}3", ""), ("", "text")], "all").file is None


def test_an_upload_shows_its_rate_and_eta_then_done_and_goes_away():
    clock = Clock()
    transfers = Transfers(clock)
    serial = transfers.start("up", "a.bin", "#general", 4 * MiB)
    (row,) = transfers.rows()
    assert (row.phase, row.done, row.fraction, row.rate, row.eta) == ("running", 0, 0.0, None, None)
    assert row.text == "sending a.bin to #general: 0 B of 4.0 MiB"
    version = transfers.version
    clock.now += 0.125  # binary fractions: the sums below are exact
    assert clock.now - 100 < RATE_SPAN
    transfers.progressed(serial, MiB // 2, 4 * MiB)
    assert transfers.version > version
    assert transfers.rows()[0].rate is None  # too soon to say
    clock.now += 0.875
    transfers.progressed(serial, MiB, 4 * MiB)
    (row,) = transfers.rows()
    assert row.rate == MiB  # a MiB in the second since it started
    assert row.eta == 3.0
    assert row.fraction == 0.25
    assert row.text == "sending a.bin to #general: 1.0 MiB of 4.0 MiB · 1.0 MiB/s · 3s left"
    # The rate is of the last seconds only: a stall shows.
    clock.now += RATE_WINDOW + 1
    (row,) = transfers.rows()
    assert row.rate == 0
    assert row.eta is None
    assert "0 B/s" in row.text
    assert transfers.steps(serial) == 2
    transfers.finished(serial, 4 * MiB)
    (row,) = transfers.rows()
    assert (row.phase, row.done, row.fraction) == ("done", 4 * MiB, 1.0)
    assert row.text == "sent a.bin (4.0 MiB) to #general"
    clock.now += DONE_LINGER
    assert transfers.rows() == []


def test_a_download_learns_its_size_and_a_failure_stays_until_dismissed():
    clock = Clock()
    transfers = Transfers(clock)
    serial = transfers.start("down", "a.bin", "/tmp/a.bin")
    assert transfers.rows()[0].text == "fetching a.bin as a.bin: …"
    transfers.dismiss(serial)  # a running row stays (its ✕ cancels it: close())
    assert len(transfers.rows()) == 1
    transfers.progressed(serial, 1000, 3000)
    assert transfers.rows()[0].fraction == 1000 / 3000
    transfers.failed(serial, "hash_mismatch: file 7 did not arrive as sent")
    transfers.progressed(serial, 2000, 3000)  # late: ignored
    clock.now += DONE_LINGER * 10
    (row,) = transfers.rows()
    assert (row.phase, row.done) == ("failed", 1000)
    assert row.text == (
        "fetching a.bin as a.bin: failed: hash_mismatch: file 7 did not arrive as sent"
    )
    assert transfers.running() == []
    transfers.dismiss(serial)
    assert transfers.rows() == []


def test_a_download_that_starts_over_measures_its_rate_afresh():
    clock = Clock()
    transfers = Transfers(clock)
    serial = transfers.start("down", "a.bin", "/tmp/a.bin")
    clock.now += 1
    transfers.progressed(serial, 2 * MiB, 4 * MiB)  # a part file of the same file
    clock.now += 1
    transfers.progressed(serial, 0, 4 * MiB)  # ... of something else: from 0 again
    clock.now += 1
    transfers.progressed(serial, MiB, 4 * MiB)
    (row,) = transfers.rows()
    assert row.rate == MiB  # not negative, not the bytes kept before
    assert [r.direction for r in transfers.running("down")] == ["down"]
    assert transfers.running("up") == []


def test_a_running_rows_close_cancels_its_transfer_and_a_finished_ones_dismisses_it():
    clock = Clock()
    transfers = Transfers(clock)
    serial = transfers.start("up", "a.bin", "#general", 3000)
    cancel = transfers.cancel_event(serial)
    transfers.close(serial)
    assert cancel.is_set()
    assert [r.phase for r in transfers.rows()] == ["running"]  # until the transfer ends
    transfers.failed(serial, "cancelled")
    assert transfers.rows()[0].text == "sending a.bin to #general: failed: cancelled"
    transfers.close(serial)
    assert transfers.rows() == []


def test_a_download_into_a_folder_says_so():
    transfers = Transfers(Clock())
    transfers.start("down", "file 7", f"/tmp/downloads{os.sep}")
    assert transfers.rows()[0].text == "fetching file 7 into /tmp/downloads/: …"
