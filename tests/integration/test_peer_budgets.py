"""What one peer that does not read can cost the broker: a client that never reads
its replies has its connection closed (`reply_hwm`), and everyone else is served."""

from __future__ import annotations

import pytest
import zmq
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.pytest_plugin import BrokerFactory
from zmqchat.testing import expect, wait_until

pytestmark = pytest.mark.timeout(60)


def test_a_client_that_never_reads_its_replies_is_closed_and_others_served(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(reply_hwm=10, rate_limit=0)
    writer = RawPeer(broker.endpoint)
    writer.register("writer")
    text = "x" * 4000
    for i in range(50):
        assert (
            writer.request({"type": "chat", "room": "general", "text": f"{i} {text}"})["type"]
            == "ack"
        )
    hog = RawPeer(broker.endpoint)
    hog.sock.setsockopt(zmq.RCVHWM, 1)  # it reads nothing anyway
    hog.register("hog")
    # Each page is about 200 KB: the kernel's buffers fill, then its queue at the broker.
    request = {"type": "history", "room": "general", "limit": 50}
    try:
        with Client("alice", broker.endpoint) as alice:
            for _ in range(300):
                hog.send(request)
            wait_until(
                lambda: "closed the connection of hog" in broker.log_file.read_text(),
                30,
                "the broker closing the hog's connection",
            )
            writer.request({"type": "chat", "room": "general", "text": "still served"})
            expect(alice, "chat", room="general", text="still served")
    finally:
        hog.close()
        writer.close()
