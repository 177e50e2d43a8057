"""Transfers that survive a process killed mid-way (issue 16): the broker (``kill
-9``, restarted on the same store), the receiving ``zmqchat file get`` and the
sending ``zmqchat file send``. Each goes on from what was acknowledged (or is in
the receiver's part file) and ends with the sha256 it was announced with.

The kills are synchronised on progress: the library's progress callback (bytes
the broker acknowledged or the client holds) or the size of a part file on disk.
Where a process must not finish before it is killed, the broker's
``file_rate_limit`` paces the chunks, so the kill lands mid-transfer however fast
the machine is."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli_helpers import run_cli, spawn_cli

from zmqchat import Client
from zmqchat.common.files import CHUNK_BYTES
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(90)

MiB = 1 << 20


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def connect(broker: BrokerProcess, clients: list[Client], user: str) -> Client:
    client = Client(user, broker.endpoint, rooms=("general",))
    clients.append(client)
    client.connect()
    return client


def source(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parts(broker: BrokerProcess) -> Path:
    return Path(broker.db).parent / "files" / "parts"


def part_size(folder: Path) -> int:
    """The size of the one part file in ``folder`` (0 while there is none)."""
    found = list(folder.glob("*")) if folder.is_dir() else []
    return found[0].stat().st_size if found else 0


# ------------------------------------------------------------- the broker killed


def test_an_upload_goes_on_after_the_broker_is_killed_and_restarted(
    broker, clients, tmp_path
):  # fmt: skip
    alice = connect(broker, clients, "alice")
    path = source(tmp_path / "big.bin", 8 * MiB + 5)
    seen: list[int] = []
    killed_at: list[int] = []

    def progress(done: int, size: int) -> None:
        seen.append(done)
        if not killed_at and done >= 2 * MiB:
            # On the sending thread: nothing more is sent until the broker is back.
            killed_at.append(done)
            broker.kill()
            broker.start()

    done = alice.send_file(path, room="general", progress=progress)

    assert killed_at, "the upload ended before 2 MiB were acknowledged"
    assert done.sha256 == sha(path)
    after = seen[seen.index(killed_at[0]) + 1 :]
    # Offered again after the restart, the broker answered with what it holds: at
    # least what it had acknowledged, never 0.
    assert after, seen
    assert min(after) >= killed_at[0], seen
    fetched = alice.get_file(done.id, tmp_path / "back.bin")
    assert sha(fetched.path) == done.sha256
    assert not any(parts(broker).iterdir())


def test_a_download_goes_on_after_the_broker_is_killed_and_restarted(
    broker, clients, tmp_path
):  # fmt: skip
    alice = connect(broker, clients, "alice")
    path = source(tmp_path / "big.bin", 8 * MiB + 5)
    done = alice.send_file(path, room="general")
    bob = connect(broker, clients, "bob")
    seen: list[int] = []
    killed_at: list[int] = []

    def progress(got: int, size: int) -> None:
        seen.append(got)
        if not killed_at and got >= 2 * MiB:
            killed_at.append(got)
            broker.kill()
            broker.start()

    fetched = bob.get_file(done.id, tmp_path / "copy.bin", progress=progress)

    assert killed_at, "the download ended before 2 MiB had arrived"
    assert sha(fetched.path) == sha(path) == fetched.sha256
    assert fetched.resumed == 0  # it started empty; it went on within the one call
    after = seen[seen.index(killed_at[0]) + 1 :]
    assert after, seen
    assert min(after) >= killed_at[0], seen
    assert not list(tmp_path.glob(".zmqchat-*.part"))


# ------------------------------------------------------- a client process killed

# Pacing for the command-line tests: 40 chunks (2.3 MiB) a second from an address,
# so a 12 MiB transfer takes seconds and the kill lands within it.
PACED = {"file_rate_limit": 40}
SIZE = 12 * MiB


def test_a_killed_file_get_is_taken_up_by_the_next_from_its_part_file(
    make_broker, clients, tmp_path
):  # fmt: skip
    # The upload fits in the burst; the download is paced.
    broker = make_broker(**PACED, file_rate_burst=SIZE // CHUNK_BYTES + 40)
    path = source(tmp_path / "big.bin", SIZE)
    done = connect(broker, clients, "alice").send_file(path, room="general")
    out = tmp_path / "out"
    out.mkdir()
    args = ["file", "get", "--port", str(broker.port), "--json", str(done.id),
            "-o", str(out / "copy.bin")]  # fmt: skip
    part = out / f".zmqchat-{done.id}.part"

    with spawn_cli(tmp_path, *args) as first:
        wait_until(lambda: part_size(out) >= 3 * MiB, 30, "3 MiB in the part file")
        first.kill()
        first.wait()
    held = part.stat().st_size
    assert held < SIZE, "the first fetch finished before it was killed"
    assert not (out / "copy.bin").exists()

    second = run_cli(tmp_path, *args, timeout=60)
    assert second.returncode == 0, second.stderr
    record = json.loads(second.stdout)
    assert record["resumed"] == held  # asked only for the rest
    assert "went on from" in second.stderr
    assert sha(out / "copy.bin") == record["sha256"] == sha(path)
    assert not part.exists()


def test_a_killed_file_send_is_taken_up_by_the_next_from_what_the_broker_holds(
    make_broker, tmp_path
):  # fmt: skip
    # timeout: the killed sender's session (which holds the name) goes soon.
    broker = make_broker(**PACED, file_rate_burst=40, timeout=2, heartbeat=0.5)
    path = source(tmp_path / "big.bin", SIZE)
    args = ["file", "send", "--port", str(broker.port), "--user", "sender", "--json",
            "--room", "general", str(path)]  # fmt: skip

    with spawn_cli(tmp_path, *args) as first:
        wait_until(lambda: part_size(parts(broker)) >= 3 * MiB, 30, "3 MiB at the broker")
        first.kill()
        first.wait()
    [part] = parts(broker).iterdir()
    assert part.stat().st_size < SIZE, "the first upload finished before it was killed"

    def send_again() -> subprocess.CompletedProcess[str] | None:
        sent = run_cli(tmp_path, *args, timeout=60)
        return sent if sent.returncode == 0 or "name_taken" not in sent.stderr else None

    second = wait_until(send_again, 60, "the name to be free again")
    assert second.returncode == 0, second.stderr
    record = json.loads(second.stdout)
    assert record["id"] == int(part.name)  # the same upload, gone on with
    assert record["sha256"] == sha(path)
    resumed = re.findall(rf"resumes upload {record['id']} at (\d+) ", broker.log_file.read_text())
    assert resumed, broker.log_tail()
    assert int(resumed[-1]) >= 3 * MiB
    assert not any(parts(broker).iterdir())
    with Client("reader", broker.endpoint, rooms=("general",)) as reader:
        fetched = reader.get_file(record["id"], tmp_path / "copy.bin")
    assert sha(fetched.path) == sha(path)
