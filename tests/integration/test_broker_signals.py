"""SIGTERM and SIGINT stop the broker at once in every state, including right after the
last client left (the poll then has no deadline), and sessions survive the stop as
they survive a crash: the name stays held and ``resume`` gives the same session back.

The loop runs ZMQCHAT_SIGNAL_LOOPS times (20 in ``make test``, 200 in ``make
crash-test``), each a broker start, a client leaving, and a signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.helpers import RawPeer

from zmqchat.testing import BrokerProcess

LOOPS = int(os.environ.get("ZMQCHAT_SIGNAL_LOOPS", "20"))
# Generous against a loaded machine; a missed signal is a hang, not a delay.
STOP_WITHIN = 3.0

pytestmark = [pytest.mark.timeout(60 + 2 * LOOPS), pytest.mark.slow]


def test_a_signal_just_after_a_client_leaves_stops_the_broker_and_keeps_sessions(
    tmp_path: Path,
) -> None:
    # No --parent-pid: its twice-a-second check would wake a broker that missed the
    # signal, and hide the miss.
    broker = BrokerProcess(tmp_path, watch_parent=False, log_level="info")
    token = None
    stops: list[float] = []
    try:
        for n in range(LOOPS):
            broker.start()
            keeper, leaver = RawPeer(broker.endpoint), RawPeer(broker.endpoint)
            try:
                welcome = keeper.register("keeper", **({"resume": token} if token else {}))
                if token is not None:
                    assert welcome["session"] == token, f"loop {n}: the session was lost"
                token = welcome["session"]
                leaver.register(f"leaver{n}")
                assert leaver.request({"type": "bye"})["type"] == "bye"
            finally:
                keeper.close()
                leaver.close()
            assert broker.process is not None
            signum = signal.SIGTERM if n % 2 == 0 else signal.SIGINT
            start = time.monotonic()
            broker.process.send_signal(signum)
            try:
                code = broker.process.wait(STOP_WITHIN)
            except subprocess.TimeoutExpired:
                pytest.fail(f"loop {n}: {signum.name} was missed:\n{broker.log_tail()}")
            stops.append(time.monotonic() - start)
            assert code == 0, broker.log_tail()
        # The last stop kept the session too: the name is still held.
        broker.start()
        thief = RawPeer(broker.endpoint)
        try:
            reply = thief.request({"type": "register", "user": "keeper", "proto": 1})
            assert reply["code"] == "name_taken"
        finally:
            thief.close()
    finally:
        broker.kill()
    stops.sort()
    print(
        f"{LOOPS} stops: median {stops[len(stops) // 2] * 1000:.0f} ms, "
        f"slowest {stops[-1] * 1000:.0f} ms"
    )
