"""Members-only rooms on a real broker: the PUB side grants each subscription
(broker/grants.py). Raw subscribers try what an eavesdropper on the LAN would: every
topic (``""``), a room's topic, a ticket stolen from a member (with CURVE, from
another key); a member who leaves or ends its session stops receiving, even if its
subscriber never withdraws its request; protocol v1 subscribers still read public
rooms in ``open`` mode.

Each negative check first proves the subscriber's requests were all handled (it
hears its own room, asked for after them on the same connection) and that the
message was published (a member receives it), so "nothing arrived" means refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
import zmq.auth
from tests.accounts_helpers import store_account
from tests.helpers import RawPeer

from zmqchat import Client
from zmqchat.broker.accounts import Hasher
from zmqchat.broker.state import ticket_of
from zmqchat.common.protocol import room_topic
from zmqchat.testing import BrokerProcess, expect, wait_until

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse"
CHEAP = Hasher(7168, 1)  # quick to check: a hash carries its own parameters

_opened: list[Any] = []  # every raw socket a test made, closed after it


@pytest.fixture(autouse=True)
def _close_raw_sockets() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close(0)


class Listener:
    """A raw XSUB (it sends any request; a SUB would also filter by it) or, with
    ``sub``, a raw SUB, on the broker's PUB port, optionally with a CURVE key pair.
    A SUB's requests with a ticket must come with the plain topic, which its own
    filter needs (own_requests gives both)."""

    def __init__(
        self,
        broker: BrokerProcess,
        *requests: bytes,
        keys: tuple[bytes, bytes] | None = None,
        sub: bool = False,
    ) -> None:
        self.sub = sub
        sock = zmq.Context.instance().socket(zmq.SUB if sub else zmq.XSUB)
        sock.linger = 0
        sock.setsockopt(zmq.RECONNECT_IVL, 50)
        if keys is not None:
            assert broker.public_key is not None
            sock.curve_serverkey = broker.public_key.encode()
            sock.curve_publickey, sock.curve_secretkey = keys
        sock.connect(f"tcp://127.0.0.1:{broker.pub_port}")
        self.sock = sock
        _opened.append(sock)
        for request in requests:
            self.ask(request)

    def ask(self, request: bytes) -> None:
        if self.sub:
            self.sock.setsockopt(zmq.SUBSCRIBE, request)
        else:
            self.sock.send(b"\x01" + request)

    def heard(self, timeout_ms: int = 0) -> list[tuple[bytes, dict[str, Any]]]:
        """Everything that arrived (within ``timeout_ms`` for the first)."""
        got = []
        while self.sock.poll(timeout_ms):
            topic, body = self.sock.recv_multipart()
            got.append((topic, msgpack.unpackb(body, raw=False)))
            timeout_ms = 0
        return got

    def texts(self, room: str, timeout_ms: int = 0) -> list[str]:
        topic = room.encode() + b"\x00"
        return [e["text"] for t, e in self.heard(timeout_ms) if t == topic and "text" in e]

    def close(self) -> None:
        self.sock.close(0)


def hears(listener: Listener, peer: RawPeer, room: str, what: str = "sync") -> None:
    """Chat into ``room`` as ``peer`` until ``listener`` hears it: every request it
    sent before is then handled (one connection's requests are read in order)."""

    def heard() -> bool:
        peer.request({"type": "chat", "room": room, "text": what})
        return what in listener.texts(room, 50)

    wait_until(heard, 10, f"{what!r} heard in {room}", interval=0)


def comes(listener: Listener, room: str, text: str) -> None:
    """Wait until ``listener`` hears ``text`` in ``room``, whatever comes first (more
    "sync" chats of :func:`hears`, a presence event)."""
    seen: list[str] = []
    wait_until(lambda: seen.extend(listener.texts(room, 100)) or text in seen, 10,
               f"{text!r} heard in {room}")  # fmt: skip


def lobby_peer(broker: BrokerProcess, user: str = "mallory") -> RawPeer:
    """A registered user who is in room `lobby` only."""
    peer = raw_peer(broker)
    peer.register(user, rooms=["lobby"])
    return peer


def raw_peer(broker: BrokerProcess) -> RawPeer:
    peer = RawPeer(broker.endpoint)
    _opened.append(peer.sock)
    return peer


def own_requests(peer: RawPeer, room: str = "lobby") -> tuple[bytes, bytes]:
    """What a subscriber of ``peer``'s session asks for to hear ``room``."""
    topic = room.encode() + b"\x00"
    return topic + peer.welcome["ticket"].encode(), topic


@pytest.mark.parametrize(("auth", "readable"), [("open", True), ("accounts", False)])
def test_who_reads_a_room_by_topic_or_by_everything(
    make_broker: Any, auth: str, readable: bool
) -> None:
    broker = make_broker(auth=auth)
    mallory = lobby_peer(broker)
    ticketed, plain = own_requests(mallory)
    listeners = [
        Listener(broker, request, ticketed, plain, sub=True) for request in (b"", b"general\x00")
    ]
    with Client("alice", broker.endpoint) as alice, Client("bob", broker.endpoint) as bob:
        for listener in listeners:
            hears(listener, mallory, "lobby")
        bob.send("general", "for members")
        expect(alice, "chat", room="general", text="for members")
        for listener in listeners:
            heard = "for members" in listener.texts("general", 300)
            assert heard is readable, (auth, listener)


def test_a_ticket_reads_only_its_own_sessions_rooms(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    mallory = lobby_peer(broker)
    bob = raw_peer(broker)
    bob.register("bob", rooms=["general"])
    ticketed, plain = own_requests(mallory)
    # Mallory's own ticket on general's topic: she is no member of general.
    listener = Listener(broker, b"general\x00" + mallory.welcome["ticket"].encode())
    listener.ask(ticketed)
    listener.ask(plain)
    member = Listener(broker, *own_requests(bob, "general"))
    hears(listener, mallory, "lobby")
    hears(member, bob, "general")
    assert listener.texts("general", 300) == []


def test_a_stolen_ticket_reads_nothing_from_another_key(make_broker: Any, tmp_path: Path) -> None:
    broker = make_broker(auth="accounts", encryption="curve")
    key = broker.public_key
    _, secret_file = zmq.auth.create_certificates(tmp_path, "alice")
    public, secret = zmq.auth.load_certificate(secret_file)
    assert secret is not None
    alice_keys, mallory_keys = (public, secret), zmq.curve_keypair()
    with (
        Client("alice", broker.endpoint, server_key=key, client_key=secret_file) as alice,
        Client("bob", broker.endpoint, server_key=key) as bob,
    ):
        assert alice.session is not None
        stolen = b"general\x00" + ticket_of(alice.session).encode()
        mallory = curve_raw_peer(broker, mallory_keys)
        thief = Listener(
            broker, stolen, b"general\x00", *own_requests(mallory), keys=mallory_keys, sub=True
        )
        # The same requests with the key alice's session is bound to: granted.
        twin = Listener(broker, stolen, keys=alice_keys)
        hears(thief, mallory, "lobby")
        # The twin's request is granted once it hears a chat of the room.
        wait_until(lambda: bob.send("general", "sync") and "sync" in twin.texts("general", 50),
                   10, "the twin's subscription")  # fmt: skip
        bob.send("general", "not for mallory")
        expect(alice, "chat", room="general", text="not for mallory")
        comes(twin, "general", "not for mallory")
        assert thief.texts("general", 300) == []


def curve_raw_peer(broker: BrokerProcess, keys: tuple[bytes, bytes]) -> RawPeer:
    peer = RawPeer.__new__(RawPeer)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    assert broker.public_key is not None
    sock.curve_serverkey = broker.public_key.encode()
    sock.curve_publickey, sock.curve_secretkey = keys
    sock.connect(broker.endpoint)
    _opened.append(sock)
    peer.sock, peer.endpoint, peer.welcome = sock, broker.endpoint, {}
    peer.register("mallory", rooms=["lobby"])
    return peer


def test_a_member_who_leaves_stops_receiving_though_its_subscriber_keeps_asking(
    make_broker: Any,
) -> None:
    broker = make_broker(auth="accounts")
    alice, bob = raw_peer(broker), raw_peer(broker)
    alice.register("alice", rooms=["general", "lobby"])
    bob.register("bob", rooms=["general", "lobby"])
    ticket = alice.welcome["ticket"].encode()
    # A subscriber that never withdraws a request (as a hostile client's would).
    spy = Listener(broker, b"general\x00" + ticket, b"lobby\x00" + ticket)
    hears(spy, bob, "general")
    hears(spy, bob, "lobby")
    assert alice.request({"type": "leave", "room": "general"})["type"] == "left"
    carol = Listener(broker, *own_requests(bob, "general"))
    hears(carol, bob, "general", "after the leave")
    assert "after the leave" not in spy.texts("general", 300)
    # Cut and asking again, it still reads the room alice is in.
    hears(spy, bob, "lobby", "lobby after")
    # Once alice's session ends, nothing at all.
    assert alice.request({"type": "bye"})["type"] == "bye"
    hears(carol, bob, "general", "after the bye")
    bob.request({"type": "chat", "room": "lobby", "text": "lobby after the bye"})
    lobby = Listener(broker, *own_requests(bob))
    hears(lobby, bob, "lobby", "lobby, last")
    assert not [t for t in spy.texts("lobby", 300) if t.startswith("lobby") and "bye" in t]
    assert "lobby, last" not in spy.texts("lobby", 100)


def test_a_subscriber_that_sends_messages_is_cut_and_others_are_served(
    make_broker: Any,
) -> None:
    broker = make_broker(auth="accounts")
    bob = raw_peer(broker)
    bob.register("bob", rooms=["general"])
    noisy = Listener(broker)
    noisy.sock.send(b"\x02not a subscription")
    noisy.sock.send_multipart([b"\x01general\x00", b"two parts"])
    member = Listener(broker, *own_requests(bob, "general"))
    hears(member, bob, "general")
    # And the members' clients still work end to end.
    with Client("alice", broker.endpoint) as alice:
        bob.request({"type": "chat", "room": "general", "text": "still here"})
        expect(alice, "chat", room="general", text="still here")


def test_members_receive_after_a_broker_restart(make_broker: Any) -> None:
    broker = make_broker(auth="accounts")
    with Client("alice", broker.endpoint) as alice, Client("bob", broker.endpoint) as bob:
        bob.send("general", "before")
        expect(alice, "chat", room="general", text="before")
        broker.stop()
        broker.start()
        wait_until(lambda: alice.state == bob.state == "connected", 20, "both back")
        bob.send("general", "after")
        expect(alice, "chat", room="general", text="after", timeout=20)


def test_a_private_room_is_members_only_on_an_open_broker(make_broker: Any) -> None:
    broker = make_broker(auth="open")
    mallory = lobby_peer(broker)
    # Every topic, granted while no room is private: the room's creation cuts it.
    everything = Listener(broker, b"", *own_requests(mallory))
    hears(everything, mallory, "lobby")
    with Client("alice", broker.endpoint) as alice, Client("bob", broker.endpoint) as bob:
        alice.join("secret", private=True)
        alice.invite("secret", "bob")
        bob.join("secret")
        plain = Listener(broker, b"secret\x00", *own_requests(mallory))
        hears(plain, mallory, "lobby")
        hears(everything, mallory, "lobby", "after the cut")
        alice.send("secret", "members only")
        expect(bob, "chat", room="secret", text="members only")
        assert plain.texts("secret", 300) == []
        assert everything.texts("secret", 100) == []
        # Public rooms stay readable to v1 subscribers of an open broker, by their
        # topic; "" reaches the private room, so it is no longer granted at all.
        general = Listener(broker, b"general\x00")
        carol = raw_peer(broker)
        carol.register("carol", rooms=["general"])
        hears(general, carol, "general")
        alice.send("general", "for everyone")
        expect(bob, "chat", room="general", text="for everyone")
        comes(general, "general", "for everyone")
        assert everything.texts("general", 100) == []


def test_the_batch_that_ends_a_grant_reaches_no_one_who_lost_it(make_broker: Any) -> None:
    # The connection is cut before the batch's events leave: a member's own leave,
    # and a room's creation as private, are the first events they must not get.
    broker = make_broker(auth="accounts")
    alice, bob = raw_peer(broker), raw_peer(broker)
    alice.register("alice", rooms=["general"])
    bob.register("bob", rooms=["general"])
    spy = Listener(broker, *own_requests(alice, "general"))
    hears(spy, bob, "general")
    assert alice.request({"type": "leave", "room": "general"})["type"] == "left"
    witness = Listener(broker, *own_requests(bob, "general"))
    hears(witness, bob, "general", "after")
    events = [e for _, e in spy.heard(300)]
    assert not [e for e in events if e.get("type") == "presence" and e.get("user") == "alice"]
    assert "after" not in [e.get("text") for e in events]

    opened = make_broker(auth="open")
    carol = lobby_peer(opened, "carol")
    everything = Listener(opened, b"", *own_requests(carol))
    hears(everything, carol, "lobby")
    # Created and spoken in at once: both in one batch, most of the time.
    carol.send({"type": "join", "room": "secret", "private": True, "ref": "j"})
    carol.send({"type": "chat", "room": "secret", "text": "first words", "ref": "c"})
    assert carol.recv_type("joined")["private"] is True
    assert carol.recv_type("ack")["ref"] == "c"
    assert [t for t, _ in everything.heard(300) if t == b"secret\x00"] == []


def test_a_login_that_takes_a_session_over_ends_the_old_tickets_reading(
    make_broker: Any,
) -> None:
    broker = make_broker(auth="accounts")
    store_account(broker, "alice", CHEAP.hash(PASSWORD))
    # Someone who had alice's password logs in and reads through her ticket.
    mallory = raw_peer(broker)
    old = mallory.register("alice", rooms=["general"], password=PASSWORD)["ticket"]
    bob = raw_peer(broker)
    bob.register("bob", rooms=["general"])
    spy = Listener(broker, b"general\x00" + old.encode())
    hears(spy, bob, "general")
    alice = raw_peer(broker)
    new = alice.register("alice", password=PASSWORD)["ticket"]
    assert new != old  # a login gives the session a new token, so a new ticket
    assert mallory.recv_type("closed")["reason"] == "replaced"
    again = Listener(broker, b"general\x00" + old.encode())
    witness = Listener(broker, b"general\x00" + new.encode())
    hears(witness, bob, "general", "after the takeover")
    assert "after the takeover" not in spy.texts("general", 300)
    assert again.texts("general", 100) == []
    # And the old token no longer resumes anything.
    late = raw_peer(broker)
    late.send(
        {
            "type": "register",
            "user": "alice",
            "proto": 1,
            "resume": mallory.welcome["session"],
            "ref": 1,
        }
    )
    assert late.recv()["type"] == "error"


def test_a_subscription_no_room_could_match_is_refused(make_broker: Any) -> None:
    # Granted, each would grow the PUB side's subscription trie for nothing: a
    # peer's SUB sends every request it ever made again at each reconnection.
    broker = make_broker(log_level="debug")  # open: any room's topic or prefix is readable
    mallory = lobby_peer(broker)
    ticketed, _plain = own_requests(mallory)
    junk = [b"\xe9\xf6\xa2", b"General", b"x" * 33, b"\x01\x02\x00", b"lob by\x00"]
    listener = Listener(broker, *junk, b"lob", ticketed)
    hears(listener, mallory, "lobby")  # every request before it was handled
    log = broker.log_file.read_text(errors="replace")
    for topic in junk:
        assert f"subscription to {topic!r} refused" in log
    assert "subscription to b'lob' granted" in log


def test_a_connection_holds_at_most_max_subscriptions(make_broker: Any) -> None:
    broker = make_broker(max_subscriptions=8, log_level="debug")
    mallory = lobby_peer(broker)
    ticketed, _plain = own_requests(mallory)
    # Its own room first (granted), then ten prefixes: seven more fit.
    prefixes = [bytes([ord("a") + i]) for i in range(10)]
    listener = Listener(broker, ticketed, *prefixes)
    # Logged once a minute: the first request refused, and the count so far.
    over = "holds 8 subscriptions (max_subscriptions); 1 request(s)"
    wait_until(lambda: over in broker.log_file.read_text(errors="replace"), 10,
               "a request over max_subscriptions refused")  # fmt: skip
    # What it was granted still stands.
    hears(listener, mallory, "lobby")
    log = broker.log_file.read_text(errors="replace")
    for prefix in prefixes[:7]:
        assert f"subscription to {prefix!r} granted" in log
    for prefix in prefixes[7:]:
        assert f"subscription to {prefix!r} granted" not in log


def test_a_topic_stays_until_its_last_grant_is_withdrawn(make_broker: Any) -> None:
    broker = make_broker()  # open: the plain topic is granted beside the ticketed one
    mallory = lobby_peer(broker)
    bob = raw_peer(broker)
    bob.register("bob", rooms=["general", "third"])
    ticketed, plain = own_requests(mallory)
    listener = Listener(broker, ticketed, plain)
    hears(listener, mallory, "lobby")
    heard: list[tuple[bytes, dict[str, Any]]] = []

    def handled(room: str) -> None:
        """Chat into ``room``, asked for last, until it is heard: every request the
        listener sent before that one has been handled (one connection's requests are
        read in order), and every event published before it has arrived."""

        def seen() -> bool:
            bob.request({"type": "chat", "room": room, "text": "sync"})
            heard.extend(listener.heard(50))
            return any(topic == room_topic(room) for topic, _ in heard)

        wait_until(seen, 10, f"{room} heard", interval=0)

    listener.sock.send(b"\x00" + plain)  # withdraws one of the two grants of lobby
    listener.ask(b"general\x00")
    handled("general")
    hears(listener, mallory, "lobby", "kept by the other")
    listener.sock.send(b"\x00" + ticketed)
    listener.ask(b"third\x00")
    handled("third")  # both withdrawals handled
    heard.clear()
    assert mallory.request({"type": "chat", "room": "lobby", "text": "gone"})["type"] == "ack"
    handled("third")  # published after "gone": once it is heard, "gone" would have been
    assert [e.get("text") for topic, e in heard if topic == b"lobby\x00"] == []
