"""What a node's lease carries beyond liveness (issue 17): the endpoints a welcome
names as ``nodes``, the engine's epoch, and a node that lost Redis for longer than
its lease giving up the sessions another node ended meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cluster.nodes import Node, Relay
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.broker.endpoints import advertised
from zmqchat.client.core.events import StatusEvent
from zmqchat.common.config import BrokerConfig
from zmqchat.testing import expect, wait_until
from zmqchat.testing.redis import RedisProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()


def registered(peers: list[RawPeer], endpoint: str, user: str, **fields: object) -> RawPeer:
    peer = RawPeer(endpoint)
    peers.append(peer)
    peer.register(user, **fields)
    return peer


def test_the_endpoint_a_node_advertises() -> None:
    def config(**settings: object) -> BrokerConfig:
        return BrokerConfig(engine="redis", engine_url="redis://r", **settings)  # type: ignore[arg-type]

    assert advertised(config(host="10.0.0.5"), 5555) == "tcp://10.0.0.5:5555"
    assert advertised(config(host="0.0.0.0"), 5555) is None  # names no host
    named = config(host="0.0.0.0", node_endpoint="tcp://chat-1.lan:5555")
    assert advertised(named, 5555) == "tcp://chat-1.lan:5555"


def test_welcome_names_the_live_nodes_and_the_epochs(
    tmp_path: Path, redis_server: RedisProcess, peers: list[RawPeer]
) -> None:
    a = Node(tmp_path / "a.db", redis_server.url, "a")
    b = Node(tmp_path / "b.db", redis_server.url, "b")
    try:
        both = sorted([a.endpoint, b.endpoint])
        # Each node reads the others' endpoints as it renews its lease.
        n = iter(range(1000))
        for node in (a, b):
            wait_until(
                lambda node=node: registered(peers, node.endpoint, f"probe{next(n)}").welcome.get(
                    "nodes") == both,
                10, "each node to name both",
            )  # fmt: skip
        alice = registered(peers, a.endpoint, "alice")
        bob = registered(peers, b.endpoint, "bob")
        assert bob.welcome["nodes"] == both
        epoch = alice.welcome["epoch"]
        assert isinstance(epoch, str)
        assert bob.welcome["epoch"] == epoch  # the engine's, not a node's
        # A room's epoch is its stream's in Redis, the same on every node.
        on_a = alice.request({"type": "join", "room": "dev"})
        on_b = bob.request({"type": "join", "room": "dev"})
        assert on_a["epoch"] == on_b["epoch"]
        assert isinstance(on_a["epoch"], str)
        assert on_a["epoch"] != epoch
        carol = registered(peers, b.endpoint, "carol", rooms=["general", "dev"])
        assert carol.welcome["epochs"]["dev"] == on_a["epoch"]
        assert set(carol.welcome["epochs"]) == {"general", "dev"}
        # A stopped node's endpoint goes with its lease.
        b.stop()
        wait_until(
            lambda: registered(peers, a.endpoint, f"probe{next(n)}").welcome.get("nodes")
            == [a.endpoint],
            10, "node b's endpoint gone",
        )  # fmt: skip
    finally:
        b.stop()
        a.stop()


def test_a_node_that_lost_redis_past_its_lease_drops_the_sessions_another_ended(
    tmp_path: Path, redis_server: RedisProcess
) -> None:
    relay = Relay(redis_server.socket)
    a = Node(tmp_path / "a.db", relay.url, "a")  # reaches Redis through the relay
    b = Node(tmp_path / "b.db", redis_server.url, "b")
    try:
        with Client("alice", a.endpoint) as alice, Client("bob", b.endpoint) as bob:
            expect(alice, "presence", user="bob", event="join")
            alice.events(timeout=0)
            relay.cut()  # node a can't renew its lease; node b ends its sessions
            expect(bob, "presence", user="alice", event="leave", reason="timeout", timeout=20)
            assert "alice" not in bob.who("general")
            relay.mend()
            # Node a hears its lease had lapsed and ends its copy of alice's session:
            # her client registers again, and is in the room for everyone once more.
            expect(alice, StatusEvent, state="reconnecting", timeout=20)
            expect(alice, StatusEvent, state="connected", timeout=20)
            expect(bob, "presence", user="alice", event="join", timeout=20)
            assert bob.who("general").count("alice") == 1
            alice.send("general", "back")
            expect(bob, "chat", text="back")
    finally:
        b.stop()
        a.stop()
        relay.close()
