"""Real client processes talking through one broker."""

from __future__ import annotations

import pytest
from tests.helpers import RawPeer

from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(60)


def test_three_processes_chat_in_rooms_and_privately(broker, start_agent):
    alice = start_agent(broker.endpoint, "alice", "general", "dev")
    bob = start_agent(broker.endpoint, "bob", "general")
    carol = start_agent(broker.endpoint, "carol", "general", "dev")
    # Everyone sees everyone arrive (carol joins last, so she has no join to see).
    alice.expect_event(type="presence", user="carol", event="join", room="general")
    bob.expect_event(type="presence", user="carol", event="join", room="general")

    assert alice.call("send", room="general", text="hello all")["kind"] == "reply"
    for agent in (alice, bob, carol):
        agent.expect_event(type="chat", room="general", text="hello all")
    assert carol.call("send", room="dev", text="dev only")["kind"] == "reply"
    alice.expect_event(type="chat", room="dev", text="dev only")
    carol.expect_event(type="chat", room="dev", text="dev only")

    ack = bob.call("pm", to="Carol", text="just you")
    assert ack["reply"]["status"] == "delivered"
    event = carol.expect_event(type="pm", text="just you")
    assert (event["from"], event["to"]) == ("bob", "carol")

    assert bob.call("who")["reply"] == ["alice", "bob", "carol"]
    bob.call("join", room="dev")
    alice.expect_event(type="presence", user="bob", event="join", room="dev")
    assert bob.call("send", room="dev", text="hi dev")["kind"] == "reply"
    carol.expect_event(type="chat", room="dev", text="hi dev")
    bob.expect_event(type="chat", room="dev", text="hi dev")
    alice.expect_event(type="chat", room="dev", text="hi dev")

    # Bob never joined dev before his join, so he saw nothing of it; and nobody but
    # carol got the private message.
    assert [e["text"] for e in bob.events(type="chat", room="dev")] == ["hi dev"]
    assert alice.events(type="pm") == []
    # Each room's events arrive in seq order, with no gap and no duplicate.
    for agent in (alice, bob, carol):
        for room in ("general", "dev"):
            seqs = [e["seq"] for e in agent.events(room=room)]
            assert seqs
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (agent.user, room, seqs)


def test_a_burst_arrives_complete_and_in_order_at_every_subscriber(make_broker, start_agent):
    broker = make_broker(rate_limit=0)
    sender = start_agent(broker.endpoint, "sender")
    readers = [start_agent(broker.endpoint, f"reader{n}") for n in range(3)]
    done = sender.call("flood", room="general", count=3000, window=200, prefix="b")
    assert (done["acked"], done["failed"]) == (3000, 0)
    for reader in readers:
        reader.expect_event(type="chat", text="b2999", timeout=30)
        texts = [e["text"] for e in reader.events(type="chat")]
        assert texts == [f"b{n}" for n in range(3000)]


def test_killed_client_is_expired_and_its_name_freed(make_broker, start_agent):
    broker = make_broker(heartbeat=0.2, timeout=1.0)
    victim = start_agent(broker.endpoint, "victim", "general", "dev")
    watcher = start_agent(broker.endpoint, "watcher", "general", "dev")
    victim.kill()
    for room in ("general", "dev"):
        event = watcher.expect_event(
            type="presence", user="victim", event="leave", room=room, timeout=10
        )
        assert event["reason"] == "timeout"
    assert watcher.call("who")["reply"] == ["watcher"]
    again = start_agent(broker.endpoint, "victim")
    assert again.user == "victim"
    # The live client heartbeats, so it was never expired.
    assert watcher.call("state")["reply"]["state"] == "connected"


def test_malformed_flood_does_not_stop_the_broker_serving_others(make_broker, start_agent):
    broker = make_broker(rate_limit=0)
    alice = start_agent(broker.endpoint, "alice")
    bob = start_agent(broker.endpoint, "bob")
    attacker = RawPeer(broker.endpoint)
    garbage: list[tuple[bytes, ...]] = [
        (b"",),
        (b"\xc1",),
        (b"\x93\x01\x02\x03",),  # a list
        (b"\x81\x01\x02",),  # int key
        (b"\xa5hello",),  # a str
        (b"\x81\xa4type\xa4chat", b"extra frame"),
        (b"\x82\xa4type\xa4chat\xa4room\x91" + b"\x91" * 3000 + b"\xc0",),  # deep nesting
        (b"\x81\xa4type\xa3zap",),
        (b"\x81\xa4type\x07",),
        (b"\xd9\x03\xff\xfe\xfd",),  # invalid UTF-8
        (b"\xc7\x01\x05x",),  # ext type
    ]
    rounds = 300
    flood_done = bob.call("flood", room="general", count=500, window=50, prefix="f")
    for _ in range(rounds):
        for frames in garbage:
            attacker.sock.send_multipart(list(frames))
    replies = [attacker.recv(10) for _ in range(rounds * len(garbage))]
    assert all(r["type"] == "error" and r["code"] == "bad_request" for r in replies)
    assert not attacker.sock.poll(200)  # exactly one reply per bad frame
    assert flood_done["acked"] == 500
    assert alice.call("send", room="general", text="still here")["kind"] == "reply"
    bob.expect_event(type="chat", text="still here")
    attacker.close()


def test_oversize_frame_disconnects_only_that_peer(broker, start_agent):
    alice = start_agent(broker.endpoint, "alice")
    big = RawPeer(broker.endpoint)
    big.register("big")
    big.send({"type": "chat", "room": "general", "text": "x" * 70_000})
    # ZeroMQ drops the connection at MAXMSGSIZE; the frame is never handled, so no
    # reply comes and nothing is stored.
    assert not big.sock.poll(500)
    assert alice.call("send", room="general", text="after")["kind"] == "reply"
    page = alice.call("history", room="general")["reply"]
    assert [m.get("text") for m in page["messages"] if m["type"] == "chat"] == ["after"]
    # The peer's DEALER reconnects (a new routing id), and the broker serves it again.
    reply = wait_until(lambda: big.request({"type": "ping"}), 10, "a reply after reconnecting")
    assert reply["code"] == "not_registered"
    big.close()
