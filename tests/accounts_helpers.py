"""Accounts for tests, written where the broker under test reads them: into its
SQLite store, or, for a node of the Redis engine (ZMQCHAT_TEST_ENGINE=redis), into
Redis as a record, as ``zmqchat account add`` against the engine writes it."""

from __future__ import annotations

import sqlite3
import time

from zmqchat.broker import accounts
from zmqchat.testing import BrokerProcess, wait_until


def store_account(broker: BrokerProcess, name: str, hashed: str) -> None:
    """Give ``name`` an account with the password hash ``hashed``; returns once the
    broker would find it at a login."""
    url = broker.settings.get("engine_url")
    if url is None:  # the store the broker serves, from another connection
        with sqlite3.connect(broker.db) as db:
            assert accounts.insert(db, name, hashed, time.time()) is not None
        return
    import redis

    from zmqchat.broker.cluster.accounts import AccountLog

    client = redis.Redis.from_url(url)
    try:
        assert AccountLog(client, "tests", 1_000_000).add(name, hashed, time.time()) is not None
    finally:
        client.close()

    def applied() -> bool:
        # The node applies the record in its loop's next batch (milliseconds);
        # until then it answers as for a name without an account.
        with sqlite3.connect(broker.db) as db:
            return accounts.find(db, name) is not None

    wait_until(applied, 10, f"the node to apply {name}'s account")
