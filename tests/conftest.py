"""Fixtures shared by the test suite: real brokers on free loopback ports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import Agent

from zmqchat.pytest_plugin import BrokerFactory
from zmqchat.testing import BrokerProcess
from zmqchat.testing.redis import RedisProcess

# pytester runs the zmqchat pytest plugin as a user's project would (tests/plugin).
pytest_plugins = ["pytester"]


# ZMQCHAT_TEST_ENGINE=redis runs the suite's brokers as nodes of the Redis engine,
# each on a redis-server of its own (a broker alone on its engine behaves as one
# broker: the behaviour suite against both engines, issue 17), whatever their auth:
# tests give accounts through tests/accounts_helpers.py, which writes them to Redis
# as `zmqchat account` would, since a node's store only keeps a copy of Redis's.
ENGINE = os.environ.get("ZMQCHAT_TEST_ENGINE", "sqlite")


@pytest.fixture
def make_broker(zmqchat_broker_factory: BrokerFactory, tmp_path: Path) -> Iterator[BrokerFactory]:
    """The plugin's broker factory, as the suite calls it:
    ``make_broker(timeout=2, rate_limit=0)``, each broker killed at teardown and its
    log printed (pytest shows it on failure)."""
    if ENGINE == "sqlite":
        yield zmqchat_broker_factory
        return
    engines: list[RedisProcess] = []

    def make(**settings: Any) -> BrokerProcess:
        if "engine" not in settings:
            engine = RedisProcess(tmp_path / f"redis-{len(engines)}").start()
            engines.append(engine)
            settings = {"engine": "redis", "engine_url": engine.url, **settings}
        return zmqchat_broker_factory(**settings)

    try:
        yield make
    finally:
        for engine in engines:
            engine.close()


@pytest.fixture
def broker(make_broker: BrokerFactory) -> BrokerProcess:
    """A broker of its own for the test, on its default settings."""
    return make_broker()


StartAgent = Callable[..., Agent]


@pytest.fixture
def start_agent() -> Iterator[StartAgent]:
    """Start a client process: ``start_agent(endpoint, user, *rooms)`` returns once it
    is registered; every agent is closed (bye) at teardown."""
    made: list[Agent] = []

    def start(endpoint: str, user: str, *rooms: str) -> Agent:
        agent = Agent(endpoint, user, *rooms)
        made.append(agent)
        agent.expect(lambda line: line["kind"] == "welcome", what="welcome", cursor="welcome")
        return agent

    yield start
    for agent in made:
        agent.close(5)
