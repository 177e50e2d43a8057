"""The per-address limit's arithmetic and its log (broker/ratelimits.py): past the
limit only ``answers`` refusals a second are answered, and the limit that bites is
logged at most once a minute, with the addresses and how many went unanswered."""

from __future__ import annotations

import logging

import pytest

from zmqchat.broker.ratelimits import AddressLimits

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
