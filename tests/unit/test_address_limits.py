"""The per-address limit's arithmetic and its log (broker/ratelimits.py): past the
limit only ``answers`` refusals a second are answered, and the limit that bites is
logged at most once a minute, with the addresses and how many went unanswered."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from zmqchat.broker.handlers import BrokerCore
from zmqchat.broker.ratelimits import AddressLimits
from zmqchat.broker.store import Store
from zmqchat.common.codec import decode, encode
from zmqchat.common.config import BrokerConfig

A, B = "10.0.0.1", "10.0.0.2"


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "address_rate_limit" in r.getMessage()]


def test_past_the_limit_only_some_refusals_are_answered() -> None:
    limits = AddressLimits(1.0, 2, answers=3.0)
    assert limits.take(A, 0.0) is None
    assert limits.take(A, 0.0) is None
    wait = limits.take(A, 0.0)
    assert wait == 1.0
    # Three answers a second, in a burst of three; the rest are dropped.
    answered = [limits.answer(A, 0.0) for _ in range(10)]
    assert answered == [True] * 3 + [False] * 7
    assert limits.answer(A, 1.0)  # a second later, one more
    # Another address has its own buckets.
    assert limits.take(B, 0.0) is None


def test_answers_zero_answers_no_refusal() -> None:
    limits = AddressLimits(1.0, 1, answers=0.0)
    assert limits.take(A, 0.0) is None
    assert limits.take(A, 0.0) is not None
    assert not limits.answer(A, 0.0)


def test_a_biting_address_limit_is_logged_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [0.0]
    limits = AddressLimits(1.0, 1, answers=1.0, clock=lambda: clock[0])
    caplog.set_level(logging.WARNING, logger="zmqchat.broker")
    for second in range(60):  # a flood from two addresses for a minute
        clock[0] = float(second)
        for address in (A, B):
            for _ in range(100):
                if limits.take(address, clock[0]) is not None:
                    limits.answer(address, clock[0])
    lines = refusals(caplog)
    assert len(lines) == 1, lines
    assert A in lines[0]
    clock[0] = 60.0
    assert limits.take(A, 60.0) is None  # a token came back meanwhile
    assert limits.take(A, 60.0) is not None
    assert limits.answer(A, 60.0)
    lines = refusals(caplog)
    assert len(lines) == 2, lines
    # The second line counts what was refused since the first: both addresses, and
    # how many of those were dropped unanswered.
    assert f"{A} (" in lines[1]
    assert f"{B} (" in lines[1]
    assert "of them unanswered" in lines[1]


def test_a_big_reply_costs_one_more_request_per_4_kib() -> None:
    limits = AddressLimits(1.0, 20, answers=1.0)
    assert limits.take(A, 0.0) is None  # 19 left
    limits.charge(A, 63 * 1024)  # a history page: 15 more
    limits.charge(A, 4095)  # a small reply: nothing more
    assert [limits.take(A, 0.0) for _ in range(4)] == [None] * 4
    assert limits.take(A, 0.0) == 1.0
    limits.charge(A, 8 * 1024)  # below empty: the wait grows
    assert limits.take(A, 0.0) == 3.0
    limits.charge(B, 1 << 20)  # an address never counted has nothing to pay from
    assert limits.take(B, 0.0) is None


def test_history_pages_are_charged_to_the_address_that_asked(tmp_path: Path) -> None:
    config = BrokerConfig(address_rate_limit=0.001, address_rate_burst=30)
    core = BrokerCore(config, Store(str(tmp_path / "s.db")), pub_port=1)
    try:
        core.handle(b"a", encode({"type": "register", "user": "ann", "proto": 1}), 1.0, peer=A)
        for _ in range(16):  # 16 chats of 4,000 characters
            core.handle(b"a", encode({"type": "chat", "room": "general", "text": "x" * 4000}), 1.0)
        core.out.clear()
        # 17 requests so far; a page of about 64 KiB costs 15 more: 32 > 30.
        core.handle(b"a", encode({"type": "history", "room": "general", "limit": 16}), 1.0)
        core.handle(b"a", encode({"type": "ping", "ref": 1}), 1.0)
        replies = [decode(body) for _rid, body in core.out.replies]
        assert replies[0]["type"] == "history"
        assert len(core.out.replies[0][1]) > 60_000
        assert replies[1]["code"] == "rate_limited"
        assert replies[1]["ref"] == 1
    finally:
        core.close()
        core.store.close()
