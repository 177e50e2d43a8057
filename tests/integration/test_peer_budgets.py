"""What one peer can cost the broker: a client that never reads its replies has its
connection closed (`reply_hwm`); one address gets its budget of connections
(`max_connections_per_address`), and a connection that never registers is closed
(`connect_deadline`); everyone else is served."""

from __future__ import annotations

import socket

import msgpack
import pytest
import zmq
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.broker.budgets import CLOSE_BATCH
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


def dealer(broker_port: int, source: str = "127.0.0.1") -> zmq.Socket[bytes]:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(f"tcp://{source}:0;127.0.0.1:{broker_port}")
    return sock


def registers(sock: zmq.Socket[bytes], user: str, timeout: float = 1.0) -> bool:
    sock.send(msgpack.packb({"type": "register", "user": user, "proto": 1}))
    if not sock.poll(int(timeout * 1000)):
        return False
    return bool(msgpack.unpackb(sock.recv(), raw=False)["type"] == "welcome")


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def test_every_connection_past_a_budget_is_closed_a_batch_at_a_time(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(max_connections_per_address=4, connect_deadline=60)
    extra = 2 * CLOSE_BATCH + 10  # several turns' worth
    socks = [socket.create_connection(("127.0.0.1", broker.port)) for _ in range(4 + extra)]
    try:
        wait_until(
            lambda: sum(map(_closed, socks)) == extra, 30, "every connection past the budget"
        )
        other = dealer(broker.port, "127.0.0.2")
        try:
            assert registers(other, "newcomer", 5.0)
        finally:
            other.close(0)
        assert sum(map(_closed, socks)) == extra  # the 4 within it are kept
    finally:
        for sock in socks:
            sock.close()


def test_past_its_address_limit_a_peer_is_refused_unread_then_not_answered(
    make_broker: BrokerFactory,
) -> None:
    # 0.1/s: no token comes back while the test runs.
    broker = make_broker(address_rate_limit=0.1, address_rate_burst=3, address_refusal_rate=0.1)
    sock = dealer(broker.port)
    other = dealer(broker.port, "127.0.0.2")
    try:
        # Within the limit every frame counts, garbage too, and is decoded.
        for _ in range(3):
            sock.send(b"\xc1")
        for _ in range(3):
            assert sock.poll(5000)
            assert msgpack.unpackb(sock.recv(), raw=False)["code"] == "bad_request"
        # Past it: refused unread, the first refusal answered with its request's
        # ref, the others dropped.
        for i in range(10):
            sock.send(msgpack.packb({"type": "ping", "ref": 100 + i}))
        assert sock.poll(5000)
        refused = msgpack.unpackb(sock.recv(), raw=False)
        assert refused["code"] == "rate_limited"
        assert refused["ref"] == 100
        assert refused["retry_after"] > 0
        # Another address is served meanwhile.
        assert registers(other, "bystander", 5.0)
        assert not sock.poll(500)  # the other nine: no answer
        # The limit that bit is logged once, not once a frame.
        wait_until(
            lambda: "over address_rate_limit" in broker.log_file.read_text(),
            10,
            "the refusals logged",
        )
        assert broker.log_file.read_text().count("over address_rate_limit") == 1
    finally:
        sock.close(0)
        other.close(0)


def test_one_address_gets_its_budget_of_connections_and_others_theirs(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(max_connections_per_address=4)
    socks = [dealer(broker.port) for _ in range(6)]
    try:
        served = [registers(sock, f"u{i}") for i, sock in enumerate(socks)]
        assert served[:4] == [True] * 4
        assert served[4:] == [False, False]  # closed as soon as seen, over and over
        other = dealer(broker.port, "127.0.0.2")
        socks.append(other)
        assert registers(other, "newcomer", 5.0)
        wait_until(
            lambda: "max_connections_per_address" in broker.log_file.read_text(),
            5,
            "the limit logged",
        )
    finally:
        for sock in socks:
            sock.close(0)


def test_a_connection_that_never_registers_is_closed_at_its_deadline(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(connect_deadline=0.5)
    idle, busy = dealer(broker.port), dealer(broker.port)
    monitor = idle.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    try:
        assert registers(busy, "busy", 5.0)
        wait_until(lambda: monitor.poll(50), 10, "the idle connection closed by the broker")
        busy.send(msgpack.packb({"type": "ping", "ref": 1}))
        assert busy.poll(5000), "the registered client is still served"
    finally:
        idle.disable_monitor()
        monitor.close(0)
        idle.close(0)
        busy.close(0)


def test_one_address_keeps_a_bounded_number_of_sessions_waiting_for_resume(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(max_detached_per_address=3)
    observer = dealer(broker.port, "127.0.0.2")
    try:
        assert registers(observer, "observer", 5.0)
        for i in range(5):  # register, drop the connection, again
            sock = dealer(broker.port)
            assert registers(sock, f"u{i}", 5.0)
            sock.close(0)

        def online() -> list[str]:
            observer.send(msgpack.packb({"type": "who", "ref": 7}))
            assert observer.poll(5000)
            users: list[str] = msgpack.unpackb(observer.recv(), raw=False)["users"]
            return users

        wait_until(
            lambda: online() == ["observer", "u2", "u3", "u4"],
            10,
            lambda: f"the two oldest detached sessions ended; online: {online()}",
        )
    finally:
        observer.close(0)


def test_requests_are_limited_per_address_over_all_its_sessions(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(address_rate_limit=2, address_rate_burst=6)
    socks = [dealer(broker.port) for _ in range(3)]
    other = dealer(broker.port, "127.0.0.2")
    try:
        # Three sessions from one address: 3 registers of its burst of 6.
        for i, sock in enumerate(socks):
            assert registers(sock, f"u{i}", 5.0)
        codes = []
        for i in range(6):
            sock = socks[i % 3]
            sock.send(msgpack.packb({"type": "who", "ref": i}))
            assert sock.poll(5000)
            reply = msgpack.unpackb(sock.recv(), raw=False)
            codes.append(reply.get("code"))
            if reply.get("code") == "rate_limited":
                assert 0 < reply["retry_after"] <= 0.5
        assert codes.count("rate_limited") >= 2  # 3 left of the burst, then refused
        # Another address has its own budget, and the welcome says both limits.
        other.send(msgpack.packb({"type": "register", "user": "v", "proto": 1}))
        assert other.poll(5000)
        welcome = msgpack.unpackb(other.recv(), raw=False)
        assert welcome["type"] == "welcome"
        assert welcome["limits"]["address_rate_limit"] == 2
        assert welcome["limits"]["address_rate_burst"] == 6
    finally:
        for sock in (*socks, other):
            sock.close(0)
