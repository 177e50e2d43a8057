"""EventBuffer: bounded, keeps the newest, counts and logs what it drops."""

from __future__ import annotations

import logging

import pytest

from zmqchat.client.core.events import EventBuffer, StatusEvent
from zmqchat.common.messages import ChatEvent


def chat(seq: int) -> ChatEvent:
    return ChatEvent(room="general", seq=seq, sender="alice", text=f"m{seq}", ts=0.0)


def drain(buffer: EventBuffer) -> list[int]:
    seqs = []
    while (event := buffer.take()) is not None:
        assert isinstance(event, ChatEvent)
        seqs.append(event.seq)
    return seqs


def test_when_full_the_oldest_are_dropped_and_counted() -> None:
    buffer = EventBuffer(3)
    for seq in range(1, 8):
        buffer.put(chat(seq))
    assert len(buffer) == 3
    assert buffer.dropped == 4
    assert drain(buffer) == [5, 6, 7]
    buffer.put(chat(8))  # room again: nothing more is dropped
    assert drain(buffer) == [8]
    assert buffer.dropped == 4


def test_zero_means_no_limit() -> None:
    buffer = EventBuffer(0)
    for seq in range(1, 20_001):
        buffer.put(chat(seq))
    assert (len(buffer), buffer.dropped) == (20_000, 0)


def test_the_first_drop_and_every_thousandth_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    buffer = EventBuffer(1)
    with caplog.at_level(logging.WARNING, logger="zmqchat.client"):
        for seq in range(2_502):
            buffer.put(chat(seq))
    assert buffer.dropped == 2_501
    assert [r.getMessage() for r in caplog.records] == [
        "event queue full: 1 event(s) dropped",
        "event queue full: 1000 event(s) dropped",
        "event queue full: 2000 event(s) dropped",
    ]


def test_ready_with_an_event_and_at_the_end_after_the_last() -> None:
    buffer = EventBuffer(10)
    assert not buffer.ready
    assert buffer.take() is None
    buffer.put(StatusEvent(state="connected"))
    buffer.end()
    assert buffer.ready
    assert buffer.take() == StatusEvent(state="connected")
    # Ended and drained: still ready, and take() says there is nothing more.
    assert buffer.ready
    assert buffer.take() is None
