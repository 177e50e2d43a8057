"""Fixtures shared by the test suite: real brokers on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers import Agent

from zmqchat.testing import BrokerProcess

# pytester runs the zmqchat pytest plugin as a user's project would (tests/plugin).
pytest_plugins = ["pytester"]

MakeBroker = Callable[..., BrokerProcess]


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[MakeBroker]:
    """Start brokers with given settings (``make_broker(timeout=2, rate_limit=0)``);
    each is killed at teardown and its log printed (pytest shows it on failure)."""
    made: list[BrokerProcess] = []

    def make(**settings: Any) -> BrokerProcess:
        broker = BrokerProcess(tmp_path / f"broker{len(made)}", settings=settings)
        made.append(broker)
        return broker.start()

    yield make
    for broker in made:
        broker.kill()
        print(f"--- {broker.log_file} ---\n{broker.log_tail(60)}")


@pytest.fixture
def broker(make_broker: MakeBroker) -> BrokerProcess:
    """A broker on its default settings."""
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
