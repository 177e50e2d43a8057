"""zmqchat's pytest plugin: real brokers and clients for other projects' tests.

Installing zmqchat registers it (the ``pytest11`` entry point ``zmqchat``); turn it
off with ``pytest -p no:zmqchat``. Fixtures:

``zmqchat_broker``
    one broker for the test session (per xdist worker), on free loopback ports;
``zmqchat_broker_factory``
    ``zmqchat_broker_factory(timeout=2, rate_limit=0, ...)``: a fresh broker per
    call, with broker config keys as settings (and ``wrapper=("prlimit", ...)``: a
    command it runs under);
``zmqchat_client``
    ``zmqchat_client("alice", rooms=["ops"])``: a connected :class:`zmqchat.Client`
    on the session broker (or ``broker=``), closed at teardown;
``zmqchat_async_client``
    ``await zmqchat_async_client("bob")``: the same for
    :class:`zmqchat.aio.AsyncClient`;
``zmqchat_spawn``
    ``zmqchat_spawn(["python", "worker.py"], broker=b)`` or
    ``zmqchat_spawn(function, arg)``: processes that talk through a broker, killed
    and reaped at teardown.

The plugin's brokers run the shipped configuration except for the per-address
limits, which are off: every client of a test comes from 127.0.0.1 (``ONE_HOST``).

A broker object has ``endpoint``, ``pub_endpoint``, ``host``/``port``, ``kill()``
(SIGKILL), ``restart()`` (same ports and store), ``stop()`` (SIGTERM),
``pause()``/``resume()`` (SIGSTOP/SIGCONT) and ``log_tail()``; its log is printed at
teardown, so a failing test shows it. Brokers exit by themselves when the test
process dies (``--parent-pid``), even if pytest is killed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from zmqchat.aio import AsyncClient
from zmqchat.client.io.sync import Client
from zmqchat.testing import BrokerProcess, Spawned, spawn

BrokerFactory = Callable[..., BrokerProcess]
ClientFactory = Callable[..., Client]
AsyncClientFactory = Callable[..., Awaitable[AsyncClient]]
Spawn = Callable[..., Spawned]

LOG_LEVEL = "info"

# Every client of a test suite comes from 127.0.0.1, so the per-address limits, meant
# for one LAN host among many, would count the whole suite as one peer: a suite of
# many processes would see its requests refused, then dropped unanswered. The
# plugin's brokers turn them off; per-session limits stay as shipped, and a test of
# the address limits passes its own (``zmqchat_broker_factory(address_rate_limit=50)``).
ONE_HOST = {
    "address_rate_limit": 0,
    "max_connections_per_address": 1_000_000,  # the global cap still holds
    "max_detached_per_address": 1_000_000,
}


def _report(brokers: list[BrokerProcess]) -> None:
    for broker in brokers:
        broker.kill()
        # Captured output: pytest shows it only when the test fails.
        print(f"--- zmqchat broker log {broker.log_file} ---\n{broker.log_tail(60)}")


@pytest.fixture(scope="session")
def zmqchat_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A broker for the whole session (each xdist worker gets its own)."""
    broker = BrokerProcess(
        tmp_path_factory.mktemp("zmqchat-broker"), settings=ONE_HOST, log_level=LOG_LEVEL
    )
    broker.start()
    yield broker
    _report([broker])


@pytest.fixture
def zmqchat_broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Start a fresh broker per call: ``zmqchat_broker_factory(timeout=2)``.

    Keyword arguments are broker config keys (``timeout``, ``heartbeat``,
    ``rate_limit``, ``rate_burst``, ``max_sessions``, ``log_level``, ...; see
    config/broker.toml), except ``wrapper``: a command the broker runs under, e.g.
    ``wrapper=("prlimit", "--nofile=256")``. Every broker is killed at teardown.
    """
    made: list[BrokerProcess] = []

    def make(*, wrapper: Sequence[str] = (), **settings: Any) -> BrokerProcess:
        broker = BrokerProcess(
            tmp_path / f"zmqchat-broker-{len(made)}",
            settings={**ONE_HOST, **settings},
            # The command line's --log-level would hide the setting's.
            log_level=str(settings.get("log_level", LOG_LEVEL)),
            wrapper=wrapper,
        )
        made.append(broker)
        return broker.start()

    yield make
    _report(made)


@pytest.fixture
def zmqchat_client(zmqchat_broker: BrokerProcess) -> Iterator[ClientFactory]:
    """Connected clients: ``zmqchat_client("alice", rooms=["ops"], broker=other)``.

    Other keyword arguments go to :class:`zmqchat.Client`. Closed (with ``bye``) at
    teardown.
    """
    made: list[Client] = []

    def connect(user: str, *, broker: BrokerProcess | None = None, **options: Any) -> Client:
        client = Client(user, (broker or zmqchat_broker).endpoint, **options)
        client.connect()
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()


@pytest.fixture
def zmqchat_async_client(zmqchat_broker: BrokerProcess) -> Iterator[AsyncClientFactory]:
    """Connected async clients: ``bob = await zmqchat_async_client("bob")``.

    Use it inside the test's event loop (``asyncio.run``, or pytest-asyncio/anyio).
    Clients still open at teardown have their sockets closed (their loop is gone
    by then, so no ``bye``: close them in the test to free the name at once).
    """
    made: list[AsyncClient] = []

    async def connect(
        user: str, *, broker: BrokerProcess | None = None, **options: Any
    ) -> AsyncClient:
        client = AsyncClient(user, (broker or zmqchat_broker).endpoint, **options)
        await client.connect()
        made.append(client)
        return client

    yield connect
    for client in made:
        client._driver.close()


@pytest.fixture
def zmqchat_spawn() -> Iterator[Spawn]:
    """Start processes: ``zmqchat_spawn(["zmqchat", "tail"], broker=b, stdout=PIPE)``
    or ``zmqchat_spawn(function, *args)``; see :func:`zmqchat.testing.spawn`. Each is
    killed (SIGKILL) and reaped at teardown."""
    made: list[Spawned] = []

    def start(target: Any, *args: Any, **options: Any) -> Spawned:
        process = spawn(target, *args, **options)
        made.append(process)
        return process

    yield start
    for process in made:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
