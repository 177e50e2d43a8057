"""`zmqchat file send` and `zmqchat file get` as real processes, `tail --json`
showing the file event, and an upload resumed after its sender was killed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import pytest
from tests.cli_helpers import run_cli, spawn_cli

from zmqchat import Client
from zmqchat.common.files import CHUNK_BYTES
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(90)


def parts(broker: BrokerProcess) -> list[Path]:
    folder = Path(broker.db).parent / "files" / "parts"
    return list(folder.iterdir()) if folder.is_dir() else []


def test_file_send_then_get_and_tail_json_shows_the_event(broker, tmp_path):
    port = str(broker.port)
    source = tmp_path / "notes.txt"
    source.write_bytes(os.urandom(3 * CHUNK_BYTES + 11))
    with contextlib.ExitStack() as stack, Client("watcher", broker.endpoint) as watcher:
        tail = spawn_cli(tmp_path, "tail", "--port", port, "--user", "taily", "--json",
                         "--no-presence", "--count", "1")  # fmt: skip
        stack.enter_context(tail)
        wait_until(lambda: "taily" in watcher.who("general"), 15, "tail to be in general")

        sent = run_cli(tmp_path, "file", "send", "--port", port, "--room", "general", str(source))
        assert sent.returncode == 0, sent.stderr
        # Piped: one line on stdout, and no progress bar redrawing on stderr.
        assert sent.stdout.startswith("sent notes.txt (180.0 KiB) to #general as file ")
        assert "\r" not in sent.stderr
        file_id = int(sent.stdout.split()[-1])

        out, err = tail.communicate(timeout=20)
    assert tail.returncode == 0, err
    event = json.loads(out)
    assert event["type"] == "file"
    assert (event["room"], event["name"], event["id"]) == ("general", "notes.txt", file_id)
    assert event["size"] == source.stat().st_size

    target = tmp_path / "copy.txt"
    got = run_cli(tmp_path, "file", "get", "--port", port, str(file_id), "-o", str(target))
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == str(target)
    assert target.read_bytes() == source.read_bytes()

    # Not a member of the file's room: refused, status 1, a reason on stderr.
    outside = run_cli(tmp_path, "file", "get", "--port", port, "--room", "dev", str(file_id),
                      "-o", str(tmp_path / "no.txt"))  # fmt: skip
    assert outside.returncode == 1
    assert "not_in_room" in outside.stderr or "not in room" in outside.stderr
    assert not (tmp_path / "no.txt").exists()


def test_file_send_refuses_too_large_before_sending(make_broker, tmp_path):
    broker = make_broker(max_file_size=1000)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    small = tmp_path / "small.bin"
    small.write_bytes(b"y" * 10)
    sent = run_cli(tmp_path, "file", "send", "--port", str(broker.port), "--room", "general",
                   "--json", str(big), str(small))  # fmt: skip
    assert sent.returncode == 1
    assert "too_large" in sent.stderr or "at most" in sent.stderr
    # The refused one does not stop the next.
    [line] = sent.stdout.splitlines()
    assert json.loads(line)["path"] == str(small)
    assert parts(broker) == []  # nothing was started for the big one


def test_a_killed_sender_goes_on_from_what_the_broker_holds(make_broker, tmp_path):
    # A slow chunk budget keeps the transfer going long enough to kill it midway.
    broker = make_broker(file_rate_limit=25, file_rate_burst=1, heartbeat=0.5, timeout=2)
    port = str(broker.port)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(40 * CHUNK_BYTES + 5))
    args = ("file", "send", "--port", port, "--user", "alice", "--json", "--room", "general")
    sender = spawn_cli(tmp_path, *args, str(source))
    try:
        part = wait_until(lambda: next(iter(parts(broker)), None), 15, "the upload to start")
        wait_until(lambda: part.stat().st_size >= 4 * CHUNK_BYTES, 15, "some chunks to arrive")
        sender.send_signal(signal.SIGKILL)
    finally:
        sender.communicate(timeout=10)
    held = part.stat().st_size
    assert 0 < held < source.stat().st_size

    def again() -> str | None:
        # The killed session holds the name until the broker times it out.
        done = run_cli(tmp_path, *args, str(source), timeout=60)
        return done.stdout if done.returncode == 0 else None

    out = wait_until(again, 60, "the upload to go on", interval=0.5)
    done = json.loads(out)
    assert done["id"] == int(part.name)  # the same upload, not a new one from 0
    copy = tmp_path / "copy.bin"
    got = run_cli(tmp_path, "file", "get", "--port", port, str(done["id"]), "-o", str(copy))
    assert got.returncode == 0, got.stderr
    assert copy.read_bytes() == source.read_bytes()
