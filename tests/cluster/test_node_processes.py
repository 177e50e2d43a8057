"""Two `zmqchat broker` processes on one real Redis (``engine = "redis"``), with
library clients: one node is killed with SIGKILL in the middle of a conversation,
and the clients go on on the other with nothing acknowledged lost, no seq twice
and no line missing (issue 17)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.client.core.events import StatusEvent
from zmqchat.common.messages import ChatEvent
from zmqchat.testing import BrokerProcess, wait_until
from zmqchat.testing.redis import RedisProcess
from zmqchat.testing.waiting import expect

pytestmark = pytest.mark.timeout(120)


def node(directory: Path, url: str) -> BrokerProcess:
    settings = {"engine": "redis", "engine_url": url, "node_lease": 2.0, "rate_limit": 0}
    return BrokerProcess(directory, settings=settings, log_level="info").start()


@pytest.fixture
def two_nodes(tmp_path: Path, redis_server: RedisProcess) -> Iterator[tuple[BrokerProcess, ...]]:
    a = node(tmp_path / "a", redis_server.url)
    try:
        b = node(tmp_path / "b", redis_server.url)
        try:
            yield a, b
        finally:
            print(f"--- node b ---\n{b.log_tail()}")
            b.stop()
    finally:
        print(f"--- node a ---\n{a.log_tail()}")
        if a.running:
            a.stop()


def first_on(endpoints: list[str], wanted: str) -> int:
    """A shuffle seed that puts ``wanted`` first (client/core/failover.py)."""
    from zmqchat.client.core.failover import shuffled

    return next(s for s in range(1000) if shuffled(endpoints, s)[0] == wanted)


def test_a_node_killed_mid_conversation_loses_nothing_acknowledged(
    two_nodes: tuple[BrokerProcess, BrokerProcess],
) -> None:
    a, b = two_nodes
    both = [a.endpoint, b.endpoint]
    acked: dict[str, int] = {}
    errors: list[BaseException] = []
    with (
        Client("alice", both, shuffle_seed=first_on(both, a.endpoint)) as alice,
        Client("bob", b.endpoint) as bob,
    ):
        assert alice.endpoint == a.endpoint
        expect(alice, "presence", user="bob", event="join")

        def talk(client: Client, prefix: str) -> None:
            try:
                for n in range(60):
                    ack = client.send("general", f"{prefix}{n}")
                    acked[f"{prefix}{n}"] = ack.seq
            except BaseException as exc:  # the test fails on it below
                errors.append(exc)

        talkers = [
            threading.Thread(target=talk, args=(c, p)) for c, p in ((alice, "a"), (bob, "b"))
        ]
        for talker in talkers:
            talker.start()
        wait_until(lambda: len(acked) >= 30, 20, "30 chats acknowledged")
        a.kill()  # SIGKILL: no goodbye, its lease simply stops
        for talker in talkers:
            talker.join(timeout=60)
        assert errors == []
        assert alice.endpoint == b.endpoint  # failed over
        assert len(acked) == 120

        # No seq twice, none missing, and every acknowledged chat is stored.
        seqs = sorted(acked.values())
        assert len(set(seqs)) == 120
        page = bob.history("general", limit=500)
        history = [m for m in page.messages if isinstance(m, ChatEvent)]
        assert {m.text: m.seq for m in history} == acked
        # Both clients saw every chat, in seq order, once (gaps refilled).
        for client in (alice, bob):
            seen = {}
            for event in client.events(timeout=2):
                if isinstance(event, ChatEvent):
                    assert event.text not in seen, f"{client.user} saw {event.text} twice"
                    seen[event.text] = event.seq
            assert seen == acked, f"{client.user} missed {sorted(set(acked) - set(seen))}"


def test_a_client_given_one_node_learns_the_others_and_resumes_there(
    two_nodes: tuple[BrokerProcess, BrokerProcess],
) -> None:
    a, b = two_nodes
    both = {a.endpoint, b.endpoint}
    # Node a names node b once it has renewed its lease since b started.
    wait_until(lambda: set(probe_nodes(a)) == both, 20, "node a to name both nodes")
    with Client("alice", a.endpoint) as alice, Client("bob", b.endpoint) as bob:
        assert alice.endpoints[0] == a.endpoint  # what the user gave comes first
        assert set(alice.endpoints) == both
        expect(alice, "presence", user="bob", event="join")
        session = alice.session
        a.kill()  # SIGKILL: alice was never told of b but by a's welcome
        back = expect(alice, StatusEvent, state="connected", timeout=30)
        assert (back.endpoint, back.resumed) == (b.endpoint, True)
        assert alice.session == session
        alice.send("general", "from b")
        expect(bob, "chat", text="from b")
        assert bob.who("general").count("alice") == 1


def probe_nodes(node: BrokerProcess) -> list[str]:
    """The nodes a welcome from ``node`` names (a probe that says bye after)."""
    peer = RawPeer(node.endpoint)
    try:
        nodes: list[str] = peer.register(f"probe{next(_probes)}").get("nodes", [])
        peer.request({"type": "bye"})
        return nodes
    finally:
        peer.close()


_probes = itertools.count()
