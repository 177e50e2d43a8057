"""Broken storage gets clear answers, never silence and never a traceback.

At start the broker exits 1 with one line that names the store, says what is wrong and
what to do. While running, a write that fails is answered ``store_unavailable``; the
broker keeps answering ``ping``, ``who`` and ``history``, and takes writes again by
itself once the store can be written.

The faults are real: a small tmpfs that fills up, a mount remounted read-only, bytes
overwritten in the file. Mounting needs root (CAP_SYS_ADMIN), which the project's
machines and CI have.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.helpers import RawPeer

from zmqchat.testing import BrokerProcess, wait_until

pytestmark = pytest.mark.timeout(90)


def run(*cmd: str) -> None:
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)}: {done.stderr.strip()}")


@contextlib.contextmanager
def small_fs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where``."""
    where.mkdir()
    run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Write until the filesystem is full; returns the filler file."""
    filler = directory / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
            os.fsync(out.fileno())
    with contextlib.suppress(OSError), filler.open("ab") as out:  # the last few bytes
        while True:
            out.write(b"\0" * 512)
            out.flush()
    return filler


def start_broker(db: Path) -> subprocess.CompletedProcess[str]:
    """A broker started in the foreground on ``db``: only for stores it must refuse."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "zmqchat", "broker", "--port", "0", "--pub-port", "0"),
            *("--db", str(db), "--log-level", "warning"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def refused(result: subprocess.CompletedProcess[str], db: Path, *words: str) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    line = lines[0]
    assert str(db) in line
    for word in words:
        assert word in line, line
    return line


def make_store(directory: Path) -> Path:
    """A store with some history in it, written by a real broker."""
    broker = BrokerProcess(directory, log_level="info")
    broker.start()
    peer = RawPeer(broker.endpoint)
    try:
        peer.register("writer")
        for n in range(200):
            peer.request({"type": "chat", "room": "general", "text": f"line {n} " + "x" * 200})
    finally:
        peer.close()
        assert broker.stop() == 0
    return Path(broker.db)


# ----------------------------------------------------------------------- at start


def test_a_store_on_a_read_only_mount_is_refused_at_start(tmp_path: Path) -> None:
    db = make_store(tmp_path / "data")
    run("mount", "--bind", str(db.parent), str(db.parent))
    try:
        run("mount", "-o", "remount,bind,ro", str(db.parent))
        refused(start_broker(db), db, "read-only")
    finally:
        subprocess.run(["umount", "-l", str(db.parent)], check=False)


def test_a_read_only_store_file_is_refused_at_start(tmp_path: Path) -> None:
    # Root writes whatever the mode bits say; the immutable flag stops root too.
    db = make_store(tmp_path / "data")
    run("chattr", "+i", str(db))
    try:
        refused(start_broker(db), db, "read-only")
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)


def test_a_damaged_store_is_refused_at_start(tmp_path: Path) -> None:
    db = make_store(tmp_path / "data")
    with db.open("r+b") as f:  # scribble over pages past the header
        f.seek(4096 * 2)
        f.write(os.urandom(4096 * 3))
    line = refused(start_broker(db), db, "damaged")
    assert "backup" in line


def test_a_store_from_a_newer_zmqchat_is_refused_at_start(tmp_path: Path) -> None:
    db = make_store(tmp_path / "data")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA user_version=99")
        conn.commit()
    refused(start_broker(db), db, "newer", "upgrade")


def test_a_full_disk_is_refused_at_start(tmp_path: Path) -> None:
    with small_fs(tmp_path / "small") as small:
        fill(small)
        refused(start_broker(small / "broker.db"), small / "broker.db", "no space")


# ------------------------------------------------------------------- while running


def answer(peer: RawPeer, request: dict[str, object]) -> dict[str, object]:
    return peer.request(request, timeout=10)


def writes_again(peer: RawPeer) -> Callable[[], bool]:
    def check() -> bool:
        return answer(peer, {"type": "chat", "room": "general", "text": "back"})["type"] == "ack"

    return check


def test_a_full_disk_while_running_answers_store_unavailable_and_recovers(
    tmp_path: Path,
) -> None:
    with small_fs(tmp_path / "small", size="8m") as small:
        broker = BrokerProcess(small / "data", log_level="info")
        broker.start()
        alice, bob = RawPeer(broker.endpoint), RawPeer(broker.endpoint)
        try:
            alice.register("alice")
            bob.register("bob")
            assert (
                answer(alice, {"type": "chat", "room": "general", "text": "before"})["type"]
                == "ack"
            )
            filler = fill(small)
            # Writes fail with a clear code (enough of them to get past SQLite's cache).
            codes = set()
            for _n in range(300):
                reply = answer(alice, {"type": "chat", "room": "general", "text": "y" * 3000})
                codes.add(reply.get("code", reply["type"]))
                if reply.get("code") == "store_unavailable":
                    break
            assert "store_unavailable" in codes, codes
            pm = answer(alice, {"type": "pm", "to": "bob", "text": "psst"})
            assert pm.get("code") == "store_unavailable"
            # Reads and liveness still work.
            assert answer(bob, {"type": "ping"})["type"] == "pong"
            assert "alice" in answer(bob, {"type": "who"})["users"]  # type: ignore[operator]
            page = answer(bob, {"type": "history", "room": "general"})
            assert page["type"] == "history"
            assert broker.running
            # Space comes back: writes are taken again, without a restart.
            filler.unlink()
            wait_until(writes_again(alice), 20, "the broker to take writes again")
            texts = [
                m.get("text")
                for m in answer(bob, {"type": "history", "room": "general"})["messages"]
            ]  # type: ignore[union-attr]
            assert "before" in texts
            assert "back" in texts
        finally:
            alice.close()
            bob.close()
            broker.kill()
        log = broker.log_tail(200)
        assert "Traceback" not in log
        assert "store" in log
        assert "unavailable" in log
