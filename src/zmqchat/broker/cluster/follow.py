"""A node's feed on a thread of its own: the broker's loop asks it to follow rooms
and takes the batches it brings, and the cluster's records (:mod:`.records`),
woken by a byte on a socket pair.

Redis pub/sub is read by blocking on its connection, which the loop's poller can't
watch (redis-py reads ahead into its own buffer), so one thread owns the
:class:`Feed` (a pub/sub connection is not thread-safe) and hands batches over.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import redis

from zmqchat.broker.cluster.feed import Batch, Feed
from zmqchat.broker.cluster.records import STREAM, Entry, RecordLog

log = logging.getLogger("zmqchat.broker")

POLL: Final = 0.05  # how long the thread waits on Redis before looking for new rooms
RETRY: Final = 0.5  # how long it waits after Redis could not be reached
# How often the thread reads the records when the last read found none: another
# node's pm is in this node's history within this (plus POLL when the feed is idle).
RECORDS_POLL: Final = 0.01
# (A record's append publishes on the stream's name, which wakes the feed's poll.)


class Follower:
    """Runs a :class:`Feed` for the loop: :meth:`follow` a room, then read
    :attr:`wake_fd` for readiness and :meth:`take` the batches."""

    def __init__(
        self,
        client: redis.Redis,
        channel: str | None = None,
        heard: queue.SimpleQueue[bytes] | None = None,
        tick: Callable[[], list[bytes]] | None = None,
    ) -> None:
        """Messages on ``channel`` (a node's own, see :mod:`.names`) go to ``heard``,
        and so does what ``tick`` (run every turn of the thread: the node's lease)
        returns."""
        self._client = client
        self._tick = tick
        self._channel = channel
        self._heard = heard
        self._asks: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._batches: queue.SimpleQueue[Batch] = queue.SimpleQueue()
        self._records: queue.SimpleQueue[list[Entry]] = queue.SimpleQueue()
        self._record_log: RecordLog | None = None
        self._records_after = ""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._followed: set[str] = set()
        # Published on by follow(): the thread, blocked on its pub/sub connection for
        # up to POLL, then subscribes at once. Without it a join of a room the node
        # did not follow waited that long for its own event: 50 ms a join, where one
        # SQLite broker takes well under one.
        self._wake_channel = f"zc:feed:{secrets.token_hex(8)}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zmqchat-feed", daemon=True)
        self._thread.start()

    @property
    def wake_fd(self) -> int:
        return self._wake_r.fileno()

    def follow(self, room: str, after: int) -> None:
        """Follow ``room``'s events after seq ``after`` (what this node holds)."""
        if room not in self._followed:
            self._followed.add(room)
            self._asks.put((room, after))
            # Not heard (Redis down, or the thread not subscribed yet): POLL it is.
            with contextlib.suppress(redis.RedisError):
                self._client.publish(self._wake_channel, b"")

    def read_records(self, log_: RecordLog, after: str) -> None:
        """Bring the records of ``log_`` after stream id ``after`` (the store's mark),
        then every new one. Call it once, before :meth:`take_records`."""
        self._records_after = after
        self._record_log = log_

    def take_records(self) -> list[Entry]:
        """The records that arrived since the last call, in stream order."""
        out: list[Entry] = []
        with contextlib.suppress(queue.Empty):
            while True:
                out += self._records.get_nowait()
        return out

    def _read_records(self, due: float, now: float) -> float:
        """Read the records if it is time; returns when to read next."""
        log_ = self._record_log
        if log_ is None or now < due:
            return due
        entries = log_.read(self._records_after)
        if not entries:
            return now + RECORDS_POLL
        self._records_after = entries[-1].stream_id
        self._records.put(entries)
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\x00")
        return now  # maybe more: read again next turn

    def take(self) -> list[Batch]:
        """The batches that arrived since the last call, in order."""
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)
        out: list[Batch] = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(self._batches.get_nowait())
        return out

    def _give(self, batches: list[Batch]) -> None:
        if batches:
            for batch in batches:
                self._batches.put(batch)
            with contextlib.suppress(BlockingIOError, OSError):  # full: a wake-up is pending
                self._wake_w.send(b"\x00")

    def _listen(self, own: Any) -> None:
        """Hand on what came on the node's own channel."""
        if own is None or self._heard is None:
            return
        got = []
        while (message := own.get_message(timeout=0.0)) is not None:
            if message["type"] == "message":
                got.append(message["data"])
        self._hear(got)

    def _hear(self, messages: list[bytes]) -> None:
        if messages and self._heard is not None:
            for message in messages:
                self._heard.put(message)
            with contextlib.suppress(BlockingIOError, OSError):
                self._wake_w.send(b"\x00")

    def _run(self) -> None:
        feed = Feed(self._client)
        own: Any = None
        asked: list[tuple[str, int]] = []
        records_due = 0.0
        woken = False  # the feed wakes on the records' channel
        asks_wake = False  # and on follow()'s
        try:
            while not self._stop.is_set():
                with contextlib.suppress(queue.Empty):
                    while True:
                        asked.append(self._asks.get_nowait())
                try:
                    if own is None and self._channel is not None:
                        own = self._client.pubsub(ignore_subscribe_messages=True)
                        own.subscribe(self._channel)
                    self._listen(own)
                    if self._tick is not None:
                        self._hear(self._tick())
                    while asked:
                        room, after = asked[0]
                        self._give(feed.subscribe(room, after=after))
                        asked.pop(0)
                    if not asks_wake:
                        feed.wake_on(self._wake_channel)
                        asks_wake = True
                    if self._record_log is not None and not woken:
                        feed.wake_on(STREAM)
                        woken = True
                    if feed.poked:
                        feed.poked, records_due = False, 0.0
                    records_due = self._read_records(records_due, time.monotonic())
                    # An ask queued before the wake channel was subscribed has no
                    # publish of its own to wake the poll: none of it is blocked on.
                    idle = records_due > time.monotonic() and self._asks.empty()
                    self._give(feed.poll(POLL if idle else 0.0))
                except (redis.RedisError, TimeoutError) as exc:
                    log.warning("the engine's feed can't reach Redis: %s", exc)
                    feed.lost()
                    if own is not None:
                        own.close()
                        own = None
                    self._stop.wait(RETRY)
        finally:
            feed.close()
            if own is not None:
                own.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):
            self._client.publish(self._wake_channel, b"")  # not a poll's wait later
        self._thread.join(timeout=5)
        self._wake_r.close()
        self._wake_w.close()
