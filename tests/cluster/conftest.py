"""A real redis-server per test (zmqchat.testing.redis), on a unix socket of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.cluster.nodes import close_peers

from zmqchat.testing.redis import RedisProcess


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis").start()
    try:
        yield server
    finally:
        print(f"--- redis-server log ---\n{server.log_tail()}")
        server.close()


@pytest.fixture
def engine(redis_server: RedisProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _close_peers() -> Iterator[None]:
    yield
    close_peers()
