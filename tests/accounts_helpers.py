"""Accounts for tests, written where the broker under test reads them: into its
SQLite store, or, for a node of the Redis engine (ZMQCHAT_TEST_ENGINE=redis), into
Redis as records, as ``zmqchat account`` against the engine writes them (a node's
store only keeps a copy of Redis's accounts)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from zmqchat.broker import accounts
from zmqchat.testing import BrokerProcess, wait_until


def store_account(broker: BrokerProcess, name: str, hashed: str) -> None:
    """Give ``name`` an account with the password hash ``hashed``; returns once the
    broker would find it at a login."""
    if broker.settings.get("engine_url") is None:  # from another connection
        with sqlite3.connect(broker.db) as db:
            assert accounts.insert(db, name, hashed, time.time()) is not None
        return
    assert _engine(broker, lambda log: log.add(name, hashed, time.time())) is not None
    _applied(broker, name, held=True)


def delete_account(broker: BrokerProcess, name: str) -> None:
    """Delete ``name``'s account; returns once the broker would find none."""
    if broker.settings.get("engine_url") is None:
        with sqlite3.connect(broker.db) as db:
            assert accounts.delete(db, name)
        return
    assert _engine(broker, lambda log: log.drop(name)) is not None
    _applied(broker, name, held=False)


def _engine(broker: BrokerProcess, write: Any) -> Any:
    import redis

    from zmqchat.broker.cluster.accounts import AccountLog

    client = redis.Redis.from_url(broker.settings["engine_url"])
    try:
        return write(AccountLog(client, "tests", 1_000_000))
    finally:
        client.close()


def _applied(broker: BrokerProcess, name: str, *, held: bool) -> None:
    def done() -> bool:
        # The node applies the record in its loop's next turn (milliseconds);
        # until then it answers from what it held.
        with sqlite3.connect(broker.db) as db:
            return (accounts.find(db, name) is not None) == held

    wait_until(done, 10, f"the node to apply {name}'s account record")
