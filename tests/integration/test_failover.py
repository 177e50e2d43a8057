"""Clients with several broker endpoints (issue 17, item 3): a node killed under a
client, a node dead from the start, every node dead for a while.

The brokers here are independent (each its own SQLite store), so a client that
moves gets a new session on the other node; with a shared engine it resumes the
same one. Either way it carries on: registered there, chatting and reading."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tests.cli_helpers import run_cli

from zmqchat import Client, StatusEvent
from zmqchat.bot import Bot
from zmqchat.client.core.failover import shuffled
from zmqchat.common.messages import ChatEvent
from zmqchat.testing import BrokerProcess, expect, wait_until

pytestmark = pytest.mark.timeout(90)


def seed_putting_first(endpoints: list[str], first: str) -> int:
    """A shuffle seed with which a client tries ``first`` before the others."""
    return next(seed for seed in range(1000) if shuffled(endpoints, seed)[0] == first)


def dead_endpoint() -> str:
    """A loopback endpoint nothing listens on (connects to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def statuses(client: Client, state: str, timeout: float = 20.0) -> StatusEvent:
    event: StatusEvent = expect(client, StatusEvent, timeout, state=state)
    return event


def test_a_client_carries_on_on_the_other_node_when_its_node_is_killed(make_broker):
    a, b = make_broker(), make_broker()
    both = [a.endpoint, b.endpoint]
    with (
        Client("alice", both, shuffle_seed=seed_putting_first(both, a.endpoint)) as alice,
        Client("bob", b.endpoint) as bob,
    ):
        assert alice.endpoint == a.endpoint
        assert alice.endpoints == (a.endpoint, b.endpoint)
        alice.send("general", "before")  # on node a: bob, on b, does not see it

        a.kill()
        lost = statuses(alice, "reconnecting")
        assert lost.endpoint == a.endpoint
        back = statuses(alice, "connected")
        assert back.endpoint == b.endpoint
        assert alice.endpoint == b.endpoint
        assert alice.state == "connected"

        # Registered on b, in its rooms: it chats, and it reads.
        wait_until(lambda: "alice" in bob.who("general"), 10, "alice in #general on b")
        alice.send("general", "after the failover")
        expect(bob, "chat", room="general", sender="alice", text="after the failover")
        bob.send("general", "welcome to b")
        expect(alice, "chat", room="general", sender="bob", text="welcome to b")
        assert alice.pm("bob", "private too").status == "delivered"
        expect(bob, "pm", sender="alice", text="private too")


def test_a_client_whose_first_endpoint_is_dead_connects_to_the_next(make_broker):
    live, dead = make_broker(), dead_endpoint()
    both = [dead, live.endpoint]
    with Client("alice", both, shuffle_seed=seed_putting_first(both, dead)) as alice:
        assert alice.endpoints[0] == dead
        assert alice.endpoint == live.endpoint  # connect() returned: on the live one
        alice.send("general", "hello")
        assert alice.who("general") == ["alice"]


def test_a_node_shutting_down_sends_its_clients_to_another(make_broker):
    a, b = make_broker(), make_broker()
    both = [a.endpoint, b.endpoint]
    with Client("alice", both, shuffle_seed=seed_putting_first(both, a.endpoint)) as alice:
        assert a.stop() == 0  # SIGTERM: the broker says `closed` {"reason": "shutdown"}
        lost = statuses(alice, "reconnecting")
        assert (lost.endpoint, lost.reason) == (a.endpoint, "broker closed the session (shutdown)")
        back = statuses(alice, "connected")
        assert back.endpoint == b.endpoint
        alice.send("general", "still here")


def test_with_every_node_dead_a_client_keeps_trying_and_takes_the_first_back(make_broker):
    a, b = make_broker(), make_broker()
    both = [a.endpoint, b.endpoint]
    with Client("alice", both, shuffle_seed=seed_putting_first(both, a.endpoint)) as alice:
        alice.send("general", "before")
        b.kill()  # first the node alice is not on: she has nowhere to go
        a.kill()
        statuses(alice, "reconnecting")
        rotation = alice._core._rotation
        # Two full rounds failed: it went round both nodes, backing off in between.
        wait_until(lambda: rotation.rounds_failed >= 2, 30, "two failed rounds")
        assert alice.state == "reconnecting"

        a.start()  # same ports and store: the session it had there resumes
        back = statuses(alice, "connected", timeout=30)
        assert back.endpoint == a.endpoint
        assert back.resumed
        assert rotation.rounds_failed == 0
        ack = alice.send("general", "after")
        assert ack.seq >= 2
        assert [m.text for m in alice.history("general").messages if hasattr(m, "text")] == [
            "before",
            "after",
        ]


def test_a_single_endpoint_is_a_one_element_list(broker: BrokerProcess):
    with Client("alice", [broker.endpoint]) as alice, Client("bob", endpoints=[broker.endpoint]):
        assert alice.endpoints == (broker.endpoint,)
        assert alice.who("general") == ["alice", "bob"]


def test_the_commands_take_several_endpoints_from_flags_and_environment(broker, tmp_path):
    dead = dead_endpoint()
    # Whatever the shuffle puts first, the command reaches the live node.
    for _ in range(3):
        done = run_cli(tmp_path, "send", "--endpoint", dead, "--endpoint", broker.endpoint, "hi")
        assert done.returncode == 0, done.stderr
    nodes = f"{dead},{broker.endpoint}"
    done = run_cli(tmp_path, "send", "from the environment", ZMQCHAT_ENDPOINTS=nodes)
    assert done.returncode == 0, done.stderr
    with Client("reader", broker.endpoint) as reader:
        texts = [m.text for m in reader.history("general").messages if hasattr(m, "text")]
    assert texts == ["hi", "hi", "hi", "from the environment"]
    # Every node dead: the usual one-line error, naming them all.
    done = run_cli(
        tmp_path, "send", "--endpoint", dead, "--connect-timeout", "1", "x", ZMQCHAT_PORT="1"
    )
    assert done.returncode != 0
    assert dead.removeprefix("tcp://") in done.stderr


def test_the_plugin_clients_and_the_bots_take_a_list_of_brokers(make_broker, zmqchat_client):
    a, b = make_broker(), make_broker()
    alice = zmqchat_client("alice", broker=[a, b])
    assert set(alice.endpoints) == {a.endpoint, b.endpoint}

    async def run_bot() -> str:
        bot = Bot("bot", [dead_endpoint(), b.endpoint])
        await bot.start()
        try:
            return bot.endpoint
        finally:
            await bot.stop()

    assert asyncio.run(run_bot()) == b.endpoint


def test_a_node_with_another_numbering_is_followed_from_its_head(make_broker):
    """Independent brokers number #general apart (each its own store, or its own
    Redis), so their epochs differ: a client moving from one to the other starts the
    room over at the new head, instead of fetching the new broker's events after its
    old seq as if they went on with the room it knew (protocol §5.2)."""
    a, b = make_broker(), make_broker()
    with Client("carol", b.endpoint) as carol:
        for n in range(10):
            carol.send("general", f"b{n}")  # b's #general: seqs 2 to 11
    both = [a.endpoint, b.endpoint]
    with (
        Client("alice", both, shuffle_seed=seed_putting_first(both, a.endpoint)) as alice,
        Client("bob", b.endpoint) as bob,
    ):
        alice.send("general", "on a")
        expect(alice, "chat", text="on a")  # a's #general: seq 2, alice's last
        a.kill()
        assert statuses(alice, "connected").endpoint == b.endpoint
        bob.send("general", "on b")
        seen = []
        while not seen or seen[-1] != "on b":
            event = alice.next_event(10)
            if isinstance(event, ChatEvent):
                seen.append(event.text)
        # Not b0..b9 (b's seqs 3 to 11 are above alice's last, 2, but of another
        # numbering): only what came after she arrived.
        assert seen == ["on b"]
