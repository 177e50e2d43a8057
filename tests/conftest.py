"""Fixtures shared by the test suite: real brokers on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.helpers import Agent

from zmqchat.pytest_plugin import BrokerFactory
from zmqchat.testing import BrokerProcess

# pytester runs the zmqchat pytest plugin as a user's project would (tests/plugin).
pytest_plugins = ["pytester"]


@pytest.fixture
def make_broker(zmqchat_broker_factory: BrokerFactory) -> BrokerFactory:
    """The plugin's broker factory, as the suite calls it:
    ``make_broker(timeout=2, rate_limit=0)``, each broker killed at teardown and its
    log printed (pytest shows it on failure)."""
    return zmqchat_broker_factory


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
