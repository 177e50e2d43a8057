"""The store holds session tokens and every private message: the broker creates it
``0600`` in folders ``0700``, whatever the umask, and SQLite's ``-wal`` and ``-shm``
files follow the store's mode. A store that already exists keeps its mode, with a
warning if others may read it."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import RawPeer

from zmqchat.broker.lock import lock_store
from zmqchat.broker.store import Store
from zmqchat.testing import BrokerProcess

pytestmark = pytest.mark.timeout(60)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask, so that only the code's own modes can keep files private
    (the broker process inherits it)."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_broker_creates_its_folders_0700_and_its_store_files_0600(
    tmp_path: Path, open_umask: None
) -> None:
    broker = BrokerProcess(tmp_path / "run")
    store = tmp_path / "data" / "zmqchat" / "zmqchat.db"
    broker.db = str(store)
    with broker:
        peer = RawPeer(broker.endpoint)
        try:
            peer.register("alice")  # a write, so the WAL holds something
            files = {store, Path(f"{store}-wal"), Path(f"{store}-shm")}
            assert all(path.exists() for path in files), sorted(os.listdir(store.parent))
            assert {path.name: oct(mode(path)) for path in files} == {
                path.name: "0o600" for path in files
            }
        finally:
            peer.close()
    for folder in (tmp_path / "data", store.parent):
        assert oct(mode(folder)) == "0o700", folder


def test_a_store_opened_without_a_broker_is_created_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "new" / "store.db"
    store = Store(str(path))
    try:
        assert oct(mode(path)) == "0o600"
        assert oct(mode(path.parent)) == "0o700"
    finally:
        store.close()


def test_an_existing_store_keeps_its_mode_and_others_reading_it_is_logged(
    tmp_path: Path, open_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "store.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="zmqchat.broker"):
        lock = lock_store(str(path))
    assert lock is not None
    lock.release()
    assert oct(mode(path)) == "0o644"
    assert any("mode 0644" in record.getMessage() for record in caplog.records), caplog.text

    os.chmod(path, 0o600)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="zmqchat.broker"):
        lock = lock_store(str(path))
    assert lock is not None
    lock.release()
    assert caplog.records == []
