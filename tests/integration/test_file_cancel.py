"""Stopping a file transfer midway, and going on from where it stopped: the
library's ``cancel`` event (both faces), and ``zmqchat file send``/``get``
interrupted on a terminal and in a pipe. The broker paces chunks
(``file_rate_limit``) so that each transfer is still under way when it is stopped.
Also: the progress bar on a terminal shows size, rate and ETA."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import sys
import threading
from pathlib import Path

import pexpect
import pytest
from tests.cli_helpers import cli_env, run_cli, spawn_cli

from zmqchat import Cancelled, Client
from zmqchat.aio import AsyncClient
from zmqchat.common.files import CHUNK_BYTES
from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(90)

PACED = {"file_rate_limit": 25, "file_rate_burst": 1}  # 25 chunks a second
SIZE = 40 * CHUNK_BYTES + 5


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parts(broker: BrokerProcess) -> list[Path]:
    folder = Path(broker.db).parent / "files" / "parts"
    return list(folder.iterdir()) if folder.is_dir() else []


def source(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


def cancel_at(event: threading.Event, bytes_: int) -> object:
    """A progress callback that sets ``event`` once ``bytes_`` are done."""

    def progress(done: int, size: int) -> None:
        if done >= bytes_:
            event.set()

    return progress


# ------------------------------------------------------------------ the library


def test_a_cancelled_upload_goes_on_from_what_the_broker_acknowledged(make_broker, tmp_path):
    broker = make_broker(**PACED)
    path = source(tmp_path)
    stop = threading.Event()
    with Client("alice", broker.endpoint) as alice:
        with pytest.raises(Cancelled) as exc:
            alice.send_file(path, room="general", progress=cancel_at(stop, 4 * CHUNK_BYTES),
                            cancel=stop)  # fmt: skip
        stopped = exc.value
        assert 4 * CHUNK_BYTES <= stopped.done < SIZE == stopped.size
        assert "send it to #general again to go on from there" in str(stopped)
        [part] = parts(broker)
        assert part.stat().st_size >= stopped.done  # acknowledged = stored
        seen: list[int] = []
        done = alice.send_file(path, room="general", progress=lambda d, n: seen.append(d))
    assert done.id == int(part.name)  # the same upload, gone on with
    assert seen[0] >= stopped.done
    assert done.sha256 == sha(path)


def test_a_cancelled_download_keeps_its_part_file_and_goes_on(make_broker, tmp_path):
    broker = make_broker(**PACED)
    path = source(tmp_path)
    target = tmp_path / "copy.bin"
    stop = threading.Event()
    with Client("alice", broker.endpoint) as alice:
        done = alice.send_file(path, room="general")
        with pytest.raises(Cancelled) as exc:
            alice.get_file(done.id, target, progress=cancel_at(stop, 4 * CHUNK_BYTES), cancel=stop)
        assert 4 * CHUNK_BYTES <= exc.value.done < SIZE
        part = tmp_path / f".zmqchat-{done.id}.part"
        assert part.stat().st_size >= exc.value.done
        assert not target.exists()
        fetched = alice.get_file(done.id, target)
    assert fetched.resumed >= exc.value.done
    assert sha(target) == done.sha256
    assert not part.exists()


def test_the_asyncio_face_stops_on_its_cancel_event_and_on_task_cancel(make_broker, tmp_path):
    broker = make_broker(**PACED)
    path = source(tmp_path)

    async def main() -> None:
        async with AsyncClient("alice", broker.endpoint) as alice:
            stop = asyncio.Event()

            def progress(done: int, size: int) -> None:
                if done >= 2 * CHUNK_BYTES:
                    stop.set()

            with pytest.raises(Cancelled):
                await alice.send_file(path, room="general", progress=progress, cancel=stop)
            task = asyncio.create_task(alice.send_file(path, room="general"))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            done = await alice.send_file(path, room="general")
            assert done.sha256 == sha(path)
            assert await alice.ping() is not None  # the client is still fine

    asyncio.run(asyncio.wait_for(main(), 60))


# ---------------------------------------------------------------------- the CLI


def test_file_send_on_a_terminal_shows_a_bar_and_ctrl_c_says_how_to_go_on(make_broker, tmp_path):
    broker = make_broker(**PACED)
    path = source(tmp_path)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "zmqchat", "file", "send", "--port", str(broker.port), "--room", "general",
         str(path)],
        env=cli_env(tmp_path, TERM="xterm-256color"),
        encoding="utf-8",
        dimensions=(24, 120),
    )  # fmt: skip
    try:
        # The bar: done/size, elapsed<ETA, rate.
        child.expect(r"\d+(\.\d+)?[kM]?/2\.\d+M \[\d\d:\d\d<\d\d:\d\d, +\d+(\.\d+)?[kM]?B/s\]",
                     timeout=30)  # fmt: skip
        wait_until(lambda: parts(broker) and parts(broker)[0].stat().st_size >= 4 * CHUNK_BYTES,
                   15, "some chunks to arrive")  # fmt: skip
        child.sendintr()
        child.expect(r"to go on from there: (zmqchat file send [^\r\n]+)", timeout=15)
        command = child.match.group(1)
        child.expect(pexpect.EOF, timeout=15)
    finally:
        child.close(force=True)
    assert child.exitstatus == 130, (child.exitstatus, child.signalstatus)
    user = re.search(r"--user (\S+)", command)
    assert user is not None, command
    assert "--room general" in command, command
    assert command.endswith(str(path)), command
    [part] = parts(broker)
    held = part.stat().st_size
    assert 0 < held < SIZE  # kept, not dropped

    args = ("--port", str(broker.port), "--user", user.group(1), "--json", "--room", "general")
    again = run_cli(tmp_path, "file", "send", *args, str(path), timeout=60)
    assert again.returncode == 0, again.stderr
    assert f'"id": {part.name}' in again.stdout  # the same upload, gone on with


def test_file_get_interrupted_in_a_pipe_keeps_its_part_and_says_how_to_go_on(
    make_broker, tmp_path
):  # fmt: skip
    broker = make_broker(**PACED)
    path = source(tmp_path)
    with Client("alice", broker.endpoint) as alice:
        done = alice.send_file(path, room="general")
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    args = ("file", "get", "--port", str(broker.port), str(done.id), "-o", str(target))
    getter = spawn_cli(tmp_path, *args)
    part = target.parent / f".zmqchat-{done.id}.part"
    try:
        wait_until(lambda: part.exists() and part.stat().st_size >= 4 * CHUNK_BYTES, 20,
                   "some ranges to arrive")  # fmt: skip
        getter.send_signal(signal.SIGINT)
        _, err = getter.communicate(timeout=15)
    finally:
        getter.kill()
    assert getter.returncode == 130, err
    assert "\r" not in err  # piped: no bar
    assert f"to go on from there: zmqchat file get {done.id} -o {target}" in err, err
    held = part.stat().st_size
    assert 0 < held < SIZE

    again = run_cli(tmp_path, *args, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "went on from the" in again.stderr
    assert sha(target) == done.sha256
