"""The store's WAL is copied into the store file by a thread of its own
(broker/checkpoints.py): the writer's commits never do it, yet the log does not
grow without bound and nothing written is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zmqchat.broker.checkpoints import FALLBACK_PAGES, Checkpointer
from zmqchat.testing import wait_until

ROW = b"x" * 4000


def test_a_thread_checkpoints_so_the_writer_never_has_to(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    wal = Path(path + "-wal")
    checkpointer = Checkpointer(path, fsync=False)
    try:
        for batch in range(20):  # 20 batches of about 1 MB: 5,000 pages in all
            db.execute("BEGIN")
            db.executemany("INSERT INTO t (body) VALUES (?)", [(ROW,)] * 256)
            db.execute("COMMIT")
            # Once the thread has copied the whole log, the next write starts it over.
            done = checkpointer.rounds
            wait_until(lambda d=done: checkpointer.rounds > d, 10, f"batch {batch} copied")
        # The log stayed near one batch; without the thread it would hold all 20
        # (no autocheckpoint below FALLBACK_PAGES).
        assert wal.stat().st_size < 4 * 1024 * 1024
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 20 * 256
    finally:
        checkpointer.close()
        db.close()
    # The store file itself holds every row.
    check = sqlite3.connect(path)
    assert check.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 20 * 256
    check.close()
