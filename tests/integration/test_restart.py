"""Broker crashes, restarts, pauses: nothing acked is lost, nothing is delivered twice,
and clients come back by themselves."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from tests.helpers import Agent, RawPeer

from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(90)


def assert_in_order_once(agent: Agent, room: str) -> list[dict]:
    events = agent.events(room=room)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{agent.user}: {seqs}"
    return events


def test_kill9_in_a_flood_loses_no_acked_message_and_duplicates_none(make_broker, start_agent):
    broker = make_broker(rate_limit=0)
    reader = start_agent(broker.endpoint, "reader")
    sender = start_agent(broker.endpoint, "sender")
    count = 4000
    sender.command("flood", id=99, room="general", count=count, window=50, prefix="k")
    wait_until(lambda: len(reader.events(type="chat")) >= 500, 30, "the flood to be under way")
    broker.kill()
    broker.start()
    done = sender.expect(lambda line: line["kind"] == "done", 60, "the end of the flood")
    assert (done["acked"], done["failed"]) == (count, 0)
    acks = sender.of_kind("ack")
    acked_seqs = [a["seq"] for a in acks]
    assert len(set(acked_seqs)) == count  # no seq reused across the restart

    # The reader gets every message, once, in order: gaps from the crash are filled
    # from history, retries were de-duplicated by the broker.
    reader.expect_event(type="chat", text=f"k{count - 1}", timeout=30)
    wait_until(
        lambda: {f"k{n}" for n in range(count)} <= {e["text"] for e in reader.events(type="chat")},
        30,
        "every message at the reader",
    )
    events = assert_in_order_once(reader, "general")
    texts = [e["text"] for e in events if e["type"] == "chat"]
    assert sorted(texts, key=lambda t: int(t[1:])) == [f"k{n}" for n in range(count)]
    assert texts == sorted(texts, key=lambda t: int(t[1:]))  # sent order kept
    # Both clients took their sessions over: no leave/join churn in the room, just
    # the sender's arrival before the flood.
    presence = [(e["user"], e["event"]) for e in events if e["type"] == "presence"]
    assert presence == [("sender", "join")]
    for agent in (reader, sender):
        statuses = list(agent.events(type="status"))
        assert statuses[-1]["state"] == "connected"
        assert statuses[-1]["resumed"] is True
    # And the store has each acked message exactly once.
    stored: list[str] = []
    after = 0
    while True:
        page = reader.call("history", room="general", after=after, limit=500)["reply"]
        stored += [m["text"] for m in page["messages"] if m["type"] == "chat"]
        if not page["more"]:
            break
        after = page["messages"][-1]["seq"]
    assert sorted(stored, key=lambda t: int(t[1:])) == [f"k{n}" for n in range(count)]


def test_graceful_shutdown_notifies_clients_who_resume(make_broker, start_agent):
    broker = make_broker()
    alice = start_agent(broker.endpoint, "alice", "general", "dev")
    bob = start_agent(broker.endpoint, "bob", "dev")
    # A welcome comes before the SUB socket is connected; a live chat reaching both
    # shows their subscriptions are in place, so the notice can reach them too.
    alice.call("send", room="dev", text="hi")
    for agent in (alice, bob):
        agent.expect_event(type="chat", room="dev", text="hi")
    assert broker.stop() == 0
    for agent in (alice, bob):
        # The notice (PUB) and the `closed` (ROUTER) come on different sockets, in
        # no defined order.
        notice = wait_until(lambda a=agent: a.events(type="system"), 10, "the system notice")
        assert "shutting down" in notice[0]["text"]
        wait_until(
            lambda a=agent: a.events(type="status", state="reconnecting"), 10, "reconnecting"
        )
    broker.start()
    for agent in (alice, bob):
        wait_until(
            lambda a=agent: a.events(type="status", state="connected", resumed=True),
            20,
            "a resumed connection",
        )
    assert alice.call("who", room="dev")["reply"] == ["alice", "bob"]
    seq_before = alice.call("history", room="dev")["reply"]["messages"][-1]["seq"]
    assert bob.call("send", room="dev", text="back")["reply"]["seq"] == seq_before + 1
    for agent in (alice, bob):
        agent.expect_event(type="chat", room="dev", text="back")
    assert [e["user"] for e in alice.events(type="presence", room="dev")] == ["bob"]
    assert [e["text"] for e in bob.events(type="chat", room="dev")] == ["hi", "back"]


def test_slow_joiner_receives_every_event_after_its_welcome(make_broker, start_agent):
    broker = make_broker(rate_limit=0)
    sender = start_agent(broker.endpoint, "sender")
    # The joiner's process is up before the flood: started during it, on a busy
    # machine, it registered once the flood was over, and then had nothing to miss.
    joiner = start_agent(broker.endpoint, "joiner", "lobby")
    sender.command("flood", id=7, room="general", count=3000, window=20, prefix="s")
    wait_until(lambda: len(sender.of_kind("ack")) >= 300, 30, "the flood to be under way")
    head = joiner.call("join", room="general")["reply"]["seq"]
    sender.expect(lambda line: line["kind"] == "done", 60, "the end of the flood")
    assert head < 3000, "the join came after the flood: nothing tested"
    joiner.expect_event(type="chat", text="s2999", timeout=30)
    events = assert_in_order_once(joiner, "general")
    assert events[0]["seq"] == head + 1
    last_seq = sender.call("history", room="general", limit=1)["reply"]["messages"][-1]["seq"]
    assert events[-1]["seq"] == last_seq


def test_paused_broker_clients_reconnect_when_it_answers_again(make_broker, start_agent):
    broker = make_broker(heartbeat=0.2, timeout=1.5)
    alice = start_agent(broker.endpoint, "alice")
    bob = start_agent(broker.endpoint, "bob")
    broker.pause()
    alice.expect_event(type="status", state="reconnecting", timeout=10)
    broker.resume()
    alice.expect_event(type="status", state="connected", timeout=15)
    assert alice.call("send", room="general", text="after the pause")["kind"] == "reply"
    bob.expect_event(type="chat", text="after the pause", timeout=15)


def test_an_acknowledged_private_message_survives_a_kill_at_once(make_broker):
    # The ack waits for the commit: killed the instant after it, the broker still has
    # the pm, and `history with` gives it back to the resumed session.
    broker = make_broker()
    alice, bob = RawPeer(broker.endpoint), RawPeer(broker.endpoint)
    try:
        alice.register("alice", rooms=[])
        bob.register("bob", rooms=[])
        acks = [
            alice.request({"type": "pm", "to": "bob", "text": f"for the record {n}"})
            for n in range(20)
        ]
        assert {a["status"] for a in acks} == {"delivered"}
        broker.kill()
        with contextlib.closing(sqlite3.connect(broker.db)) as db:
            stored = db.execute("SELECT id, text FROM pms ORDER BY id").fetchall()
        assert stored == [(a["id"], f"for the record {n}") for n, a in enumerate(acks)]
        broker.start()
        page = RawPeer(broker.endpoint)
        try:
            page.register("bob", resume=bob.welcome["session"])
            history = page.request({"type": "history", "with": "alice"})
            assert [m["text"] for m in history["messages"]] == [
                f"for the record {n}" for n in range(20)
            ]
        finally:
            page.close()
    finally:
        alice.close()
        bob.close()
