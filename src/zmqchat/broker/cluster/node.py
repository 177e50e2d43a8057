"""What a broker node adds to its loop with the Redis engine: the Redis client, the
engine that numbers its room events, the feed that brings every node's, the
cluster's records (private messages, file rows), the names and sessions it holds
and who may enter private rooms."""

from __future__ import annotations

import logging
from typing import Final

import redis

from zmqchat.broker.cluster.access import RedisAccess
from zmqchat.broker.cluster.engine import RedisRoomEvents
from zmqchat.broker.cluster.follow import Follower
from zmqchat.broker.cluster.lease import Lease
from zmqchat.broker.cluster.names import RedisNames, node_channel
from zmqchat.broker.cluster.records import (
    KEPT,
    RecordLog,
    RedisRecords,
    check_mark,
    read_mark,
)
from zmqchat.broker.cluster.roomlog import RoomLog
from zmqchat.broker.outbox import Outbox
from zmqchat.broker.state import BrokerState
from zmqchat.broker.store import Store

log = logging.getLogger("zmqchat.broker")

# Seconds a node stays alive in Redis without renewing: past it, another node ends
# the sessions its clients did not resume elsewhere.
LEASE: Final = 10.0


class ClusterNode:
    """Node ``name``'s share of the engine at ``url`` (``redis://``, ``unix://``,
    ``rediss://``)."""

    def __init__(
        self,
        url: str,
        name: str,
        lease: float = LEASE,
        endpoint: str | None = None,
        records_kept: int = KEPT,
    ) -> None:
        """``endpoint``: the ROUTER endpoint clients are told to use for this node
        (None: it is not advertised)."""
        self.name = name
        self.client = redis.Redis.from_url(url)
        self.lease = Lease(self.client, name, lease, endpoint)
        try:
            # Once before serving, so that the first welcome names the nodes and the
            # epoch (nothing to report yet: no lease held before, no check).
            self.lease.renew()
        except redis.RedisError as exc:
            log.error("the engine's Redis can't be reached at start: %s", exc)
        self.names = RedisNames(self.client, name, self.lease)
        self.records = RedisRecords(RecordLog(self.client, name, records_kept))
        self.access = RedisAccess(self.records.log)
        self._store: Store | None = None
        self.follower = Follower(self.client, node_channel(name), self.names.inbox, self.lease.tick)
        self.events: RedisRoomEvents | None = None

    def engine(self, store: Store, out: Outbox, state: BrokerState) -> RedisRoomEvents:
        """The room events of the core on ``store`` (BrokerCore's ``engine``); the
        cluster's records are read from where ``store`` left them. Raises
        StoreError if Redis no longer has records ``store`` lacks, ProtocolError
        if Redis can't be reached."""
        lease = self.lease
        mark = read_mark(store)
        after = check_mark(self.records.log, mark, store.path)
        if mark is None:
            self._load_accounts(store)
            self._load_private_rooms(store)
        self.names.sids_past(store.last_sid())
        self.records.start(store)
        self._store = store
        self.follower.read_records(self.records.log, after)
        self.events = RedisRoomEvents(
            store, out, state, RoomLog(self.client), self.name, self.follower.follow,
            engine_epoch=lambda: lease.epoch,
        )  # fmt: skip
        return self.events

    def _load_accounts(self, store: Store) -> None:
        """A new store: every account from Redis, whose records may be trimmed (the
        records kept are applied after, to the same end)."""
        try:
            loaded = self.records.accounts.load(store.writer())
        except redis.RedisError as exc:
            log.error("can't load the cluster's accounts into a new store: %s", exc)
            return
        if loaded:
            log.info("loaded the cluster's %d account(s) into a new store", loaded)

    def _load_private_rooms(self, store: Store) -> None:
        """A new store, and Redis trimmed the first records: the private rooms and
        invitations from Redis, which some of those may have been (those kept are
        applied after, as for any store)."""
        try:
            first = self.records.log.first_kept()
            loaded = 0 if first is None or first == 1 else self.access.load(store.writer())
        except redis.RedisError as exc:
            log.error("can't load the cluster's private rooms into a new store: %s", exc)
            return
        if loaded:
            log.info("loaded the cluster's %d private room(s) into a new store", loaded)

    @property
    def wake_fd(self) -> int:
        """Readable when the feed brought events: then call :meth:`turn`."""
        return self.follower.wake_fd

    def turn(self) -> None:
        """Apply what the feed brought (stored, published, acks let go); the core
        then acts on what other nodes said (BrokerCore.node_messages)."""
        assert self.events is not None
        assert self._store is not None
        for batch in self.follower.take():
            self.events.apply(batch)
        self.records.apply(self._store, self.follower.take_records())

    def close(self) -> None:
        self.follower.close()
        self.client.close()
