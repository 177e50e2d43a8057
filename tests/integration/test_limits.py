"""The broker near its open-file limit: it refuses sessions it could not serve
instead of accepting clients that would then hear nothing."""

from __future__ import annotations

import shutil

import pytest
from tests.helpers import RawPeer, RawSub

from zmqchat.common.config import FD_RESERVE, FDS_PER_SESSION
from zmqchat.pytest_plugin import BrokerFactory
from zmqchat.testing import wait_until

FD_LIMIT = 200


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")
def test_register_answers_server_busy_before_the_open_file_limit(
    make_broker: BrokerFactory,
) -> None:
    capacity = (FD_LIMIT - FD_RESERVE) // FDS_PER_SESSION
    # Every client here comes from one address: let it have them all.
    broker = make_broker(
        wrapper=("prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}"),
        max_connections_per_address=FD_LIMIT,
    )
    peers: list[RawPeer] = []
    subs: list[RawSub] = []
    try:
        # Each client as a real one is: a DEALER and a SUB, two descriptors at the broker.
        for i in range(capacity):
            peer = RawPeer(broker.endpoint)
            peers.append(peer)
            peer.register(f"u{i}")
            subs.append(RawSub(broker.endpoint, broker.pub_port, b"general\x00"))
        late = RawPeer(broker.endpoint)
        peers.append(late)
        busy = late.request({"type": "register", "user": "late", "proto": 1})
        assert (busy["type"], busy["code"]) == ("error", "server_busy")

        # Every accepted client works, down to the last: each SUB hears the room.
        heard = [False] * len(subs)

        def everyone_heard() -> bool:
            assert peers[0].request({"type": "chat", "room": "general", "text": "hi"})["seq"]
            for i, sub in enumerate(subs):
                while sub.sock.poll(0 if heard[i] else 20):
                    sub.sock.recv_multipart()
                    heard[i] = True
            return all(heard)

        wait_until(
            everyone_heard,
            20,
            lambda: f"every subscriber to hear; {heard.count(False)} heard nothing",
            interval=0,
        )

        # A place freed is a place taken.
        assert peers[1].request({"type": "bye"})["type"] == "bye"
        assert late.register("late")["type"] == "welcome"
    finally:
        for sock in (*peers, *subs):
            sock.close()
