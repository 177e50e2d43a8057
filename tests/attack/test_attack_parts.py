"""The hostile-peer suite's own parts: its goals and percentiles, the fuzz frames, and
the source-address endpoints its peers rely on to be told apart (docs/attack.md)."""

from __future__ import annotations

import math
import random
import time

import pytest
import zmq
from attack.attacks import PACE, Pacer
from attack.driver import Result
from attack.fuzz import MAX_FRAME, frame
from attack.report import goals, passed, percentile
from attack.wire import BYSTANDER_HOST, endpoint, pack, unpack

pytestmark = pytest.mark.timeout(30)


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert math.isnan(percentile([], 0.5))


def _result(**changes: object) -> Result:
    base = Result("row", rss_mb=40.0, idle=[0.001] * 99 + [0.004], attacked=[0.002] * 100,
                  tried=5, served=5)  # fmt: skip
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_a_row_within_every_goal_passes():
    assert goals(_result()) == dict.fromkeys(("rss", "p99", "lost", "newcomers", "up"), True)
    assert passed(_result())


@pytest.mark.parametrize(
    ("changes", "missed"),
    [
        ({"rss_mb": 301.0}, "rss"),
        ({"rss_mb": 0.0}, "rss"),  # never measured
        ({"attacked": [0.013] * 100}, "p99"),  # over 3 x the idle p99 of 4 ms
        ({"attacked": []}, "p99"),  # the bystander said nothing
        ({"lost": 1}, "lost"),
        ({"error": "bystander: no answer"}, "lost"),
        ({"served": 4}, "newcomers"),
        ({"tried": 0, "served": 0}, "newcomers"),
        ({"alive": False}, "up"),
    ],
)
def test_each_goal_fails_on_its_own(changes, missed):
    met = goals(_result(**changes))
    assert [name for name, ok in met.items() if not ok] == [missed]


def test_fuzz_frames_repeat_with_their_seed_and_cover_every_kind():
    first = [frame(random.Random(7)) for _ in range(3)]
    assert first == [frame(random.Random(7)) for _ in range(3)]
    rng = random.Random(1)
    frames = [frame(rng) for _ in range(2000)]
    assert any(len(f) > 1 for f in frames)  # extra frames
    assert any(max(map(len, f)) > MAX_FRAME for f in frames)  # over the limit
    assert any(f[0][:1] == b"\x91" or b"\x91\x91\x91" in f[0] for f in frames)  # nesting
    assert any(not unpack(f[0]) for f in frames)  # undecodable as a map


def test_a_source_address_endpoint_connects_from_that_address():
    context = zmq.Context()
    try:
        router = context.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(endpoint(BYSTANDER_HOST, port))
        dealer.send(pack({"type": "ping"}))
        assert router.poll(5000), "the source-address connect never got through"
        _, body = router.recv_multipart(copy=False)
        assert body.get("Peer-Address") == BYSTANDER_HOST
        assert unpack(body.bytes) == {"type": "ping"}
    finally:
        context.destroy(linger=0)


def test_the_pacer_keeps_within_the_welcomes_address_limit():
    pacer = Pacer({"limits": {"address_rate_limit": 100.0}})
    assert pacer.rate == pytest.approx(PACE * 100)
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        pacer.wait()
        pacer.spend()
        sent += 1
    # 90 a second: at most 45 and the first; a busy machine may wake it late.
    assert 30 <= sent <= 47
    pacer.spend(100)  # a big page: the next request waits more than a second
    assert not pacer.ready()
    unlimited = Pacer({"limits": {"address_rate_limit": 0}})
    unlimited.spend(10**6)
    assert unlimited.ready()
