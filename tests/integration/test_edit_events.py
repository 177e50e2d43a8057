"""Edit and delete against real brokers and client processes: the events reach
members live, and a client that was away fills its gap with them."""

from __future__ import annotations

import signal

import pytest
from tests.helpers import Agent

from zmqchat import BrokerError, Client
from zmqchat.common.messages import ChatEvent, DeleteEvent, EditEvent
from zmqchat.testing import wait_until

pytestmark = pytest.mark.timeout(90)


def test_an_edit_made_while_a_client_was_away_reaches_it_by_gap_fill(make_broker, start_agent):
    broker = make_broker(timeout=30)
    reader: Agent = start_agent(broker.endpoint, "reader", "general")
    with Client("writer", broker.endpoint, rooms=["general"]) as writer:
        sent = writer.send("general", "teh typo")
        reader.expect_event(type="chat", seq=sent.seq)
        # The reader is stopped across a broker restart, so it can't receive what
        # the new broker publishes before it is back: the edit and the delete.
        reader.proc.send_signal(signal.SIGSTOP)
        try:
            broker.kill()
            broker.start()
            wait_until(lambda: writer.state == "connected", 20, "the writer reconnected")
            edit = writer.edit("general", sent.seq, "the typo, fixed")
            other = writer.send("general", "said in the wrong room")
            gone = writer.delete("general", other.seq)
        finally:
            reader.proc.send_signal(signal.SIGCONT)
        got = reader.expect_event(20, type="edit", seq=edit.seq)
        assert (got["of"], got["text"], got["from"]) == (sent.seq, "the typo, fixed", "writer")
        assert reader.expect_event(20, type="delete", seq=gone.seq)["of"] == other.seq
        # The chat is in between, once: every seq is delivered exactly once, in order.
        seqs = [e["seq"] for e in reader.events() if e.get("room") == "general"]
        assert seqs == sorted(set(seqs))
        # And history shows the chats as they read now.
        page = reader.call("history", room="general", after=sent.seq - 1)["reply"]
        first, *_ = page["messages"]
        assert (first["text"], first["edited"]) == ("the typo, fixed", edit.ts)
        deleted = next(m for m in page["messages"] if m["seq"] == other.seq)
        assert deleted["deleted"] is True
        assert deleted["text"] == ""


def test_members_see_edits_live_and_only_the_sender_may_make_them(broker):
    with (
        Client("alice", broker.endpoint, rooms=["general"]) as alice,
        Client("bob", broker.endpoint, rooms=["general"]) as bob,
    ):
        sent = alice.send("general", "helo")
        with pytest.raises(BrokerError) as refused:
            bob.edit("general", sent.seq, "mine")
        assert refused.value.code == "not_yours"
        ack = alice.edit("general", sent.seq, "hello")

        def seen(kind: type) -> object:
            while True:
                event = bob.next_event(timeout=10)
                if isinstance(event, kind):
                    return event

        assert isinstance(seen(ChatEvent), ChatEvent)
        edit = seen(EditEvent)
        assert isinstance(edit, EditEvent)
        assert (edit.seq, edit.of, edit.text) == (ack.seq, sent.seq, "hello")
        alice.delete("general", sent.seq)
        delete = seen(DeleteEvent)
        assert isinstance(delete, DeleteEvent)
        assert delete.of == sent.seq
