"""A client whose connect() fails leaves nothing open behind it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import pytest

from zmqchat import BrokerError, Client, ConnectionClosed, Timeout
from zmqchat.aio import AsyncClient
from zmqchat.testing import async_wait_until

pytestmark = pytest.mark.timeout(30)


def test_a_refused_connect_releases_the_client(broker):
    with Client("alice", broker.endpoint):
        taken = Client("alice", broker.endpoint)
        with pytest.raises(BrokerError):
            taken.connect()
        assert taken._driver.closed  # sockets and wake-up pair released
        taken.close()  # still safe


def test_an_unanswered_connect_releases_the_client(make_broker):
    broker = make_broker()
    broker.kill()
    lonely = Client("alice", broker.endpoint, connect_timeout=0.3)
    with pytest.raises(Timeout):
        lonely.connect()
    assert lonely._driver.closed


def test_requests_from_many_threads_never_lose_the_wake_up(make_broker):
    # A wake-up lost between the I/O thread and a caller (the flag says "a byte is
    # on its way" but none is) left every later request waiting for the next
    # deadline, seconds away. Hammer it from four threads, then check both. Without
    # rate limits: on a quiet machine four threads ping past the address limit's
    # burst (every request counts there, docs/protocol.md §7 item 69).
    broker = make_broker(rate_limit=0)
    with Client("hammer", broker.endpoint, rooms=[]) as client:
        for _ in range(3):
            stop = time.monotonic() + 0.5

            def hammer(stop: float = stop) -> None:
                while time.monotonic() < stop:
                    client.ping(timeout=5)

            threads = [threading.Thread(target=hammer) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            driver = client._driver
            try:
                pending = driver._wake_r.recv(16, socket.MSG_PEEK)
            except BlockingIOError:
                pending = b""
            assert pending or not driver.woken, "woken with nothing in the pipe"
            started = time.monotonic()
            client.ping(timeout=5)
            assert time.monotonic() - started < 0.25


def test_a_client_whose_sockets_fail_raises_instead_of_hanging():
    # libzmq refuses this host when connecting; the I/O loop must turn that into an
    # error for connect(), not die quietly and leave it to an assertion.
    client = Client("alice", "tcp://-x:5555", connect_timeout=5)
    started = time.monotonic()
    with pytest.raises(ConnectionClosed, match="the client failed"):
        client.connect()
    assert time.monotonic() - started < 2
    assert client._driver.closed


def test_the_async_client_fails_the_same_way_and_a_cancelled_connect_stops():
    async def main() -> None:
        client = AsyncClient("alice", "tcp://-x:5555", connect_timeout=5)
        with pytest.raises(ConnectionClosed, match="the client failed"):
            await client.connect()
        # A connect() cancelled while it waits leaves no I/O task behind.
        waiting = AsyncClient("bob", "tcp://127.0.0.1:9", connect_timeout=30)
        task = asyncio.create_task(waiting.connect())
        await async_wait_until(
            lambda: waiting._task, 5, "connect() to start its I/O task", interval=0
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert waiting._task is not None
        with contextlib.suppress(asyncio.CancelledError):
            await waiting._task
        assert waiting._driver.closed

    asyncio.run(main())
