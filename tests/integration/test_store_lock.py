"""One store, one broker, whatever the path: a second broker on the same store file,
reached by the same name, a hard link, a symbolic link or a bind mount, exits 1 naming
the first one's pid, and the first keeps serving."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zmqchat import Client
from zmqchat.testing import BrokerProcess

pytestmark = pytest.mark.timeout(60)


def second_broker(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "zmqchat", "broker", "--port", "0", "--pub-port", "0"),
            *("--db", str(db), "--log-level", "warning"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=20,
    )


@contextlib.contextmanager
def bind_mounted(source: Path, target: Path) -> Iterator[Path]:
    target.mkdir()
    done = subprocess.run(
        ["mount", "--bind", str(source), str(target)], check=False, capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"this machine allows no bind mount: {done.stderr.decode().strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def hard_link(db: Path, tmp: Path) -> Path:
    alias = tmp / "alias.db"
    os.link(db, alias)
    return alias


def symbolic_link(db: Path, tmp: Path) -> Path:
    alias = tmp / "alias.db"
    alias.symlink_to(db)
    return alias


def same_path(db: Path, tmp: Path) -> Path:
    return db


def relative_path(db: Path, tmp: Path) -> Path:
    return Path(os.path.relpath(db))


@pytest.mark.parametrize("alias", [same_path, relative_path, hard_link, symbolic_link])
def test_a_second_broker_on_the_same_file_exits_naming_the_first(
    zmqchat_broker_factory: Callable[..., BrokerProcess],
    tmp_path: Path,
    alias: Callable[[Path, Path], Path],
) -> None:
    first = zmqchat_broker_factory()
    with Client("alice", first.endpoint) as alice:
        alice.send("general", "before")
        result = second_broker(alias(Path(first.db), tmp_path))
        assert result.returncode == 1, result.stderr
        assert f"in use by another broker (pid {first.pid})" in result.stderr
        assert "Traceback" not in result.stderr
        # The first broker was not disturbed: it serves and its history is whole.
        alice.send("general", "after")
        texts = [e.text for e in alice.history("general").messages if hasattr(e, "text")]
        assert texts == ["before", "after"]


def test_a_bind_mount_does_not_open_a_second_writer(
    zmqchat_broker_factory: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    first = zmqchat_broker_factory()
    with bind_mounted(Path(first.db).parent, tmp_path / "mnt") as mnt:
        result = second_broker(mnt / Path(first.db).name)
    assert result.returncode == 1, result.stderr
    assert f"(pid {first.pid})" in result.stderr


def test_the_lock_goes_with_the_broker(
    zmqchat_broker_factory: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    # A killed broker leaves no stale lock: the same store opens again at once.
    first = zmqchat_broker_factory()
    first.kill()
    first.start()
    with Client("bob", first.endpoint) as bob:
        bob.send("general", "back")
    assert oct(os.stat(first.db).st_mode & 0o777) == "0o600"
