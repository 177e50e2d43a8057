"""The broker near its open-file limit: it refuses sessions it could not serve
instead of accepting clients that would then hear nothing."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from tests.helpers import RawPeer, RawSub

from zmqchat.common.config import FD_RESERVE, FDS_PER_SESSION
from zmqchat.testing import BrokerProcess

FD_LIMIT = 200


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")
def test_register_answers_server_busy_before_the_open_file_limit(tmp_path: Path) -> None:
    capacity = (FD_LIMIT - FD_RESERVE) // FDS_PER_SESSION
    broker = BrokerProcess(tmp_path, wrapper=("prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}"))
    broker.start()
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
        deadline = time.monotonic() + 20
        while not all(heard):
            assert time.monotonic() < deadline, f"{heard.count(False)} subscribers heard nothing"
            assert peers[0].request({"type": "chat", "room": "general", "text": "hi"})["seq"]
            for i, sub in enumerate(subs):
                while sub.sock.poll(0 if heard[i] else 20):
                    sub.sock.recv_multipart()
                    heard[i] = True

        # A place freed is a place taken.
        assert peers[1].request({"type": "bye"})["type"] == "bye"
        assert late.register("late")["type"] == "welcome"
    finally:
        for sock in (*peers, *subs):
            sock.close()
        broker.kill()
