"""What a batch's output does when a connection closes in the middle of it."""

from __future__ import annotations

from zmqchat.broker.outbox import Outbox


def test_nothing_of_the_batch_goes_to_a_closed_connections_id() -> None:
    out = Outbox()
    out.reply(b"gone", b"reply")
    out.reply(b"kept", b"reply")
    out.now.append((b"gone", b"chunk ack"))
    out.relayed.append((b"gone", b"pm from node b", "b", 7))
    out.relayed.append((b"kept", b"pm from node b", "b", 8))
    out.drop_to(b"gone")
    assert out.replies == [(b"kept", b"reply")]
    assert out.now == []
    # Another node's pm stays, with no one to send it to: its node hears it was not
    # delivered, rather than the next holder of the id getting it.
    assert out.relayed == [(None, b"pm from node b", "b", 7), (b"kept", b"pm from node b", "b", 8)]
