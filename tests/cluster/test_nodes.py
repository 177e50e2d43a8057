"""Two broker servers (real sockets, each on its own store) sharing rooms through a
real Redis, with the library's clients on each: a room conversation across the
nodes, in one order for everyone (issue 17)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zmqchat import Client
from zmqchat.broker.server import BrokerServer
from zmqchat.common.config import BrokerConfig
from zmqchat.testing import expect
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(60)


class Node:
    """A BrokerServer on a thread, on free loopback ports."""

    def __init__(self, path: Path, url: str, name: str) -> None:
        config = BrokerConfig(host="127.0.0.1", port=0, pub_port=0, db=str(path), rate_limit=0)
        self.server = BrokerServer(config, engine_url=url, node=name)
        self.server.bind()
        self.thread = threading.Thread(target=self.server.run, name=f"node-{name}")
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[Node, Node]]:
    a = Node(tmp_path / "a.db", redis_server.url, "a")
    try:
        b = Node(tmp_path / "b.db", redis_server.url, "b")
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def test_a_room_conversation_across_two_nodes(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    with Client("alice", a.endpoint) as alice, Client("bob", b.endpoint) as bob:
        expect(alice, "presence", user="bob", event="join")  # bob's join, from node b
        seqs = {}
        for n in range(10):
            sender, text = (alice, f"a{n}") if n % 2 == 0 else (bob, f"b{n}")
            seqs[text] = sender.send("general", text).seq
        for client in (alice, bob):
            heard = [expect(client, "chat", text=text) for text in seqs]
            # Each client hears every chat, its own too, with the seq its ack gave.
            assert [(e.text, e.seq) for e in heard] == list(seqs.items())
        assert sorted(seqs.values()) == list(range(min(seqs.values()), min(seqs.values()) + 10))
        # Each node's history holds the whole conversation.
        for client in (alice, bob):
            page = client.history("general", limit=50)
            texts = [m.text for m in page.messages if getattr(m, "text", None) in seqs]
            assert texts == list(seqs)
